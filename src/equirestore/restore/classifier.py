"""A restorer in front of a classifier, as one ``nn.Module``.

>>> import torch, equirestore
>>> from equirestore.classifiers.models import SmallCNN
>>> model = equirestore.RestoredClassifier(equirestore.load_restorer("mnist"), SmallCNN())
>>> model(torch.rand(4, 1, 28, 28)).shape  # 28x28 digits: padded to the 32x32 canvas
torch.Size([4, 10])
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from equirestore.restore.base import Restorer


def pad_to(x: Tensor, canvas: tuple[int, ...]) -> tuple[Tensor, tuple[int, ...]]:
    """Zero-pad ``x (B, C, *n)`` to ``(B, C, *canvas)``, the content centred (offset
    ``(canvas - n) // 2`` per axis); returns the padded batch and the offsets."""
    n = tuple(x.shape[2:])
    if len(n) != len(canvas) or any(a > b for a, b in zip(n, canvas, strict=True)):
        raise ValueError(
            f"input of spatial size {n} does not fit the restorer's canvas {tuple(canvas)}; "
            "bring the images to at most the canvas size first"
        )
    offsets = tuple((c - s) // 2 for s, c in zip(n, canvas, strict=True))
    pad: list[int] = []
    for s, c, o in reversed(list(zip(n, canvas, offsets, strict=True))):
        pad += [o, c - s - o]
    return (F.pad(x, pad) if any(pad) else x), offsets


def crop_centre(x: Tensor, size: tuple[int, ...]) -> Tensor:
    """The centred ``size`` window of ``x (B, C, *N)`` (offset ``(N - size) // 2``)."""
    index: list[slice] = [slice(None), slice(None)]
    for n, s in zip(x.shape[2:], size, strict=True):
        o = (n - s) // 2
        index.append(slice(o, o + s))
    return x[tuple(index)]


class RestoredClassifier(nn.Module):
    """``classifier(crop(restorer(pad(x))))``: protect any classifier with a restorer.

    Args:
        restorer: any :class:`~equirestore.restore.base.Restorer` (translation, rotation,
            SE(2), identity).
        classifier: any module mapping ``(B, C, *size)`` to ``(B, K)`` logits.
        input_size: the spatial size the classifier takes, e.g. ``(32, 32)`` for a CIFAR
            classifier behind the 40x40 ``cifar10`` restorer; default: the size of the
            input given to :meth:`forward`.

    Shapes: ``(B, C, *n) -> (B, K)`` for any ``n`` up to the restorer's canvas ``N``: the
    input is zero-padded to ``N`` (centred), restored, and the centred ``input_size``
    window is classified. For an input already on the canvas and a classifier of the
    same size this is ``classifier(restorer(x))``.
    """

    def __init__(
        self,
        restorer: Restorer,
        classifier: nn.Module,
        input_size: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        self.restorer = restorer
        self.classifier = classifier
        self.input_size = None if input_size is None else tuple(int(v) for v in input_size)

    def restore(self, x: Tensor) -> Tensor:
        """What the classifier sees: ``(B, C, *input_size)``."""
        canvas = tuple(self.restorer.input_shape[1:])
        size = self.input_size or tuple(x.shape[2:])
        padded, _ = pad_to(x, canvas)
        return crop_centre(self.restorer(padded), size)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.restore(x).to(x.dtype))
