"""Group-equivariant convolutions for p4 and p4m (seed 002, Cohen & Welling).

Groups. An element ``g = (m, r)``, ``m in {0, 1}`` (mirror), ``r in {0..3}`` (quarter
turns), acts on an image as ``T_g = F^m R^r``: ``R`` is ``torch.rot90(., 1, (-2, -1))``
and ``F`` flips the columns. p4 has the 4 rotations (``m = 0``), p4m all 8 elements.
Since ``R F = F R^-1``, composition is ``(m1, r1)(m2, r2) = (m1 + m2, (-1)^m2 r1 + r2)``.
Index of ``(m, r)``: ``4 m + r``.

Feature maps on the group are ``(B, C, |G|, H, W)``; ``g`` acts on them by
``(g . y)[:, :, h] = T_g(y[:, :, g^-1 h])`` (:meth:`Group.act`). Layers are filter
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


class Group:
    """p4 (``mirror=False``) or p4m (``mirror=True``) acting on square images."""

    def __init__(self, mirror: bool) -> None:
        self.mirror = mirror
        self.elements = [(m, r) for m in ((0, 1) if mirror else (0,)) for r in range(4)]

    @property
    def order(self) -> int:
        """``|G|``: 4 or 8."""
        return len(self.elements)

    def index(self, g: tuple[int, int]) -> int:
        return self.elements.index((g[0] % 2, g[1] % 4))

    def compose(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        """``a b`` (first ``b``, then ``a``)."""
        (m1, r1), (m2, r2) = a, b
        return ((m1 + m2) % 2, ((-1) ** m2 * r1 + r2) % 4)

    def inverse(self, g: tuple[int, int]) -> tuple[int, int]:
        m, r = g
        return (m, (-((-1) ** m) * r) % 4)

    def transform(self, x: Tensor, g: tuple[int, int]) -> Tensor:
        """``T_g`` on the last two (square) axes."""
        y = torch.rot90(x, g[1], (-2, -1))
        return torch.flip(y, (-1,)) if g[0] else y

    def permutation(self, g: tuple[int, int]) -> list[int]:
        """Indices of ``g^-1 h`` for every ``h``: how ``g`` reorders the group axis."""
        gi = self.inverse(g)
        return [self.index(self.compose(gi, h)) for h in self.elements]

    def act(self, y: Tensor, g: tuple[int, int]) -> Tensor:
        """``g`` acting on a G-feature map ``(B, C, |G|, H, W)``."""
        return self.transform(y[:, :, self.permutation(g)], g)


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
        y = y.view(len(x), c_out, n, *y.shape[-2:])
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
        b = len(x)
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


def _z2_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="circular", bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]


class Z2CNN(nn.Module):
    """The planar baseline of Cohen & Welling's rotated-MNIST experiment: 7 conv layers
    (3x3, ``width`` channels, batch norm, ReLU), max-pooling after layer 2, global
    average pooling to ``num_classes`` logits. Circular padding, like :class:`P4CNN`.

    Shapes: ``(B, C, H, W) -> (B, num_classes)``, ``H, W`` even.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 20) -> None:
        super().__init__()
        layers = _z2_block(in_channels, width) + _z2_block(width, width) + [nn.MaxPool2d(2)]
        for _ in range(4):
            layers += _z2_block(width, width)
        layers.append(nn.Conv2d(width, num_classes, 3, padding=1, padding_mode="circular"))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).mean((-2, -1))


class P4CNN(nn.Module):
    """:class:`Z2CNN` with group convolutions (p4, or p4m with ``mirror=True``): lifting,
    6 group convolutions, coset max-pooling over the group at the end, global average
    pooling. ``width`` G-feature maps per layer (10 for p4 keeps the parameter count
    close to Z2CNN's 20 planar channels, as in the paper). The logits are exactly
    invariant to the group's rotations (and flips) of square inputs.
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, width: int = 10, mirror: bool = False
    ) -> None:
        super().__init__()
        self.group = Group(mirror)
        g = self.group
        self.lift = LiftingConv(g, in_channels, width, 3)
        self.convs = nn.ModuleList([GroupConv(g, width, width, 3) for _ in range(5)])
        self.norms = nn.ModuleList([GroupBatchNorm(width) for _ in range(6)])
        self.head = GroupConv(g, width, num_classes, 3)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.norms[0](self.lift(x)))
        for i, conv in enumerate(self.convs):
            y = torch.relu(self.norms[i + 1](conv(y)))
            if i == 0:
                y = spatial_max_pool(y)
        return coset_max_pool(self.head(y)).mean((-2, -1))
