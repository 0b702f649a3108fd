import json
from pathlib import Path

import pytest
import torch

from equirestore.classifiers.models import build_classifier
from equirestore.classifiers.training import save_classifier
from paper import compare


@pytest.mark.slow
@pytest.mark.parametrize("table", ["mnist", "rotated-mnist"])
def test_compare_end_to_end(tiny_mnist: None, tmp_path: Path, table: str) -> None:
    out = str(tmp_path / "cmp")
    assert compare.main(["--table", table, "--out", out, "--workdir", str(tmp_path / "w")]) == 0
    res = json.loads(Path(out + ".json").read_text())
    rows = {r["label"]: r for r in res["rows"]}
    assert len(rows) == len(compare.TABLES[table].rows)
    n_cols = 9 if table == "mnist" else 6
    assert all(len(r["accuracy"]) == n_cols for r in rows.values())
    plain = rows["plain CNN"]
    if table == "mnist":
        restored = rows["plain CNN + translation restorer"]
        # the translation restorer makes every shift column identical (exactly, Table 1)
        assert len(set(restored["accuracy"])) == 1
        assert restored["accuracy"][0] == plain["accuracy"][0]
        assert restored["consistency"] == 100.0 and restored["label_change"] == 0.0
        assert restored["parameters"] > plain["parameters"]
        assert Path(out + "_figure4.png").stat().st_size > 0
    else:
        assert plain["label_change"] is None
    assert Path(out + ".png").stat().st_size > 0
    assert "| plain CNN |" in Path(out + ".md").read_text()
    # the classifiers are reused on a second run, not retrained
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "w").iterdir()}
    compare.main(["--table", table, "--out", out, "--workdir", str(tmp_path / "w")])
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "w").iterdir()} == stamp


def test_checkpoint_from_another_recipe_is_refused(tmp_path: Path) -> None:
    model = build_classifier("small-cnn", 1, 10)
    path = tmp_path / "mnist_small-cnn_aug3.pt"
    save_classifier(model, path, "small-cnn", (1, 32, 32), 10,
                    {"dataset": "mnist", "epochs": 2, "shift_scope": 0})  # fmt: skip
    with pytest.raises(ValueError, match="delete it"):
        compare.ensure_classifier(tmp_path, "mnist", "small-cnn_aug3", lambda: (None, None))  # type: ignore[arg-type,return-value]


def test_transforms_scope_zero_is_identity() -> None:
    x = torch.rand(6, 1, 8, 8)
    names, fns = compare.transforms("shift", 6, 0)
    assert names[0] == "shift <= 0" and torch.equal(fns[0](x, slice(0, 6)), x)
    names, fns = compare.transforms("rotation", 6, 0)
    assert names[0] == "rotation <= 0°"
    assert torch.allclose(fns[0](x, slice(0, 6)), x, atol=1e-6)
    assert len(names) == len(compare.ANGLE_SCOPES) + 1
