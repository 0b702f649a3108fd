import json
from pathlib import Path

import pytest

from paper import blurpool


@pytest.mark.slow
def test_blurpool_sweep_end_to_end(tiny_mnist: None, tmp_path: Path) -> None:
    out = str(tmp_path / "bp")
    assert blurpool.main(["--out", out, "--workdir", str(tmp_path / "w")]) == 0
    res = json.loads(Path(out + ".json").read_text())
    assert [r["filter_size"] for r in res["rows"]] == list(range(1, 8))
    # the restorer row: every shift restored, so the measures are exact
    assert res["restorer"]["consistency"] == 100.0
    assert res["restorer"]["label_change"] == 0.0
    assert res["restorer"]["shift <= 4"] == res["restorer"]["clean"]
    assert Path(out + ".png").stat().st_size > 0
    assert len(list((tmp_path / "w").glob("mnist_small-cnn-blurpool?.pt"))) == 7
