"""Rotations of images, and polar resampling that turns a rotation into a circular shift
(Section 5.2).

Convention (used everywhere in equirestore):

* Pixel ``(i, j)`` (row, column) has its centre at ``(i, j)``; the default centre of
  rotation is the middle of the image, ``((H - 1) / 2, (W - 1) / 2)``. A centre may also be
  given per image, ``(B, 2)`` as ``(row, column)``, e.g. the :func:`centroid`.
* Angle ``θ_k = 2π k / N_θ``, ``k = 0..N_θ-1``, measured from the +column axis (pointing
  right) towards *up* (decreasing row), i.e. counter-clockwise as the image is displayed.
  Radius ``ρ_i = (i + 1/2) r_max / N_r``, ``i = 0..N_r-1``; ``r_max`` defaults to half the
  shorter side.
* ``to_polar(x)[b, c * N_r + i, k] = x[b, c](centre + ρ_i (-sin θ_k, cos θ_k))`` sampled
  bilinearly (:func:`sample`). The radius axis is folded into the channels, as the paper
  does.
* ``rotate(x, φ)`` turns the image content counter-clockwise by ``φ`` degrees about the
  centre. Then ``to_polar(rotate(x, 360 k / N_θ))`` equals ``roll(to_polar(x), k, -1)`` up
  to interpolation, and exactly for the continuous image.
* ``wrap=True`` samples the image as periodic (the circular grid of the translation
  restorers); otherwise what lies outside is zero. With the :func:`centroid` as centre and
  ``wrap=True``, a circular shift of the input shifts the centre with it, so the polar
  image is the same up to rounding: the rotation estimate does not depend on where the
  object sits.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

Centre = tuple[float, float] | Tensor | None


def centroid(x: Tensor) -> Tensor:
    """The circular centre of mass of every image ``(B, C, H, W)`` (channels summed):
    ``(B, 2)`` float64 ``(row, column)`` in ``[0, N)``, per axis
    ``N / (2π) · arg sum_u m(u) e^{2πi u / N}`` of the mass profile ``m``.

    Exactly equivariant on the circular grid: ``centroid(shift(x, s)) == centroid(x) + s``
    (mod ``N``, up to rounding). Quarter turns about the grid's middle carry it along
    exactly; other rotations only approximately (the circular mean is not a linear mean;
    a linear mean about the circular location was tried in a short exploratory run and
    did not train a better rotation estimator). A blank image has no centroid; it gets the middle of
    the grid.
    """
    mass = x.to(torch.float64).sum(1)  # (B, H, W)
    out = []
    for axis, n in ((1, mass.shape[1]), (2, mass.shape[2])):
        profile = mass.sum(3 - axis)  # sum over the other axis: (B, n)
        phase = 2 * math.pi * torch.arange(n, dtype=torch.float64, device=x.device) / n
        c, s = (profile * torch.cos(phase)).sum(1), (profile * torch.sin(phase)).sum(1)
        blank = (c.abs() + s.abs()) <= 1e-12 * profile.abs().sum(1).clamp_min(1e-300)
        angle = torch.remainder(_atan2(s, c), 2 * math.pi) * n / (2 * math.pi)
        out.append(torch.where(blank, torch.full_like(angle, (n - 1) / 2), angle))
    return torch.stack(out, 1)


def _atan2(s: Tensor, c: Tensor) -> Tensor:
    """``atan2(s, c)`` in float64 from a float32 ``atan2`` and one correction, so that an
    exported graph runs in onnxruntime (it has no float64 ``Atan``): with ``t0`` the float32
    angle, ``t = t0 + (s cos t0 - c sin t0) / (c cos t0 + s sin t0)`` (the correction is
    ``tan(t - t0)`` of an angle below 1e-6, whose ``atan`` it equals to 1e-19); 0 for
    ``s = c = 0``."""
    scale = torch.maximum(s.abs(), c.abs()).clamp_min(1e-300)
    s, c = s / scale, c / scale  # within float32's range
    t0 = torch.atan2(s.float(), c.float()).double()
    cos, sin = torch.cos(t0), torch.sin(t0)
    norm = (c * cos + s * sin).clamp_min(1e-300)  # |(c, s)| cos(t - t0) > 0
    return t0 + (s * cos - c * sin) / norm


def _centres(x: Tensor, centre: Centre) -> tuple[Tensor, Tensor]:
    """``(B, 1, 1)`` row and column centres."""
    b, _, h, w = x.shape
    if centre is None:
        centre = ((h - 1) / 2, (w - 1) / 2)
    if not isinstance(centre, Tensor):
        centre = torch.tensor([centre], dtype=torch.float64, device=x.device).expand(b, 2)
    if centre.shape != (b, 2):
        raise ValueError(f"centre must be (row, col) or ({b}, 2), got {tuple(centre.shape)}")
    c = centre.to(torch.float64)
    return c[:, 0].view(-1, 1, 1), c[:, 1].view(-1, 1, 1)


#: How :func:`sample` and :func:`rotate` interpolate: bilinear (2 x 2 taps) or bicubic
#: (4 x 4 taps, Keys' kernel with ``a = -0.75``, as :func:`upsample`).
INTERPOLATIONS = ("bilinear", "bicubic")


def sample(
    x: Tensor, rows: Tensor, cols: Tensor, wrap: bool = False, mode: str = "bilinear"
) -> Tensor:
    """Values of ``x (B, C, H, W)`` at real pixel coordinates ``rows, cols`` ``(B, *P)``,
    interpolated by ``mode`` (:data:`INTERPOLATIONS`); taps outside the image are zero,
    or (``wrap``) the periodic continuation.

    ``F.grid_sample`` (``align_corners=False``, so that pixel ``(i, j)`` sits at ``(i,
    j)``) in ``x``'s dtype, coordinates included; with ``wrap`` the coordinates are taken
    modulo ``(H, W)`` on the image padded circularly by the taps' reach. Every point is
    computed on its own, so a sample's values never depend on the rest of the batch.

    Returns ``(B, C, *P)`` in ``x``'s dtype.
    """
    if mode not in INTERPOLATIONS:
        raise ValueError(f"mode must be one of {INTERPOLATIONS}, got {mode!r}")
    b, c, h, w = x.shape
    rows, cols = rows.to(x.dtype), cols.to(x.dtype)
    if wrap:
        reach = 1 if mode == "bilinear" else 2
        if min(h, w) < reach:
            raise ValueError(
                f"{mode} sampling with wrap needs at least {reach} px per axis, got {h} x {w}"
            )
        rows = torch.remainder(rows, h) + reach
        cols = torch.remainder(cols, w) + reach
        x = F.pad(x, (reach, reach, reach, reach), mode="circular")
        h, w = h + 2 * reach, w + 2 * reach
    # normalised coordinates: -1 and 1 are the outer edges of the border pixels
    grid = torch.stack([(2 * cols + 1) / w - 1, (2 * rows + 1) / h - 1], -1)
    out = F.grid_sample(
        x, grid.reshape(b, 1, -1, 2), mode=mode, padding_mode="zeros", align_corners=False
    )
    return out.view(b, c, *rows.shape[1:])


def polar_grid(
    size: tuple[int, int],
    n_radius: int,
    n_angle: int,
    r_max: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Offsets from the centre of the polar samples: ``(drow, dcol)``, each ``(N_r, N_θ)``
    float64 (see the module docstring)."""
    h, w = size
    if n_radius < 1 or n_angle < 2:
        raise ValueError(f"need n_radius >= 1 and n_angle >= 2, got {n_radius}, {n_angle}")
    r_max = min(h, w) / 2 if r_max is None else float(r_max)
    rho = (torch.arange(n_radius, dtype=torch.float64) + 0.5) * r_max / n_radius
    theta = 2 * math.pi * torch.arange(n_angle, dtype=torch.float64) / n_angle
    return -rho.view(-1, 1) * torch.sin(theta).view(1, -1), rho.view(-1, 1) * torch.cos(theta).view(
        1, -1
    )


