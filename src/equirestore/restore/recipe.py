"""Training restorers: the per-dataset recipes and the ``train-restorer`` command.

The shipped estimator for each dataset is one full-size circular filter (Equation (2)
with ``L = 1``, computed with the FFT), trained with the objective of
:mod:`equirestore.restore.training`. Why these recipes: ``results/training.md``
(made by ``python -m paper.recipes``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from torch import Tensor

from equirestore.nn.canonical import CanonicalNetwork
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
