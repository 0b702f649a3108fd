import json
from pathlib import Path

import pytest

from paper import recipes
from tests.conftest import real_dataset


@pytest.mark.slow
def test_the_recipes_report_runs_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    def tiny(name: str, split: str, geometry: str = "pad"):
        images, labels = real_dataset("mnist", split)  # padded geometry for every variant
        return images[:300], labels[:300]

    monkeypatch.setattr(recipes, "load_dataset", tiny)
    variants = [{**v, "epochs": min(v.get("epochs", 0), 1)} for v in recipes._variants()]
    monkeypatch.setattr(recipes, "_variants", lambda: variants)
    out = tmp_path / "training"
    assert recipes.main(["--out", str(out)]) == 0
    res = json.loads(Path(f"{out}.json").read_text())
    assert [r["variant"] for r in res["rows"]] == [v["label"] for v in variants]
    by = {r["variant"]: r for r in res["rows"]}
    # the closed-form centre-of-mass filter restores padded MNIST digits exactly
    assert by["full-size filter, moment init, no training (shipped)"]["train"]["exact"] == 1.0
    assert "shipped restorer" in Path(f"{out}.md").read_text()
