"""The bounding-box estimator: a translation estimator for datasets centred by the box
around their non-blank pixels (fonts, Fashion-MNIST, anything padded onto a blank frame).

Many datasets put each object at the middle of the canvas by its *bounding box*: the
first and last inked row and column. Per spatial axis ``a`` the estimator reads the
occupancy ``o(p)`` of each slice (1 if a pixel of the slice has a channel mean above the
ink threshold ``t``, 0 if none has, as :class:`~equirestore.nn.features.ShiftFeatures`
computes it; exactly 0 or 1 on 8-bit images, :func:`~equirestore.nn.features.ink_ramp`),
and scores each shift ``s`` by how far the farthest inked slice lies from the canonical
centre ``c_a`` moved by ``s``::

    f_a(x)(s) = -max_p o(p) |wrap(p - s - c_a)|,   f(x)(s) = sum_a f_a(x)(s_a),

with ``wrap`` the representative of an offset in ``[-N_a / 2, N_a / 2)``. The maximum is
the shift that puts the middle of the box on ``c_a``: on a canvas of ``N`` slices a box
``[L, R]`` is centred when ``(L + R) / 2`` is the nearest of its half-integer grid to
``c_a``; a centre a quarter off a half-integer (``15.25``) picks the floor of the two
equally centred positions of a box of even width, ``15.75`` the ceiling, and so the
rounding rule of the dataset. The costs are multiples of a quarter, so scores are exact
in floating point wherever the occupancy is 0 or 1 (always on 8-bit images).

Under circular shifts the box alone can leave placements equal: besides a blank image or
an axis inked everywhere (true ties, which stay ties), an object whose two largest empty
gaps along an axis are equally long (a tall ``j`` whose dot is as far from its stem as
the canvas edge is) is equally centred in two placements. A second, much smaller term
decides between them for the placement whose ink lies closest to the canonical centre,

    g(x)(s) = -lambda(x) sum_a sum_p n_a(p) wrap(p - s - c_a)^2,
    lambda(x) = 1 / (8 max(1, n) sum_a (N_a / 2)^2),

with ``n_a(p)`` the number of inked pixels in slice ``p`` and ``n`` their total. ``g``
varies by at most 1/8 over the shifts, less than the quarter by which two box costs
differ (where the occupancy is 0 or 1), so it never overrides the box. ``lambda`` is a
positive number that translation does not change, so the argmax is that of the box plus
``g`` with any small enough constant ``lambda``; dividing by the image's own ink rather
than by a worst case keeps the term's steps well above the float64 tie tolerance. On
8-bit images its sums are exact in float64 (whole numbers times sixteenths)
and every shift's score is scaled by the same number, so equivariance stays exact.
Checkpoints written before this term have no ``tie_break``, and those written before the
ramps were put between 8-bit levels have no ``levels``; both score as they did.

Equations (2)-(3). ``o`` is made of circular filters, constant biases and ReLUs
(:class:`~equirestore.nn.features.ShiftFeatures`); ``o(p + d) |wrap(d - c_a)|`` for
every offset ``d`` is one circular filter with ``N_a`` output channels (one tap each);
their maximum over channels is a ``log2 N_a``-deep cascade of ``max(u, v) = u + relu(v -
u)``, 1x1 filters and ReLUs; ``n_a`` sums the same pixel indicators without the slice
maximum, and ``g`` is one full-size circular filter on it (scaled as above).
:meth:`BoxEstimator.forward` evaluates the same function directly, which is exactly
translation-equivariant (tested over every shift in float64). :func:`fit_box` chooses
``t`` and ``c`` from the training images (closed form, no gradient steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from equirestore.nn.features import (
    LEVELS,
    FeatureConfig,
    along_axis,
    axis_ink,
    box_cost,
    box_profile,
)

#: Ink thresholds :func:`fit_box` tries, on the channel mean in ``[0, 1]`` (0: any pixel
#: that is not blank): those of the features, so that the ``features`` estimator can
#: start from the chosen box (:meth:`~equirestore.nn.features.FeatureEstimator.set_box`).
THRESHOLDS = FeatureConfig().thresholds


def ink(
    x: Tensor, threshold: float, counts: bool = True, levels: int = LEVELS
) -> tuple[list[Tensor], list[Tensor]]:
    """Per spatial axis, ``(B, N_a)`` each: the occupancy of each slice of ``x (B, C, *N)``
    at ``threshold`` and its inked pixels ``n_a`` (empty when not ``counts``;
    :func:`~equirestore.nn.features.axis_ink` with the ramps on the grid ``levels``)."""
    occupancy, inked = axis_ink(x, threshold, counts, levels)
    return occupancy, inked or []


def tie_break_scale(counts: Tensor, spatial: Sequence[int]) -> Tensor:
    """``(B, 1)``: ``lambda(x)`` of the module docstring from one axis's ink counts
    ``(B, N_a)`` on the grid ``spatial``."""
    reach = sum((int(n) / 2) ** 2 for n in spatial)
    return 1.0 / (8 * reach * counts.sum(1, keepdim=True).clamp_min(1))


def spread_profile(counts: Tensor, cost: Tensor, scale: Tensor) -> Tensor:
    """``(B, S)``: ``-scale sum_q counts[:, q] cost[s, q]^2`` for ``counts (B, Q)`` and
    ``scale (B, 1)``, one axis's term of ``g`` (``cost`` from
    :func:`~equirestore.nn.features.box_cost`)."""
    return -scale * (counts @ (cost.to(counts) ** 2).T)


class BoxEstimator(nn.Module):
    """The estimator of the module docstring; no trainable parameters.

    Args:
        input_shape: ``(C, *N)``.
        threshold: ink threshold ``t`` on the channel mean (values in ``[0, 1]``).
        centre: ``c_a`` per spatial axis (slices; multiples of 1/4 keep scores exact).
        tie_break: add ``g`` (module docstring) to decide what the box leaves equal.
        levels: the grid of the ink ramps (:func:`~equirestore.nn.features.ink_ramp`;
            0: the rule of checkpoints written before it).

    Shapes: ``(B, C, *N) -> (B, 1, *N)``; the maximum marks the estimated shift (sign
    convention of :mod:`equirestore.groups.translation`).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        threshold: float,
        centre: Sequence[float],
        tie_break: bool = True,
        levels: int = LEVELS,
    ):
        super().__init__()
        c, *spatial = (int(v) for v in input_shape)
        if len(spatial) not in (1, 2, 3) or len(centre) != len(spatial):
            raise ValueError(
                f"need one centre per spatial axis of {tuple(input_shape)}, got {tuple(centre)}"
            )
        self.input_shape = (c, *spatial)
        self.spatial = tuple(spatial)
        self.dims = len(spatial)
        self.in_channels = c
        self.threshold = float(threshold)
        self.centre = tuple(float(v) for v in centre)
        self.tie_break = bool(tie_break)
        self.levels = int(levels)
        for a, (n, v) in enumerate(zip(spatial, self.centre, strict=True)):
            self.register_buffer(f"cost{a}", box_cost(n, v).clone(), persistent=False)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable (stored in checkpoints)."""
        return {
            "kind": "box",
            "input_shape": list(self.input_shape),
            "threshold": self.threshold,
            "centre": list(self.centre),
            "tie_break": self.tie_break,
            "levels": self.levels,
        }

    def forward(self, x: Tensor) -> Tensor:
        return self.score_ink(*ink(x, self.threshold, self.tie_break, self.levels))

    def score_ink(self, occupancy: list[Tensor], counts: list[Tensor]) -> Tensor:
        """``(B, 1, *N)`` scores from :func:`ink` of the input at this threshold
        (``counts`` empty without the tie-break), for callers that need the occupancy too."""
        score = occupancy[0].new_zeros(occupancy[0].shape[0], 1, *self.spatial)
        scale = tie_break_scale(counts[0], self.spatial) if self.tie_break else None
        for a in range(self.dims):
            cost = getattr(self, f"cost{a}")
            profile = box_profile(occupancy[a], cost)
            if scale is not None:
                profile = profile + spread_profile(counts[a], cost, scale)
            score = score + along_axis(profile, a, self.dims)
        return score

    def parameter_count(self) -> int:
        """Trainable scalars: none (the threshold and centres are chosen, not trained)."""
        return 0


def _strict(scores: Tensor) -> Tensor:
    return scores[:, 0] > scores[:, 1:].amax(1)


@torch.no_grad()
def fit_box(
    images: Tensor, thresholds: Sequence[float] = THRESHOLDS, chunk: int = 4096
) -> tuple[BoxEstimator, dict[str, Any]]:
    """Choose the threshold and centres that restore most of ``images (N, C, *S)``
    strictly (closed form).

    Per threshold and axis, the centre is the quarter-slice value within one slice of
    the median box middle ``(L + R) / 2`` that makes the axis's maximum unique at 0 for
    the most images (the score is a sum of one profile per axis, so its maximum is
    unique at 0 exactly when every axis's is); the threshold is the one with the most
    images strict on every axis (the first of equals). Rates include the tie-break term
    ``g`` of the estimator it returns.

    Returns:
        ``(estimator, record)``: the record gives the rate of every threshold tried.
    """
    x = images.double()
    spatial = tuple(x.shape[2:])
    best: tuple[float, float, list[float]] | None = None
    tried = []
    for t in thresholds:
        strict = torch.ones(len(x), dtype=torch.bool)
        centres = []
        chunks = [ink(x[i : i + chunk], t) for i in range(0, len(x), chunk)]
        scale = torch.cat([tie_break_scale(c[0], spatial) for _, c in chunks])
        for a, n in enumerate(spatial):
            occ = torch.cat([o[a] for o, _ in chunks])
            counts = torch.cat([c[a] for _, c in chunks])
            idx = torch.arange(n, dtype=torch.float64)
            on = occ > 0
            inked = on.any(1)
            lo = torch.where(on, idx, torch.inf).amin(1)[inked]
            hi = torch.where(on, idx, -torch.inf).amax(1)[inked]
            mid = float(((lo + hi) / 2).median()) if len(lo) else (n - 1) / 2
            axis_best: tuple[int, float, Tensor] | None = None
            for q in range(-4, 5):
                c = mid + q / 4
                cost = box_cost(n, c)
                ok = torch.cat(
                    [
                        _strict(
                            box_profile(occ[i : i + chunk], cost)
                            + spread_profile(counts[i : i + chunk], cost, scale[i : i + chunk])
                        )
                        for i in range(0, len(occ), chunk)
                    ]
                )
                count = int(ok.sum())
                if axis_best is None or count > axis_best[0]:
                    axis_best = (count, c, ok)
            assert axis_best is not None
            centres.append(axis_best[1])
            strict &= axis_best[2]
        rate = float(strict.double().mean())
        tried.append({"threshold": t, "centre": centres, "strict": rate})
        if best is None or rate > best[0]:
            best = (rate, t, centres)
    assert best is not None
    est = BoxEstimator(tuple(x.shape[1:]), best[1], best[2])
    return est, {"threshold": best[1], "centre": best[2], "tried": tried}
