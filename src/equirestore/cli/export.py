"""``equirestore export``: a restorer and a classifier as one ONNX file, checked."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from equirestore.classifiers.training import load_classifier
from equirestore.data import load_dataset
from equirestore.restore.classifier import RestoredClassifier
from equirestore.restore.hub import SHIPPED, load_restorer


def _check_inputs(a: argparse.Namespace, shape: tuple[int, ...]) -> tuple[torch.Tensor, str]:
    """The images the ONNX model is compared on: the test split of ``--dataset`` at the
    classifier's size, or seeded uniform noise of the classifier's input shape."""
    if a.dataset:
        images, _ = load_dataset(a.dataset, "test", a.data_root, size=shape[-1])
        if tuple(images.shape[1:]) != shape:
            raise ValueError(
                f"{a.dataset} test images are {tuple(images.shape[1:])}, the classifier "
                f"takes {shape}; pick the dataset the classifier was trained on"
            )
        images = images if a.check is None else images[: a.check]
        return images, f"{len(images)} {a.dataset} test images"
    generator = torch.Generator().manual_seed(0)
    images = torch.rand((a.check or 1000, *shape), generator=generator)
    return images, f"{len(images)} uniform-noise inputs (seed 0)"


def export_command(a: argparse.Namespace) -> int:
    """``equirestore export``: see ``equirestore export --help``."""
    from equirestore.export import check_onnx, export_onnx

    if a.check is not None and a.check < 1:
        raise ValueError(f"--check must be >= 1, got {a.check}")
    if not str(a.out).endswith(".onnx"):
        raise ValueError(f"--out must name a .onnx file, got {a.out}")
    restorer = load_restorer(a.restorer)
    classifier, ckpt = load_classifier(a.classifier)
    shape = tuple(int(v) for v in ckpt["input_shape"])
    canvas = tuple(int(v) for v in restorer.input_shape)
    if shape[0] != canvas[0] or len(shape) != len(canvas):
        raise ValueError(
            f"classifier {a.classifier} takes {shape}, restorer {a.restorer} restores {canvas}: "
            "the channels and the number of spatial axes must agree"
        )
    model = RestoredClassifier(restorer, classifier, shape[1:]).eval()
    images, what = _check_inputs(a, shape)
    path = export_onnx(model, images[:2], a.out)
    check = check_onnx(path, model, images)
    print(
        f"wrote {path}: input (batch, {', '.join(map(str, shape))}) float32 -> logits; "
        f"onnxruntime vs PyTorch on {what}: labels "
        f"{'identical' if check.same_labels else 'DIFFERENT'}, largest logit difference "
        f"{check.max_logit_difference:.2e}"
    )
    if not check.same_labels or check.max_logit_difference > a.tolerance:
        path.unlink()
        print(
            f"equirestore export: the ONNX model disagrees with PyTorch (tolerance "
            f"{a.tolerance:g}); removed {path}",
            file=sys.stderr,
        )
        return 1
    return 0


def add_parser(sub: Any) -> None:
    """The parser of ``equirestore export``."""
    p = sub.add_parser(
        "export",
        help="write restorer + classifier as one ONNX model",
        description="Put a restorer in front of a classifier (RestoredClassifier: pad to the "
        "restorer's canvas, restore, crop back to the classifier's input size, classify) and "
        "write it as one ONNX model with a dynamic batch axis (torch.onnx.export, dynamo). "
        "The file is then run with onnxruntime and compared with PyTorch; it is removed, "
        "and the exit status is 1, when the labels differ or the logits differ by more than "
        "--tolerance. Needs the 'export' extra: pip install 'equirestore[export]'.",
    )
    p.add_argument(
        "--restorer",
        required=True,
        help=f"a shipped restorer ({', '.join(SHIPPED)}) or a checkpoint from train-restorer",
    )
    p.add_argument(
        "--classifier", required=True, help="a checkpoint from train-classifier (its input size)"
    )
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument(
        "--dataset",
        default=None,
        help="compare on this named dataset's test images (default: uniform noise)",
    )
    p.add_argument("--data-root", default=None, help="folder holding the datasets")
    p.add_argument(
        "--check",
        type=int,
        default=None,
        help="how many images to compare on (default: the whole test split, or 1000 noise inputs)",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-4,
        help="largest allowed logit difference between onnxruntime and PyTorch",
    )
    p.set_defaults(handler=export_command)
