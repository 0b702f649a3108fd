"""Bad input through the command line: every case gets one clear line naming the problem,
the documented exit status, and leaves nothing partial behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from equirestore.checkpoint import save_checkpoint
from equirestore.classifiers.models import SmallCNN
from equirestore.classifiers.training import save_classifier
from equirestore.cli import main
from equirestore.restore.hub import load_restorer, shipped_path
from tests.cli.test_cli import _write_pngs
from tests.restore.helpers import centred_blobs


def _digits(d: Path) -> Path:
    _write_pngs(d, centred_blobs(4))
    return d


def _restorer_ckpt(d: Path, change: Callable[[dict], None]) -> Path:
    ckpt = torch.load(shipped_path("mnist"), weights_only=True)
    change(ckpt)
    save_checkpoint(ckpt, d / "bad.pt")
    return d / "bad.pt"


def _nan(ckpt: dict) -> None:
    next(iter(ckpt["state_dict"].values())).fill_(float("nan"))


def _wrong_shape(ckpt: dict) -> None:
    key = next(iter(ckpt["state_dict"]))
    ckpt["state_dict"][key] = torch.zeros(3, 3)


def _classifier(d: Path) -> Path:
    save_classifier(SmallCNN(), d / "c.pt", "small-cnn", (1, 32, 32), 10)
    return d / "c.pt"


@dataclass
class Case:
    """``args(tmp_path)`` -> argv; expected status; phrases in stderr; paths (relative to
    tmp_path) that must not exist afterwards."""

    name: str
    args: Callable[[Path], list[str]]
    status: int
    phrases: tuple[str, ...]
    absent: tuple[str, ...] = ()
    real_data: bool = False
    setup: Callable[[Path], None] = field(default=lambda d: None)


def _restore(d: Path, *extra: str, src: str = "in", restorer: str = "mnist") -> list[str]:
    return ["restore", str(d / src), "--restorer", restorer, "--out", str(d / "out"), *extra]


def _truncate(d: Path) -> None:
    _digits(d / "in")
    good = (d / "in" / "img0.png").read_bytes()
    (d / "in" / "img3.png").write_bytes(good[:60])


def _rgba(d: Path) -> None:
    (d / "in").mkdir()
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[10:20, 12:18, 3] = 255  # a digit drawn in the alpha channel only
    Image.fromarray(rgba, "RGBA").save(d / "in" / "a.png")


def _mixed_sizes(d: Path) -> None:
    (d / "tr").mkdir()
    Image.new("L", (32, 32), 9).save(d / "tr" / "a.png")
    Image.new("L", (28, 30), 9).save(d / "tr" / "b.png")


def _tiny(d: Path) -> None:
    (d / "tr").mkdir()
    for i in range(3):
        Image.new("L", (2, 2), 9 * i).save(d / "tr" / f"{i}.png")


CASES = [
    Case(
        "restore: a non-image file",
        lambda d: _restore(d),
        2,
        ("not images",),
        ("out",),
        setup=lambda d: (_digits(d / "in"), (d / "in" / "x.txt").write_text("x")),
    ),
    Case(
        "restore: wrong image size",
        lambda d: _restore(d),
        2,
        ("32x32",),
        ("out",),
        setup=lambda d: ((d / "in").mkdir(), Image.new("L", (28, 28)).save(d / "in" / "s.png")),
    ),
    Case(
        "restore: --out is a file",
        lambda d: _restore(d),
        2,
        ("existing file",),
        setup=lambda d: (_digits(d / "in"), (d / "out").write_text("keep")),
    ),
    Case(
        "restore: --out is not empty",
        lambda d: _restore(d),
        2,
        ("not empty",),
        setup=lambda d: (_digits(d / "in"), (d / "out").mkdir(), (d / "out" / "k").write_text("")),
    ),
    Case(
        "restore: truncated image in a worker",
        lambda d: _restore(d, "--workers", "2", "--batch-size", "2"),
        2,
        ("img3.png",),
        ("out",),
        setup=_truncate,
    ),
    Case(
        "restore: transparency",
        lambda d: _restore(d),
        2,
        ("alpha channel", "flatten"),
        ("out",),
        setup=_rgba,
    ),
    Case(
        "restore: --out under a file",
        lambda d: ["restore", str(d / "in"), "--restorer", "mnist", "--out", str(d / "f" / "out")],
        2,
        ("f",),
        setup=lambda d: (_digits(d / "in"), (d / "f").write_text("")),
    ),
    Case(
        "restore: restorer is a folder",
        lambda d: _restore(d, restorer=str(d / "in")),
        2,
        ("is a folder",),
        ("out",),
        setup=lambda d: _digits(d / "in"),
    ),
    Case(
        "restore: NaN weights",
        lambda d: _restore(d, restorer=str(d / "bad.pt")),
        2,
        ("NaN",),
        ("out",),
        setup=lambda d: (_digits(d / "in"), _restorer_ckpt(d, _nan)),
    ),
    Case(
        "restore: no state_dict",
        lambda d: _restore(d, restorer=str(d / "bad.pt")),
        2,
        ("state_dict",),
        ("out",),
        setup=lambda d: (_digits(d / "in"), _restorer_ckpt(d, lambda c: c.pop("state_dict"))),
    ),
    Case(
        "restore: wrong tensor shape",
        lambda d: _restore(d, restorer=str(d / "bad.pt")),
        2,
        ("different architecture", "size mismatch", "torch.Size([3, 3])"),
        ("out",),
        setup=lambda d: (_digits(d / "in"), _restorer_ckpt(d, _wrong_shape)),
    ),
    Case(
        "restore: grid of another size",
        lambda d: _restore(d, restorer=str(d / "bad.pt")),
        2,
        ("another image size",),
        ("out",),
        setup=lambda d: (
            _digits(d / "in"),
            _restorer_ckpt(d, lambda c: c.update(input_shape=[1, 28, 28])),
        ),
    ),
    Case(
        "evaluate: --limit 0",
        lambda d: [
            "evaluate",
            "--dataset",
            "mnist",
            "--classifier",
            str(d / "c.pt"),
            "--limit",
            "0",
            "--out",
            str(d / "e"),
        ],
        2,
        ("--limit must be >= 1",),
        ("e.md", "e.json", "e_accuracy.png"),
        setup=_classifier,
    ),
    Case(
        "evaluate: --limit -9990",
        lambda d: ["evaluate", "--dataset", "mnist", "--limit", "-9990", "--out", str(d / "e")],
        2,
        ("--limit must be >= 1",),
        ("e.md", "e.json"),
    ),
    Case(
        "evaluate: --max-scope -1",
        lambda d: [
            "evaluate",
            "--dataset",
            "mnist",
            "--classifier",
            str(d / "c.pt"),
            "--max-scope",
            "-1",
            "--out",
            str(d / "e"),
        ],
        2,
        ("--max-scope",),
        ("e.md", "e_accuracy.png", "e_figure3.png"),
        setup=_classifier,
    ),
    Case(
        "evaluate: a classifier smaller than the rotation restorer's canvas",
        lambda d: [
            "evaluate",
            "--dataset",
            "mnist",
            "--restorer",
            "mnist-se2",
            "--classifier",
            str(d / "c28.pt"),
            "--limit",
            "20",
            "--out",
            str(d / "e"),
        ],
        2,
        ("takes inputs (1, 28, 28)", "train the classifier at that size"),
        ("e.md", "e.json", "e_examples.png"),
        real_data=True,
        setup=lambda d: save_classifier(SmallCNN(), d / "c28.pt", "small-cnn", (1, 28, 28), 10),
    ),
    Case(
        "train-classifier: --epochs -3",
        lambda d: [
            "train-classifier",
            "--dataset",
            "mnist",
            "--epochs",
            "-3",
            "--out",
            str(d / "c.pt"),
        ],
        2,
        ("epochs must be >= 1",),
        ("c.pt", "c.pt.state"),
        real_data=True,
    ),
    Case(
        "train-restorer: mixed sizes",
        lambda d: ["train-restorer", "--folder", str(d / "tr"), "--out", str(d / "r.pt")],
        2,
        ("different sizes", "--size"),
        ("r.pt",),
        setup=_mixed_sizes,
    ),
    Case(
        "train-restorer: images too small",
        lambda d: ["train-restorer", "--folder", str(d / "tr"), "--out", str(d / "r.pt")],
        2,
        ("too small",),
        ("r.pt",),
        setup=_tiny,
    ),
    Case(
        "train-restorer: --min-exact 99.5",
        lambda d: [
            "train-restorer",
            "--folder",
            str(d / "in"),
            "--min-exact",
            "99.5",
            "--out",
            str(d / "r.pt"),
        ],
        2,
        ("fraction",),
        ("r.pt",),
        setup=lambda d: _digits(d / "in"),
    ),
    Case(
        "check-affine: channel mismatch",
        lambda d: [
            "check-affine",
            "--module",
            "torch.nn:Conv2d",
            "--kwargs",
            '{"in_channels": 3, "out_channels": 1, "kernel_size": 3}',
            "--shape",
            "1,6,6",
        ],
        2,
        ("does not accept inputs",),
    ),
    Case(
        "check-affine: bad --shape",
        lambda d: ["check-affine", "--module", "torch.nn:Conv2d", "--shape", "1,x"],
        2,
        ("--shape",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if case.real_data:
        from tests.conftest import real_dataset

        real_dataset("mnist", "test")
    case.setup(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(case.args(tmp_path)) == case.status
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("equirestore ")]
    assert len(lines) == 1, err  # one line says what was wrong...
    assert "Traceback" not in err
    for phrase in case.phrases:
        assert phrase in lines[0], lines[0]
    for name in case.absent:  # ... and nothing partial is left behind
        assert not (tmp_path / name).exists(), name
    hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not hidden, hidden  # no staging folder or temporary file
    after = sorted(p.name for p in tmp_path.iterdir())
    assert set(after) <= set(before) | {"out"} - set(case.absent)


def test_blank_image_is_no_estimate_in_every_batch(tmp_path: Path) -> None:
    """A blank image is a tie: 'unique': false and shift [0, 0], alone or in a batch."""
    x = torch.cat([torch.zeros(1, 1, 32, 32), centred_blobs(3)])
    _write_pngs(tmp_path / "in", x)
    for batch in ("1", "4"):
        args = _restore(tmp_path, "--batch-size", batch, "--workers", "0")
        args[args.index("--out") + 1] = str(tmp_path / f"out{batch}")
        assert main(args) == 0
        entries = json.loads((tmp_path / f"out{batch}" / "shifts.json").read_text())["images"]
        blank = next(e for e in entries if e["input"].endswith("img0.png"))
        assert blank["unique"] is False and blank["shift"] == [0, 0]
        assert all(e["unique"] for e in entries if e is not blank)


def test_sixteen_bit_pngs_keep_their_levels(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    levels = (np.arange(72 * 9, dtype=np.uint16) * 101).reshape(72, 9)[:32, :9]
    img = np.zeros((32, 32), dtype=np.uint16)
    img[8:24, 12:21] = levels[:16] + 300
    Image.fromarray(img).save(tmp_path / "in" / "deep.png")
    assert main(_restore(tmp_path)) == 0
    out = np.asarray(Image.open(tmp_path / "out" / "deep.png"))
    assert out.dtype == np.uint16 and len(np.unique(out)) == len(np.unique(img))
    entry = json.loads((tmp_path / "out" / "shifts.json").read_text())["images"][0]
    restored = np.roll(out, entry["shift"], (0, 1))
    assert np.array_equal(restored, img)


def test_same_input_twice_gets_two_outputs_and_two_entries(tmp_path: Path) -> None:
    _digits(tmp_path / "in")
    f = str(tmp_path / "in" / "img1.png")
    assert main(["restore", f, f, "--restorer", "mnist", "--out", str(tmp_path / "out")]) == 0
    entries = json.loads((tmp_path / "out" / "shifts.json").read_text())["images"]
    assert len(entries) == 2 and entries[0]["restored"] != entries[1]["restored"]
    assert all((tmp_path / "out" / e["restored"]).exists() for e in entries)


def test_meta_device_and_float16_batches() -> None:
    r = load_restorer("mnist")
    with pytest.raises(ValueError, match="'meta' device"):
        r.estimate(torch.zeros(2, 1, 32, 32, device="meta"))
    x = centred_blobs(250).half()  # >= 200 images in [0, 1]: the check must not overflow
    assert r.estimate(x).shape == (250, 2)
    bad = x.clone()
    bad[3, 0, 4, 4] = float("inf")
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        r.estimate(bad)


def test_scores_of_plain_inputs_hold_no_graph() -> None:
    r = load_restorer("mnist")
    assert not r.scores(centred_blobs(2)).requires_grad


def test_a_scope_above_eight_is_evaluated(tmp_path: Path) -> None:
    from tests.conftest import real_dataset

    real_dataset("mnist", "test")
    _classifier(tmp_path)
    out = tmp_path / "e"
    args = ["evaluate", "--dataset", "mnist", "--classifier", str(tmp_path / "c.pt")]
    assert main([*args, "--limit", "30", "--max-scope", "10", "--out", str(out)]) == 0
    table = json.loads(Path(f"{out}.json").read_text())["table"]
    assert len(table["w/o"]) == len(table["w/"]) == 11  # scopes 0..10
    assert Path(f"{out}_accuracy.png").exists()


def test_interrupted_training_says_how_to_resume(tmp_path, capsys, monkeypatch) -> None:
    import equirestore.cli.train as train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit_restorer", interrupted)
    _digits(tmp_path / "in")
    args = ["train-restorer", "--folder", str(tmp_path / "in"), "--out", str(tmp_path / "r.pt")]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "run the same command again to resume" in err and "Traceback" not in err
    assert not (tmp_path / "r.pt").exists()
