"""The ``restore`` command: restore image files and report the estimated shifts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from equirestore.data import list_images, read_image, write_image
from equirestore.data.images import atomic_path
from equirestore.restore.hub import load_restorer


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


def restore_files_command(a: argparse.Namespace) -> int:
    """Read images, restore them in one batch, write ``<out>/<name>.png`` and ``shifts.json``.

    Every input is read and checked before anything is written, so a bad file leaves no
    partial output.
    """
    restorer = load_restorer(a.restorer)
    c, *spatial = restorer.input_shape
    files = _inputs(a.images)
    arrays = [read_image(f, "L" if c == 1 else "RGB") for f in files]
    for f, arr in zip(files, arrays, strict=True):
        if tuple(arr.shape[:2]) != tuple(spatial):
            raise ValueError(
                f"{f} is {arr.shape[1]}x{arr.shape[0]} but restorer {a.restorer!r} works on "
                f"{spatial[1]}x{spatial[0]} images; pad or resize it to that size first"
            )
    x = torch.from_numpy(np.stack(arrays)).float().div(255)
    x = x.unsqueeze(1) if c == 1 else x.permute(0, 3, 1, 2)
    with torch.no_grad():
        restored, shifts = restorer(x)
        gaps = restorer.peaks(x).gap
    out = Path(a.out)
    report = {}
    names = [f.stem for f in files]
    if len(set(names)) != len(names):
        names = [f"{i:05d}_{f.stem}" for i, f in enumerate(files)]
    for name, f, img, s, g in zip(names, files, restored, shifts, gaps, strict=True):
        arr = (img.clamp(0, 1) * 255).round().byte()
        arr_np = arr[0].numpy() if c == 1 else arr.permute(1, 2, 0).numpy()
        write_image(out / f"{name}.png", arr_np)
        report[str(f)] = {"restored": f"{name}.png", "shift": s.tolist(), "unique": bool(g > 0)}
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
