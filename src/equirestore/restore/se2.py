"""The SE(2) restorer: translation, then rotation about the centroid, as one object.

The translation restorer moves the content to its canonical position (for MNIST, the
rounded centre of mass on the canvas centre); the rotation restorer then estimates the
angle on the polar image about the image's circular centroid and rotates back about it.
Because the polar grid moves with the content, the rotation estimate does not depend on
where the translation left the object (up to interpolation).

``estimate(x)`` returns ``(shift, angle)``: ``shift (B, 2)`` int64 in the ``torch.roll``
sign convention (axis order rows, cols) and ``angle (B,)`` float64 degrees,
counter-clockwise; ``undo(x, (shift, angle))`` rolls back, then rotates back.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from equirestore.restore.base import ComposedRestorer
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.translation import TranslationRestorer

FORMAT = "equirestore.se2_restorer"


class SE2Restorer(ComposedRestorer):
    """:class:`TranslationRestorer` then :class:`RotationRestorer` on one 2-D canvas.

    Shapes: ``forward``: ``(B, C, H, W) -> (B, C, H, W)``; ``estimate``: ``-> (shift
    (B, 2) int64, angle (B,) float64 degrees)``.
    """

    first: TranslationRestorer
    second: RotationRestorer

    def __init__(self, translation: TranslationRestorer, rotation: RotationRestorer) -> None:
        if len(translation.input_shape) != 3:
            raise ValueError(
                f"an SE(2) restorer works on 2-D images, the translation restorer's canvas is "
                f"{tuple(translation.input_shape)}"
            )
        super().__init__(translation, rotation)
        self.name = f"{translation.name}+{rotation.name}"

    @property
    def translation(self) -> TranslationRestorer:
        return self.first

    @property
    def rotation(self) -> RotationRestorer:
        return self.second

    def estimate_unique(self, x: Tensor) -> tuple[tuple[Tensor, Tensor], Tensor]:
        """:meth:`estimate` and whether it is one: ``((shift (B, 2), angle (B,)), unique
        (B,) bool)``, ``unique`` False where the shift or the angle is tied (that part is
        0)."""
        pk = self.first.peaks(x)
        shift = self.first.estimate_from(pk)
        angle, unique = self.second.estimate_unique(self.first.undo(x, shift))
        return (shift, angle), pk.unique & unique

    def checkpoint(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """A ``weights_only``-loadable dict holding both parts' checkpoints."""
        return {
            "format": FORMAT,
            "version": 1,
            "translation": self.first.checkpoint(),
            "rotation": self.second.checkpoint(),
            "meta": dict(meta or {}),
        }


def rotation_part(restorer: RotationRestorer | SE2Restorer) -> RotationRestorer:
    """The rotation restorer itself, or an SE(2) restorer's rotation part (its angle bins,
    centre and canvas colour)."""
    return restorer.rotation if isinstance(restorer, SE2Restorer) else restorer
