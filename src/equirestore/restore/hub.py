"""Shipped restorers and restorer checkpoints.

A restorer checkpoint is a plain dict of tensors, strings and numbers (see
:meth:`TranslationRestorer.checkpoint` and :meth:`RotationRestorer.checkpoint`; its
``format`` says which), loaded with ``torch.load(weights_only=True)`` so that no pickled
code runs.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from equirestore.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state_strict,
    save_checkpoint,
)
from equirestore.nn.canonical import network_from_config
from equirestore.restore.rotation import FORMAT as ROTATION_FORMAT
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.translation import TranslationRestorer

FORMAT = "equirestore.translation_restorer"

_R = TypeVar("_R", TranslationRestorer, RotationRestorer)

#: Restorers whose weights ship inside the package, by name.
SHIPPED: dict[str, str] = {
    "mnist": "mnist.pt",
    "cifar10": "cifar10.pt",
    "mnist3d": "mnist3d.pt",
    "mnist-rotation": "mnist_rotation.pt",
}


def shipped_path(name: str) -> Path:
    """Path of a shipped restorer's weights file."""
    return Path(str(resources.files("equirestore") / "weights" / SHIPPED[name]))


def save_restorer(
    restorer: TranslationRestorer | RotationRestorer,
    path: str | os.PathLike[str],
    meta: dict[str, Any] | None = None,
) -> None:
    """Save a restorer atomically; ``meta`` (JSON-like) records how it was made."""
    save_checkpoint(restorer.checkpoint(meta), path)


def restorer_meta(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``meta`` dict stored with a restorer (how it was trained, its measured rates)."""
    path = _resolve(name_or_path)
    return dict(load_checkpoint(path, (FORMAT, ROTATION_FORMAT)).get("meta", {}))


def _resolve(name_or_path: str | os.PathLike[str]) -> Path:
    key = os.fspath(name_or_path)
    if key in SHIPPED:
        return shipped_path(key)
    path = Path(key)
    if not path.exists():
        raise FileNotFoundError(
            f"{key!r} is neither a shipped restorer ({sorted(SHIPPED)}) nor an existing file"
        )
    return path


def load_restorer(name_or_path: str | os.PathLike[str]) -> TranslationRestorer | RotationRestorer:
    """Load a restorer by shipped name or checkpoint path, whichever kind it is.

    Shipped: ``"mnist"``, ``"cifar10"``, ``"mnist3d"`` (translation) and
    ``"mnist-rotation"`` (rotation). Use :func:`load_translation_restorer` or
    :func:`load_rotation_restorer` to insist on one kind.

    Raises:
        FileNotFoundError: unknown name and no such file.
        CheckpointError: the file is corrupted, of another kind, or its weights do not
            fit the architecture it declares.
    """
    path = _resolve(name_or_path)
    ckpt = load_checkpoint(path, (FORMAT, ROTATION_FORMAT))
    if ckpt["format"] == ROTATION_FORMAT:
        return _rotation_from(ckpt, path)
    return _translation_from(ckpt, path)


def load_translation_restorer(name_or_path: str | os.PathLike[str]) -> TranslationRestorer:
    """Like :func:`load_restorer`, for translation restorers only."""
    path = _resolve(name_or_path)
    return _translation_from(load_checkpoint(path, FORMAT), path)


def load_rotation_restorer(name_or_path: str | os.PathLike[str]) -> RotationRestorer:
    """Like :func:`load_restorer`, for rotation restorers only."""
    path = _resolve(name_or_path)
    return _rotation_from(load_checkpoint(path, ROTATION_FORMAT), path)


def _with_weights(restorer: _R, ckpt: dict[str, Any], path: Path) -> _R:
    """Load the checkpoint's weights (stored float32) in the restorer's score dtype."""
    state = {k: v.to(restorer.score_dtype) for k, v in ckpt["state_dict"].items()}
    load_state_strict(restorer, state, str(path))
    return restorer.eval()


def _translation_from(ckpt: dict[str, Any], path: Path) -> TranslationRestorer:
    try:
        network = network_from_config(dict(ckpt["network"]))
        restorer = TranslationRestorer(
            network, tuple(ckpt["input_shape"]), name=str(ckpt.get("name", path.stem))
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} declares an invalid restorer architecture: {e}") from e
    return _with_weights(restorer, ckpt, path)


def _rotation_from(ckpt: dict[str, Any], path: Path) -> RotationRestorer:
    try:
        network = network_from_config(dict(ckpt["network"]))
        c, h, w = (int(v) for v in ckpt["image_shape"])
        polar = dict(ckpt["polar"])
        restorer = RotationRestorer(
            network,
            (c, h, w),
            int(polar["n_radius"]),
            int(polar["n_angle"]),
            float(polar["r_max"]),
            int(polar["upsample"]),
            name=str(ckpt.get("name", path.stem)),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} declares an invalid restorer architecture: {e}") from e
    return _with_weights(restorer, ckpt, path)
