"""Translation-equivariant features for estimators that learn how a dataset was centred.

Real datasets are centred by rules that one linear filter cannot express: the rounded
centre of mass of the ink (MNIST), the bounding box of the pixels that are not blank
(fonts, Fashion-MNIST), a blank frame (padded CIFAR-10), or nothing at all but the seam
where a circular shift joins the image's borders (unpadded images). :class:`ShiftFeatures`
computes, from ``x (B, C, *N)`` with values in ``[0, 1]``, the quantities these rules are
made of, and every one of them with the layers of Equations (2)-(3) only - circular
filters, constant biases and ReLUs - so that the features, and any estimator built on
them with circular filters, are exactly translation-equivariant:

* the image itself (``C`` maps) and the ink indicators ``z_t = 1 - relu(1 - K relu(m - u))``
  of the channel mean ``m`` at thresholds ``t`` (a 1x1 filter with bias ``-u``, ReLU, a
  1x1 filter ``-K`` with bias 1, ReLU, a 1x1 filter ``-1`` with bias 1): ``0`` where
  ``m <= u``, ``1`` where ``m >= u + 1/K``, with the ramp ``[u, u + 1/K]`` put between two
  8-bit levels of the mean so that every 8-bit pixel is ink or not, never in between
  (:func:`ink_ramp`);
* per spatial axis, the *occupancy* of each slice, ``o = 1 - relu(1 - sum z_t)`` (the sum
  over the other axes is a circular filter whose kernel is all ones across them), and
  its *hull* ``h = f - relu(f - b)`` with ``f = min(1, sum_{j=0..W} o[p - j])`` and ``b``
  the same forward: the rows between the first and the last inked row (bounding box),
  filling inner gaps up to ``W`` slices, for each window ``W``;
* per spatial axis and threshold, the *box profiles* ``b(p) = -max_q o(q) |wrap(q - p -
  delta)|`` for ``delta`` in :data:`BOX_OFFSETS`: how far the farthest inked slice lies from
  ``p + delta``, whose one-tap 1-D filter is the bounding-box estimator of
  :mod:`equirestore.nn.box` (a maximum of one-tap circular filters: a cascade of
  ``max(u, v) = u + relu(v - u)``);
* per spatial axis, the *mass profile* (the image summed over the other axes), whose
  quadratic 1-D filter is the centre-of-mass estimator;
* per spatial axis, the *edge energy* across each line: ``sum |x - T_a x|`` and the
  second differences ``sum |x - 2 T_a x + T_a^2 x|`` on both sides (``|v| = relu(v) +
  relu(-v)``), which single out the seam of a circularly shifted natural image.

Axis features are returned as profiles ``(B, F_a, N_a)``: a map that is constant across
the other axes, stored once. A circular filter over such a map only sees its profile, so
the estimator's last layer applies 1-D circular filters to them (:class:`FeatureEstimator`).

Convention: shifts as in :mod:`equirestore.groups.translation`; axis ``a`` of a profile
list is spatial axis ``a`` of the input (rows first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore.nn.circular import circular_conv

#: The grid :class:`FeatureConfig` puts the ink ramps on by default: 8-bit images.
LEVELS = 255

#: The ramp steepness ``K`` of checkpoints written before the grid (``levels = 0``).
STEEPNESS = 255.0


@dataclass(frozen=True)
class FeatureConfig:
    """Which features :class:`ShiftFeatures` computes (JSON-serialisable).

    ``thresholds``: ink levels ``t`` of the indicators, on the channel mean (values in
    ``[0, 1]``): a pixel is ink where its mean exceeds ``t`` (``t = 0``: every pixel that
    is not blank); ``levels``: the grid the indicators' ramps are placed on,
    ``LEVELS`` (255) for 8-bit images (:func:`ink_ramp`), 0 for the rule of checkpoints
    written before the field, whose ramp runs from ``t`` to ``t + 1/steepness`` and leaves
    a pixel one level above ``t`` partly ink; ``steepness``: that rule's ``K`` (used
    only with ``levels = 0``);
    ``windows``: hull windows ``W`` (slices); ``boxes``: the box profiles of every
    threshold; ``edges``: the edge-energy profiles;
    ``mass``: the mass profile of each axis (the image summed over the other axes and the
    channels; a quadratic 1-D filter on it is the centre-of-mass estimator); ``raw``: the
    image itself as maps.
    """

    thresholds: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
    levels: int = LEVELS
    steepness: float = STEEPNESS
    windows: tuple[int, ...] = (2, 4, 8)
    boxes: bool = False
    edges: bool = True
    mass: bool = True
    raw: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples become lists)."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown feature settings {sorted(unknown)}")
        d = {"levels": 0, **d}  # written before the field: the ramp those checkpoints used
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})  # type: ignore[arg-type]


def _roll_sum(x: Tensor, window: int, axis: int, direction: int) -> Tensor:
    """``sum_{j=0..window} x[p - direction * j]`` along ``axis``: a circular box filter."""
    out = x
    for j in range(1, window + 1):
        out = out + torch.roll(x, direction * j, axis)
    return out


def _at_most_one(v: Tensor) -> Tensor:
    """``min(1, v) = 1 - relu(1 - v)`` (a bias, a ReLU, a bias)."""
    return 1 - F.relu(1 - v)


#: Sub-slice offsets ``delta`` of the box profiles: with an integer tap they place the
#: canonical box middle a quarter slice off the half-integer grid, either way, which picks
#: the floor or the ceiling of the two equally centred positions (:mod:`equirestore.nn.box`).
BOX_OFFSETS = (0.25, 0.75)


def ink_ramp(
    thresholds: Sequence[float], channels: int, levels: int, steepness: float
) -> tuple[list[float], list[float]]:
    """The start ``u`` and steepness ``K`` of each threshold's ink indicator, which is 0
    up to ``u`` and 1 from ``u + 1/K`` on (module docstring).

    With ``levels = L > 0`` the channel mean of ``C`` channels of ``L + 1`` values each
    steps by ``q = 1 / (L C)``; the ramp runs from a quarter to three quarters of the step
    above the last level that does not exceed ``t``: ``u = (floor(t / q) + 1/4) q``,
    ``K = 2 / q``. So on such images a pixel is ink (1) exactly when its mean exceeds
    ``t``, and never partly ink. With ``levels = 0`` (checkpoints written before):
    ``u = t``, ``K = steepness``, or ``2 C steepness`` at ``t = 0``.
    """
    if levels < 0:
        raise ValueError(f"levels must be >= 0, got {levels}")
    if not levels:
        return list(thresholds), [steepness * (2 * channels if t == 0 else 1) for t in thresholds]
    q = 1.0 / (levels * channels)
    # a tolerance, so that a threshold on a level (0.2 = 51/255) counts as that level
    starts = [(math.floor(t / q + 1e-6) + 0.25) * q for t in thresholds]
    return starts, [2.0 / q] * len(thresholds)


def _excess(
    x: Tensor, thresholds: Sequence[float], levels: int, steepness: float
) -> tuple[Tensor, Tensor]:
    """``relu(m - u)`` ``(B, T, *N)`` for the channel mean ``m`` of ``x (B, C, *N)``, and the
    steepness ``K`` ``(T,)`` of each threshold (:func:`ink_ramp`)."""
    dims = x.dim() - 2
    starts, k = ink_ramp(thresholds, x.shape[1], levels, steepness)
    u = torch.tensor(starts, dtype=x.dtype, device=x.device)
    k_t = torch.tensor(k, dtype=x.dtype, device=x.device)
    return F.relu(x.mean(1, keepdim=True) - u.view(1, -1, *([1] * dims))), k_t


def _occupancy(excess: Tensor, k: Tensor) -> list[Tensor]:
    """:func:`axis_occupancy` from :func:`_excess`'s ``(excess, k)``."""
    axes = list(range(2, excess.dim()))
    out = []
    for axis in axes:
        others = [a for a in axes if a != axis]
        # min(1, sum_j min(1, a_j)) == min(1, sum_j a_j) for a_j >= 0: the clamp is needed
        # once, after the sum over the other axes
        summed = excess.sum(others) if others else excess
        out.append(_at_most_one(k.view(1, -1, 1) * summed))
    return out


