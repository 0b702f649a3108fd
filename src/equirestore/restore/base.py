"""The restorer contract: estimate the group element, undo it.

Every restorer is an ``nn.Module`` with

* ``input_shape``: ``(C, *N)``, the canvas it works on;
* ``estimate(x) -> g``: the group element of every sample of ``x (B, C, *N)`` (a shift,
  an angle, or a tuple of them for composed restorers), *returned*, never stored;
* ``undo(x, g) -> x'``: apply the inverse of ``g``;
* ``forward(x) = undo(x, estimate(x))``: the restored batch, same shape as ``x``.

So ``nn.Sequential(restorer, classifier)`` works when the classifier takes the canvas,
and :class:`~equirestore.restore.classifier.RestoredClassifier` handles the rest.
Restorers compose (:class:`ComposedRestorer`): the second estimates on what the first
restored. :class:`IdentityRestorer` is the baseline that restores nothing.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

GroupElement = Any  # a Tensor per sample batch, or a tuple of them (composed restorers)


class Restorer(nn.Module):
    """Base class of the restorers (see the module docstring for the contract)."""

    input_shape: tuple[int, ...]

    def estimate(self, x: Tensor) -> GroupElement:
        """The group element of every sample of ``x (B, C, *N)``."""
        raise NotImplementedError

    def undo(self, x: Tensor, g: GroupElement) -> Tensor:
        """``x`` with the inverse of ``g`` applied to every sample."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """The restored batch: ``undo(x, estimate(x))``, same shape as ``x``."""
        return self.undo(x, self.estimate(x))

    def checkpoint(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """A ``weights_only``-loadable dict (see :mod:`equirestore.restore.hub`)."""
        raise NotImplementedError


class IdentityRestorer(Restorer):
    """The baseline: estimates the identity (an empty ``(B, 0)`` element) and returns
    the input unchanged.

    Args:
        input_shape: ``(C, *N)``.
    """

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)

    def estimate(self, x: Tensor) -> Tensor:
        return torch.zeros(len(x), 0, dtype=torch.long, device=x.device)

    def undo(self, x: Tensor, g: GroupElement) -> Tensor:
        return x

    def checkpoint(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "format": "equirestore.identity_restorer",
            "version": 1,
            "input_shape": list(self.input_shape),
            "meta": dict(meta or {}),
        }


class ComposedRestorer(Restorer):
    """``first``, then ``second`` on what ``first`` restored.

    ``estimate(x)`` returns ``(g1, g2)``: ``g1 = first.estimate(x)`` and
    ``g2 = second.estimate(first.undo(x, g1))``; ``undo(x, (g1, g2))`` undoes both in
    that order.
    """

    def __init__(self, first: Restorer, second: Restorer) -> None:
        super().__init__()
        if tuple(first.input_shape) != tuple(second.input_shape):
            raise ValueError(
                f"cannot compose restorers of canvases {first.input_shape} and {second.input_shape}"
            )
        self.first, self.second = first, second
        self.input_shape = tuple(first.input_shape)

    def estimate(self, x: Tensor) -> tuple[GroupElement, GroupElement]:
        g1 = self.first.estimate(x)
        return g1, self.second.estimate(self.first.undo(x, g1))

    def undo(self, x: Tensor, g: GroupElement) -> Tensor:
        g1, g2 = g
        return self.second.undo(self.first.undo(x, g1), g2)

    def forward(self, x: Tensor) -> Tensor:
        """``second(first(x))``: the same as ``undo(x, estimate(x))``, with ``first``'s
        undo run once."""
        return self.second(self.first(x))
