"""Image files: reading every bit depth with clear errors, and writing without
half-written outputs.

Pixels are read as float32 in ``[0, 1]``: 8-bit files divided by 255, 16-bit files by
65,535 (no level is lost). An alpha channel that is not fully opaque is refused: whether
the content is drawn in the colour or in the transparency is not something to guess.
Outputs are written at the depth of their input (:func:`write_image`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from equirestore.io import atomic_path

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})

#: PIL modes of one channel with 16 (or more) bits per pixel.
_WIDE = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


class ImageFile(NamedTuple):
    """A decoded image: ``pixels`` float32 ``(H, W)`` or ``(H, W, 3)`` in [0, 1] and the
    ``bits`` per channel of the file (8 or 16)."""

    pixels: NDArray[np.float32]
    bits: int


def _unreadable(path: str | os.PathLike[str], e: Exception) -> ValueError:
    return ValueError(
        f"{os.fspath(path)!s} is not a readable image ({e.__class__.__name__}: {e}); "
        f"remove it or pass only {sorted(IMAGE_SUFFIXES)} files"
    )


def _decode(im: Image.Image, path: str | os.PathLike[str], mode: str) -> ImageFile:
    if "A" in im.getbands() or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        if (alpha < 255).any():
            raise ValueError(
                f"{os.fspath(path)!s} has an alpha channel that is not fully opaque "
                f"({int((alpha < 255).sum())} pixels); flatten it first, e.g. onto black "
                "(PIL: Image.alpha_composite) or save it without transparency"
            )
        im = rgba.convert("RGB")
    if im.mode in _WIDE:
        values = np.asarray(im, dtype=np.float64)
        bits = 16
        if values.max(initial=0) > 65535 or values.min(initial=0) < 0:
            raise ValueError(f"{os.fspath(path)!s} has pixel values outside 16 bits")
        gray: NDArray[np.float32] = (values / 65535).astype(np.float32)
        return ImageFile(gray if mode == "L" else np.repeat(gray[..., None], 3, -1), bits)
    if im.mode not in ("1", "L", "P", "RGB", "YCbCr", "CMYK", "LAB", "HSV"):
        raise ValueError(
            f"{os.fspath(path)!s} has pixel mode {im.mode!r}, which equirestore does not read; "
            "convert it to 8- or 16-bit grey or RGB"
        )
    levels = np.asarray(im.convert(mode), dtype=np.float32)
    return ImageFile((levels / np.float32(255)).astype(np.float32), 8)


def read_image(path: str | os.PathLike[str], mode: str = "RGB") -> ImageFile:
    """Read one image file.

    Args:
        path: the file.
        mode: ``"RGB"`` for ``(H, W, 3)`` pixels or ``"L"`` for grey ``(H, W)``.

    Returns:
        :class:`ImageFile` (float32 pixels in [0, 1] and the file's bit depth).

    Raises:
        ValueError: not a readable image, or one with transparency (names the file).
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
    try:
        with Image.open(path) as im:
            return _decode(im, path, mode)
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise _unreadable(path, e) from e


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(H, W)`` from the file's header, without decoding the pixels."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            return h, w
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise _unreadable(path, e) from e


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


def write_image(path: str | os.PathLike[str], pixels: NDArray[np.floating], bits: int = 8) -> None:
    """Write float pixels in [0, 1], ``(H, W)`` or ``(H, W, 3)``, atomically at ``bits``
    per channel (8, or 16 for grey PNG); the format follows the suffix."""
    target = Path(path)
    p = np.clip(np.asarray(pixels, dtype=np.float64), 0, 1)
    if bits == 16:
        if p.ndim != 2 or target.suffix.lower() != ".png":
            raise ValueError("16-bit output is written for grey PNG files only")
        image = Image.fromarray(np.round(p * 65535).astype(np.uint16))
    elif bits == 8:
        image = Image.fromarray(np.round(p * 255).astype(np.uint8))
    else:
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    with atomic_path(target) as tmp:
        fmt = "JPEG" if target.suffix.lower() in (".jpg", ".jpeg") else "PNG"
        image.save(tmp, format=fmt)
