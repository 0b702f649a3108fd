"""Theorem 3.4 / Corollary 3.6 as a checker.

An affine map ``f(x) = A vec(x) + b`` on tensors of shape ``(C_in, *N) -> (C_out, *N)``
is translation-equivariant **iff**

1. every channel block ``A_{c',c}`` is a *circular filter* (Definition 3.5):
   ``A_{c',c}[p, q] = w_{c',c}((q - p) mod N)`` for all positions ``p, q``; and
2. the bias is constant on each output channel: ``b[c', p] = b[c', 0]`` for all ``p``.

:func:`check_affine` decides this exactly (up to ``atol``) for a given matrix and bias
and lists where each condition fails; :func:`probe_affine` recovers ``A`` and ``b`` from
any module that is affine (``b = f(0)``, column ``j`` of ``A`` = ``f(e_j) - f(0)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class AffineReport:
    """Outcome of :func:`check_affine`.

    ``equivariant``: both conditions hold. ``circular``/``constant_bias``: each condition.
    ``filter_violations``: up to ``max_listed`` entries
    ``(c_out, c_in, p, q, actual, expected)`` with ``p, q`` multi-indices and
    ``expected = A_{c',c}[0, q - p]``. ``bias_violations``: ``(c_out, p, actual, b[c', 0])``.
    ``max_filter_error``, ``max_bias_error``: the largest deviations.
    """

    equivariant: bool
    circular: bool
    constant_bias: bool
    max_filter_error: float
    max_bias_error: float
    filter_violations: list[tuple[int, int, tuple[int, ...], tuple[int, ...], float, float]] = (
        field(default_factory=list)
    )
    bias_violations: list[tuple[int, tuple[int, ...], float, float]] = field(default_factory=list)


def _unravel(i: int, spatial: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(v) for v in torch.unravel_index(torch.tensor(i), spatial))


def check_affine(
    matrix: Tensor,
    bias: Tensor,
    in_shape: tuple[int, ...],
    out_channels: int,
    atol: float = 1e-9,
    max_listed: int = 20,
) -> AffineReport:
    """Decide whether ``x -> matrix @ vec(x) + bias`` is translation-equivariant.

    Args:
        matrix: ``(C_out * |N|, C_in * |N|)`` acting on row-major ``vec(x)``.
        bias: ``(C_out * |N|,)``.
        in_shape: ``(C_in, *N)``.
        out_channels: ``C_out``.
        atol: tolerance for "equal" (use 0 for exact rational inputs).
        max_listed: how many violations of each kind to list.
    """
    c_in, *sp = in_shape
    spatial = tuple(sp)
    n = math.prod(spatial)
    if matrix.shape != (out_channels * n, c_in * n) or bias.shape != (out_channels * n,):
        raise ValueError(
            f"expected matrix {(out_channels * n, c_in * n)} and bias {(out_channels * n,)} "
            f"for input {tuple(in_shape)} -> {out_channels} channels, got "
            f"{tuple(matrix.shape)} and {tuple(bias.shape)}"
        )
    a = matrix.double().reshape(out_channels, n, c_in, n).permute(0, 2, 1, 3)  # (C', C, p, q)
    # expected[c', c, p, q] = a[c', c, 0, (q - p) mod N], per spatial axis
    grids = torch.meshgrid(*(torch.arange(k) for k in spatial), indexing="ij")
    pos = torch.stack([g.flatten() for g in grids], 1)  # (n, d)
    diff = (pos.view(1, n, -1) - pos.view(n, 1, -1)) % torch.tensor(spatial)  # (p, q, d)
    lin = torch.zeros(n, n, dtype=torch.long)
    for axis, k in enumerate(spatial):
        lin = lin * k + diff[..., axis]
    expected = a[:, :, 0, :][:, :, lin]  # (C', C, p, q)
    ferr = (a - expected).abs()
    b = bias.double().view(out_channels, n)
    berr = (b - b[:, :1]).abs()
    report = AffineReport(
        equivariant=False,
        circular=bool((ferr <= atol).all()),
        constant_bias=bool((berr <= atol).all()),
        max_filter_error=float(ferr.max()) if ferr.numel() else 0.0,
        max_bias_error=float(berr.max()) if berr.numel() else 0.0,
    )
    report.equivariant = report.circular and report.constant_bias
    for idx in (ferr > atol).nonzero()[:max_listed].tolist():
        co, ci, p, q = idx
        report.filter_violations.append(
            (
                co,
                ci,
                _unravel(p, spatial),
                _unravel(q, spatial),
                float(a[co, ci, p, q]),
                float(expected[co, ci, p, q]),
            )
        )
    for co, p in (berr > atol).nonzero()[:max_listed].tolist():
        report.bias_violations.append((co, _unravel(p, spatial), float(b[co, p]), float(b[co, 0])))
    return report


@torch.no_grad()
def probe_affine(
    fn: Callable[[Tensor], Tensor], in_shape: tuple[int, ...], dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor, int]:
    """Recover ``(matrix, bias, C_out)`` of an affine ``fn: (B, *in_shape) -> (B, C_out, *N)``.

    ``fn`` is evaluated on ``0`` and on every basis tensor (one batch). The result is only
    meaningful if ``fn`` is affine; :func:`check_affine_module` verifies that too.
    """
    m = math.prod(in_shape)
    basis = torch.eye(m, dtype=dtype).view(m, *in_shape)
    zero = torch.zeros(1, *in_shape, dtype=dtype)
    b = fn(zero)
    if tuple(b.shape[2:]) != tuple(in_shape[1:]):
        raise ValueError(
            f"fn maps the grid {tuple(in_shape[1:])} to {tuple(b.shape[2:])}: translation "
            "equivariance needs the same grid in and out"
        )
    cols = fn(basis) - b  # (m, C_out, *N)
    return cols.reshape(m, -1).T.contiguous(), b.reshape(-1), int(b.shape[1])


def check_affine_module(
    fn: Callable[[Tensor], Tensor],
    in_shape: tuple[int, ...],
    atol: float = 1e-9,
    seed: int = 0,
) -> tuple[AffineReport, float]:
    """Probe ``fn``, check Theorem 3.4, and measure how affine ``fn`` really is.

    Returns ``(report, affinity_error)`` where ``affinity_error`` is
    ``max |fn(x) - (A x + b)|`` on a random ``x``; a non-zero value means ``fn`` is not
    affine (e.g. it contains ReLU or max-pooling) and Theorem 3.4 does not apply to it.
    """
    matrix, bias, c_out = probe_affine(fn, in_shape)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, *in_shape, dtype=torch.float64, generator=g)
    with torch.no_grad():
        err = float((fn(x).reshape(-1) - (matrix @ x.reshape(-1) + bias)).abs().max())
    return check_affine(matrix, bias, in_shape, c_out, atol), err