def axis_occupancy(
    x: Tensor, thresholds: Sequence[float], levels: int = LEVELS, steepness: float = STEEPNESS
) -> list[Tensor]:
    """Per spatial axis of ``x (B, C, *N)``, the occupancy ``(B, T, N_a)`` of each slice at
    each threshold: ``min(1, sum over the slice of K relu(m - u))`` with ``m`` the channel
    mean (exactly 1 where a pixel's mean exceeds the threshold, 0 where none does, on
    images of ``levels + 1`` values per channel; :func:`ink_ramp`)."""
    return _occupancy(*_excess(x, thresholds, levels, steepness))


def axis_ink(
    x: Tensor,
    threshold: float,
    counts: bool = True,
    levels: int = LEVELS,
    steepness: float = STEEPNESS,
) -> tuple[list[Tensor], list[Tensor] | None]:
    """Per spatial axis of ``x (B, C, *N)``, at one ``threshold``: the occupancy ``(B,
    N_a)`` of each slice (:func:`axis_occupancy`) and, if ``counts``, how many of its
    pixels are inked (the sum of the pixel indicators ``min(1, K relu(m - u))``; whole
    numbers wherever every indicator is 0 or 1, as on 8-bit images), from one pass over
    the image."""
    excess, k = _excess(x, (threshold,), levels, steepness)
    occupancy = [o[:, 0] for o in _occupancy(excess, k)]
    if not counts:
        return occupancy, None
    inked = _at_most_one(k.view(1, -1, *([1] * (x.dim() - 2))) * excess)[:, 0]  # (B, *N)
    axes = list(range(1, inked.dim()))
    return occupancy, [
        inked.sum([a for a in axes if a != axis]) if len(axes) > 1 else inked for axis in axes
    ]


