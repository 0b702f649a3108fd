"""An image folder centred by a rule no recipe was made for, to check ``train-restorer``
the way a new user runs it:

    python -m paper.bbox_folder --out artifacts/mnist_bbox
    equirestore train-restorer --folder artifacts/mnist_bbox/train --grayscale \\
        --out artifacts/mnist_bbox.pt --report results/mnist_bbox_restorer.json
    equirestore evaluate --folder artifacts/mnist_bbox/test --grayscale \\
        --restorer artifacts/mnist_bbox.pt --out results/mnist_bbox

Every MNIST digit (60,000 train, 10,000 test) is cropped to the bounding box of its
non-zero pixels (``h x w``) and pasted into a blank 32x32 image at row ``(32 - h) // 2``
and column ``(32 - w) // 2`` - the way Fashion-MNIST-like datasets centre their objects,
not MNIST's centre of mass - and written as an 8-bit grayscale PNG under
``<out>/<split>/<label>/<index>.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from equirestore.data import load_dataset

CANVAS = 32


def centre_by_box(image: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """``image (H, W)`` uint8 with its non-zero pixels' bounding box centred on a blank
    ``canvas x canvas`` image (rounded towards the top left); a blank image stays blank."""
    out = np.zeros((canvas, canvas), np.uint8)
    rows, cols = np.nonzero(image.any(1))[0], np.nonzero(image.any(0))[0]
    if len(rows):
        crop = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        h, w = crop.shape
        top, left = (canvas - h) // 2, (canvas - w) // 2
        out[top : top + h, left : left + w] = crop
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (must be empty or absent)")
    a = p.parse_args(argv)
    out = Path(a.out)
    if out.exists() and any(out.iterdir()):
        p.error(f"{out} is not empty; pass a new folder")
    for split in ("train", "test"):
        images, labels = load_dataset("mnist", split, size=28)
        pixels = (images[:, 0] * 255).round().byte().numpy()
        for label in range(10):
            (out / split / str(label)).mkdir(parents=True, exist_ok=True)
        for i, (img, label) in enumerate(
            tqdm(zip(pixels, labels.tolist(), strict=True), total=len(pixels), desc=split)
        ):
            Image.fromarray(centre_by_box(img)).save(out / split / str(label) / f"{i:05d}.png")
    print(f"wrote {out}/train and {out}/test (32x32 grayscale PNG)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
