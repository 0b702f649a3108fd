"""``equirestore restore``: restore image files and report what was estimated (the
shift, the angle, or both for an SE(2) restorer) and whether it is unique.

Large folders stream: a :class:`~torch.utils.data.DataLoader` with worker processes
decodes one batch at a time, the batch is restored and written, and only the file list
and the small shift report stay in memory. Everything is written into a staging folder
beside ``--out``, which becomes ``--out`` in one rename when every image succeeded: a bad
file, a full disk or Ctrl-C never leaves a partial output folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from equirestore.data import list_images, read_image, write_image
from equirestore.data.images import image_size
from equirestore.restore.hub import SHIPPED, load_restorer
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.se2 import SE2Restorer, rotation_part
from equirestore.restore.translation import TranslationRestorer

AnyRestorer = TranslationRestorer | RotationRestorer | SE2Restorer


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
        h, w = image_size(f)
        if (h, w) != tuple(spatial):
            raise ValueError(
                f"{f} is {w}x{h} but restorer {restorer!r} works on "
                f"{spatial[1]}x{spatial[0]} images; pad or resize it to that size first"
            )


def _output_names(files: list[Path]) -> list[str]:
    """``<stem>.png`` per input, numbered when two inputs share a stem (or a file is
    given twice), so that every input gets its own output and report entry."""
    stems = [f.stem for f in files]
    if len(set(stems)) == len(stems):
        return [f"{s}.png" for s in stems]
    return [f"{i:05d}_{s}.png" for i, s in enumerate(stems)]


class ImageFiles(Dataset[tuple[Tensor, int]]):
    """Image files as ``(float tensor (C, H, W) in [0, 1], bits per channel)``."""

    def __init__(self, files: list[Path], channels: int) -> None:
        self.files = files
        self.mode = "L" if channels == 1 else "RGB"

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        img = read_image(self.files[i], self.mode)
        t = torch.from_numpy(img.pixels)
        return (t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)), img.bits


def _prepare_out(out: Path) -> Path:
    """Check ``--out`` and make the staging folder beside it."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file; give a folder to write into")
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"--out {out} exists and is not empty; choose a new folder or empty it")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def _restore_batch(restorer: AnyRestorer, x: Tensor) -> tuple[Tensor, list[dict[str, Any]], Tensor]:
    """``x`` restored, what was estimated per image (``shift`` and/or ``angle``), and
    whether each estimate is unique (for SE(2): both the shift and the angle)."""
    if isinstance(restorer, TranslationRestorer):
        pk = restorer.peaks(x)  # one estimator pass: the shift and whether it is unique
        shifts = restorer.estimate_from(pk)
        return restorer.undo(x, shifts), [{"shift": s} for s in shifts.tolist()], pk.unique
    if isinstance(restorer, RotationRestorer):
        angle, unique = restorer.estimate_unique(x)
        return restorer.undo(x, angle), [{"angle": a} for a in angle.tolist()], unique
    (shifts, angle), unique = restorer.estimate_unique(x)
    found = [{"shift": s, "angle": a} for s, a in zip(shifts.tolist(), angle.tolist(), strict=True)]
    return restorer.undo(x, (shifts, angle)), found, unique


def _convention(restorer: AnyRestorer) -> str:
    if isinstance(restorer, TranslationRestorer):
        return (
            "input == torch.roll(restored, shift, dims=(rows, cols)); unique == false: no "
            "unique estimate (a tie), the image is written unmoved"
        )
    rotation = rotation_part(restorer)
    about = "its circular centroid" if rotation.centre == "centroid" else "the image middle"
    turned = f"restored turned by angle (degrees, counter-clockwise as displayed) about {about}"
    if isinstance(restorer, RotationRestorer):
        return f"input ~ {turned}; unique == false: a tied angle, 0, the image is not turned"
    return (
        f"input ~ torch.roll({turned}, shift, dims=(rows, cols)); unique == false: the shift "
        "or the angle is tied, and what is tied is 0 (not rolled back, or not turned back)"
    )


def _restore_into(
    staging: Path,
    restorer: AnyRestorer,
    files: list[Path],
    names: list[str],
    loader: DataLoader[tuple[Tensor, int]],
) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    entries: list[dict[str, Any]] = []
    for x, bits in tqdm(loader, desc="restore", unit="batch", disable=len(loader) < 2):
        with torch.inference_mode():
            restored, found, uniques = _restore_batch(restorer, x)
        for img, g, unique, b in zip(restored, found, uniques, bits.tolist(), strict=True):
            i = len(entries)
            pixels = img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()
            write_image(staging / names[i], pixels, bits=b if img.shape[0] == 1 else 8)
            entries.append(
                {"input": str(files[i]), "restored": names[i], **g, "unique": bool(unique)}
            )
    return entries


def restore_files_command(a: argparse.Namespace) -> int:
    """Restore every input image; write ``<out>/<name>.png`` and ``<out>/shifts.json``."""
    if a.batch_size < 1 or a.workers < 0:
        raise ValueError("--batch-size must be >= 1 and --workers >= 0")
    restorer = load_restorer(a.restorer)
    c, *spatial = restorer.input_shape
    files = _inputs(a.images)
    _check_sizes(files, tuple(spatial), str(a.restorer))
    names = _output_names(files)
    loader = DataLoader(
        ImageFiles(files, c), batch_size=a.batch_size, num_workers=a.workers, shuffle=False
    )
    out = Path(a.out)
    staging = _prepare_out(out)
    try:
        entries = _restore_into(staging, restorer, files, names, loader)
        report = {
            "convention": _convention(restorer),
            "restorer": str(a.restorer),
            "images": entries,
        }
        (staging / "shifts.json").write_text(json.dumps(report, indent=2) + "\n")
        if out.is_dir():
            out.rmdir()  # empty (checked above)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    ties = sum(not e["unique"] for e in entries)
    print(f"restored {len(files)} image(s) into {out} (estimates in {out / 'shifts.json'})")
    if ties:
        print(
            f"WARNING: {ties} image(s) have no unique estimate (a tie: blank, constant, "
            "periodic or rotation-symmetric content), and what is tied was not undone; see "
            "'unique' in shifts.json"
        )
    return 0


def add_parser(sub: Any) -> None:
    """The parser of ``equirestore restore``."""
    p = sub.add_parser(
        "restore",
        help="restore image files",
        description="Estimate each image's translation (or rotation, or both), undo it, "
        "and write the restored image (PNG, at the input's bit depth) plus shifts.json with "
        "every estimate and whether it is unique: 'shift' in the torch.roll sign convention, "
        "axis order rows, cols; 'angle' in degrees, counter-clockwise as displayed, about "
        "the point the restorer turns about (mnist-rotation: the image middle; mnist-se2: "
        "the circular centroid after the shift; shifts.json says which). Nothing is "
        "written unless every image succeeds.",
    )
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument(
        "--restorer",
        required=True,
        help="a shipped restorer (" + ", ".join(SHIPPED) + ") or a checkpoint from "
        "train-restorer (translation, rotation or SE(2))",
    )
    p.add_argument("--out", required=True, help="output folder (new or empty)")
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