def along_axis(profile: Tensor, axis: int, dims: int) -> Tensor:
    """A per-axis profile ``(B, N_a)`` (or ``(B, K, N_a)``) as ``(B, 1 or K, 1.., N_a,
    ..1)``, spatial axis ``axis`` of ``dims``, to broadcast over the other axes."""
    view = [profile.shape[0], profile.shape[1] if profile.dim() == 3 else 1] + [1] * dims
    view[2 + axis] = profile.shape[-1]
    return profile.reshape(view)


@lru_cache(maxsize=64)
def box_cost(n: int, offset: float) -> Tensor:
    """``(S, Q)`` float64: ``|wrap(q - s - offset)|`` on a circle of ``n`` slices, ``wrap``
    into ``[-n / 2, n / 2)``. Cached (every forward of the features needs it): read it,
    never write to it."""
    q = torch.arange(n, dtype=torch.float64)
    d = q.view(1, -1) - q.view(-1, 1) - offset
    return (torch.remainder(d + n / 2, n) - n / 2).abs()


def box_profile(occupancy: Tensor, cost: Tensor) -> Tensor:
    """``(..., S)``: ``-max_q occupancy[..., q] cost[s, q]`` for ``occupancy (..., Q)``."""
    return -(occupancy.unsqueeze(-2) * cost.to(occupancy)).amax(-1)


