"""Export and compile: torch.export, torch.compile(fullgraph=True) and ONNX (onnxruntime)
of a RestoredClassifier for the translation, rotation and SE(2) restorers."""

import pytest
import torch

from equirestore import RestoredClassifier, load_restorer
from equirestore.classifiers.models import SmallCNN
from equirestore.classifiers.training import save_classifier
from equirestore.cli import main
from equirestore.export import check_onnx, export_onnx
from tests.conftest import real_dataset


def _restorer(kind: str):
    return load_restorer(
        {"translation": "mnist", "rotation": "mnist-rotation", "se2": "mnist-se2"}[kind]
    )


def _model(kind: str) -> RestoredClassifier:
    torch.manual_seed(0)
    return RestoredClassifier(_restorer(kind), SmallCNN()).eval()


@pytest.mark.parametrize("kind", ["translation", "rotation", "se2"])
def test_torch_export_gives_the_eager_logits_for_any_batch_size(kind):
    model = _model(kind)
    digits, _ = real_dataset("mnist", "test")
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (digits[:2],), dynamic_shapes={"x": {0: batch}})
    for n in (1, 7):
        x = digits[10 : 10 + n]
        torch.testing.assert_close(program.module()(x), model(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["translation", "rotation", "se2"])
def test_compile_fullgraph_gives_the_eager_logits(kind):
    model = _model(kind)
    x, _ = real_dataset("mnist", "test")
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(compiled(x[:64]), model(x[:64]), rtol=0, atol=1e-6)


def test_onnx_gives_the_eager_labels_on_every_mnist_test_digit(tmp_path):
    model = _model("translation")
    digits, _ = real_dataset("mnist", "test")
    path = export_onnx(model, digits[:2], tmp_path / "model.onnx")
    check = check_onnx(path, model, digits)
    assert check.n == 10_000
    assert check.same_labels
    assert check.max_logit_difference <= 1e-4


def test_onnx_se2_agrees_with_eager(tmp_path):
    """The SE(2) graph holds the rotation restorer's (centroid, polar resampling,
    bicubic) in float64, which onnxruntime partly lacks (no float64 Atan)."""
    model = _model("se2")
    digits, _ = real_dataset("mnist", "test")
    path = export_onnx(model, digits[:2], tmp_path / "model.onnx")
    check = check_onnx(path, model, digits[:500])
    assert check.same_labels and check.max_logit_difference <= 1e-4


def test_export_command_writes_a_checked_onnx_file(tmp_path, capsys):
    torch.manual_seed(0)
    classifier = tmp_path / "c.pt"
    save_classifier(SmallCNN().eval(), classifier, "small-cnn", (1, 32, 32), 10)
    out = tmp_path / "model.onnx"
    code = main(
        [
            *("export", "--restorer", "mnist", "--classifier", str(classifier)),
            *("--out", str(out), "--check", "50"),
        ]
    )
    assert code == 0 and out.exists()
    assert "labels identical" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "model.pt"], "must name a .onnx file"),
        (["--out", "m.onnx", "--check", "0"], "--check must be >= 1"),
        (["--out", "m.onnx", "--restorer", "cifar10"], "the channels"),
    ],
)
def test_export_command_refuses_bad_input(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    save_classifier(SmallCNN().eval(), tmp_path / "c.pt", "small-cnn", (1, 32, 32), 10)
    base = ["export", "--restorer", "mnist", "--classifier", "c.pt"]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.onnx*"))


@pytest.mark.parametrize("white", [False, True])
def test_a_bounding_box_restorer_exports_to_onnx(tmp_path, white):
    from equirestore.groups.translation import shift
    from equirestore.nn.background import BackgroundEstimator
    from equirestore.nn.box import fit_box
    from equirestore.restore import TranslationRestorer
    from tests.restore.helpers import bbox_blobs

    box, _ = fit_box(bbox_blobs(200, seed=0))
    est = BackgroundEstimator([1.0], box) if white else box  # dark blobs on white
    torch.manual_seed(0)
    model = RestoredClassifier(TranslationRestorer(est, (1, 16, 16)), SmallCNN()).eval()
    x = bbox_blobs(300, seed=1)
    x = 1 - x if white else x
    x = shift(x, torch.randint(-8, 8, (len(x), 2), generator=torch.Generator().manual_seed(2)))
    path = export_onnx(model, x[:2], tmp_path / "box.onnx")
    check = check_onnx(path, model, x)
    assert check.same_labels and check.max_logit_difference <= 1e-4
