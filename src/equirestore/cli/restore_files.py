"""The ``restore`` command: restore image files and report the estimated shifts.

Large folders stream: a :class:`~torch.utils.data.DataLoader` with worker processes
decodes one batch at a time, the batch is restored and written, and only the file list
and the small shift report stay in memory. Outputs go to a staging folder beside
``--out`` and are moved into place only when every image succeeded, so a bad file never
leaves a partial output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from equirestore.data import list_images, read_image, write_image
from equirestore.groups.translation import shift, signed
from equirestore.io import atomic_path
from equirestore.restore.hub import load_translation_restorer


def _inputs(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += list_images(p)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist")
    return files


def _check_sizes(files: list[Path], spatial: tuple[int, ...], restorer: str) -> None:
    """Read only the headers and reject any file of the wrong size before decoding."""
    for f in files:
        try:
            with Image.open(f) as im:
                w, h = im.size
        except (UnidentifiedImageError, OSError) as e:
            raise ValueError(f"{f} is not a readable image ({e.__class__.__name__})") from e
        if (h, w) != tuple(spatial):
            raise ValueError(
                f"{f} is {w}x{h} but restorer {restorer!r} works on "
                f"{spatial[1]}x{spatial[0]} images; pad or resize it to that size first"
            )


class ImageFiles(Dataset[Tensor]):
    """Image files as float tensors ``(C, H, W)`` in [0, 1], decoded on demand."""

    def __init__(self, files: list[Path], channels: int) -> None:
        self.files = files
        self.mode = "L" if channels == 1 else "RGB"

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Tensor:
        t = torch.from_numpy(read_image(self.files[i], self.mode)).float().div(255)
        return t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)


def restore_files_command(a: argparse.Namespace) -> int:
    """Restore every input image; write ``<out>/<name>.png`` and ``<out>/shifts.json``."""
    from tqdm.auto import tqdm

    restorer = load_translation_restorer(a.restorer)
    c, *spatial = restorer.input_shape
    files = _inputs(a.images)
    _check_sizes(files, tuple(spatial), str(a.restorer))
    names = [f.stem for f in files]
    if len(set(names)) != len(names):
        names = [f"{i:05d}_{f.stem}" for i, f in enumerate(files)]
    loader = DataLoader(
        ImageFiles(files, c), batch_size=a.batch_size, num_workers=a.workers, shuffle=False
    )
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    report = {}
    try:
        done = 0
        for x in tqdm(loader, desc="restore", unit="batch", disable=len(loader) < 2):
            with torch.inference_mode():
                pk = restorer.peaks(x)  # one estimator pass: the shift and its gap
                shifts = signed(pk.position, restorer.spatial)
                restored, gaps = shift(x, -shifts), pk.gap
            for img, s, g in zip(restored, shifts, gaps, strict=True):
                arr = (img.clamp(0, 1) * 255).round().byte()
                arr_np = arr[0].numpy() if c == 1 else arr.permute(1, 2, 0).numpy()
                write_image(staging / f"{names[done]}.png", arr_np)
                report[str(files[done])] = {
                    "restored": f"{names[done]}.png",
                    "shift": s.tolist(),
                    "unique": bool(g > 0),
                }
                done += 1
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.replace(staging / f"{name}.png", out / f"{name}.png")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with atomic_path(out / "shifts.json") as tmp:
        tmp.write_text(
            json.dumps(
                {
                    "convention": "input == torch.roll(restored, shift, dims=(rows, cols))",
                    "restorer": str(a.restorer),
                    "images": report,
                },
                indent=2,
            )
            + "\n"
        )
    print(f"restored {len(files)} image(s) into {out} (shifts in {out / 'shifts.json'})")
    return 0


def add_parser(sub: Any) -> None:
    """The parser of ``equirestore restore``."""
    p = sub.add_parser(
        "restore",
        help="restore image files",
        description="Estimate each image's translation, undo it, and write the "
        "restored image plus a JSON file of estimated shifts "
        "(convention: torch.roll sign, axis order rows, cols).",
    )
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--restorer", required=True, help="shipped name (mnist, cifar10) or checkpoint")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--batch-size", type=int, default=256, help="images decoded and restored at a time"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="DataLoader processes that decode images (0: decode in the main process)",
    )
    p.set_defaults(handler=restore_files_command)