class ShiftFeatures(nn.Module):
    """The fixed feature layers of the module docstring; no parameters.

    Args:
        channels: ``C`` of the input.
        dims: number of spatial axes (1, 2 or 3).
        config: which features (:class:`FeatureConfig`).

    Shapes: ``(B, C, *N) -> (maps (B, F_m, *N) or None, [profiles (B, F_a, N_a)] * dims)``
    with ``F_m = C`` if ``config.raw`` else no maps, and the same ``F_a`` on every axis
    (:attr:`profile_channels`).
    """

    def __init__(self, channels: int, dims: int, config: FeatureConfig | None = None) -> None:
        super().__init__()
        if dims not in (1, 2, 3):
            raise ValueError(f"dims must be 1, 2 or 3, got {dims}")
        self.channels, self.dims = channels, dims
        self.config = config or FeatureConfig()

    @property
    def map_channels(self) -> int:
        """``F_m``."""
        return self.channels if self.config.raw else 0

    @property
    def profile_channels(self) -> int:
        """``F_a``: per threshold the occupancy, one hull per window and the box profiles,
        3 edge profiles, the mass profile."""
        c = self.config
        per_threshold = 1 + len(c.windows) + (len(BOX_OFFSETS) if c.boxes else 0)
        return len(c.thresholds) * per_threshold + (3 if c.edges else 0) + int(c.mass)

    def forward(self, x: Tensor) -> tuple[Tensor | None, list[Tensor]]:
        c = self.config
        if not self.profile_channels:
            return (x if c.raw else None), []
        spatial_axes = list(range(2, 2 + self.dims))
        occupancies = axis_occupancy(x, c.thresholds, c.levels, c.steepness) if c.thresholds else []
        profiles = []
        for a, axis in enumerate(spatial_axes):
            others = [b for b in spatial_axes if b != axis]
            parts = []
            if c.thresholds:
                occupancy = occupancies[a]
                parts.append(occupancy)
                for w in c.windows:
                    fwd = _at_most_one(_roll_sum(occupancy, w, -1, 1))
                    bwd = _at_most_one(_roll_sum(occupancy, w, -1, -1))
                    parts.append(fwd - F.relu(fwd - bwd))
                if c.boxes:
                    n = x.shape[axis]
                    parts += [box_profile(occupancy, box_cost(n, d)) for d in BOX_OFFSETS]
            if c.edges:
                step = x - torch.roll(x, 1, axis)
                second = step - torch.roll(step, 1, axis)
                energy = [step.abs(), second.abs(), torch.roll(second, -1, axis).abs()]
                parts += [e.sum([1, *others]).unsqueeze(1) for e in energy]
            if c.mass:
                parts.append(x.sum([1, *others]).unsqueeze(1))
            profiles.append(torch.cat(parts, 1))
        return (x if c.raw else None), profiles


@dataclass
class _Scales:
    maps: list[float] = field(default_factory=list)
    profiles: list[float] = field(default_factory=list)


