"""The ``equirestore`` command line: train restorers and classifiers, evaluate, restore.

Run ``equirestore <command> --help`` for each command's options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from equirestore import distributed


def _data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    from equirestore.data import DATASETS

    p.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        required=required,
        help="named dataset (searched in --data-root, $EQUIRESTORE_DATA, ../shared/data)",
    )
    p.add_argument("--data-root", default=None, help="folder holding the datasets")
    p.add_argument(
        "--geometry",
        choices=["pad", "resize"],
        default=None,
        help="how 28x28 MNIST becomes 32x32 (default: pad, as the shipped weights)",
    )


def _cmd_train_restorer(a: argparse.Namespace) -> int:
    from equirestore.experiments.restorer import train_restorer_command

    return train_restorer_command(a)


def _cmd_train_classifier(a: argparse.Namespace) -> int:
    from equirestore.classifiers.models import DEFAULT_CLASSIFIER
    from equirestore.classifiers.training import train_classifier
    from equirestore.data import load_dataset

    images, labels = load_dataset(a.dataset, "train", a.data_root, a.geometry)
    arch = a.arch or DEFAULT_CLASSIFIER[a.dataset]
    train_classifier(
        arch,
        images,
        labels,
        a.out,
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        hflip=a.hflip,
        shift_scope=a.shift_scope,
        rotate=a.rotate,
        seed=a.seed,
        meta={
            "dataset": a.dataset,
            "geometry": a.geometry or "pad",
            "command": " ".join(["equirestore", *sys.argv[1:]]),
        },
    )
    print(f"saved classifier to {a.out}")
    return 0


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from equirestore.experiments.table1 import table1_command

    return table1_command(a)


def _cmd_restore(a: argparse.Namespace) -> int:
    from equirestore.experiments.files import restore_files_command

    return restore_files_command(a)


def _cmd_checks(a: argparse.Namespace) -> int:
    from equirestore.experiments import checks

    handler = {
        "check-affine": checks.check_affine_command,
        "check-aperiodic": checks.check_aperiodic_command,
        "construct-restorer": checks.construct_restorer_command,
    }[a.command]
    return handler(a)


def _cmd_make_mnist3d(a: argparse.Namespace) -> int:
    import numpy as np

    from equirestore.data import load_dataset
    from equirestore.data.images import atomic_path

    arrays: dict[str, Any] = {}
    for split in ("train", "test"):
        x, y = load_dataset("mnist3d", split, a.data_root)
        arrays[f"{split}_volumes"] = (x * 255).round().byte().numpy()
        arrays[f"{split}_labels"] = y.numpy()
    with atomic_path(a.out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, allow_pickle=False, **arrays)
    shapes = {k: v.shape for k, v in arrays.items() if k.endswith("volumes")}
    print(f"wrote {a.out}: {shapes} (uint8, 0..255)")
    return 0


def _theory_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "make-mnist3d",
        help="generate 3D-MNIST from MNIST (point clouds, voxels, padding) into a .npz",
        description="Generate the 3D-MNIST volumes of equirestore.data.mnist3d (10,000 train, "
        "2,000 test; seeds 0 and 1; 32x32x32 after the 8-voxel padding) and write them with "
        "their labels to one compressed .npz (train_volumes, train_labels, test_volumes, "
        "test_labels). load_dataset('mnist3d', split) makes the same volumes in memory.",
    )
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument("--data-root", default=None, help="folder holding MNIST")
    p.set_defaults(handler=_cmd_make_mnist3d)

    p = sub.add_parser(
        "check-affine",
        help="Theorem 3.4: is an affine layer translation-equivariant, and where not",
        description="Probe an affine layer (b = f(0), columns f(e_j) - f(0)) and decide "
        "exactly whether it is translation-equivariant: its matrix must be a circular filter "
        "(Definition 3.5) and its bias constant per channel (Corollary 3.6). Lists where "
        "each condition fails. Without --module, runs the built-in demonstrations (circular "
        "conv, zero padding, stride 2, max-pooling, per-pixel bias, fully connected). Exit "
        "status 1 if the layer is not equivariant.",
    )
    p.add_argument("--module", help="factory as 'package.module:callable', e.g. torch.nn:Conv2d")
    p.add_argument("--kwargs", default="{}", help="JSON keyword arguments for the factory")
    p.add_argument("--shape", default="1,8,8", help="input shape C,*N (default 1,8,8)")
    p.add_argument("--atol", type=float, default=1e-9, help="tolerance (float64)")
    p.set_defaults(handler=_cmd_checks)

    p = sub.add_parser(
        "check-aperiodic",
        help="Definition 4.2: list images equal to a circular shift of themselves or another",
        description="Decide exactly whether a dataset split is aperiodic (Definition 4.2) and "
        "list every violation: exact duplicates, translated copies (with the shift) and "
        "periodic images. Exit status 1 if it is not aperiodic.",
    )
    _data_args(p)
    p.add_argument("--split", choices=["train", "test"], default="train")
    p.add_argument("--show", type=int, default=20, help="violations to print")
    p.add_argument("--report", help="write the full report as JSON here")
    p.set_defaults(handler=_cmd_checks)

    p = sub.add_parser(
        "construct-restorer",
        help="Theorem 4.5: build (no training) a translation estimator for quantized data",
        description="Build the network of Lemmas 4.3 + 4.4 for the first --limit images "
        "(values quantized to 2^bits levels), verify on every image that component 0 is the "
        "strict maximum, and print depth, width, parameters and times. Refuses datasets that "
        "are not aperiodic. Memory grows with limit^2 x grid size: keep --limit to a few "
        "thousand.",
    )
    _data_args(p)
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("--limit", type=int, default=1000, help="number of images (default 1000)")
    p.add_argument("--bits", type=int, default=8, help="n: levels = 2^n (8 for MNIST/CIFAR)")
    p.add_argument("--out", help="also save the built restorer checkpoint here")
    p.set_defaults(handler=_cmd_checks)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-parser per command)."""
    from equirestore.classifiers.models import CLASSIFIERS, is_classifier

    def arch_name(name: str) -> str:
        if not is_classifier(name):
            raise argparse.ArgumentTypeError(
                f"unknown classifier {name!r}: choose from {', '.join(sorted(CLASSIFIERS))}, "
                "or <name>-blurpool<k> (BlurPool filter size k in 1..7)"
            )
        return name

    parser = argparse.ArgumentParser(
        prog="equirestore",
        description="Restore translated inputs with strictly translation-equivariant "
        "networks before any classifier sees them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train-restorer",
        help="train a translation restorer",
        description="Train a translation estimator (one full-size circular "
        "filter by default) on a named dataset or on any image folder, and "
        "report its strict exact-restore rate (ties count as failures).",
    )
    _data_args(p, required=False)
    p.add_argument(
        "--folder", default=None, help="train on every image under this folder instead of --dataset"
    )
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="with --folder: zero-pad (or centre-crop) images to SIZE x SIZE",
    )
    p.add_argument("--grayscale", action="store_true", help="with --folder: read as 1 channel")
    p.add_argument(
        "--init",
        choices=["default", "zeros", "moment", "matched"],
        default=None,
        help="initialisation (default: the dataset's recipe, see results/training.md)",
    )
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (Adam, one-cycle)")
    p.add_argument("--temperature", type=float, default=100.0, help="T in the objective")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="where to write the restorer checkpoint")
    p.add_argument("--report", default=None, help="also write a JSON report here")
    p.set_defaults(handler=_cmd_train_restorer)

    p = sub.add_parser(
        "train-classifier",
        help="train a classifier (resumable)",
        description="Train a classifier on canonical (unshifted) images. "
        "Interrupted runs resume from <out>.state.",
    )
    _data_args(p)
    p.add_argument(
        "--arch",
        type=arch_name,
        default=None,
        help=f"one of {', '.join(sorted(CLASSIFIERS))}; default: small-cnn for MNIST, "
        "resnet18 for CIFAR-10. '<name>-blurpool' applies the BlurPool replacement rules "
        "(filter size 3; '<name>-blurpool<k>' for size k in 1..7); z2cnn/p4cnn/p4mcnn are "
        "the G-CNN baselines",
    )
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05, help="peak SGD learning rate")
    p.add_argument("--hflip", action="store_true", help="random horizontal flips")
    p.add_argument(
        "--shift-scope",
        type=int,
        default=0,
        help="circular-shift augmentation of at most this many pixels (0 = none)",
    )
    p.add_argument(
        "--rotate",
        type=float,
        default=0.0,
        metavar="DEG",
        help="rotation augmentation: a uniform random angle in [-DEG, DEG] per image "
        "(0 = none, 180 = any angle)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="classifier checkpoint to write")
    p.set_defaults(handler=_cmd_train_classifier)

    p = sub.add_parser(
        "evaluate",
        help="Table 1: accuracy vs shift scope, w/o and w/ restorer",
        description="Accuracy of a classifier on test images randomly "
        "circularly shifted by at most k pixels per axis (k = 0..8), without and "
        "with the restorer; also strict restore rates, consistency and Figure 3. "
        "Writes <out>.md, <out>.json and PNG figures.",
    )
    _data_args(p)
    p.add_argument("--classifier", required=True, help="classifier checkpoint")
    p.add_argument("--restorer", default=None, help="shipped name or checkpoint (default: dataset)")
    p.add_argument("--max-scope", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N test images")
    p.add_argument("--out", required=True, help="output prefix, e.g. results/table1_mnist")
    p.set_defaults(handler=_cmd_evaluate)

    p = sub.add_parser(
        "restore",
        help="restore image files",
        description="Estimate each image's translation, undo it, and write the "
        "restored image plus a JSON file of estimated shifts "
        "(convention: torch.roll sign, axis order rows, cols).",
    )
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--restorer", required=True, help="shipped name (mnist, cifar10) or checkpoint")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--batch-size", type=int, default=256, help="images decoded and restored at a time"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="DataLoader processes that decode images (0: decode in the main process)",
    )
    p.set_defaults(handler=_cmd_restore)
    _theory_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``equirestore`` command."""
    args = build_parser().parse_args(argv)
    distributed.init()  # a no-op unless launched by torchrun
    try:
        return int(args.handler(args))
    except (FileNotFoundError, ValueError, TypeError) as e:
        print(f"equirestore {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
