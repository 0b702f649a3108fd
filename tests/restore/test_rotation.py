import pytest
import torch

from equirestore.checkpoint import CheckpointError
from equirestore.groups.rotation import centroid, rotate
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.nn.polar import PolarNetwork
from equirestore.restore.hub import (
    load_restorer,
    load_rotation_restorer,
    load_translation_restorer,
    save_restorer,
)
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.rotation_training import (
    RotationSettings,
    angle_errors,
    quarter_turns,
    within_one_bin,
)
from equirestore.restore.se2 import SE2Restorer
from equirestore.testing import assert_equivariant


def _restorer(n_angle: int = 12) -> RotationRestorer:
    torch.manual_seed(0)
    net = CanonicalNetwork(2 * 4, [5, 1], kernel_size=[n_angle, 5], dims=1)
    return RotationRestorer(net, (2, 16, 16), n_radius=4, n_angle=n_angle, upsample=2).eval()


def test_rolling_the_polar_grid_by_one_bin_rolls_the_scores_by_one_bin():
    r = _restorer()
    polar = r.polar(torch.rand(3, 2, 16, 16))
    scores = lambda p: r.estimator(p).squeeze(1)  # noqa: E731
    report = assert_equivariant(scores, polar, group="polar", atol=1e-12)
    assert report.exhaustive and report.elements_checked == 12
    with torch.no_grad():
        s = scores(polar.double())
        for k in range(12):
            assert torch.equal(
                scores(torch.roll(polar, k, -1).double()).argmax(1), (s.argmax(1) + k) % 12
            )


def test_the_polar_estimator_is_2d_local_then_full_size_and_exactly_equivariant():
    s = RotationSettings(n_radius=4, n_angle=12, polar_local=(3, 2), hidden=6)
    net = s.network(4)
    assert isinstance(net, PolarNetwork)
    assert net.config() == {
        "kind": "polar",
        "in_channels": 4,
        "n_radius": 4,
        "n_angle": 12,
        "local": [3, 2],
        "kernel": 3,
        "hidden": 6,
    }
    torch.manual_seed(0)
    polar = torch.rand(3, 4, 12, dtype=torch.float64)
    report = assert_equivariant(lambda p: net.double()(p), polar, group="polar", atol=1e-12)
    assert report.exhaustive and report.elements_checked == 12
    with pytest.raises(ValueError, match="polar_kernel"):
        RotationSettings(polar_kernel=4)


def test_without_polar_layers_the_estimator_is_the_1d_network_of_section_5_2():
    assert RotationSettings().polar_local == (16, 4)  # the default is the 2-D network
    s = RotationSettings(n_radius=4, n_angle=12, polar_local=(), local=3, hidden=6)
    net = s.network(4)
    assert isinstance(net, CanonicalNetwork)
    cfg = net.config()
    assert cfg["widths"] == [3, 6, 1] and cfg["kernel_size"] == [5, 12, 12]
    torch.manual_seed(0)
    polar = torch.rand(3, 4, 12, dtype=torch.float64)
    report = assert_equivariant(lambda p: net.double()(p), polar, group="polar", atol=1e-12)
    assert report.exhaustive and report.elements_checked == 12
    with pytest.raises(ValueError, match="local_kernel"):
        RotationSettings(n_angle=12, local_kernel=13)
    deeper = RotationSettings(n_radius=4, n_angle=12, polar_local=(), local=3, local_layers=3)
    assert deeper.network(4).config()["widths"] == [3, 3, 3, 128, 1]
    with pytest.raises(ValueError, match="local_layers"):
        RotationSettings(local_layers=0)


def test_a_polar_estimator_checkpoint_loads_back_and_is_refused_as_a_translation_one(tmp_path):
    torch.manual_seed(0)
    net = RotationSettings(n_radius=4, n_angle=12, polar_local=(3,), hidden=5).network(8)
    r = RotationRestorer(net, (2, 16, 16), n_radius=4, n_angle=12).eval()
    save_restorer(r, tmp_path / "rot.pt")
    back = load_rotation_restorer(tmp_path / "rot.pt")
    x = torch.rand(3, 2, 16, 16)
    assert torch.equal(back.scores(x), r.scores(x))
    ckpt = torch.load(tmp_path / "rot.pt", weights_only=True)
    ckpt["format"] = "equirestore.translation_restorer"
    ckpt["input_shape"] = [2, 16, 16]
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="not a translation one"):
        load_translation_restorer(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="polar grid"):
        RotationRestorer(net, (2, 16, 16), n_radius=4, n_angle=24)


