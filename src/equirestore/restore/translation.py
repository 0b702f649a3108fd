"""The translation restorer (Section 4.1, Figure 2): estimate the shift, then undo it.

Convention: shifts follow :mod:`equirestore.groups.translation` (``torch.roll`` sign, axis
order ``(rows, cols)`` or ``(depth, rows, cols)``). ``estimate(x)`` returns the shift ``s``
such that ``x == shift(x0, s)`` for the canonical ``x0 = restorer(x)``; it is reported
as the signed representative in ``[-(N // 2), N - N // 2 - 1]`` per axis, and
``restorer(x) == shift(x, -estimate(x))``. Where the estimator's maximum is tied
(:mod:`equirestore.restore.estimator`), the estimate is 0: no estimate, the input is left
as it is, and :meth:`TranslationRestorer.peaks` says so.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from equirestore._checks import check_batch, tracing
from equirestore.checkpoint import detached_state
from equirestore.groups.translation import shift, signed
from equirestore.restore.base import Restorer
from equirestore.restore.estimator import Peaks, peaks

#: See :meth:`TranslationRestorer._chunks`: 2**20 values = 1,024 MNIST or 218 CIFAR images.
CHUNK_VALUES = 2**20


class TranslationRestorer(Restorer):
    """Restorer = translation estimator ``f`` (Definition 4.1) + inverse translation.

    Args:
        estimator: one output channel; a :class:`~equirestore.nn.CanonicalNetwork` or a
            :class:`~equirestore.nn.features.FeatureEstimator` (anything with ``dims``,
            ``in_channels`` and ``config()``). The restorer keeps its own copy, converted
            to ``score_dtype``; the module passed in is not modified.
        input_shape: ``(C, *N)`` the estimator was trained on; inputs must match.
        score_dtype: dtype the estimator runs in. ``float64`` (default) keeps rounding far
            below the tie tolerance, so ``restorer(shift(x)) == restorer(x)`` whenever the
            maximum is unique.
        name: a label (e.g. the dataset) kept in checkpoints.

    Shapes: ``forward``: ``(B, C, *N) -> (B, C, *N)``; ``estimate``: ``-> LongTensor
    (B, dims)``. The restorer never sees the classifier, and it keeps no state between
    calls: the estimated shift is returned, never stored.
    """

    def __init__(
        self,
        estimator: nn.Module,
        input_shape: tuple[int, ...],
        score_dtype: torch.dtype = torch.float64,
        name: str = "custom",
    ) -> None:
        super().__init__()
        config = estimator.config()  # type: ignore[operator]
        if config.get("widths", [1])[-1] != 1:
            raise ValueError("a translation estimator must end in exactly one channel")
        dims, channels = int(estimator.dims), int(estimator.in_channels)  # type: ignore[arg-type]
        if len(input_shape) != dims + 1 or input_shape[0] != channels:
            raise ValueError(
                f"input_shape {tuple(input_shape)} does not match an estimator with "
                f"{channels} channels and {dims} spatial axes"
            )
        expected = config.get("input_shape")
        if expected is not None and tuple(expected) != tuple(input_shape):
            raise ValueError(
                f"input_shape {tuple(input_shape)} does not match the estimator's grid "
                f"{tuple(expected)}: it was made for another image size"
            )
        self.estimator = copy.deepcopy(estimator).to(score_dtype)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.score_dtype = score_dtype
        self.name = name

    @property
    def dims(self) -> int:
        """Number of spatial axes (2 for images, 3 for volumes)."""
        return len(self.input_shape) - 1

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
        with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
            return self.estimator(x.to(self.score_dtype)).squeeze(1)

    def peaks(self, x: Tensor) -> Peaks:
        """Position of the unique maximum (``[0, N)``, 0 on a tie), the top-two gap and
        whether the maximum is unique, per sample (:func:`~equirestore.restore.peaks`)."""
        x = self._check(x)
        parts = [peaks(self.scores(c)) for c in self._chunks(x)]
        return (
            Peaks(*(torch.cat(t) for t in zip(*parts, strict=True))) if len(parts) > 1 else parts[0]
        )

    def estimate(self, x: Tensor) -> Tensor:
        """The estimated translation.

        Args:
            x: ``(B, C, *N)``.

        Returns:
            ``LongTensor (B, dims)`` signed shifts, axis order ``(rows, cols)``
            (``(depth, rows, cols)`` for volumes): ``x == shift(restorer(x), estimate(x))``.
            0 where the maximum is tied (see :meth:`peaks` for the flag).
        """
        return self.estimate_from(self.peaks(x))

    def estimate_from(self, pk: Peaks) -> Tensor:
        """:meth:`estimate` from already computed :meth:`peaks` (one estimator pass for
        both the shift and its tie flag)."""
        return signed(pk.position, self.spatial)

    def undo(self, x: Tensor, g: Tensor) -> Tensor:
        """``shift(x, -g)``: move every sample back by its shift ``g (B, dims)``."""
        parts = self._chunks(x)
        if len(parts) == 1:
            return shift(x, -g)
        step = len(parts[0])
        return torch.cat([shift(c, -g[i * step : (i + 1) * step]) for i, c in enumerate(parts)])

    def _chunks(self, x: Tensor) -> list[Tensor]:
        """Large batches run in pieces of about :data:`CHUNK_VALUES` input values, so that
        the FFT buffers are reused instead of freshly mapped (and page-faulted) on every
        call (``results/performance.md``); one piece while tracing or exporting."""
        step = max(1, CHUNK_VALUES // math.prod(self.input_shape))
        if tracing() or len(x) <= step:
            return [x]
        return list(torch.split(x, step))

    def checkpoint(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """A ``weights_only``-loadable dict (see :mod:`equirestore.restore.hub`)."""
        return {
            "format": "equirestore.translation_restorer",
            "version": 1,
            "name": self.name,
            "network": self.estimator.config(),  # type: ignore[operator]
            "input_shape": list(self.input_shape),
            "state_dict": detached_state(self),
            "meta": dict(meta or {}),
        }
