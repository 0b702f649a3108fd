import numpy as np
import pytest
import torch
from PIL import Image

from equirestore.data import DatasetNotFoundError, list_images, load_dataset, to_geometry
from equirestore.data.images import atomic_path, read_image
from tests.conftest import real_dataset


def test_missing_dataset_names_the_folders_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("EQUIRESTORE_DATA", str(tmp_path / "env"))
    from equirestore.data import datasets

    monkeypatch.setattr(datasets, "default_roots", lambda: [tmp_path / "shared" / "data"])
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("cifar10", "test", root=tmp_path / "mine")
    msg = str(e.value)
    assert str(tmp_path / "mine") in msg and str(tmp_path / "env") in msg
    assert str(tmp_path / "shared" / "data") in msg
    assert "EQUIRESTORE_DATA" in msg


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet", "train")
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist", "val")


def test_geometry_pad_and_resize():
    x = torch.full((2, 1, 28, 28), 255, dtype=torch.uint8)
    p = to_geometry(x, 32, "pad")
    assert p.shape == (2, 1, 32, 32) and p.dtype == torch.float32
    assert p[:, :, :2].sum() == 0 and p[:, :, 2:30, 2:30].min() == 1.0
    r = to_geometry(x, 32, "resize")
    assert r.shape == (2, 1, 32, 32) and 0 <= float(r.min()) and float(r.max()) <= 1
    with pytest.raises(ValueError, match="geometry"):
        to_geometry(x, 32, "crop")


def test_cifar_image_folder_layout(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in ("cat", "dog"):
            d = tmp_path / "cifar10-jpeg" / split / c
            d.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                    d / f"{i}.png"
                )
    x, y = load_dataset("cifar10", "test", root=tmp_path)
    assert x.shape == (6, 3, 40, 40) and y.tolist() == [0, 0, 0, 1, 1, 1]
    assert x[:, :, :4].sum() == 0


def test_folder_with_non_image_file_is_rejected(tmp_path):
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not images"):
        list_images(tmp_path)
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "broken.png").write_bytes(b"not really a png")
    with pytest.raises(ValueError, match="not a readable image"):
        read_image(tmp_path / "broken.png")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_real_mnist_padding_keeps_centre_of_mass_pixel():
    x, y = real_dataset("mnist", "test")
    assert x.shape == (10000, 1, 32, 32) and y.dtype == torch.long
    pos = torch.arange(32, dtype=torch.float64)
    m = x.double().sum((1, 2, 3))
    rows = torch.round((x.double().sum((1, 3)) * pos).sum(-1) / m)
    assert (rows == rows.mode().values).double().mean() == 1.0


def test_fashion_mnist_package_layout(tmp_path):
    import json

    clothes = tmp_path / "fashion-mnist" / "package" / "src" / "clothes"
    clothes.mkdir(parents=True)
    for c in range(10):
        rows = [[c] * 784 for _ in range(7)] + [[]]  # the package has a few empty records
        (clothes / f"{c}.json").write_text(json.dumps({"data": rows}))
    x, y = load_dataset("fashion-mnist", "train", root=tmp_path)
    assert x.shape == (60, 1, 32, 32) and y.bincount().tolist() == [6] * 10
    t, u = load_dataset("fashion-mnist", "test", root=tmp_path)
    assert t.shape == (10, 1, 32, 32) and u.tolist() == list(range(10))
    assert torch.equal(
        (t[:, 0, 2:30, 2:30] * 255).round(), u.view(-1, 1, 1).float().expand(10, 28, 28)
    )
    assert t[:, :, :2].sum() == 0


def test_fashion_mnist_missing_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.delenv("EQUIRESTORE_DATA", raising=False)
    from equirestore.data import datasets

    monkeypatch.setattr(datasets, "default_roots", lambda: [tmp_path / "user"])
    with pytest.raises(DatasetNotFoundError, match="--download"):
        load_dataset("fashion-mnist", "train", root=tmp_path / "mine")
