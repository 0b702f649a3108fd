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
    if p.is_dir():
        raise CheckpointError(f"{p} is a folder, not a checkpoint file; pass the .pt file in it")
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


def load_state_strict(module: torch.nn.Module, state: Any, source: str) -> None:
    """``load_state_dict`` that refuses, with a message naming the tensors, weights that do
    not fit the architecture, and weights that are not finite."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source} has no valid 'state_dict' (a dict of tensors)")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(
            f"{source} holds NaN or infinite weights in {bad[:3]}; it is damaged, retrain it"
        )
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        details = " ".join(line.strip() for line in str(e).splitlines()[1:])
        raise CheckpointError(
            f"{source} was saved from a different architecture than the one it declares: "
            f"{details or str(e)}"
        ) from e


def detached_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``module``'s state dict, as checkpoints store it (restorers in
    their float64 score dtype: a centre-of-mass filter decides exact half-way ties by a
    millionth of a pixel, which float32 would round away)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
