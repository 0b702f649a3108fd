"""Distance from the background: estimators made for ink on a blank canvas, on any canvas.

The closed-form estimators (centre of mass, bounding box) and the recipe's features read
an image as ink on a blank (zero) background: a pixel counts by how far it is above 0.
Dark strokes on a white page, or objects on a grey card, have their background at
another colour ``b``, where every background pixel looks like ink and the box spans the
whole canvas. :class:`BackgroundEstimator` gives its inner estimator the distance of each
pixel from ``b`` instead, per channel::

    f(x) = g(|x - b|),

with ``g`` any translation estimator. ``|x - b|`` is the same map at every pixel, so a
circular shift of ``x`` shifts ``|x - b|`` the same way and ``f`` is exactly as
equivariant as ``g`` (tested over every shift in float64). Where ``b`` is 0 and the
images are non-negative, ``|x - b| = x`` and nothing changes, which is why
:func:`fit_background` answers ``None`` there.

``b`` is read off the training images at their canonical position: the most common
colour of their border pixels (first and last slice along every spatial axis), which a
dataset that centres objects on a canvas leaves as background. It is taken as one of those
pixels' own values, so background pixels are exactly 0 after the map.

Shapes: ``(B, C, *N) -> (B, 1, *N)`` (whatever ``g`` gives).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

#: The share of border pixels the most common colour must have to count as background.
BACKGROUND_SHARE = 0.5
#: Colours are counted at this many levels per channel (8-bit images: exact).
COLOUR_LEVELS = 255


class BackgroundEstimator(nn.Module):
    """``inner(|x - background|)``, the estimator of the module docstring.

    Args:
        background: ``b``, one value per channel of ``inner``'s input.
        inner: a translation estimator with ``input_shape``, ``dims``, ``in_channels`` and
            ``config()``.
    """

    def __init__(self, background: Sequence[float], inner: nn.Module) -> None:
        super().__init__()
        shape = tuple(getattr(inner, "input_shape", ()))
        if not shape or len(background) != shape[0]:
            raise ValueError(
                f"need one background value per channel of the input {shape}, got {len(background)}"
            )
        self.inner = inner
        self.input_shape = shape
        self.spatial, self.dims = shape[1:], len(shape) - 1
        self.in_channels = shape[0]
        self.background: Tensor
        level = torch.tensor([float(v) for v in background], dtype=torch.float64)
        self.register_buffer("background", level.view(-1, *([1] * self.dims)), persistent=False)

    def config(self) -> dict[str, Any]:
        """The background and the inner estimator's config (stored in checkpoints)."""
        return {
            "kind": "background",
            "background": [float(v) for v in self.background.flatten().tolist()],
            "inner": self.inner.config(),  # type: ignore[operator]
        }

    def forward(self, x: Tensor) -> Tensor:
        return self.inner((x - self.background.to(x.dtype)).abs())

    def parameter_count(self) -> int:
        """Trainable scalars: the inner estimator's."""
        count = getattr(self.inner, "parameter_count", None)
        return int(count()) if count is not None else 0


def away_from(images: Tensor, background: Sequence[float], chunk: int = 4096) -> Tensor:
    """``|x - b|`` for ``images (N, C, *S)`` and ``b`` one value per channel, computed in
    float64 (``chunk`` images at a time) and returned in the images' dtype (what
    :class:`BackgroundEstimator` gives its inner estimator)."""
    b = torch.tensor([float(v) for v in background], dtype=torch.float64)
    b = b.view(-1, *([1] * (images.dim() - 2)))
    return torch.cat([(part.double() - b).abs().to(images.dtype) for part in images.split(chunk)])


def border(images: Tensor) -> Tensor:
    """``(M, C)``: every pixel of ``images (N, C, *S)`` on the first or last slice of some
    spatial axis (each pixel once)."""
    spatial = images.shape[2:]
    mask = torch.zeros(spatial, dtype=torch.bool)
    for a, n in enumerate(spatial):
        index = [slice(None)] * len(spatial)
        for end in (0, n - 1):
            index[a] = slice(end, end + 1)
            mask[tuple(index)] = True
    return images.movedim(1, -1)[:, mask].reshape(-1, images.shape[1])


@torch.no_grad()
def fit_background(images: Tensor, sample: int = 4096) -> list[float] | None:
    """The background colour ``b`` of canonical ``images (N, C, *S)`` (module docstring):
    the most common colour of the border pixels of up to ``sample`` evenly spaced images,
    counted at :data:`COLOUR_LEVELS` levels per channel, as the value of one pixel of
    that colour; ``None`` where it is black (every channel 0 at that precision, nothing to
    change) or has less than :data:`BACKGROUND_SHARE` of the border (no background to
    speak of, as on photographs that fill the canvas)."""
    n = len(images)
    pick = torch.linspace(0, n - 1, min(n, sample)).round().long().unique()
    pixels = border(images[pick].double())
    codes = torch.zeros(len(pixels), dtype=torch.long)
    for c in range(pixels.shape[1]):
        level = (pixels[:, c].clamp(0, 1) * COLOUR_LEVELS).round().long()
        codes = codes * (COLOUR_LEVELS + 1) + level
    colours, counts = codes.unique(return_counts=True)
    top = int(counts.argmax())
    if int(colours[top]) == 0 or int(counts[top]) < BACKGROUND_SHARE * len(pixels):
        return None
    first = int((codes == colours[top]).nonzero()[0, 0])
    return [float(v) for v in pixels[first].tolist()]
