"""Theorem 3.4 on common layers: the examples ``equirestore check-affine`` runs without
``--module`` (and ``paper/theory.py`` reports): a circular convolution with a constant
bias, and five layers that break translation equivariance in different ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from equirestore.nn.circular import CircularConv, circular_conv
from equirestore.testing import check_equivariance
from equirestore.theory.affine import check_affine_module


def theorem34_cases(seed: int = 0) -> list[tuple[str, Callable[[Tensor], Tensor], tuple[int, ...]]]:
    """Layers on a ``(2, 6, 6)`` grid; stride and pooling are brought back to the grid by
    nearest-neighbour upsampling so that input and output live on the same grid."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64, generator=g)
    b = torch.randn(3, dtype=torch.float64, generator=g)
    pix = torch.randn(1, 3, 6, 6, dtype=torch.float64, generator=g)
    fc = torch.randn(3 * 36, 2 * 36, dtype=torch.float64, generator=g)
    conv = CircularConv(2, 3, 3).double()
    with torch.no_grad():
        conv.weight.copy_(w)
        assert conv.bias is not None
        conv.bias.copy_(b)
    shape = (2, 6, 6)

    def up(y: Tensor) -> Tensor:
        return F.interpolate(y, scale_factor=2, mode="nearest")

    return [
        ("circular conv 3x3 + constant bias", conv, shape),
        ("zero-padded conv 3x3 + constant bias", lambda x: F.conv2d(x, w, b, padding=1), shape),
        (
            "circular conv, stride 2 (upsampled back)",
            lambda x: up(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), w, b, stride=2)),
            shape,
        ),
        ("2x2 max-pooling (upsampled back)", lambda x: up(F.max_pool2d(x, 2)), shape),
        ("circular conv + per-pixel bias", lambda x: circular_conv(x, w) + pix, shape),
        (
            "fully connected",
            lambda x: (x.flatten(1) @ fc.T).view(-1, 3, 6, 6),
            shape,
        ),
    ]


def theorem34() -> list[dict[str, Any]]:
    rows = []
    for name, fn, shape in theorem34_cases():
        report, affinity = check_affine_module(fn, shape)
        x = torch.randn(2, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        eq = check_equivariance(fn, x, max_elements=None)
        fv = report.filter_violations[0] if report.filter_violations else None
        bv = report.bias_violations[0] if report.bias_violations else None
        rows.append(
            {
                "layer": name,
                "affine": affinity < 1e-9,
                "affinity_error": affinity,
                "circular_filter": report.circular,
                "constant_bias": report.constant_bias,
                "theorem_3_4": report.equivariant and affinity < 1e-9,
                "first_filter_violation": fv,
                "first_bias_violation": bv,
                "max_filter_error": report.max_filter_error,
                "max_bias_error": report.max_bias_error,
                "measured_equivariance_error": eq.max_error,
                "worst_shift": list(eq.worst_element),
            }
        )
    return rows