def to_polar(
    x: Tensor,
    n_radius: int,
    n_angle: int,
    centre: Centre = None,
    r_max: float | None = None,
    wrap: bool = False,
) -> Tensor:
    """Resample images ``(B, C, H, W)`` on the polar grid about ``centre``:
    ``(B, C * N_r, N_θ)``."""
    if x.dim() != 4:
        raise ValueError(f"to_polar expects images (B, C, H, W), got {tuple(x.shape)}")
    b, c = x.shape[:2]
    dr, dc = polar_grid((x.shape[2], x.shape[3]), n_radius, n_angle, r_max)
    cr, cc = _centres(x, centre)
    polar = sample(x, cr + dr.to(x.device), cc + dc.to(x.device), wrap)
    return polar.reshape(b, c * n_radius, n_angle)


def rotate(
    x: Tensor,
    degrees: Tensor,
    centre: Centre = None,
    wrap: bool = False,
    mode: str = "bilinear",
) -> Tensor:
    """Rotate every image of ``x (B, C, H, W)`` counter-clockwise by its own angle
    ``degrees (B,)`` about ``centre`` (interpolated by ``mode``, :func:`sample`; zeros
    outside unless ``wrap``)."""
    b, _, h, w = x.shape
    if degrees.shape != (b,):
        raise ValueError(f"degrees must have shape ({b},), got {tuple(degrees.shape)}")
    cr, cc = _centres(x, centre)
    phi = torch.deg2rad(degrees.to(torch.float64)).view(-1, 1, 1)
    rows = torch.arange(h, dtype=torch.float64, device=x.device).view(1, -1, 1)
    cols = torch.arange(w, dtype=torch.float64, device=x.device).view(1, 1, -1)
    # output pixel p shows input pixel R(-phi) (p - c) + c; "up" is -row
    dr, dc = rows - cr, cols - cc
    src_c = cc + torch.cos(phi) * dc - torch.sin(phi) * dr
    src_r = cr + torch.sin(phi) * dc + torch.cos(phi) * dr
    return sample(x, src_r, src_c, wrap, mode)


