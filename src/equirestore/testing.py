"""Equivariance checks usable from tests and by users.

``assert_equivariant(fn, x, group=...)`` checks ``fn(g . x) == g . fn(x)`` for every
element ``g`` of a group (or a stated random sample of a large one), in float64 by
default, and reports the worst error. Groups:

* ``"translation"``: circular shifts of every spatial axis of ``x (B, C, *N)``
  (:func:`equirestore.groups.translation.shift`; Definition 3.2);
* ``"polar"``: circular shifts of the last axis only, i.e. rotations by whole angular
  bins of a polar image ``(B, C * N_r, N_θ)`` (:mod:`equirestore.groups.rotation`);
* ``"p4"`` / ``"p4m"``: quarter turns (and mirrors) of square images ``(B, C, H, W)``
  (:mod:`equirestore.groups.p4`).

How the group acts on the output is ``output``: ``"same"`` (as on the input; the
default), ``"regular"`` (G-feature maps ``(B, C, |G|, H, W)`` of :mod:`equirestore.nn.gcnn`,
p4/p4m only) or ``"invariant"`` (not at all: ``fn(g . x) == fn(x)``).

>>> import torch
>>> from equirestore.nn import CircularConv
>>> report = assert_equivariant(CircularConv(1, 2, 3), torch.rand(1, 1, 6, 6))
>>> report.elements_checked, report.exhaustive
(36, True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from equirestore.groups.p4 import Group
from equirestore.groups.translation import shift

GroupName = Literal["translation", "polar", "p4", "p4m"]
OutputAction = Literal["same", "regular", "invariant"]
GROUPS: tuple[str, ...] = ("translation", "polar", "p4", "p4m")


@dataclass(frozen=True)
class EquivarianceReport:
    """Outcome of an equivariance check.

    ``max_error``: worst ``|fn(g . x) - g . fn(x)|`` over the elements tried;
    ``worst_element``: where it occurred (a shift tuple, or ``(mirror, quarter turns)``);
    ``elements_checked``: how many; ``exhaustive``: whether every element was tried.
    """

    max_error: float
    worst_element: tuple[int, ...]
    elements_checked: int
    exhaustive: bool


def _elements(
    group: str, x: Tensor, max_elements: int | None, seed: int
) -> tuple[list[tuple[int, ...]], bool]:
    if group in ("p4", "p4m"):
        if x.dim() != 4 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"{group} acts on square images (B, C, H, W), got {tuple(x.shape)}")
        return list(Group(group == "p4m").elements), True
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    grid = tuple(x.shape[2:]) if group == "translation" else (x.shape[-1],)
    total = math.prod(grid)
    if max_elements is None or total <= max_elements:
        return list(itertools.product(*(range(n) for n in grid))), True
    gen = torch.Generator().manual_seed(seed)
    unit = [tuple(int(i == a) for i in range(len(grid))) for a in range(len(grid))]
    rand = torch.stack([torch.randint(0, n, (max_elements,), generator=gen) for n in grid], 1)
    return unit + [tuple(int(v) for v in r) for r in rand[: max_elements - len(unit)]], False


def _act(group: str, t: Tensor, g: tuple[int, ...], on: str) -> Tensor:
    """``g . t`` for a batch ``t``; ``on`` is ``"input"`` or an :data:`OutputAction`."""
    if on == "invariant":
        return t
    if group == "translation":
        return shift(t, torch.tensor(g))
    if group == "polar":
        return torch.roll(t, g[0], -1)
    grp = Group(group == "p4m")
    return grp.act(t, (g[0], g[1])) if on == "regular" else grp.transform(t, (g[0], g[1]))


def check_equivariance(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    group: GroupName = "translation",
    output: OutputAction = "same",
    max_elements: int | None = 4096,
    dtype: torch.dtype | None = torch.float64,
    seed: int = 0,
) -> EquivarianceReport:
    """Measure how far ``fn`` is from equivariance to ``group`` on the input ``x``.

    Args:
        fn: the map to check; a module is converted to ``dtype`` (a copy is not made).
        x: a sample input (layout as the group needs, see the module docstring).
        group: ``"translation"``, ``"polar"``, ``"p4"`` or ``"p4m"``.
        output: how the group acts on ``fn``'s output (module docstring).
        max_elements: translation groups with more elements than this are checked on a
            uniform random sample of this many (always including the one-step shifts);
            ``None`` = all.
        dtype: cast ``x`` (and ``fn`` if it is a module) to this dtype; ``None`` keeps it.
        seed: seeds the random sample.
    """
    if output == "regular" and group not in ("p4", "p4m"):
        raise ValueError("output='regular' (G-feature maps) needs group 'p4' or 'p4m'")
    if dtype is not None:
        x = x.to(dtype)
        if isinstance(fn, torch.nn.Module):
            fn = fn.to(dtype)
    elements, exhaustive = _elements(group, x, max_elements, seed)
    worst, worst_g = 0.0, elements[0]
    with torch.no_grad():
        y = fn(x)
        grid = slice(2, None) if group == "translation" else slice(-1, None)
        if (
            group in ("translation", "polar")
            and output == "same"
            and y.shape[grid] != x.shape[grid]
        ):
            raise ValueError(
                f"fn changes the grid {tuple(x.shape[grid])} -> {tuple(y.shape[grid])}; "
                f"{group} equivariance needs input and output on the same grid "
                "(or output='invariant')"
            )
        chunk = max(1, 512 // len(x))  # evaluate many transformed copies per call
        for i in range(0, len(elements), chunk):
            part: Sequence[Any] = elements[i : i + chunk]
            moved = fn(torch.cat([_act(group, x, g, "input") for g in part]))
            expected = torch.cat([_act(group, y, g, output) for g in part])
            err = (moved - expected).abs().reshape(len(part), -1).amax(1)
            err = torch.where(torch.isnan(err), torch.full_like(err, math.inf), err)
            j = int(err.argmax())
            if float(err[j]) > worst or math.isinf(float(err[j])):
                worst, worst_g = float(err[j]), part[j]
    return EquivarianceReport(worst, tuple(worst_g), len(elements), exhaustive)


def assert_equivariant(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    group: GroupName = "translation",
    output: OutputAction = "same",
    atol: float = 1e-10,
    max_elements: int | None = 4096,
    dtype: torch.dtype | None = torch.float64,
    seed: int = 0,
) -> EquivarianceReport:
    """Assert ``fn(g . x) == g . fn(x)`` within ``atol`` for every group element tried.

    Returns the :class:`EquivarianceReport`; raises ``AssertionError`` naming the worst
    element and error otherwise. See :func:`check_equivariance` for the arguments.
    """
    report = check_equivariance(fn, x, group, output, max_elements, dtype, seed)
    if not report.max_error <= atol:
        scope = "all" if report.exhaustive else "a random sample of"
        raise AssertionError(
            f"not {group}-equivariant ({output} output action): max |fn(g.x) - g.fn(x)| = "
            f"{report.max_error:.3g} > atol={atol:g} at g = {report.worst_element} ({scope} "
            f"{report.elements_checked} elements checked)"
        )
    return report
