"""A glyph dataset rendered from the fonts installed on the machine, centred the way many
real datasets are: by the bounding box of the glyph's non-blank pixels, at an integer
offset.

Every character of :data:`ALPHABET` (digits, upper- and lower-case letters: 62 classes) is
rendered with every usable font at every pixel size of :data:`SIZES` (anti-aliased, 8-bit
grey), cropped to the bounding box of its non-zero pixels (``h x w``) and pasted into a
``canvas x canvas`` image at row ``(canvas - h) // 2`` and column ``(canvas - w) // 2``.

* Fonts: the ``.ttf`` / ``.otf`` files under :data:`FONT_DIRS` (Debian's font packages
  install there; ``paper/generality.py`` names the packages it used) and those bundled
  with matplotlib when it is installed, in sorted order; symbol, dingbat, math and emoji
  fonts are left out, and so is a glyph that a font renders like a character it does not
  have (its ``.notdef`` box) or that does not fit in ``canvas - 2`` pixels.
* Split: by font family, so that the test fonts are unseen: a family is a test family
  when ``crc32(family) % 5 == 0`` (about a fifth of them).

The dataset depends on the fonts installed, so :func:`make_glyphs` also returns the font
files it used.
"""

from __future__ import annotations

import os
import re
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SIZES = (12, 16, 20, 24, 28)
FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/usr/share/texmf/fonts/opentype",
    "~/.local/share/fonts",
)
_SKIP = re.compile(r"symbol|dingbat|math|emoji|d050000l", re.IGNORECASE)


def font_files() -> list[Path]:
    """The usable font files, sorted (see the module docstring)."""
    dirs = [Path(os.path.expanduser(d)) for d in FONT_DIRS]
    try:
        import matplotlib

        dirs.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:
        pass
    found: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for p in sorted(d.rglob("*")):
                if p.suffix.lower() in (".ttf", ".otf") and not _SKIP.search(p.name):
                    found.setdefault(p.name.lower(), p)  # the same file in two places: once
    return [found[k] for k in sorted(found)]


def _render(font: Any, char: str) -> np.ndarray | None:
    """The glyph's non-blank pixels cropped to their bounding box (uint8), or None."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (112, 112), 0)
    ImageDraw.Draw(img).text((28, 28), char, fill=255, font=font)
    box = img.getbbox()
    return None if box is None else np.asarray(img.crop(box), dtype=np.uint8)


def _glyphs_of(path: Path, size: int, canvas: int) -> list[tuple[np.ndarray, int]]:
    from PIL import ImageFont

    try:
        font = ImageFont.truetype(str(path), size)
    except OSError:
        return []
    missing = _render(font, "\uffff")
    out = []
    for label, char in enumerate(ALPHABET):
        g = _render(font, char)
        if g is None or max(g.shape) > canvas - 2:
            continue
        if missing is not None and g.shape == missing.shape and np.array_equal(g, missing):
            continue
        img = np.zeros((canvas, canvas), dtype=np.uint8)
        h, w = g.shape
        top, left = (canvas - h) // 2, (canvas - w) // 2
        img[top : top + h, left : left + w] = g
        out.append((img, label))
    return out


def family(path: Path) -> str:
    """The font's family name (the split is by family)."""
    from PIL import ImageFont

    try:
        return str(ImageFont.truetype(str(path), 12).getname()[0])
    except OSError:
        return path.stem


def is_test_family(name: str) -> bool:
    """Whether a font family belongs to the test split (``crc32(name) % 5 == 0``)."""
    return zlib.crc32(name.encode()) % 5 == 0


@lru_cache(maxsize=4)
def make_glyphs(split: str, canvas: int = 32) -> tuple[Tensor, Tensor, tuple[str, ...]]:
    """Render the ``split`` (``"train"`` or ``"test"``) of the glyph dataset.

    Returns:
        ``(images, labels, fonts)``: uint8 ``(N, 1, canvas, canvas)``, ``LongTensor (N,)``
        (index into :data:`ALPHABET`) and the font files used.

    Raises:
        FileNotFoundError: no usable font is installed.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    fonts = [p for p in font_files() if is_test_family(family(p)) == (split == "test")]
    if not fonts:
        raise FileNotFoundError(
            "no font files found for the glyph dataset; install some (e.g. apt-get install "
            f"fonts-dejavu-core fonts-liberation2) or matplotlib; searched {list(FONT_DIRS)}"
        )
    images, labels = [], []
    for path in fonts:
        for size in SIZES:
            for img, label in _glyphs_of(path, size, canvas):
                images.append(img)
                labels.append(label)
    x = torch.from_numpy(np.stack(images)).unsqueeze(1)
    return x, torch.tensor(labels, dtype=torch.long), tuple(str(p) for p in fonts)