@lru_cache(maxsize=32)
def _bicubic_weights(n: int, factor: int, wrap: bool) -> tuple[tuple[float, ...], ...]:
    """``(factor * n) x n`` weights: row ``o`` holds the bicubic weights (Keys, ``a =
    -0.75``, as ``F.interpolate(mode="bicubic", align_corners=False)``) of output sample
    ``o`` at source coordinate ``(o + 1/2) / factor - 1/2``; taps past the border wrap
    (``wrap``) or are clamped onto it (as ``F.interpolate`` does). Plain floats, so that
    what is cached never is a tensor made while tracing."""
    a = -0.75

    def cubic(t: float) -> float:
        t = abs(t)
        if t <= 1:
            return ((a + 2) * t - (a + 3)) * t * t + 1
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a

    rows = []
    for o in range(factor * n):
        s = (o + 0.5) / factor - 0.5
        i = math.floor(s)
        t = s - i
        row = [0.0] * n
        for k, weight in zip(
            (i - 1, i, i + 1, i + 2),
            (cubic(1 + t), cubic(t), cubic(1 - t), cubic(2 - t)),
            strict=True,
        ):
            row[k % n if wrap else min(max(k, 0), n - 1)] += weight
        rows.append(tuple(row))
    return tuple(rows)


def upsample(x: Tensor, factor: int, wrap: bool = False) -> Tensor:
    """Bicubic ``factor``x enlargement of ``(B, C, H, W)`` (the weights of
    ``F.interpolate(mode="bicubic", align_corners=False)``, applied as two matrix products
    per image: the same values up to rounding, several times faster on small images). With
    ``wrap`` the image is treated as periodic, so that a circular shift by ``s`` becomes a
    circular shift by ``factor * s``; otherwise the border is extended. Pixel ``(i, j)``
    lands at ``factor * (i, j) + (factor - 1) / 2``."""
    if factor == 1:
        return x
    h, w = x.shape[-2:]
    rows = torch.tensor(_bicubic_weights(h, factor, wrap), dtype=x.dtype, device=x.device)
    cols = torch.tensor(_bicubic_weights(w, factor, wrap), dtype=x.dtype, device=x.device)
    return rows @ x @ cols.T
