"""``equirestore train-restorer`` and ``equirestore train-classifier``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from equirestore import distributed
from equirestore.data import load_dataset
from equirestore.data.folder import load_folder
from equirestore.io import atomic_path
from equirestore.report import hardware
from equirestore.restore.evaluation import restore_rates
from equirestore.restore.hub import save_restorer
from equirestore.restore.recipe import RECIPES, fit_restorer


def command_line() -> str:
    """The command as typed, for the records written next to results."""
    return " ".join(["equirestore", *sys.argv[1:]])


def train_restorer_command(a: argparse.Namespace) -> int:
    """``equirestore train-restorer``: see ``equirestore train-restorer --help``."""
    if (a.dataset is None) == (a.folder is None):
        raise ValueError("pass exactly one of --dataset or --folder")
    if a.folder is not None:
        images, name, recipe = (
            load_folder(a.folder, a.size, a.grayscale),
            "folder",
            RECIPES["folder"],
        )
    else:
        images, _ = load_dataset(a.dataset, "train", a.data_root, a.geometry)
        name, recipe = a.dataset, RECIPES[a.dataset]
    settings = {
        "init": a.init or recipe["init"],
        "epochs": recipe["epochs"] if a.epochs is None else a.epochs,
        "lr": recipe["lr"] if a.lr is None else a.lr,
    }
    restorer, record = fit_restorer(
        images, name, temperature=a.temperature, batch_size=a.batch_size, seed=a.seed, **settings
    )
    record.update(
        command=command_line(),
        geometry=a.geometry or "pad",
        hardware=hardware(),
        date=time.strftime("%Y-%m-%d"),
    )
    if a.dataset is not None:
        test, _ = load_dataset(a.dataset, "test", a.data_root, a.geometry)
        record["test_rates"] = asdict(restore_rates(restorer.estimator, test))
    if not distributed.is_main():
        return 0
    save_restorer(restorer, a.out, meta=record)
    if a.report:
        with atomic_path(a.report) as tmp:
            Path(tmp).write_text(json.dumps(record, indent=2) + "\n")
    tr = record["train_rates"]
    msg = f"strict exact-restore rate: train {tr['exact']:.5f} (ties {tr['ties']:.5f})"
    if "test_rates" in record:
        msg += f", test {record['test_rates']['exact']:.5f}"
    print(f"{msg}; {record['train_seconds']} s; saved {a.out}")
    return 0


def train_classifier_command(a: argparse.Namespace) -> int:
    """``equirestore train-classifier``: see ``equirestore train-classifier --help``."""
    from equirestore.classifiers.training import train_classifier
    from equirestore.data import DATASETS

    images, labels = load_dataset(a.dataset, "train", a.data_root, a.geometry)
    arch = a.arch or DATASETS[a.dataset].classifier
    train_classifier(
        arch,
        images,
        labels,
        a.out,
        epochs=a.epochs,
        restart=a.restart,
        batch_size=a.batch_size,
        lr=a.lr,
        hflip=a.hflip,
        shift_scope=a.shift_scope,
        rotate=a.rotate,
        seed=a.seed,
        meta={"dataset": a.dataset, "geometry": a.geometry or "pad", "command": command_line()},
    )
    print(f"saved classifier to {a.out}")
    return 0


def add_parsers(sub: Any, data_args: Any) -> None:
    """The parsers of train-restorer and train-classifier."""
    from equirestore.classifiers.models import CLASSIFIERS, is_classifier

    def arch_name(name: str) -> str:
        if not is_classifier(name):
            raise argparse.ArgumentTypeError(
                f"unknown classifier {name!r}: choose from {', '.join(sorted(CLASSIFIERS))}, "
                "or <name>-blurpool<k> (BlurPool filter size k in 1..7)"
            )
        return name

    p = sub.add_parser(
        "train-restorer",
        help="train a translation restorer",
        description="Train a translation estimator (one full-size circular "
        "filter by default) on a named dataset or on any image folder, and "
        "report its strict exact-restore rate (ties count as failures).",
    )
    data_args(p, required=False)
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
    p.set_defaults(handler=train_restorer_command)

    p = sub.add_parser(
        "train-classifier",
        help="train a classifier (resumable)",
        description="Train a classifier on canonical (unshifted) images. "
        "Interrupted runs resume from <out>.state.",
    )
    data_args(p)
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
    p.add_argument(
        "--restart",
        action="store_true",
        help="discard <out>.state of an interrupted run instead of resuming it",
    )
    p.add_argument("--out", required=True, help="classifier checkpoint to write")
    p.set_defaults(handler=train_classifier_command)
