import pytest
import torch

from equirestore.checkpoint import CheckpointError
from equirestore.groups.rotation import rotate
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.restore.hub import (
    load_restorer,
    load_rotation_restorer,
    load_translation_restorer,
    save_restorer,
)
from equirestore.restore.rotation import RotationRestorer
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


def test_restore_undoes_the_estimate():
    r = _restorer()
    x = torch.rand(2, 2, 16, 16)
    deg = r.estimate(x)
    torch.testing.assert_close(r(x), rotate(x, -deg))
    torch.testing.assert_close(r.undo(x, deg), rotate(x, -deg))


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


def test_bad_inputs():
    r = _restorer()
    with pytest.raises(ValueError, match="channels"):
        r.estimate(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="1-D"):
        RotationRestorer(CanonicalNetwork(8, [1], kernel_size=3, dims=2), (2, 16, 16), 4, 12)
