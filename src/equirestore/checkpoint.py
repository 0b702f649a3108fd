"""Safe checkpoint files: ``weights_only`` loading, atomic writes, clear errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from equirestore.io import atomic_path


class CheckpointError(ValueError):
    """A checkpoint is unreadable, corrupted, or made for something else."""


def save_checkpoint(obj: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``obj`` with ``torch.save`` atomically (no half-written file on failure)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(
    path: str | os.PathLike[str], expected_format: str | tuple[str, ...]
) -> dict[str, Any]:
    """Load a checkpoint without executing pickled code and check its ``format`` tag.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: corrupted, not a torch file, holds arbitrary objects, or has
            another ``format`` than ``expected_format``.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for bad files
        raise CheckpointError(
            f"{p} is not a readable equirestore checkpoint (corrupted, truncated, or holding "
            f"objects that cannot be loaded safely): {e.__class__.__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    formats = (expected_format,) if isinstance(expected_format, str) else expected_format
    if not isinstance(obj, dict) or obj.get("format") not in formats:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        wanted = " or ".join(repr(f) for f in formats)
        raise CheckpointError(
            f"{p} holds {found!r}, not a {wanted} checkpoint; check that you passed the right file"
        )
    return obj


def load_state_strict(module: torch.nn.Module, state: dict[str, Any], source: str) -> None:
    """``load_state_dict`` with a message that says the architecture does not match."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(
            f"{source} was saved from a different architecture than the one it declares: "
            f"{str(e).splitlines()[0]}"
        ) from e


def float32_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached float32 copy of ``module``'s state dict, as checkpoints store it."""
    return {k: v.detach().to(torch.float32).clone() for k, v in module.state_dict().items()}
