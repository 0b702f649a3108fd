"""``equirestore train-restorer --group rotation|se2``: rotation and SE(2) restorers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from torch import Tensor

from equirestore import distributed
from equirestore.data import load_dataset
from equirestore.io import atomic_path
from equirestore.report import hardware
from equirestore.restore.hub import save_restorer
from equirestore.restore.recipe import fit_restorer
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.rotation_training import (
    RotationSettings,
    angle_rates,
    fit_rotation_restorer,
)
from equirestore.restore.se2 import SE2Restorer

#: Below this fraction of angles within one bin, train-restorer warns.
WARN_BELOW = 0.97


def train_rotation_command(a: argparse.Namespace, images: Tensor, name: str) -> int:
    """Train a rotation (``--group rotation``) or SE(2) (``--group se2``) restorer on the
    upright ``images (N, C, H, W)``; report angles within one bin; save."""
    if images.dim() != 4:
        raise ValueError(f"rotation restorers need 2-D images, got {tuple(images.shape[1:])}")
    start = time.perf_counter()
    record: dict[str, Any] = {"group": a.group}
    settings = RotationSettings(
        seed=a.seed,
        epochs=RotationSettings.epochs if a.epochs is None else a.epochs,
        batch_size=RotationSettings.batch_size if a.batch_size is None else a.batch_size,
    )
    rotation, rot_record = fit_rotation_restorer(images, name, settings)
    record["rotation"] = rot_record
    if rotation.background is not None:
        colour = ", ".join(f"{v:.3f}" for v in rotation.background)
        print(
            f"the border is mostly one colour, ({colour}): the restorer reads each pixel's "
            "distance from it and fills the corners it rotates in with it"
        )
    restorer: RotationRestorer | SE2Restorer = rotation
    if a.group == "se2":
        translation, tr_record = fit_restorer(images, name)
        record["translation"] = tr_record
        restorer = SE2Restorer(translation, rotation)
    record.update(
        train_seconds=round(time.perf_counter() - start, 1),
        command=" ".join(["equirestore", *sys.argv[1:]]),
        source=str(a.folder) if a.folder else a.dataset,
        hardware=hardware(),
        date=time.strftime("%Y-%m-%d"),
    )
    measured = rot_record["holdout_within_one_bin"]
    line = f"angle within one bin on {rot_record['n_holdout']:,} held-out rotated images: "
    line += f"{100 * measured:.2f}%"
    if a.dataset is not None:
        test, _ = load_dataset(
            a.dataset, "test", a.data_root, a.geometry, size=a.size, download=a.download
        )
        record["test"] = angle_rates(restorer, test, a.seed)
        line += "; test split: " + ", ".join(
            f"{k} {100 * v:.2f}%" for k, v in record["test"].items()
        )
    if not distributed.is_main():
        return 0
    save_restorer(restorer, a.out, meta=record)
    if a.report:
        with atomic_path(a.report) as tmp:
            Path(tmp).write_text(json.dumps(record, indent=2) + "\n")
    print(f"{line}; {record['train_seconds']} s; saved {a.out}")
    threshold = WARN_BELOW if a.min_exact is None else a.min_exact
    if measured < threshold:
        print(
            f"WARNING: only {100 * measured:.2f}% of held-out angles are within one bin "
            f"(below {100 * threshold:.2f}%)",
            file=sys.stderr,
        )
        return 1 if a.min_exact is not None else 0
    return 0
