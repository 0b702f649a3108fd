"""Image files: reading with clear errors, and writing without half-written outputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from equirestore.io import atomic_path

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


def read_image(path: str | os.PathLike[str], mode: str = "RGB") -> NDArray[np.uint8]:
    """Read one image file as ``uint8 (H, W, 3)`` (``mode="RGB"``) or ``(H, W)`` (``"L"``).

    Raises:
        ValueError: the file is not a readable image (names the file).
    """
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(
            f"{os.fspath(path)!s} is not a readable image ({e.__class__.__name__}); "
            f"remove it or pass only {sorted(IMAGE_SUFFIXES)} files"
        ) from e


def list_images(folder: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """Every image file under ``folder`` (sorted); any other file is an error.

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: the folder holds a non-image file, or no image at all.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    files = sorted(p for p in (root.rglob("*") if recursive else root.iterdir()) if p.is_file())
    files = [p for p in files if not p.name.startswith(".")]
    others = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise ValueError(
            f"{root} contains {len(others)} file(s) that are not images, e.g. {others[0]}; "
            f"move them out (accepted: {sorted(IMAGE_SUFFIXES)})"
        )
    if not files:
        raise ValueError(f"{root} contains no image files")
    return files


def write_image(path: str | os.PathLike[str], image: NDArray[np.uint8]) -> None:
    """Write ``uint8 (H, W)`` or ``(H, W, 3)`` atomically; the format follows the suffix."""
    target = Path(path)
    with atomic_path(target) as tmp:
        fmt = "JPEG" if target.suffix.lower() in (".jpg", ".jpeg") else "PNG"
        Image.fromarray(image).save(tmp, format=fmt)
