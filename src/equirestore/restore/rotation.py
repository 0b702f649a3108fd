"""The rotation restorer (Section 5.2): polar resampling turns a rotation into a circular
shift along the angle axis, so a network that is strictly equivariant to circular shifts
of that axis (1-D circular filters over the angle, the radius as channels) estimates the
rotation like the translation estimator estimates a shift; the estimate is undone by
rotating the Cartesian image back about the same centre (bicubic by default).

The centre. ``centre="image"`` samples the polar grid about the middle of the image,
which is where the paper's digits are rotated about - and nowhere else: a digit that also
moved by a pixel is read off another polar image. ``centre="centroid"`` (the default)
samples about the image's circular centre of mass
(:func:`equirestore.groups.rotation.centroid`) on the periodic grid, a point that moves
with the content: a circular shift of the input leaves the polar image unchanged (up to
rounding), and a sub-pixel shift changes it only by interpolation.

The estimate. The scores are read as a distribution over the angular bins,
``softmax(T N_θ f / ||p||_1)`` with the training objective's temperature and the polar
image's mass (:func:`equirestore.restore.training.estimator_logits`); the estimate is the
unique maximum ``k`` refined by the balance of its two neighbours,
``k + (p_{k+1} - p_{k-1}) / (p_{k-1} + p_k + p_{k+1})``, so that a rotation between two
bins is estimated between them (the estimator is trained for exactly that,
:func:`fit_rotation_restorer`). A tie for the maximum (a blank or rotation-symmetric image)
is no estimate: 0 degrees.

Conventions: :mod:`equirestore.groups.rotation` (angles counter-clockwise as displayed,
degrees). ``estimate(x)`` returns ``φ`` in ``(-180, 180]`` with ``x ≈ rotate(x0, φ)`` for the
canonical (upright) ``x0``, and ``restorer(x) = rotate(x, -estimate(x))`` about the centre.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from equirestore._checks import check_batch
from equirestore.checkpoint import detached_state
from equirestore.groups.rotation import INTERPOLATIONS, centroid, rotate, to_polar, upsample
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.nn.polar import PolarNetwork
from equirestore.restore.base import Restorer
from equirestore.restore.estimator import peaks
from equirestore.restore.training import TEMPERATURE

FORMAT = "equirestore.rotation_restorer"
CENTRES = ("image", "centroid")


class RotationRestorer(Restorer):
    """Rotation estimator on polar images + inverse rotation.

    Args:
        estimator: a :class:`PolarNetwork`, or a 1-D :class:`CanonicalNetwork` with one
            output channel; ``C * n_radius`` input channels.
        image_shape: ``(C, H, W)`` of the Cartesian images.
        n_radius, n_angle: the polar grid ``N_r x N_θ``; one angular bin is
            ``360 / n_angle`` degrees.
        r_max: outermost radius in pixels of the original image (default: half the
            shorter side).
        upsample: the image is first enlarged by this factor (bicubic) so that the
            inner rings, which are denser than the pixel grid, are not read off a
            bilinear patch of four pixels (Section 5.2 upsamples MNIST).
        centre: ``"centroid"`` or ``"image"`` (see the module docstring).
        interpolation: how :meth:`undo` resamples the image, ``"bicubic"`` or
            ``"bilinear"`` (:func:`~equirestore.groups.rotation.rotate`). Bicubic keeps
            more of the detail a classifier behind the restorer reads
            (``results/rotated_mnist.md``, the rows with the exact angle).
        temperature: ``T`` of the training objective, used to read the scores as a
            distribution for the sub-bin refinement.
        background: the canvas colour ``b`` (one value per channel) of images that are
            not on black (:func:`~equirestore.nn.background.fit_background`): the centre
            and the polar image are those of ``|x - b|``, and :meth:`undo` rotates
            ``x - b`` and adds ``b`` back, so the corners it brings in are canvas, not
            black. ``None`` (default): a black canvas, ``x`` as it is.
        score_dtype: dtype of the estimator (float64: no ties from rounding). The
            restorer keeps its own copy of the estimator in it.
        name: a label kept in checkpoints.

    Shapes: ``forward``: ``(B, C, H, W) -> (B, C, H, W)``; ``estimate``: ``-> (B,)``
    float64 degrees; ``scores``: ``-> (B, N_θ)``.
    """

    def __init__(
        self,
        estimator: PolarNetwork | CanonicalNetwork,
        image_shape: tuple[int, int, int],
        n_radius: int,
        n_angle: int,
        r_max: float | None = None,
        upsample: int = 2,
        centre: str = "centroid",
        interpolation: str = "bicubic",
        temperature: float = TEMPERATURE,
        score_dtype: torch.dtype = torch.float64,
        name: str = "custom",
        background: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if estimator.dims != 1 or estimator.in_channels != c * n_radius:
            raise ValueError(
                f"a rotation estimator is 1-D with C * n_radius = {c * n_radius} input "
                f"channels; got dims={estimator.dims}, in_channels={estimator.in_channels}"
            )
        if isinstance(estimator, PolarNetwork):
            if (estimator.n_radius, estimator.n_angle) != (n_radius, n_angle):
                raise ValueError(
                    f"the estimator is made for a {estimator.n_radius} x {estimator.n_angle} "
                    f"polar grid, not {n_radius} x {n_angle}"
                )
        elif estimator.config()["widths"][-1] != 1:
            raise ValueError("a rotation estimator must end in exactly one channel")
        if upsample < 1:
            raise ValueError(f"upsample must be >= 1, got {upsample}")
        if centre not in CENTRES:
            raise ValueError(f"centre must be one of {CENTRES}, got {centre!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}"
            )
        if background is not None and len(background) != c:
            raise ValueError(f"need one background value per channel ({c}), got {background}")
        self.estimator = copy.deepcopy(estimator).to(score_dtype)
        self.image_shape = (int(c), int(h), int(w))
        self.input_shape = self.image_shape
        self.n_radius, self.n_angle = int(n_radius), int(n_angle)
        self.r_max = float(min(h, w) / 2 if r_max is None else r_max)
        self.upsample = int(upsample)
        self.centre = centre
        self.interpolation = interpolation
        self.temperature = float(temperature)
        self.score_dtype = score_dtype
        self.name = name
        self.background = None if background is None else tuple(float(v) for v in background)

    @property
    def bin_degrees(self) -> float:
        """Width of one angular bin, ``360 / n_angle``."""
        return 360.0 / self.n_angle

    def _level(self, x: Tensor) -> Tensor:
        assert self.background is not None
        return torch.tensor(self.background, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)

    def _seen(self, x: Tensor) -> Tensor:
        """What the centre and the polar grid read: ``|x - b|`` (``x`` on black)."""
        return x if self.background is None else (x - self._level(x)).abs()

    def _centre(self, x: Tensor) -> Tensor | None:
        return centroid(self._seen(x)) if self.centre == "centroid" else None

    def polar(self, x: Tensor) -> Tensor:
        """``(B, C, H, W)`` -> ``(B, C * N_r, N_θ)`` (upsampled, then polar-resampled about
        the centre)."""
        x = check_batch(x, self.image_shape[0], 2, self.image_shape[1:])
        return self._polar(x, self._centre(x))

    def _polar(self, x: Tensor, centre: Tensor | None) -> Tensor:
        wrap = self.centre == "centroid"
        f = self.upsample
        # the enlargement, the polar resampling and the estimator run in the score dtype
        big = upsample(self._seen(x.to(self.score_dtype)), f, wrap)
        # pixel (i, j) lands at f (i, j) + (f - 1) / 2; the image's middle stays the middle
        grid_centre = None if centre is None else centre * f + (f - 1) / 2
        return to_polar(big, self.n_radius, self.n_angle, grid_centre, self.r_max * f, wrap)

    def scores(self, x: Tensor) -> Tensor:
        """Estimator output ``(B, N_θ)``; its maximum is at the estimated angular bin."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
            return self.estimator(self.polar(x)).squeeze(1)

    def estimate(self, x: Tensor) -> Tensor:
        """The estimated rotation in degrees, ``(B,)`` float64 in ``(-180, 180]`` (0 where
        the maximum is tied)."""
        return self._estimate(x, self.polar(x))[0]

    def estimate_unique(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`estimate` and whether it is one: ``(angle (B,) float64 degrees, unique
        (B,) bool)``; where the maximum is tied (a blank or rotation-symmetric image) the
        angle is 0 and ``unique`` is False."""
        return self._estimate(x, self.polar(x))

    def _estimate(self, x: Tensor, polar: Tensor) -> tuple[Tensor, Tensor]:
        with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
            s = self.estimator(polar).squeeze(1)
        pk = peaks(s)
        k = pk.position[:, 0]
        mass = polar.abs().flatten(1).sum(1, keepdim=True).clamp_min(1e-12)
        p = torch.softmax(self.temperature * self.n_angle * s / mass, dim=1)
        n = self.n_angle
        near = torch.stack([(k - 1) % n, k, (k + 1) % n], 1)
        pm, p0, pp = p.gather(1, near).unbind(1)
        offset = torch.where(pk.unique, (pp - pm) / (pm + p0 + pp).clamp_min(1e-300), 0.0)
        deg = torch.remainder((k.to(torch.float64) + offset) * self.bin_degrees, 360.0)
        return torch.where(deg > 180, deg - 360, deg), pk.unique

    def undo(self, x: Tensor, g: Tensor) -> Tensor:
        """Rotate every image back by its angle ``g (B,)`` (degrees) about the centre."""
        return self._undo(x, g, self._centre(x))

    def _undo(self, x: Tensor, g: Tensor, centre: Tensor | None) -> Tensor:
        wrap = self.centre == "centroid"
        if self.background is None:
            return rotate(x, -g, centre, wrap, self.interpolation)
        b = self._level(x)
        return rotate(x - b, -g, centre, wrap, self.interpolation) + b

    def forward(self, x: Tensor) -> Tensor:
        """``undo(x, estimate(x))``, the centre computed once."""
        x = check_batch(x, self.image_shape[0], 2, self.image_shape[1:])
        centre = self._centre(x)
        return self._undo(x, self._estimate(x, self._polar(x, centre))[0], centre)

    def checkpoint(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """A ``weights_only``-loadable dict (see :mod:`equirestore.restore.hub`)."""
        return {
            "format": FORMAT,
            "version": 2,
            "name": self.name,
            "network": self.estimator.config(),
            "image_shape": list(self.image_shape),
            "polar": {
                "n_radius": self.n_radius,
                "n_angle": self.n_angle,
                "r_max": self.r_max,
                "upsample": self.upsample,
                "centre": self.centre,
                "interpolation": self.interpolation,
                "temperature": self.temperature,
                "background": None if self.background is None else list(self.background),
            },
            "state_dict": detached_state(self),
            "meta": dict(meta or {}),
        }
