"""Reading a translation off an estimator's output (Definition 4.1).

A translation estimator ``f`` for a dataset ``D`` is a strictly translation-equivariant
network whose output's component 0 is the *strict* maximum for every ``x`` in ``D``:

    f(x)_0 > f(x)_p  for all p != 0.                                     (Definition 4.1)

For a shifted input ``T_s x`` equivariance gives ``f(T_s x) = T_s f(x)``, so the unique
maximum of ``f(T_s x)`` sits at index ``s``.

Ties. A tie for the maximum carries no information, and in floating point a tie shows up
as a gap of rounding size whose sign depends on how the scores were computed (the FFT of
a batch pairs images, so the noise depends on the batch). The largest component is
therefore *unique* only when it beats the runner-up by more than :func:`tie_tolerance`
(relative to the largest magnitude of the scores, far above rounding and far below any
real margin). A tie is never a correct estimate: :func:`peaks` flags it and reports
position 0 ("no estimate": the input is left where it is), so that estimates, restores
and tie flags are the same in every batch composition.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

#: Relative gap below which the top two scores are a tie, per score dtype.
TIE_RTOL = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-2}


def tie_tolerance(flat: Tensor) -> Tensor:
    """``(B, 1)``: the gap that counts as a tie for scores ``flat (B, P)``."""
    rtol = TIE_RTOL.get(flat.dtype, 1e-4)
    return rtol * flat.abs().amax(1, keepdim=True)


class Peaks(NamedTuple):
    """Location and sharpness of each sample's maximum.

    Attributes:
        position: ``LongTensor (B, k)``, the argmax per spatial axis in ``[0, N)``; all
            zeros where the maximum is not unique.
        gap: ``(B,)`` largest minus second-largest component.
        unique: ``BoolTensor (B,)``, the gap exceeds :func:`tie_tolerance`.
    """

    position: Tensor
    gap: Tensor
    unique: Tensor


def unravel(index: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``LongTensor (B, len(shape))``: row-major coordinates of flat indices ``(B,)``
    (plain integer arithmetic, so that it traces and exports)."""
    coords = []
    for n in reversed(shape):
        coords.append(index % n)
        index = torch.div(index, n, rounding_mode="floor")
    return torch.stack(coords[::-1], dim=1)


def peaks(scores: Tensor) -> Peaks:
    """Locate the unique maximum of each estimator output ``scores (B, *N)``.

    Returns:
        :class:`Peaks`; ``position`` is 0 where the maximum is tied.
    """
    flat = scores.reshape(scores.shape[0], -1)
    if flat.shape[1] < 2:
        raise ValueError("an estimator output needs at least two components")
    top = flat.topk(2, dim=1)
    gap = top.values[:, 0] - top.values[:, 1]
    unique = gap > tie_tolerance(flat).squeeze(1)
    index = torch.where(unique, top.indices[:, 0], torch.zeros_like(top.indices[:, 0]))
    return Peaks(position=unravel(index, tuple(scores.shape[1:])), gap=gap, unique=unique)


def exact_mask(scores: Tensor) -> Tensor:
    """``BoolTensor (B,)``: component 0 is the unique maximum (Definition 4.1, beyond
    :func:`tie_tolerance`)."""
    flat = scores.reshape(scores.shape[0], -1)
    return (flat[:, 0] - flat[:, 1:].amax(dim=1)) > tie_tolerance(flat).squeeze(1)
