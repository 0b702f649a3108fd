"""The groups p4 and p4m (seed 002, Cohen & Welling) acting on square images.

An element ``g = (m, r)``, ``m in {0, 1}`` (mirror), ``r in {0..3}`` (quarter turns), acts
on an image as ``T_g = F^m R^r``: ``R`` is ``torch.rot90(., 1, (-2, -1))`` and ``F`` flips
the columns. p4 has the 4 rotations (``m = 0``), p4m all 8 elements. Since
``R F = F R^-1``, composition is ``(m1, r1)(m2, r2) = (m1 + m2, (-1)^m2 r1 + r2)``.
Index of ``(m, r)``: ``4 m + r``.

Feature maps on the group are ``(B, C, |G|, H, W)``; ``g`` acts on them by
``(g . y)[:, :, h] = T_g(y[:, :, g^-1 h])`` (:meth:`Group.act`).
"""

from __future__ import annotations

import torch
from torch import Tensor


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
