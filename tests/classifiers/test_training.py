import pytest
import torch

from equirestore.checkpoint import CheckpointError
from equirestore.classifiers import training
from equirestore.classifiers.training import load_classifier, predict, train_classifier


def _data(n: int = 96):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 16, 16, generator=g)
    y = (x[:, 0, :8].mean((1, 2)) > x[:, 0, 8:].mean((1, 2))).long()
    return x, y


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    x, y = _data()
    kw = {"epochs": 3, "batch_size": 32, "lr": 0.05, "progress": False, "shift_scope": 2}
    ref = train_classifier("small-cnn", x, y, tmp_path / "ref.pt", **kw)

    real_save = training.save_checkpoint
    calls = {"n": 0}

    def crash_after_first_epoch(obj, path):
        real_save(obj, path)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_checkpoint", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_classifier("small-cnn", x, y, tmp_path / "run.pt", **kw)
    assert (tmp_path / "run.pt.state").exists() and not (tmp_path / "run.pt").exists()
    monkeypatch.setattr(training, "save_checkpoint", real_save)
    resumed = train_classifier("small-cnn", x, y, tmp_path / "run.pt", **kw)
    for (k, a), b in zip(ref.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert not (tmp_path / "run.pt.state").exists()
    model, ckpt = load_classifier(tmp_path / "run.pt")
    assert ckpt["arch"] == "small-cnn"
    assert torch.equal(predict(model, x), predict(ref, x))


def test_state_from_another_run_is_refused(tmp_path, monkeypatch):
    x, y = _data(64)
    original = training.save_checkpoint

    def stop(obj, path):
        original(obj, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_checkpoint", stop)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(
            "small-cnn", x, y, tmp_path / "c.pt", epochs=2, batch_size=16, progress=False
        )
    monkeypatch.setattr(training, "save_checkpoint", original)
    with pytest.raises(ValueError, match="another run"):
        train_classifier(
            "small-cnn", x, y, tmp_path / "c.pt", epochs=5, batch_size=16, progress=False
        )


def test_loading_a_restorer_as_classifier_fails(tmp_path):
    from equirestore.restore import load_restorer, save_restorer

    save_restorer(load_restorer("mnist"), tmp_path / "r.pt")
    with pytest.raises(CheckpointError, match="not a 'equirestore"):
        load_classifier(tmp_path / "r.pt")


def test_subpixel_augmentation_moves_each_image_by_less_than_half_a_pixel():
    x, _ = _data(64)
    x = torch.nn.functional.pad(x, (4, 4, 4, 4))  # objects on a blank frame
    settings = training.TrainSettings("small-cnn", epochs=1, subpixel=True)
    out = training.augment(x, settings, torch.Generator().manual_seed(0))
    # a circular bilinear shift keeps every image's mass and moves its centre of mass by
    # the offset (up to rounding); the offsets differ from image to image
    torch.testing.assert_close(out.sum((1, 2, 3)), x.sum((1, 2, 3)))
    grid = torch.arange(24.0)

    def centre(z):
        m = z[:, 0]
        return (
            torch.stack([(m.sum(2) * grid).sum(1), (m.sum(1) * grid).sum(1)], 1)
            / m.sum((1, 2))[:, None]
        )

    moved = centre(out) - centre(x)
    assert moved.abs().max() <= 0.5 and moved.abs().mean() > 0.1
    assert len(torch.unique(moved.round(decimals=3))) > 100
    same = training.augment(x, settings, torch.Generator().manual_seed(0))
    assert torch.equal(out, same)  # seeded


def test_augmenting_volumes_is_refused_with_a_clear_message(tmp_path):
    x, y = torch.rand(8, 1, 4, 4, 4), torch.arange(8) % 2
    for flag in ({"subpixel": True}, {"hflip": True}, {"shift_scope": 1}, {"rotate": 10.0}):
        with pytest.raises(ValueError, match="work on 2-D images"):
            train_classifier("small-cnn3d", x, y, tmp_path / "c.pt", epochs=1, **flag)
    assert not (tmp_path / "c.pt").exists()
