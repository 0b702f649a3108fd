"""Equivariance checks usable from tests and by users.

``assert_translation_equivariant(fn, x)`` checks ``fn(shift(x, s)) == shift(fn(x), s)``
(Definition 3.2) for every circular shift ``s`` of the spatial grid (or a stated random
sample of them), in float64 by default, and reports the worst error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from equirestore.shifts import shift


@dataclass(frozen=True)
class EquivarianceReport:
    """Outcome of an equivariance check.

    ``max_error``: worst ``|fn(T_s x) - T_s fn(x)|`` over the shifts tried;
    ``worst_shift``: the shift where it occurred; ``shifts_checked``: how many;
    ``exhaustive``: whether every shift of the grid was tried.
    """

    max_error: float
    worst_shift: tuple[int, ...]
    shifts_checked: int
    exhaustive: bool


def check_translation_equivariance(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    max_shifts: int | None = 4096,
    dtype: torch.dtype | None = torch.float64,
    seed: int = 0,
) -> EquivarianceReport:
    """Measure how far ``fn`` is from translation equivariance on the input ``x``.

    Args:
        fn: maps ``(B, C, *N)`` to ``(B, C', *N)`` (same spatial grid).
        x: a sample input ``(B, C, *N)``.
        max_shifts: if the grid has more shifts than this, a uniform random sample of
            this many (always including the one-step shifts) is tried; ``None`` = all.
        dtype: cast ``x`` (and ``fn`` if it is a module) to this dtype; ``None`` keeps it.
        seed: seeds the random sample of shifts.
    """
    if dtype is not None:
        x = x.to(dtype)
        if isinstance(fn, torch.nn.Module):
            fn = fn.to(dtype)
    spatial = tuple(x.shape[2:])
    total = math.prod(spatial)
    with torch.no_grad():
        y = fn(x)
        if tuple(y.shape[2:]) != spatial:
            raise ValueError(
                f"fn changes the spatial size {spatial} -> {tuple(y.shape[2:])}; "
                "translation equivariance needs input and output on the same grid"
            )
        exhaustive = max_shifts is None or total <= max_shifts
        if exhaustive:
            shifts = list(itertools.product(*(range(n) for n in spatial)))
        else:
            gen = torch.Generator().manual_seed(seed)
            unit = [tuple(int(i == a) for i in range(len(spatial))) for a in range(len(spatial))]
            assert max_shifts is not None
            rand = torch.stack(
                [torch.randint(0, n, (max_shifts,), generator=gen) for n in spatial], 1
            )
            shifts = unit + [tuple(int(v) for v in r) for r in rand[: max_shifts - len(unit)]]
        worst, worst_s = 0.0, shifts[0]
        b = x.shape[0]
        chunk = max(1, 512 // b)  # evaluate many shifted copies per call
        for i in range(0, len(shifts), chunk):
            st = torch.tensor(shifts[i : i + chunk])  # (m, k)
            m = len(st)
            s_rep = st.repeat_interleave(b, dim=0)  # (m*b, k): sample-major within a shift
            x_rep = x.repeat(m, *([1] * (x.dim() - 1)))
            y_rep = y.repeat(m, *([1] * (y.dim() - 1)))
            err = (fn(shift(x_rep, s_rep)) - shift(y_rep, s_rep)).abs()
            err = err.reshape(m, -1).amax(1)
            err = torch.where(torch.isnan(err), torch.full_like(err, math.inf), err)
            j = int(err.argmax())
            if float(err[j]) > worst or math.isinf(float(err[j])):
                worst, worst_s = float(err[j]), shifts[i + j]
    return EquivarianceReport(worst, tuple(worst_s), len(shifts), exhaustive)


def assert_translation_equivariant(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    atol: float = 1e-10,
    max_shifts: int | None = 4096,
    dtype: torch.dtype | None = torch.float64,
    seed: int = 0,
) -> EquivarianceReport:
    """Assert ``fn(shift(x, s)) == shift(fn(x), s)`` within ``atol`` for every shift tried.

    Returns the :class:`EquivarianceReport`; raises ``AssertionError`` naming the worst
    shift and error otherwise. See :func:`check_translation_equivariance` for arguments.
    """
    report = check_translation_equivariance(fn, x, max_shifts, dtype, seed)
    if not report.max_error <= atol:
        scope = "all" if report.exhaustive else "a random sample of"
        raise AssertionError(
            f"not translation-equivariant: max |fn(T_s x) - T_s fn(x)| = {report.max_error:.3g} "
            f"> atol={atol:g} at shift {report.worst_shift} ({scope} "
            f"{report.shifts_checked} shifts checked)"
        )
    return report
