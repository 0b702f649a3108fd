"""Any folder of image files as a dataset tensor."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from equirestore.data.images import list_images, read_image


def load_folder(folder: str, size: int | None, grayscale: bool) -> Tensor:
    """Every image under ``folder`` as float32 ``(N, C, S, S)`` in [0, 1].

    Images are zero-padded (or centre-cropped) to ``size``; without ``size`` they must
    all have the same shape.
    """
    files = list_images(folder)
    arrays = [read_image(f, "L" if grayscale else "RGB") for f in files]
    tensors = [torch.from_numpy(a).float().div(255) for a in arrays]
    tensors = [t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1) for t in tensors]
    if size is None:
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1:
            raise ValueError(
                f"images in {folder} have different sizes {sorted(shapes)[:3]}...; "
                "pass --size to pad/crop them to one square size"
            )
        return torch.stack(tensors)
    out = []
    for t in tensors:
        h, w = t.shape[1:]
        top, left = (size - h) // 2, (size - w) // 2
        t = F.pad(t, (max(left, 0), max(size - w - left, 0), max(top, 0), max(size - h - top, 0)))
        h2, w2 = t.shape[1:]
        r, c = (h2 - size) // 2, (w2 - size) // 2
        out.append(t[:, r : r + size, c : c + size])
    return torch.stack(out)
