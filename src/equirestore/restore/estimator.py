"""Reading a translation off an estimator's output (Definition 4.1).

A translation estimator ``f`` for a dataset ``D`` is a strictly translation-equivariant
network whose output's component 0 is the *strict* maximum for every ``x`` in ``D``:

    f(x)_0 > f(x)_p  for all p != 0.                                     (Definition 4.1)

For a shifted input ``T_s x`` equivariance gives ``f(T_s x) = T_s f(x)``, so the unique
maximum of ``f(T_s x)`` sits at index ``s``. A tie for the maximum carries no
information: :func:`peaks` reports the gap between the two largest components so that
callers can count ties (gap == 0) as failures instead of trusting argmax's
first-index tie-breaking.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Peaks(NamedTuple):
    """Location and sharpness of each sample's maximum.

    Attributes:
        position: ``LongTensor (B, k)``, the argmax per spatial axis in ``[0, N)``
            (first index in row-major order when tied).
        gap: ``(B,)`` largest minus second-largest component; ``0`` means a tie.
    """

    position: Tensor
    gap: Tensor


def argmax_position(scores: Tensor) -> Tensor:
    """``LongTensor (B, len(N))``: the maximum of each ``scores (B, *N)`` per axis, in
    ``[0, N)``; on a tie the first maximal index in row-major order (``torch.argmax``)."""
    lin = scores.reshape(scores.shape[0], -1).argmax(1)
    return torch.stack(torch.unravel_index(lin, tuple(scores.shape[1:])), dim=1)


def peaks(scores: Tensor) -> Peaks:
    """Locate the maximum of each estimator output.

    Args:
        scores: ``(B, *N)`` estimator outputs.

    Returns:
        :class:`Peaks` with ``position (B, len(N))`` and ``gap (B,)``.
    """
    flat = scores.reshape(scores.shape[0], -1)
    if flat.shape[1] < 2:
        raise ValueError("an estimator output needs at least two components")
    top = flat.topk(2, dim=1).values  # topk's order among equal values is unspecified
    return Peaks(position=argmax_position(scores), gap=top[:, 0] - top[:, 1])


def exact_mask(scores: Tensor) -> Tensor:
    """``BoolTensor (B,)``: component 0 is the strict (unique) maximum (Definition 4.1)."""
    flat = scores.reshape(scores.shape[0], -1)
    return flat[:, 0] > flat[:, 1:].amax(dim=1)
