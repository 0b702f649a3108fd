"""Polar resampling (Section 5.2): rotations about the centre become circular shifts.

Convention (used everywhere in equirestore):

* Pixel ``(i, j)`` (row, column) has its centre at ``(i, j)``; the default centre of
  rotation is the middle of the image, ``((H - 1) / 2, (W - 1) / 2)``.
* Angle ``θ_k = 2π k / N_θ``, ``k = 0..N_θ-1``, measured from the +column axis (pointing
  right) towards *up* (decreasing row), i.e. counter-clockwise as the image is displayed.
  Radius ``ρ_i = (i + 1/2) r_max / N_r``, ``i = 0..N_r-1``; ``r_max`` defaults to half the
  shorter side.
* ``to_polar(x)[b, c * N_r + i, k] = x[b, c](centre + ρ_i (-sin θ_k, cos θ_k))`` sampled
  bilinearly (``grid_sample``, ``align_corners=False``, zeros outside). The radius axis
  is folded into the channels, as the paper does.
* ``rotate(x, φ)`` turns the image content counter-clockwise by ``φ`` degrees about the
  centre. Then ``to_polar(rotate(x, 360 k / N_θ))`` equals ``roll(to_polar(x), k, -1)`` up to
  interpolation, and exactly for the continuous image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _centre(h: int, w: int, centre: tuple[float, float] | None) -> tuple[float, float]:
    return ((h - 1) / 2, (w - 1) / 2) if centre is None else (float(centre[0]), float(centre[1]))


def _normalise(rows: Tensor, cols: Tensor, h: int, w: int) -> Tensor:
    """Pixel coordinates -> ``grid_sample`` coordinates (x = column, y = row),
    ``align_corners=False``: pixel centre ``i`` sits at ``(2 i + 1) / n - 1``."""
    return torch.stack([(2 * cols + 1) / w - 1, (2 * rows + 1) / h - 1], -1)


def polar_grid(
    size: tuple[int, int],
    n_radius: int,
    n_angle: int,
    centre: tuple[float, float] | None = None,
    r_max: float | None = None,
) -> Tensor:
    """The sampling grid ``(N_r, N_θ, 2)`` for ``grid_sample`` (see the module docstring)."""
    h, w = size
    if n_radius < 1 or n_angle < 2:
        raise ValueError(f"need n_radius >= 1 and n_angle >= 2, got {n_radius}, {n_angle}")
    cr, cc = _centre(h, w, centre)
    r_max = min(h, w) / 2 if r_max is None else float(r_max)
    rho = (torch.arange(n_radius, dtype=torch.float64) + 0.5) * r_max / n_radius
    theta = 2 * math.pi * torch.arange(n_angle, dtype=torch.float64) / n_angle
    rows = cr - rho.view(-1, 1) * torch.sin(theta).view(1, -1)
    cols = cc + rho.view(-1, 1) * torch.cos(theta).view(1, -1)
    return _normalise(rows, cols, h, w)


def to_polar(
    x: Tensor,
    n_radius: int,
    n_angle: int,
    centre: tuple[float, float] | None = None,
    r_max: float | None = None,
) -> Tensor:
    """Resample images ``(B, C, H, W)`` on the polar grid: ``(B, C * N_r, N_θ)``."""
    if x.dim() != 4:
        raise ValueError(f"to_polar expects images (B, C, H, W), got {tuple(x.shape)}")
    b, c, h, w = x.shape
    grid = polar_grid((h, w), n_radius, n_angle, centre, r_max).to(x.dtype)
    out = F.grid_sample(
        x, grid.unsqueeze(0).expand(b, -1, -1, -1), "bilinear", "zeros", align_corners=False
    )
    return out.reshape(b, c * n_radius, n_angle)


def rotate(x: Tensor, degrees: Tensor, centre: tuple[float, float] | None = None) -> Tensor:
    """Rotate every image of ``x (B, C, H, W)`` counter-clockwise by its own angle
    ``degrees (B,)`` about ``centre`` (bilinear, zeros outside)."""
    b, _, h, w = x.shape
    if degrees.shape != (b,):
        raise ValueError(f"degrees must have shape ({b},), got {tuple(degrees.shape)}")
    cr, cc = _centre(h, w, centre)
    phi = torch.deg2rad(degrees.to(torch.float64)).view(-1, 1, 1)
    rows = torch.arange(h, dtype=torch.float64).view(1, -1, 1)
    cols = torch.arange(w, dtype=torch.float64).view(1, 1, -1)
    # output pixel p shows input pixel R(-phi) (p - c) + c; "up" is -row
    dr, dc = rows - cr, cols - cc
    src_c = cc + torch.cos(phi) * dc - torch.sin(phi) * dr
    src_r = cr + torch.sin(phi) * dc + torch.cos(phi) * dr
    grid = _normalise(src_r, src_c, h, w).to(x.dtype)
    return F.grid_sample(x, grid, "bilinear", "zeros", align_corners=False)
