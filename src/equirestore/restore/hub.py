"""Shipped restorers and restorer checkpoints.

A restorer checkpoint is a plain dict of tensors, strings and numbers (see
:meth:`TranslationRestorer.checkpoint`), loaded with ``torch.load(weights_only=True)``
so that no pickled code runs.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from equirestore.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state_strict,
    save_checkpoint,
)
from equirestore.nn.canonical import network_from_config
from equirestore.restore.translation import TranslationRestorer

FORMAT = "equirestore.translation_restorer"

#: Restorers whose weights ship inside the package, by name.
SHIPPED: dict[str, str] = {"mnist": "mnist.pt", "cifar10": "cifar10.pt"}


def shipped_path(name: str) -> Path:
    """Path of a shipped restorer's weights file."""
    return Path(str(resources.files("equirestore") / "weights" / SHIPPED[name]))


def save_restorer(
    restorer: TranslationRestorer,
    path: str | os.PathLike[str],
    meta: dict[str, Any] | None = None,
) -> None:
    """Save a restorer atomically; ``meta`` (JSON-like) records how it was made."""
    save_checkpoint(restorer.checkpoint(meta), path)


def restorer_meta(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``meta`` dict stored with a restorer (how it was trained, its measured rates)."""
    path = _resolve(name_or_path)
    return dict(load_checkpoint(path, FORMAT).get("meta", {}))


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


def load_restorer(name_or_path: str | os.PathLike[str]) -> TranslationRestorer:
    """Load a restorer by shipped name (``"mnist"``, ``"cifar10"``) or checkpoint path.

    Raises:
        FileNotFoundError: unknown name and no such file.
        CheckpointError: the file is corrupted, of another kind, or its weights do not
            fit the architecture it declares.
    """
    path = _resolve(name_or_path)
    ckpt = load_checkpoint(path, FORMAT)
    try:
        network = network_from_config(dict(ckpt["network"]))
        restorer = TranslationRestorer(
            network, tuple(ckpt["input_shape"]), name=str(ckpt.get("name", path.stem))
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} declares an invalid restorer architecture: {e}") from e
    state = {k: v.to(restorer.score_dtype) for k, v in ckpt["state_dict"].items()}
    load_state_strict(restorer, state, str(path))
    return restorer.eval()
