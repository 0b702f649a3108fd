"""The rotation restorer (Section 5.2): polar resampling turns a rotation about the
image centre into a circular shift along the angle axis, so a network that is strictly
equivariant to circular shifts of that axis (1-D circular filters over the angle, the
radius as channels) estimates the rotation like the translation estimator estimates a
shift; the estimate is undone by rotating the original Cartesian image.

Conventions: :mod:`equirestore.groups.rotation` (angles counter-clockwise as displayed, degrees).
``estimate(x)`` returns ``φ`` in ``(-180, 180]`` with ``x ≈ rotate(x0, φ)`` for the
canonical (upright) ``x0``, and ``restore(x) = rotate(x, -estimate(x))``. Only the
estimate is exact (a multiple of ``360 / N_θ``); rotating a pixel image interpolates.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore._checks import check_batch
from equirestore.checkpoint import float32_state
from equirestore.groups.rotation import rotate, to_polar
from equirestore.nn.canonical import CanonicalNetwork

FORMAT = "equirestore.rotation_restorer"


class RotationRestorer(nn.Module):
    """Rotation estimator on polar images + inverse rotation.

    Args:
        estimator: a 1-D :class:`CanonicalNetwork` with ``C * n_radius`` input channels
            and one output channel.
        image_shape: ``(C, H, W)`` of the Cartesian images.
        n_radius, n_angle: the polar grid ``N_r x N_θ``; one angular bin is
            ``360 / n_angle`` degrees.
        r_max: outermost radius in pixels of the original image (default: half the
            shorter side).
        upsample: the image is first enlarged by this factor (bicubic) so that the
            inner rings, which are denser than the pixel grid, are not read off a
            bilinear patch of four pixels (Section 5.2 upsamples MNIST).
        score_dtype: dtype of the estimator (float64: no ties from rounding).
        name: a label kept in checkpoints.
    """

    def __init__(
        self,
        estimator: CanonicalNetwork,
        image_shape: tuple[int, int, int],
        n_radius: int,
        n_angle: int,
        r_max: float | None = None,
        upsample: int = 2,
        score_dtype: torch.dtype = torch.float64,
        name: str = "custom",
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if estimator.dims != 1 or estimator.in_channels != c * n_radius:
            raise ValueError(
                f"a rotation estimator is 1-D with C * n_radius = {c * n_radius} input "
                f"channels; got dims={estimator.dims}, in_channels={estimator.in_channels}"
            )
        if estimator.config()["widths"][-1] != 1:
            raise ValueError("a rotation estimator must end in exactly one channel")
        if upsample < 1:
            raise ValueError(f"upsample must be >= 1, got {upsample}")
        self.estimator = estimator.to(score_dtype)
        self.image_shape = (int(c), int(h), int(w))
        self.n_radius, self.n_angle = int(n_radius), int(n_angle)
        self.r_max = float(min(h, w) / 2 if r_max is None else r_max)
        self.upsample = int(upsample)
        self.score_dtype = score_dtype
        self.name = name

    @property
    def bin_degrees(self) -> float:
        """Width of one angular bin, ``360 / n_angle``."""
        return 360.0 / self.n_angle

    def polar(self, x: Tensor) -> Tensor:
        """``(B, C, H, W)`` -> ``(B, C * N_r, N_θ)`` (upsampled, then polar-resampled)."""
        x = check_batch(x, self.image_shape[0], 2, self.image_shape[1:])
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="bicubic", align_corners=False)
        return to_polar(x, self.n_radius, self.n_angle, r_max=self.r_max * self.upsample)

    def scores(self, x: Tensor) -> Tensor:
        """Estimator output ``(B, N_θ)``; its maximum is at the estimated angular bin."""
        return self.estimator(self.polar(x).to(self.score_dtype)).squeeze(1)

    def estimate(self, x: Tensor) -> Tensor:
        """The estimated rotation in degrees, ``(B,)`` float64 in ``(-180, 180]``."""
        k = self.scores(x).argmax(1).to(torch.float64)
        deg = k * self.bin_degrees
        return torch.where(deg > 180, deg - 360, deg)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(restored (B, C, H, W), degrees (B,))``."""
        deg = self.estimate(x)
        return rotate(x, -deg), deg

    @torch.no_grad()
    def restore(self, x: Tensor) -> Tensor:
        """Undo the estimated rotation: ``rotate(x, -estimate(x))``."""
        return self(x)[0]

    def checkpoint(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """A ``weights_only``-loadable dict (see :mod:`equirestore.restore.hub`)."""
        return {
            "format": FORMAT,
            "version": 1,
            "name": self.name,
            "network": self.estimator.config(),
            "image_shape": list(self.image_shape),
            "polar": {
                "n_radius": self.n_radius,
                "n_angle": self.n_angle,
                "r_max": self.r_max,
                "upsample": self.upsample,
            },
            "state_dict": float32_state(self),
            "meta": dict(meta or {}),
        }
