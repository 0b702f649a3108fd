"""The translation restorer (Section 4.1, Figure 2): estimate the shift, then undo it.

Convention: shifts follow :mod:`equirestore.groups.translation` (``torch.roll`` sign, axis order
``(rows, cols)`` or ``(depth, rows, cols)``). ``estimate(x)`` returns the shift ``s``
such that ``x == shift(x0, s)`` for the canonical ``x0 = restore(x)``; it is reported
as the signed representative in ``[-(N // 2), N - N // 2 - 1]`` per axis, and
``restore(x) == shift(x, -estimate(x))``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from equirestore._checks import check_batch
from equirestore.checkpoint import float32_state
from equirestore.groups.translation import shift, signed
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.restore.estimator import Peaks, argmax_position, peaks

#: See :meth:`TranslationRestorer._chunk`: 2**20 values = 1,024 MNIST or 218 CIFAR images.
CHUNK_VALUES = 2**20


class TranslationRestorer(nn.Module):
    """Restorer = translation estimator ``f`` (Definition 4.1) + inverse translation.

    Args:
        estimator: a :class:`CanonicalNetwork` with one output channel.
        input_shape: ``(C, *N)`` the estimator was trained on; inputs must match.
        score_dtype: dtype the estimator runs in. ``float64`` (default) makes ties
            from rounding practically impossible, so ``restore(shift(x)) == restore(x)``
            holds whenever the maximum is unique. The estimator module is converted to
            this dtype in place.
        name: a label (e.g. the dataset) kept in checkpoints.

    The restorer never sees the classifier, and it keeps no state between calls: the
    estimated shift is returned, never stored.
    """

    def __init__(
        self,
        estimator: CanonicalNetwork,
        input_shape: tuple[int, ...],
        score_dtype: torch.dtype = torch.float64,
        name: str = "custom",
    ) -> None:
        super().__init__()
        if estimator.config()["widths"][-1] != 1:
            raise ValueError("a translation estimator must end in exactly one channel")
        if len(input_shape) != estimator.dims + 1 or input_shape[0] != estimator.in_channels:
            raise ValueError(
                f"input_shape {tuple(input_shape)} does not match an estimator with "
                f"{estimator.in_channels} channels and {estimator.dims} spatial axes"
            )
        self.estimator = estimator.to(score_dtype)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.score_dtype = score_dtype
        self.name = name

    @property
    def dims(self) -> int:
        """Number of spatial axes (2 for images, 3 for volumes)."""
        return self.estimator.dims

    @property
    def spatial(self) -> tuple[int, ...]:
        """The periodic grid ``N``."""
        return self.input_shape[1:]

    def _check(self, x: Tensor) -> Tensor:
        return check_batch(x, self.input_shape[0], self.dims, self.spatial)

    def scores(self, x: Tensor) -> Tensor:
        """Estimator output.

        Args:
            x: ``(B, C, *N)`` floating point, finite.

        Returns:
            ``(B, *N)`` in ``score_dtype``; its unique maximum is at the estimated shift.
        """
        x = self._check(x)
        # the first layer reads x in score_dtype (circular_conv converts while reading)
        return self.estimator(x).squeeze(1)

    def peaks(self, x: Tensor) -> Peaks:
        """Argmax (``position``, in ``[0, N)``) and top-two ``gap`` of the scores."""
        return peaks(self.scores(x))

    def estimate(self, x: Tensor) -> Tensor:
        """The estimated translation.

        Args:
            x: ``(B, C, *N)``.

        Returns:
            ``LongTensor (B, dims)`` signed shifts, axis order ``(rows, cols)``
            (``(depth, rows, cols)`` for volumes); ``x == shift(restore(x), estimate(x))``.
            A tie for the maximum resolves to the first index in row-major order; use
            :meth:`peaks` to see the gap and treat ``gap == 0`` as "no estimate".
        """
        x = self._check(x)
        pos = torch.empty(len(x), self.dims, dtype=torch.long, device=x.device)
        step = self._chunk()
        for i in range(0, len(x), step):
            pos[i : i + step] = argmax_position(self.estimator(x[i : i + step]).squeeze(1))
        return signed(pos, self.spatial)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Restore a batch and return ``(restored (B, C, *N), shift (B, dims))``."""
        s = self.estimate(x)
        if len(x) <= self._chunk():
            return shift(x, -s), s
        out = torch.empty_like(x)
        step = self._chunk()
        for i in range(0, len(x), step):
            out[i : i + step] = shift(x[i : i + step], -s[i : i + step])
        return out, s

    def _chunk(self) -> int:
        """Samples per internal chunk: large batches run in pieces of about
        :data:`CHUNK_VALUES` input values, so that the FFT buffers are reused instead of
        freshly mapped (and page-faulted) on every call (``results/performance.md``)."""
        return max(1, CHUNK_VALUES // math.prod(self.input_shape))

    @torch.no_grad()
    def restore(self, x: Tensor) -> Tensor:
        """Undo the estimated translation: ``shift(x, -estimate(x))``, same shape as ``x``."""
        return self(x)[0]

    def checkpoint(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """A ``weights_only``-loadable dict (see :mod:`equirestore.restore.hub`)."""
        return {
            "format": "equirestore.translation_restorer",
            "version": 1,
            "name": self.name,
            "network": self.estimator.config(),
            "input_shape": list(self.input_shape),
            "state_dict": float32_state(self),
            "meta": dict(meta or {}),
        }
