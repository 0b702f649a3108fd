"""Beyond the paper: sub-pixel translations.

The restorer's guarantee (Definition 4.1) is for whole-pixel circular shifts; a real
translation moves content by a fraction of a pixel too, and a discretised image does not
simply shift then (seed 003, ``results/theory.md`` section 4). This module adds

* :func:`fractional_shift`: circular translation by real amounts, either band-limited
  (``"fourier"``: a phase ramp; invertible except for the Nyquist component of an
  even-sized grid, whose shifted version is not real) or by area sampling of the
  piecewise-constant image (``"linear"``: ``(1 - f) x[i - k] + f x[i - k - 1]`` per axis,
  ``s = k + f``), in the sign convention of :mod:`equirestore.groups.translation`;
* :func:`refine_peaks`: a sub-pixel estimate of the shift, from a parabola through the
  maximum of the estimator output and its two neighbours on each axis;
* :func:`restore_subpixel`: undo the refined estimate with a fractional shift.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from equirestore.groups.translation import shift, signed
from equirestore.restore.estimator import peaks
from equirestore.restore.translation import TranslationRestorer

Interpolation = Literal["fourier", "linear"]


def fractional_shift(x: Tensor, s: Tensor, method: Interpolation = "fourier") -> Tensor:
    """Translate every sample of ``x (B, C, *N)`` by its real shift ``s (B, k)``.

    ``fractional_shift(x, s)`` equals ``shift(x, s)`` for integer ``s`` (up to rounding for
    ``"fourier"``); a positive shift moves content towards higher indices.
    """
    spatial = tuple(x.shape[2:])
    if s.shape != (len(x), len(spatial)):
        raise ValueError(
            f"shifts must be (B, {len(spatial)}) = {(len(x), len(spatial))}, got {tuple(s.shape)}"
        )
    s = s.to(torch.float64)
    if method == "fourier":
        dims = tuple(range(2, x.dim()))
        spec = torch.fft.fftn(x.to(torch.float64), dim=dims)
        phase = torch.zeros(len(x), *spatial, dtype=torch.float64)
        for axis, n in enumerate(spatial):
            k = torch.fft.fftfreq(n, dtype=torch.float64)
            view = [len(x)] + [1] * len(spatial)
            kview = [1] + [1] * len(spatial)
            kview[1 + axis] = n
            phase = phase + s[:, axis].view(view) * k.view(kview)
        spec = spec * torch.exp(-2j * math.pi * phase).unsqueeze(1)
        return torch.fft.ifftn(spec, dim=dims).real.to(x.dtype)
    if method != "linear":
        raise ValueError(f"method must be 'fourier' or 'linear', got {method!r}")
    out = x
    for axis in range(len(spatial)):
        whole = torch.floor(s[:, axis])
        frac = (s[:, axis] - whole).to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        step = torch.zeros(len(x), len(spatial), dtype=torch.long)
        step[:, axis] = whole.long()
        a = shift(out, step)
        step[:, axis] += 1
        out = (1 - frac) * a + frac * shift(out, step)
    return out


def refine_peaks(scores: Tensor) -> Tensor:
    """Sub-pixel location of each maximum of ``scores (B, *N)``.

    Returns ``(B, k)`` float64 signed shifts: the integer argmax plus, per axis, the
    vertex ``0.5 (y_- - y_+) / (y_- - 2 y_0 + y_+)`` of the parabola through the maximum
    and its two circular neighbours, clamped to ``[-0.5, 0.5]`` (0 where it is flat).
    """
    spatial = tuple(scores.shape[1:])
    pos = peaks(scores).position
    batch = torch.arange(len(scores))

    def value(p: Tensor) -> Tensor:
        return scores[(batch, *p.unbind(1))]

    y0 = value(pos)
    out = signed(pos, spatial).to(torch.float64)
    for axis, n in enumerate(spatial):
        vals = []
        for d in (-1, 1):
            p = pos.clone()
            p[:, axis] = (p[:, axis] + d) % n
            vals.append(value(p))
        ym, yp = vals
        curv = (ym - 2 * y0 + yp).to(torch.float64)
        off = torch.where(
            curv < 0, 0.5 * (ym - yp).to(torch.float64) / curv.clamp(max=-1e-300), 0.0
        )
        out[:, axis] += off.clamp(-0.5, 0.5)
    return out


@torch.no_grad()
def restore_subpixel(
    restorer: TranslationRestorer, x: Tensor, method: Interpolation = "fourier"
) -> tuple[Tensor, Tensor]:
    """``(restored, s)``: the refined shift ``s (B, k)`` and ``fractional_shift(x, -s)``."""
    s = refine_peaks(restorer.scores(x))
    return fractional_shift(x, -s, method), s
