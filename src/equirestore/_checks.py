"""Input validation shared by the public API: say what was wrong and what to do."""

from __future__ import annotations

import torch
from torch import Tensor


def check_batch(
    x: object,
    channels: int | None,
    dims: int,
    spatial: tuple[int, ...] | None = None,
    what: str = "input",
) -> Tensor:
    """Validate a batch ``(B, C, *N)`` of real, finite values and return it.

    Raises:
        TypeError: not a floating-point tensor.
        ValueError: wrong rank, channel count or spatial size, an empty batch, NaN/inf.
    """
    layout = "(B, C, H, W)" if dims == 2 else ("(B, C, D, H, W)" if dims == 3 else "(B, C, N)")
    if not isinstance(x, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(
            f"{what} must be a floating-point tensor (e.g. float32 in [0, 1]), got {x.dtype}; "
            "convert with x.float() / 255 for uint8 images"
        )
    if x.dim() != dims + 2:
        hint = " (add a batch axis with x.unsqueeze(0))" if x.dim() == dims + 1 else ""
        raise ValueError(
            f"{what} must have shape {layout} ({dims + 2} axes), got {tuple(x.shape)}{hint}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{what} is an empty batch (B = 0); pass at least one sample")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{what} has {x.shape[1]} channels but {channels} are expected "
            f"(shape {tuple(x.shape)}, layout {layout})"
        )
    if spatial is not None and tuple(x.shape[2:]) != tuple(spatial):
        raise ValueError(
            f"{what} has spatial size {tuple(x.shape[2:])} but this restorer was trained on "
            f"{tuple(spatial)}; bring images to that geometry first "
            "(equirestore.data.to_geometry)"
        )
    if x.device.type == "meta":
        raise ValueError(f"{what} is on the 'meta' device and holds no values; pass real data")
    if tracing():
        return x  # the value check below is data-dependent: eager mode only
    # One reduction, accumulated in float64 so that no finite float16/float32 batch can
    # overflow it: the sum is finite exactly when every element is.
    if not bool(torch.isfinite(x.sum(dtype=torch.float64))):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{what} contains {bad} NaN or infinite values; clean the data first")
    return x


def tracing() -> bool:
    """Whether the code runs under ``torch.jit.trace``, ``torch.export``,
    ``torch.compile`` or the ONNX exporter (data-dependent checks must be skipped)."""
    return bool(torch.jit.is_tracing() or torch.compiler.is_compiling())
