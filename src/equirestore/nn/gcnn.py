"""Group-equivariant convolutions for p4 and p4m (seed 002, Cohen & Welling).

The groups and their action are :mod:`equirestore.groups.p4`. Layers are filter
transformation plus one planar convolution, as in the slides:

* :class:`LiftingConv` (Z2 -> G): the output for ``g`` uses the filter ``T_g(w)``;
* :class:`GroupConv` (G -> G): the output for ``g`` uses ``T_g(w[:, :, g^-1 h])``;
* one bias per G-feature map (shared over the group axis), and batch norm per
  G-feature map (:class:`GroupBatchNorm`); :func:`coset_max_pool` takes the maximum
  over the group axis, which makes the result invariant to the group's rotations and
  flips (up to the spatial transform); :func:`spatial_max_pool` subsamples.

Padding is circular (``k // 2``, odd kernels), so every layer is also exactly
equivariant to circular translations; square inputs keep rotations on the pixel grid.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore.groups.p4 import Group


def _circular(x: Tensor, k: int) -> Tensor:
    p = k // 2
    return F.pad(x, (p, p, p, p), mode="circular")


class LiftingConv(nn.Module):
    """Z2 -> G: ``(B, C_in, H, W) -> (B, C_out, |G|, H, W)``."""

    def __init__(self, group: Group, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd (centred filters keep rotations exact)")
        self.group, self.k = group, kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: Tensor) -> Tensor:
        w = torch.stack([self.group.transform(self.weight, g) for g in self.group.elements], 1)
        c_out, n = w.shape[:2]
        y = F.conv2d(_circular(x, self.k), w.reshape(c_out * n, *w.shape[2:]))
        y = y.view(x.shape[0], c_out, n, *y.shape[-2:])
        return y + self.bias.view(1, -1, 1, 1, 1)


class GroupConv(nn.Module):
    """G -> G: ``(B, C_in, |G|, H, W) -> (B, C_out, |G|, H, W)``."""

    def __init__(self, group: Group, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd (centred filters keep rotations exact)")
        self.group, self.k = group, kernel_size
        n = group.order
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, n, kernel_size, kernel_size)
        )
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(
            self.weight.view(out_channels, in_channels * n, kernel_size, -1), a=math.sqrt(5)
        )

    def forward(self, x: Tensor) -> Tensor:
        grp = self.group
        filters = []
        for g in grp.elements:
            filters.append(grp.transform(self.weight[:, :, grp.permutation(g)], g))
        w = torch.stack(filters, 1)  # (C_out, |G|, C_in, |G|, k, k)
        c_out, n, c_in = w.shape[:3]
        b = x.shape[0]
        y = F.conv2d(
            _circular(x.reshape(b, c_in * n, *x.shape[-2:]), self.k),
            w.reshape(c_out * n, c_in * n, self.k, self.k),
        )
        return y.view(b, c_out, n, *y.shape[-2:]) + self.bias.view(1, -1, 1, 1, 1)


def coset_max_pool(y: Tensor) -> Tensor:
    """Maximum over the group axis: ``(B, C, |G|, H, W) -> (B, C, H, W)``."""
    return y.amax(2)


class GroupBatchNorm(nn.BatchNorm3d):
    """Batch norm with one mean, variance, scale and shift per G-feature map (statistics
    over batch, group axis and space), so that normalising commutes with the group."""


def spatial_max_pool(y: Tensor, size: int = 2) -> Tensor:
    """Subsample every map of ``(B, C, |G|, H, W)`` by ``size x size`` max-pooling.

    Equivariant to the group when ``H`` and ``W`` are multiples of ``size`` (rotations
    and flips map pooling windows onto pooling windows), and to circular shifts by
    multiples of ``size``."""
    b, c, n, h, w = y.shape
    return F.max_pool2d(y.reshape(b, c * n, h, w), size).view(b, c, n, h // size, w // size)