def test_quarter_turns_are_estimated_exactly_in_degrees():
    r = _restorer()
    x = torch.rand(4, 2, 16, 16)
    base = r.estimate(x)
    for quarter in (1, 2, 3):
        turned = rotate(x, torch.full((4,), 90.0 * quarter))  # an exact grid map
        d = torch.remainder(r.estimate(turned) - base, 360)
        torch.testing.assert_close(d, torch.full((4,), 90.0 * quarter, dtype=torch.float64))
    assert r.estimate(x).dtype == torch.float64 and r.estimate(x).shape == (4,)
    assert ((r.estimate(x) > -180) & (r.estimate(x) <= 180)).all()


def test_estimate_unique_flags_a_tie_and_gives_it_no_angle():
    r = _restorer()
    x = torch.rand(3, 2, 16, 16)
    x[1] = 0  # blank: every bin scores the same
    angle, unique = r.estimate_unique(x)
    assert unique.tolist() == [True, False, True]
    assert torch.equal(angle, r.estimate(x)) and angle[1] == 0


def test_restore_undoes_the_estimate():
    r = _restorer()
    x = torch.rand(2, 2, 16, 16)
    deg = r.estimate(x)
    # about the circular centroid, the image treated as periodic (the default centre),
    # bicubic (the default interpolation)
    back = rotate(x, -deg, centroid(x), wrap=True, mode="bicubic")
    torch.testing.assert_close(r(x), back)
    torch.testing.assert_close(r.undo(x, deg), back)
    torch.testing.assert_close(r(x), r.undo(x, deg), rtol=0, atol=0)  # forward's one centroid
    assert not torch.allclose(back, rotate(x, -deg, centroid(x), wrap=True))
    r.interpolation = "bilinear"
    torch.testing.assert_close(r(x), rotate(x, -deg, centroid(x), wrap=True))


def test_checkpoint_roundtrip_and_kind_checks(tmp_path):
    r = _restorer()
    save_restorer(r, tmp_path / "rot.pt", meta={"note": "test"})
    loaded = load_restorer(tmp_path / "rot.pt")
    assert isinstance(loaded, RotationRestorer)
    x = torch.rand(3, 2, 16, 16)
    assert torch.equal(loaded.estimate(x), r.estimate(x))
    assert isinstance(load_rotation_restorer(tmp_path / "rot.pt"), RotationRestorer)
    with pytest.raises(CheckpointError, match="translation_restorer"):
        load_translation_restorer(tmp_path / "rot.pt")
    with pytest.raises(CheckpointError, match="rotation_restorer"):
        load_rotation_restorer("mnist")


def test_the_undo_interpolation_is_kept_and_older_checkpoints_stay_bilinear(tmp_path):
    r = _restorer()
    x = torch.rand(3, 2, 16, 16)
    for mode in ("bilinear", "bicubic"):
        r.interpolation = mode
        save_restorer(r, tmp_path / f"{mode}.pt")
        loaded = load_rotation_restorer(tmp_path / f"{mode}.pt")
        assert loaded.interpolation == mode
        assert torch.equal(loaded(x), r(x))
    ckpt = torch.load(tmp_path / "bicubic.pt", weights_only=True)
    del ckpt["polar"]["interpolation"]  # as written before the option
    torch.save(ckpt, tmp_path / "old.pt")
    assert load_rotation_restorer(tmp_path / "old.pt").interpolation == "bilinear"
    ckpt["polar"]["interpolation"] = "lanczos"
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="interpolation"):
        load_rotation_restorer(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="interpolation"):
        RotationRestorer(r.estimator, (2, 16, 16), 4, 12, interpolation="nearest")


def test_bad_inputs():
    r = _restorer()
    with pytest.raises(ValueError, match="channels"):
        r.estimate(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="1-D"):
        RotationRestorer(CanonicalNetwork(8, [1], kernel_size=3, dims=2), (2, 16, 16), 4, 12)


def test_the_centroid_angle_does_not_move_under_any_circular_shift():
    """Integer shifts move the centroid by whole pixels: the polar image, hence the
    angle, is the same up to float64 rounding of the sample positions (all 256 shifts)."""
    r = _restorer()
    x = torch.zeros(1, 2, 16, 16)
    x[..., 4:11, 5:9] = torch.rand(1, 2, 7, 4)
    base = r.estimate(x)
    for i in range(16):
        for j in range(16):
            moved = torch.roll(x, (i, j), (-2, -1))
            torch.testing.assert_close(r.estimate(moved), base, rtol=0, atol=1e-9)


def test_se2_estimates_and_undoes_shift_then_angle_and_round_trips(tmp_path):
    translation = load_translation_restorer("mnist")
    rotation = load_rotation_restorer("mnist-rotation")
    se2 = SE2Restorer(translation, rotation)
    x = torch.zeros(3, 1, 32, 32)
    x[:, :, 10:20, 12:18] = torch.rand(3, 1, 10, 6)
    shift, angle = se2.estimate(x)
    assert shift.shape == (3, 2) and shift.dtype == torch.long
    assert angle.shape == (3,) and angle.dtype == torch.float64
    torch.testing.assert_close(angle, rotation.estimate(translation(x)))
    restored = rotation.undo(translation.undo(x, shift), angle)
    torch.testing.assert_close(se2(x), restored, rtol=0, atol=0)
    torch.testing.assert_close(se2.undo(x, (shift, angle)), restored, rtol=0, atol=0)
    save_restorer(se2, tmp_path / "se2.pt", meta={"note": "test"})
    loaded = load_restorer(tmp_path / "se2.pt")
    assert isinstance(loaded, SE2Restorer)
    torch.testing.assert_close(loaded(x), se2(x), rtol=0, atol=0)
    assert isinstance(load_restorer("mnist-se2"), SE2Restorer)


