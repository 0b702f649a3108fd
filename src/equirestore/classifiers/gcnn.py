"""Z2CNN and P4CNN, the rotated-MNIST networks of Cohen & Welling (seed 002).

Shapes: ``(B, C, H, W) -> (B, num_classes)``, ``H, W`` even.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from equirestore.groups.p4 import Group
from equirestore.nn.gcnn import (
    GroupBatchNorm,
    GroupConv,
    LiftingConv,
    coset_max_pool,
    spatial_max_pool,
)


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
