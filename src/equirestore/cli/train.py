"""``equirestore train-restorer`` and ``equirestore train-classifier``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import Tensor

from equirestore import distributed
from equirestore.data import load_dataset
from equirestore.data.folder import load_folder
from equirestore.io import atomic_path, remove_stale_temporaries
from equirestore.report import hardware
from equirestore.restore.evaluation import restore_rates
from equirestore.restore.hub import save_restorer
from equirestore.restore.recipe import (
    CANDIDATES,
    DataReport,
    fit_restorer,
    inspect_images,
    settings_with,
)

#: Below this strict rate (held-out, else training) train-restorer warns.
WARN_BELOW = 0.995

#: ``--estimator`` values that are not one candidate alone: auto (the recipe's default
#: search) and gated (which needs the box and a trained candidate before it).
ESTIMATOR_CANDIDATES: dict[str, tuple[str, ...] | None] = {
    "auto": None,
    "gated": ("box", "features", "gated"),
}


def command_line() -> str:
    """The command as typed, for the records written next to results."""
    return " ".join(["equirestore", *sys.argv[1:]])


def _restorer_images(a: argparse.Namespace) -> tuple[Tensor, str]:
    if (a.dataset is None) == (a.folder is None):
        raise ValueError("pass exactly one of --dataset NAME or --folder DIR")
    if a.folder is not None:
        return load_folder(a.folder, a.size, a.grayscale), Path(a.folder).name or "folder"
    images, _ = load_dataset(
        a.dataset, "train", a.data_root, a.geometry, size=a.size, download=a.download
    )
    return images, a.dataset


def _summary(record: dict[str, Any]) -> list[str]:
    lines = []
    if record.get("background") is not None:
        colour = ", ".join(f"{v:.3f}" for v in record["background"])
        lines.append(
            f"  (the border is mostly one colour, ({colour}): every candidate read each "
            "pixel's distance from it)"
        )
    for c in record["candidates"]:
        hold = c["holdout"]
        held = f", held-out {100 * hold['exact']:.2f}%" if hold["n"] else ""
        lines.append(
            f"  {c['candidate']:9s} {c['parameters']:>8,} parameters, {c['epochs']:>3} epochs, "
            f"{c['seconds']:>6.1f} s: strict train {100 * c['fit']['exact']:.2f}%{held}"
        )
    return lines


def train_restorer_command(a: argparse.Namespace) -> int:
    """``equirestore train-restorer``: see ``equirestore train-restorer --help``."""
    if a.min_exact is not None and not 0 <= a.min_exact <= 1:
        raise ValueError(f"--min-exact is a fraction in [0, 1] (e.g. 0.995), got {a.min_exact}")
    settings = settings_with(
        holdout=a.holdout,
        seed=a.seed,
        epochs=a.epochs,
        batch_size=a.batch_size,
        candidates=ESTIMATOR_CANDIDATES.get(a.estimator, (a.estimator,)),
    )
    images, name = _restorer_images(a)
    if a.group != "translation":
        from equirestore.cli.train_rotation import train_rotation_command

        return train_rotation_command(a, images, name)
    out = Path(a.out)
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give the checkpoint file to write")
    state = Path(str(out) + ".state")
    for p in (out, state):
        remove_stale_temporaries(p)
    if a.restart:
        state.unlink(missing_ok=True)
    inspection = inspect_images(images)
    for line in inspection.summary():
        print(f"equirestore train-restorer: note: {line}", file=sys.stderr)
    try:
        restorer, record = fit_restorer(images, name, settings, state_path=state)
    except KeyboardInterrupt:
        print(f"interrupted; run the same command again to resume ({state})", file=sys.stderr)
        raise
    record.update(
        command=command_line(),
        source=str(a.folder) if a.folder else a.dataset,
        geometry=a.geometry or "pad",
        hardware=hardware(),
        date=time.strftime("%Y-%m-%d"),
    )
    if a.dataset is not None:
        test, _ = load_dataset(
            a.dataset, "test", a.data_root, a.geometry, size=a.size, download=a.download
        )
        record["test_rates"] = asdict(restore_rates(restorer.estimator, test))
    if not distributed.is_main():
        return 0
    save_restorer(restorer, out, meta=record)
    if a.report:
        with atomic_path(a.report) as tmp:
            Path(tmp).write_text(json.dumps(record, indent=2) + "\n")
    return _verdict(record, a.min_exact, out)


def _verdict(record: dict[str, Any], min_exact: float | None, out: Path) -> int:
    """Print what was trained and how strict it is; 1 if below ``min_exact``."""
    print("\n".join(["candidates tried:", *_summary(record)]))
    tr, hold = record["train_rates"], record["holdout_rates"]
    measured = hold["exact"] if hold["n"] else tr["exact"]
    where = "held-out" if hold["n"] else "training"
    msg = (
        f"chose '{record['chosen']}': strict exact restore {100 * tr['exact']:.2f}% of the "
        f"{record['n_images']:,} training images (ties {100 * tr['ties']:.2f}%)"
    )
    if hold["n"]:
        msg += f", {100 * hold['exact']:.2f}% of the {hold['n']:,} held-out ones"
    if "test_rates" in record:
        msg += f", {100 * record['test_rates']['exact']:.2f}% of the test split"
    print(f"{msg}; {record['train_seconds']} s; saved {out}")
    threshold = WARN_BELOW if min_exact is None else min_exact
    if measured < threshold:
        print(
            f"WARNING: the restorer is strict on only {100 * measured:.2f}% of the {where} "
            f"images (below {100 * threshold:.2f}%): about {100 * (1 - measured):.1f}% of "
            "inputs like them will be moved to a wrong position. "
            + "; ".join(DataReport(**record["inspection"]).summary()),
            file=sys.stderr,
        )
        return 1 if min_exact is not None else 0
    return 0


def train_classifier_command(a: argparse.Namespace) -> int:
    """``equirestore train-classifier``: see ``equirestore train-classifier --help``."""
    from equirestore.classifiers.training import train_classifier
    from equirestore.data import DATASETS

    images, labels = load_dataset(
        a.dataset, "train", a.data_root, a.geometry, size=a.size, download=a.download
    )
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
        subpixel=a.subpixel,
        seed=a.seed,
        meta={
            "dataset": a.dataset,
            "geometry": a.geometry or "pad",
            "size": images.shape[-1],
            "command": command_line(),
        },
    )
    print(f"saved classifier to {a.out}")
    return 0


def add_parsers(sub: Any, data_args: Any) -> None:
    """The parsers of train-restorer and train-classifier."""
    add_train_restorer_parser(sub, data_args)
    add_train_classifier_parser(sub, data_args)


def add_train_restorer_parser(sub: Any, data_args: Any) -> None:
    """The parser of ``equirestore train-restorer``."""
    p = sub.add_parser(
        "train-restorer",
        help="train a translation (or rotation, SE(2)) restorer for a named dataset or any "
        "image folder",
        description="Choose and train a translation estimator for the images as they are "
        "centred, with no recipe to pick: estimators are tried from the cheapest (the "
        "centre-of-mass filter, one linear filter) to the most expressive (filters on ink "
        "occupancy, bounding boxes, edges and mass), and the first "
        "that is strict on a held-out split carved out of the images (seeded) is kept. "
        "Prints the strict exact-restore rate (ties fail) on the training images, the "
        "held-out split and, for a named dataset, its test split, and warns when it falls "
        "short. Images on a white or grey canvas (a border mostly of one colour other than "
        "black) are read as each pixel's distance from that colour. Blank, periodic and "
        "translated-copy images are named first. Deterministic "
        "for a seed; an interrupted run resumes from <out>.state.",
    )
    data_args(p, required=False)
    p.add_argument(
        "--folder",
        default=None,
        help="train on every image under this folder (recursively); images of different "
        "sizes need --size",
    )
    p.add_argument("--grayscale", action="store_true", help="with --folder: read as 1 channel")
    p.add_argument(
        "--holdout",
        type=float,
        default=None,
        help="fraction of the images held out to measure the restorer (default 0.1, at most "
        "5,000 images; 0 = train on all)",
    )
    p.add_argument(
        "--min-exact",
        type=float,
        default=None,
        metavar="P",
        help="exit with status 1 if the held-out strict rate (the training one without a "
        f"held-out split) is below P, a fraction (default: only warn below {WARN_BELOW})",
    )
    p.add_argument(
        "--group",
        choices=["translation", "rotation", "se2"],
        default="translation",
        help="what to restore: translation (default); rotation (angle on the polar image "
        "about the circular centroid; trained on randomly rotated, sub-pixel-moved copies, "
        "reported as angles within one bin); se2 (translation, then rotation, as one "
        "restorer). Rotation runs do not resume.",
    )
    p.add_argument(
        "--estimator",
        choices=["auto", *CANDIDATES],
        default="auto",
        help="auto (default) tries moment (centre of mass), box (bounding box), linear, "
        "features, gated (the box where the object spans the frame, features elsewhere) in "
        "this order and keeps the first strict one (else the best on the held-out split); "
        "gated runs box, features, gated; any other value trains that one alone (deep: "
        "features plus a learned branch of small circular filters; wide: a hidden layer of "
        "32 full-size circular filters on the image, better than auto on small images such "
        "as scikit-learn's digits, results/width_ablation.md)",
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs of a trained estimator")
    p.add_argument("--batch-size", type=int, default=None, help="training batch (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--restart", action="store_true", help="discard <out>.state and start afresh")
    p.add_argument("--out", required=True, help="where to write the restorer checkpoint")
    p.add_argument("--report", default=None, help="also write the training record as JSON")
    p.set_defaults(handler=train_restorer_command)


def add_train_classifier_parser(sub: Any, data_args: Any) -> None:
    """The parser of ``equirestore train-classifier``."""
    from equirestore.classifiers.models import CLASSIFIERS, is_classifier

    def arch_name(name: str) -> str:
        if not is_classifier(name):
            raise argparse.ArgumentTypeError(
                f"unknown classifier {name!r}: choose from {', '.join(sorted(CLASSIFIERS))}, "
                "or <name>-blurpool<k> (BlurPool filter size k in 1..7)"
            )
        return name

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
    p.add_argument(
        "--subpixel",
        action="store_true",
        help="sub-pixel augmentation: every image moved by a random offset in [-1/2, 1/2) "
        "per axis (bilinear, circular); for a classifier behind a rotation or SE(2) "
        "restorer, whose resampling blurs what it restores",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--restart",
        action="store_true",
        help="discard <out>.state of an interrupted run instead of resuming it",
    )
    p.add_argument("--out", required=True, help="classifier checkpoint to write")
    p.set_defaults(handler=train_classifier_command)