def test_se2_estimate_unique_flags_a_tied_shift_or_angle_and_misses_it_in_the_rates():
    se2 = load_restorer("mnist-se2")
    x = torch.zeros(3, 1, 32, 32)
    x[0, :, 10:20, 12:18] = torch.rand(1, 10, 6)
    x[2, :, 8:22, 11:17] = torch.rand(1, 14, 6)  # x[1] blank: a tie for shift and angle
    (shift, angle), unique = se2.estimate_unique(x)
    assert unique.tolist() == [True, False, True]
    est_shift, est_angle = se2.estimate(x)
    assert torch.equal(shift, est_shift) and torch.equal(angle, est_angle)
    assert shift[1].tolist() == [0, 0] and angle[1] == 0
    errors = angle_errors(se2, x, torch.zeros(3, dtype=torch.float64))
    assert errors[1].isnan() and not errors[[0, 2]].isnan().any()
    # the blank image, upright, would be "within one bin" of 0 if a tie counted
    assert within_one_bin(se2, x[1:2], torch.zeros(1, dtype=torch.float64)) == 0.0


def test_crisp_quarter_turns_are_exact_and_labelled_with_their_angle():
    images = torch.rand(40, 2, 16, 16, dtype=torch.float64)
    x, theta = images.clone() + 5, torch.full((40,), 7.0, dtype=torch.float64)
    quarter_turns(images, x, theta, 0.5, torch.Generator().manual_seed(0))
    turned = theta != 7.0
    assert 5 < int(turned.sum()) < 35 and (x[~turned] == images[~turned] + 5).all()
    assert set(theta[turned].tolist()) <= {0.0, 90.0, 180.0, 270.0}
    # the same turn as the protocol's rotation (counter-clockwise, about the middle)
    torch.testing.assert_close(x[turned], rotate(images[turned], theta[turned]), atol=1e-9, rtol=0)
    wide = torch.rand(40, 1, 8, 12, dtype=torch.float64)
    theta = torch.full((40,), 7.0, dtype=torch.float64)
    quarter_turns(wide, wide.clone(), theta, 1.0, torch.Generator().manual_seed(0))
    assert set(theta.tolist()) == {0.0, 180.0}  # no quarter turn of a non-square image


def test_se2_refuses_a_3d_translation_restorer():
    with pytest.raises(ValueError, match="2-D images"):
        SE2Restorer(load_translation_restorer("mnist3d"), load_rotation_restorer("mnist-rotation"))


def test_on_a_coloured_canvas_the_restorer_reads_the_distance_and_fills_with_the_canvas(tmp_path):
    black = _restorer()
    b = (1.0, 0.25)
    white = RotationRestorer(black.estimator, (2, 16, 16), 4, 12, upsample=2, background=b)
    level = torch.tensor(b, dtype=torch.float64).view(1, 2, 1, 1)
    x = torch.zeros(3, 2, 16, 16, dtype=torch.float64)
    x[..., 4:11, 5:9] = torch.rand(3, 2, 7, 4, dtype=torch.float64)
    on_canvas = level - x * level.sign()  # ink away from each channel's canvas colour
    with torch.no_grad():
        assert torch.equal(white.polar(on_canvas), black.polar((on_canvas - level).abs()))
        assert torch.equal(white.estimate(on_canvas), black.estimate(x))
        g = torch.tensor([30.0, 45.0, -100.0], dtype=torch.float64)
        turned = white.undo(on_canvas, g)
        # the corners the rotation brings in are canvas; inside, the black undo of x
        assert torch.allclose(turned, level - black.undo(x, g) * level.sign(), atol=1e-12)
        assert torch.allclose(white.undo(level.expand(1, 2, 16, 16), g[:1]), level, atol=1e-12)
    with pytest.raises(ValueError, match="one background value per channel"):
        RotationRestorer(black.estimator, (2, 16, 16), 4, 12, background=(1.0,))
    save_restorer(white, tmp_path / "w.pt")
    loaded = load_rotation_restorer(tmp_path / "w.pt")
    assert loaded.background == b and torch.equal(loaded(on_canvas), white(on_canvas))
    save_restorer(black, tmp_path / "b.pt")
    assert load_rotation_restorer(tmp_path / "b.pt").background is None
