"""Training restorers: the per-dataset recipes and the ``train-restorer`` command.

The shipped estimator for each dataset is one full-size circular filter (Equation (2)
with ``L = 1``, computed with the FFT), trained with the objective of
:mod:`equirestore.restore.training`. Why these recipes: ``results/training.md``
(made by ``python -m equirestore.experiments.recipes``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from equirestore import distributed
from equirestore.data import list_images, load_dataset, read_image
from equirestore.data.images import atomic_path
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.restore.hub import save_restorer
from equirestore.restore.training import restore_rates, train_estimator
from equirestore.restore.translation import TranslationRestorer

#: Training settings per dataset; ``"folder"`` is used for arbitrary image folders.
RECIPES: dict[str, dict[str, Any]] = {
    # MNIST's canonical position is its rounded centre of mass: the moment filter is the
    # exact estimator of it and fine-tuning only lowered the strict rate (training.md).
    "mnist": {"init": "moment", "epochs": 0, "lr": 0.0},
    "mnist-sample": {"init": "moment", "epochs": 0, "lr": 0.0},
    "cifar10": {"init": "zeros", "epochs": 5, "lr": 0.05},
    # 3D-MNIST volumes are centred by their rounded centre of mass, like MNIST digits
    # (equirestore.data.mnist3d): the closed-form moment filter, in 3-D.
    "mnist3d": {"init": "moment", "epochs": 0, "lr": 0.0},
    "folder": {"init": "zeros", "epochs": 5, "lr": 0.05},
}


def full_size_estimator(input_shape: tuple[int, ...]) -> CanonicalNetwork:
    """One bias-free full-size circular filter ``(C, *N) -> (1, *N)`` on a square/cubic grid."""
    c, *spatial = input_shape
    if len(set(spatial)) != 1:
        raise ValueError(
            f"full-size estimators need a square or cubic grid, got {tuple(spatial)}; "
            "pad the images to a square size first"
        )
    return CanonicalNetwork(c, [1], kernel_size=spatial[0], dims=len(spatial), bias=False)


def hardware() -> dict[str, Any]:
    """What the run was measured on."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "platform": platform.platform(),
    }


def fit_restorer(
    images: Tensor,
    name: str,
    *,
    init: str,
    epochs: int,
    lr: float,
    temperature: float = 100.0,
    batch_size: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> tuple[TranslationRestorer, dict[str, Any]]:
    """Train a full-size estimator on canonical ``images`` and wrap it as a restorer.

    Returns the restorer and a JSON-able record (settings, per-epoch history, strict
    training rates, wall time).
    """
    network = full_size_estimator(tuple(images.shape[1:]))
    report = train_estimator(
        network,
        images,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        temperature=temperature,
        init=init,
        seed=seed,
        progress=progress,
    )
    rates = restore_rates(network, images)
    record = {
        "name": name,
        "init": init,
        "epochs": epochs,
        "lr": lr,
        "temperature": temperature,
        "batch_size": batch_size,
        "seed": seed,
        "train_seconds": round(report.seconds, 2),
        "best_epoch": report.best_epoch,
        "epoch_train_exact": report.train_exact,
        "train_rates": asdict(rates),
    }
    restorer = TranslationRestorer(network, tuple(images.shape[1:]), name=name)
    return restorer.eval(), record


def load_folder(folder: str, size: int | None, grayscale: bool) -> Tensor:
    """Every image under ``folder`` as float32 ``(N, C, S, S)`` in [0, 1].

    Images are zero-padded (or centre-cropped) to ``size``; without ``size`` they must
    all have the same shape.
    """
    files = list_images(folder)
    arrays = [read_image(f, "L" if grayscale else "RGB") for f in files]
    tensors = [torch.from_numpy(a).float().div(255) for a in arrays]
    tensors = [t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1) for t in tensors]
    if size is None:
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1:
            raise ValueError(
                f"images in {folder} have different sizes {sorted(shapes)[:3]}...; "
                "pass --size to pad/crop them to one square size"
            )
        return torch.stack(tensors)
    out = []
    for t in tensors:
        h, w = t.shape[1:]
        top, left = (size - h) // 2, (size - w) // 2
        t = F.pad(t, (max(left, 0), max(size - w - left, 0), max(top, 0), max(size - h - top, 0)))
        h2, w2 = t.shape[1:]
        r, c = (h2 - size) // 2, (w2 - size) // 2
        out.append(t[:, r : r + size, c : c + size])
    return torch.stack(out)


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
        command=" ".join(["equirestore", *sys.argv[1:]]),
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