class FeatureEstimator(nn.Module):
    """A translation estimator on :class:`ShiftFeatures` (Equations (2)-(3) throughout).

    ``f(x) = W_m * (s_m x) + sum_a W_a * (s_a phi_a(x)) + (learned maps)``: full-size
    circular filters ``W_m`` on the feature maps, 1-D full-size circular filters ``W_a``
    on the axis profiles ``phi_a`` (a map constant across the other axes), and, with
    ``hidden > 0``, a learned branch of two ``kernel``-sized circular filter layers with
    ReLUs whose maps and profiles enter the same last layer. With ``width > 0`` the
    last layer has ``1 + width`` output channels ``z_0, ..., z_width`` (the same
    full-size filters, one set per channel) and the score is
    ``z_0 + sum_k v_k relu(z_k + b_k)``: a hidden layer of full-size circular filters
    with constant biases, then a 1x1 filter (Equations (2)-(3)), which scores every shift
    by the same small network applied to the image moved back by it. ``s`` are fixed per-channel
    scales (buffers, set by :meth:`set_scales` from data) that make the features
    comparable for training; they are part of the estimator, so the function it computes
    is the same everywhere.

    Args:
        input_shape: ``(C, *N)``.
        config: the fixed features (:class:`FeatureConfig`).
        hidden: channels of the learned branch (0: none).
        kernel: kernel size of the learned branch.
        width: hidden units of full-size filters after the features (0: the score is
            linear in them).

    Shapes: ``(B, C, *N) -> (B, 1, *N)``; the maximum marks the estimated shift.
    """

    map_scale: Tensor
    profile_scale: Tensor

    def __init__(
        self,
        input_shape: Sequence[int],
        config: FeatureConfig | None = None,
        hidden: int = 0,
        kernel: int = 3,
        width: int = 0,
    ) -> None:
        super().__init__()
        c, *spatial = (int(v) for v in input_shape)
        self.input_shape = (c, *spatial)
        self.spatial = tuple(spatial)
        self.dims = len(spatial)
        self.in_channels = c
        self.features = ShiftFeatures(c, self.dims, config)
        self.hidden, self.kernel, self.width = int(hidden), int(kernel), int(width)
        if hidden < 0 or width < 0:
            raise ValueError(f"hidden and width must be >= 0, got {hidden}, {width}")
        self.local: nn.Sequential | None = None
        if hidden:
            from equirestore.nn.canonical import CanonicalNetwork

            self.local = nn.Sequential(
                CanonicalNetwork(c, [hidden, hidden], kernel_size=kernel, dims=self.dims),
                nn.ReLU(),
            )
        fm = self.features.map_channels + self.hidden
        fp = self.features.profile_channels + self.hidden
        if not (fm or fp):
            raise ValueError("the estimator has no features: enable some in the FeatureConfig")
        out = 1 + self.width
        self.map_kernel = nn.Parameter(torch.zeros(out, fm, *spatial)) if fm else None
        self.profile_kernels = nn.ParameterList(
            [nn.Parameter(torch.zeros(out, fp, n)) for n in spatial] if fp else []
        )
        self.width_bias: nn.Parameter | None = None
        self.width_out: nn.Parameter | None = None
        if self.width:
            # hidden filters start random (unit-scale responses on unit-norm features), the
            # output weights at zero, so the estimator starts as its linear part
            std = 1.0 / math.sqrt(fm + self.dims * fp)
            with torch.no_grad():
                for k in [self.map_kernel, *self.profile_kernels]:
                    if k is not None:
                        k[1:].normal_(0.0, std)
            self.width_bias = nn.Parameter(torch.zeros(self.width))
            self.width_out = nn.Parameter(torch.zeros(self.width))
        self.register_buffer("map_scale", torch.ones(fm))
        self.register_buffer("profile_scale", torch.ones(self.dims, fp))

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable (stored in checkpoints)."""
        return {
            "kind": "features",
            "input_shape": list(self.input_shape),
            "features": self.features.config.to_dict(),
            "hidden": self.hidden,
            "kernel": self.kernel,
            "width": self.width,
        }

    def feature_maps(self, x: Tensor) -> tuple[Tensor | None, list[Tensor]]:
        """The scaled inputs of the last layer: maps ``(B, F_m, *N)`` and profiles."""
        maps, profiles = self.features(x)
        if self.local is not None:
            learned = self.local(x)
            axes = list(range(2, 2 + self.dims))
            maps = learned if maps is None else torch.cat([maps, learned.to(maps.dtype)], 1)
            profiles = [
                torch.cat([p, learned.sum([o for o in axes if o != a])], 1)
                for a, p in zip(axes, profiles, strict=True)
            ]
        if maps is not None:
            maps = maps * self.map_scale.to(maps.dtype).view(1, -1, *([1] * self.dims))
        scale = self.profile_scale
        return maps, [p * scale[a].to(p.dtype).view(1, -1, 1) for a, p in enumerate(profiles)]

    @torch.no_grad()
    def set_scales(self, sample: Tensor) -> None:
        """Scale every feature channel to unit mean L2 norm on ``sample (B, C, *N)``."""
        self.map_scale.fill_(1.0)
        self.profile_scale.fill_(1.0)
        maps, profiles = self.feature_maps(sample)
        if maps is not None:
            norm = maps.flatten(2).norm(dim=2).mean(0)
            self.map_scale.copy_(torch.where(norm > 0, 1 / norm, torch.ones_like(norm)))
        for a, p in enumerate(profiles):
            norm = p.norm(dim=2).mean(0)
            self.profile_scale[a] = torch.where(norm > 0, 1 / norm, torch.ones_like(norm))

    def _zero_linear(self) -> None:
        """Zero every parameter but the hidden units' filters (rows ``1:`` of the last
        layer's kernels, kept as they are), so that the score is what a ``set_*`` method
        writes into row 0 (the hidden units' output weights are zeroed)."""
        last = {id(k) for k in [self.map_kernel, *self.profile_kernels] if k is not None}
        for p in self.parameters():
            (p[:1] if id(p) in last else p).zero_()

    @torch.no_grad()
    def set_map_filter(self, filt: Tensor) -> None:
        """Make the estimator linear: ``f(x)(p) = sum_c sum_o filt[c, o] x[c, p + o]``.

        Args:
            filt: ``(C, *N)`` indexed by offset ``o`` (mod ``N``). Every other filter is
                set to zero. Needs ``config.raw``.
        """
        c = self.in_channels
        if self.map_kernel is None or not self.features.config.raw:
            raise ValueError("set_map_filter needs the image itself as a feature (raw=True)")
        if tuple(filt.shape) != self.input_shape:
            raise ValueError(f"filter shape {tuple(filt.shape)} != input shape {self.input_shape}")
        self._zero_linear()
        # circular_conv's tap u reads offset u - a with the centred anchor a = (k - 1) // 2
        anchor = tuple((n - 1) // 2 for n in self.spatial)
        w = torch.roll(filt.to(self.map_kernel.dtype), anchor, tuple(range(1, filt.dim())))
        scale = self.map_scale[:c].view(-1, *([1] * self.dims)).to(w.dtype)
        self.map_kernel[0, :c] = w / scale

    @torch.no_grad()
    def set_box(self, threshold: float, centre: Sequence[float], levels: int = LEVELS) -> bool:
        """Make the estimator the bounding-box estimator
        :class:`~equirestore.nn.box.BoxEstimator` ``(threshold, centre, levels)``: one tap
        on a box profile per axis, every other filter zero.

        Returns False (and changes nothing) when the features cannot express it: no box
        profiles at that threshold and ramp grid, or a centre whose fraction is not in
        :data:`BOX_OFFSETS`.
        """
        c = self.features.config
        fractions = [v - math.floor(v) for v in centre]
        if (
            not c.boxes
            or levels != c.levels
            or (not levels and c.steepness != STEEPNESS)  # the box's legacy ramp
            or threshold not in c.thresholds
            or any(f not in BOX_OFFSETS for f in fractions)
            or len(centre) != self.dims
        ):
            return False
        self._zero_linear()
        t = len(c.thresholds)
        first = t * (1 + len(c.windows))
        for a, (v, f) in enumerate(zip(centre, fractions, strict=True)):
            channel = first + BOX_OFFSETS.index(f) * t + c.thresholds.index(threshold)
            n = self.spatial[a]
            # circular_conv's tap u reads offset u - (n - 1) // 2; the box reads offset floor(v)
            tap = (math.floor(v) + (n - 1) // 2) % n
            self.profile_kernels[a][0, channel, tap] = 1 / self.profile_scale[a, channel]
        return True

    def forward(self, x: Tensor) -> Tensor:
        maps, profiles = self.feature_maps(x)
        score = None
        if maps is not None and self.map_kernel is not None:
            score = circular_conv(maps, self.map_kernel, method="fft")
        for a, (p, k) in enumerate(zip(profiles, self.profile_kernels, strict=False)):
            profile = along_axis(circular_conv(p, k, method="fft"), a, self.dims)
            score = (
                profile.expand(x.shape[0], -1, *self.spatial) if score is None else score + profile
            )
        assert score is not None  # the constructor refuses an estimator without features
        if self.width_bias is None or self.width_out is None:
            return score
        shape = (1, -1) + (1,) * self.dims
        hidden = torch.relu(score[:, 1:] + self.width_bias.to(score.dtype).view(shape))
        out = self.width_out.to(score.dtype).view(shape)
        return score[:, :1] + (hidden * out).sum(1, keepdim=True)

    def parameter_count(self) -> int:
        """Trainable scalars (the last layer and the learned branch)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
