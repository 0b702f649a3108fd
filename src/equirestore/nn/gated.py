"""The bounding box where the object fills the frame, another estimator elsewhere.

Datasets made like Fashion-MNIST scale every object until its longer side fills a frame
(all 28 rows or columns of a 28 x 28 image) and centre the other side by its bounding
box. Where the box spans the frame, the box rule of :mod:`equirestore.nn.box` is exact
along that axis and reproduces the dataset's rounding along the other. Where faint ink
at an outer row or column came out blank, the box is a slice short of the frame and its
middle half a slice off: no rule on the box alone can tell which side lost the slice,
and an estimator trained on the whole image guesses better (on Fashion-MNIST, the
``box`` and ``features`` candidates against ``gated`` in ``results/generality.md``).
:class:`GatedEstimator` asks each where it is the better one::

    f(x) = b(x) + u(x) / 16   if E_a(x) = F_a for some spatial axis a,
    f(x) = g(x)               otherwise,

with ``b`` the box estimator, ``g`` the other one, ``u = (g - min g) / (max g - min g)``
its scores scaled to ``[0, 1]`` (0 where ``g`` is constant), ``E_a(x)`` the extent of the
box along axis ``a`` - the number of slices minus the longest circular run of empty ones,
which a circular shift does not change - and ``F_a`` the frame, the most common extent of
the training images (:func:`fit_frame`). Where the ink occupancy is 0 or 1 (always on 8-bit
images) the box's costs differ by multiples of 1/4 and its
tie-break term spans at most 1/8, so ``u / 16`` only decides between placements whose box
costs are equal (there it may overrule the box's own tie-break).

Equivariance: the gate, ``min g`` and ``max g`` are the same for every shift of ``x``, and
``b`` and ``g`` are exactly equivariant, so ``f`` is (tested over every shift in float64).
Shapes: ``(B, C, *N) -> (B, 1, *N)``; the maximum marks the estimated shift.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from equirestore.nn.box import BoxEstimator, ink
from equirestore.nn.features import LEVELS

#: Weight of the other estimator's scaled scores where the box decides: below the 1/4
#: between two box costs less the 1/8 of the box's tie-break term.
TIE_WEIGHT = 1 / 16


def box_extents(x: Tensor, threshold: float, levels: int = LEVELS) -> list[Tensor]:
    """Per spatial axis, ``(B,)`` int64: the extent of the box around the slices of ``x
    (B, C, *N)`` with ink above ``threshold`` (:func:`~equirestore.nn.box.ink`, ramps on
    the grid ``levels``), ``N_a`` minus the longest circular run of empty slices (0 for a
    blank image)."""
    return occupancy_extents(ink(x, threshold, False, levels)[0])


def empty_runs(occupancy: Tensor) -> Tensor:
    """``(B, N)`` int64: for one axis's occupancy ``(B, N)``, the length of the circular run
    of empty slices that ends at each slice (0 where the slice is inked; ``N`` on a blank
    axis). A circular shift of the occupancy shifts it the same way."""
    empty = occupancy <= 0
    n = empty.shape[1]
    run = torch.zeros(len(empty), dtype=torch.long, device=occupancy.device)
    ending = []
    for p in range(2 * n):  # the second lap sees every run whole, across the border too
        run = torch.where(empty[:, p % n], run + 1, 0)
        if p >= n:
            ending.append(run.clamp_max(n))
    return torch.stack(ending, 1)


def occupancy_extents(occupancy: list[Tensor]) -> list[Tensor]:
    """:func:`box_extents` from the per-axis occupancy ``(B, N_a)`` of
    :func:`~equirestore.nn.box.ink`."""
    return [occ.shape[1] - empty_runs(occ).amax(1) for occ in occupancy]


def rescaled(g: Tensor, weight: float) -> Tensor:
    """``weight u`` of the module docstring: each sample of ``g (B, ...)`` moved and
    scaled to ``[0, weight]`` (0 where the sample is constant)."""
    flat = g.flatten(1)
    lo, hi = flat.amin(1), flat.amax(1)
    span = hi - lo
    scale = torch.where(span > 0, weight / torch.where(span > 0, span, 1), 0)
    shape = (-1,) + (1,) * (g.dim() - 1)
    return (g - lo.view(shape)) * scale.view(shape)


class GatedEstimator(nn.Module):
    """The estimator of the module docstring.

    Args:
        box: the bounding-box estimator (its threshold defines the extents).
        other: any translation estimator on the same input shape, ``(B, C, *N) -> (B, 1,
            *N)``.
        frame: ``F_a`` per spatial axis, in slices.
    """

    def __init__(self, box: BoxEstimator, other: nn.Module, frame: Sequence[int]) -> None:
        super().__init__()
        if tuple(getattr(other, "input_shape", ())) != box.input_shape:
            raise ValueError(
                f"the box and the other estimator must share the input shape "
                f"{box.input_shape}, got {tuple(getattr(other, 'input_shape', ()))}"
            )
        if len(frame) != box.dims or not all(
            1 <= f <= n for f, n in zip(frame, box.spatial, strict=True)
        ):
            raise ValueError(
                f"need one frame extent in [1, N_a] per axis of {box.spatial}, got {tuple(frame)}"
            )
        self.box, self.other = box, other
        self.frame = tuple(int(f) for f in frame)
        self.input_shape, self.spatial, self.dims = box.input_shape, box.spatial, box.dims
        self.in_channels = box.in_channels

    def config(self) -> dict[str, Any]:
        """Both parts' configs and the frame (stored in checkpoints)."""
        return {
            "kind": "gated",
            "box": self.box.config(),
            "other": self.other.config(),  # type: ignore[operator]
            "frame": list(self.frame),
        }

    def gate(self, x: Tensor) -> Tensor:
        """``(B,)`` bool: the box spans the frame along some axis (the box decides)."""
        return self._gate(box_extents(x, self.box.threshold, self.box.levels))

    def _gate(self, extents: list[Tensor]) -> Tensor:
        return torch.stack([e == f for e, f in zip(extents, self.frame, strict=True)]).any(0)

    def forward(self, x: Tensor) -> Tensor:
        # the box's scores and the gate share one pass over the image for the occupancy
        occupancy, counts = ink(x, self.box.threshold, self.box.tie_break, self.box.levels)
        g = self.other(x)
        boxed = self.box.score_ink(occupancy, counts) + rescaled(g, TIE_WEIGHT)
        shape = (-1,) + (1,) * (g.dim() - 1)
        return torch.where(self._gate(occupancy_extents(occupancy)).view(shape), boxed, g)

    def parameter_count(self) -> int:
        """Trainable scalars: the other estimator's (the box has none)."""
        return int(self.other.parameter_count())  # type: ignore[operator]


@torch.no_grad()
def fit_frame(box: BoxEstimator, images: Tensor, chunk: int = 4096) -> tuple[int, ...]:
    """``F_a`` per spatial axis: the most common box extent along axis ``a`` of the
    (non-blank) ``images (N, C, *S)``, at ``box``'s threshold (the smallest of equally
    common ones)."""
    parts = [
        box_extents(images[i : i + chunk], box.threshold, box.levels)
        for i in range(0, len(images), chunk)
    ]
    frame = []
    for a, n in enumerate(box.spatial):
        e = torch.cat([p[a] for p in parts])
        e = e[e > 0]
        frame.append(int(torch.bincount(e, minlength=n + 1).argmax()) if len(e) else n)
    return tuple(frame)
