"""Any folder of image files as a dataset tensor."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from torch import Tensor

from equirestore.data.images import image_size, list_images, read_image

#: Smallest side an image may have: a restorer needs a grid to shift on.
MIN_SIZE = 4


def _fit(t: Tensor, size: int) -> Tensor:
    """Zero-pad (or centre-crop) ``(C, h, w)`` to ``(C, size, size)``, content centred."""
    h, w = t.shape[1:]
    top, left = (size - h) // 2, (size - w) // 2
    t = F.pad(t, (max(left, 0), max(size - w - left, 0), max(top, 0), max(size - h - top, 0)))
    r, c = (t.shape[1] - size) // 2, (t.shape[2] - size) // 2
    return t[:, r : r + size, c : c + size]


def load_folder(
    folder: str | os.PathLike[str], size: int | None = None, grayscale: bool = False
) -> Tensor:
    """Every image under ``folder`` (recursively, sorted by path) as float32
    ``(N, C, H, W)`` in [0, 1] (``C`` = 1 with ``grayscale``, else 3).

    Without ``size`` the images must all have the same size; with it they are zero-padded
    (or centre-cropped) to ``size x size``, content centred.

    Raises:
        ValueError: mixed sizes without ``size`` (the message lists them), an image or
            ``size`` smaller than :data:`MIN_SIZE`, an unreadable or transparent file.
    """
    files = list_images(folder)
    shapes = Counter(image_size(f) for f in files)
    if size is None and len(shapes) > 1:
        common = ", ".join(f"{h}x{w} ({n})" for (h, w), n in shapes.most_common(4))
        raise ValueError(
            f"the images in {folder} have {len(shapes)} different sizes (HxW: {common}...); "
            "pass --size S to zero-pad them all to S x S"
        )
    smallest = min(min(s) for s in shapes) if size is None else size
    if smallest < MIN_SIZE:
        raise ValueError(
            f"images of {smallest} pixels are too small to restore (at least {MIN_SIZE}); "
            "pass --size to pad them onto a larger canvas"
        )
    mode = "L" if grayscale else "RGB"
    with ThreadPoolExecutor(max_workers=4) as ex:
        pixels = list(ex.map(lambda f: read_image(f, mode).pixels, files))
    tensors = [torch.from_numpy(p) for p in pixels]
    tensors = [t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1) for t in tensors]
    if size is not None:
        tensors = [_fit(t, size) for t in tensors]
    return torch.stack(tensors)
