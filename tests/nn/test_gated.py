import pytest
import torch

from equirestore.groups.translation import shift
from equirestore.nn.box import BoxEstimator
from equirestore.nn.features import FeatureEstimator
from equirestore.nn.gated import GatedEstimator, box_extents, fit_frame
from equirestore.restore import TranslationRestorer, load_restorer, save_restorer
from equirestore.restore.estimator import peaks
from equirestore.restore.recipe import RecipeSettings, fit_restorer
from equirestore.testing import assert_equivariant
from tests.restore.helpers import bbox_blobs, randomised_features


def _framed(n: int, size: int = 12, frame: int = 8, seed: int = 0) -> torch.Tensor:
    """Blobs whose box spans ``frame`` rows (even ones) or falls a row short (odd ones),
    on a ``size``-square canvas."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, size, size, dtype=torch.float64)
    top = (size - frame) // 2
    for i in range(n):
        h = frame if i % 2 == 0 else frame - 1
        blob = (torch.rand(h, 4, generator=g) * 255).round() / 255 + 1 / 255
        x[i, 0, top : top + h, 4:8] = blob
    return x


def test_box_extents_are_the_box_across_the_border_and_do_not_move_under_any_shift():
    x = torch.zeros(1, 1, 16, 10, dtype=torch.float64)
    x[0, 0, [1, 14], 3] = 0.5  # rows 14, 15, 0, 1 across the border; one column
    x[0, 0, 7, 3] = 0.5  # an inner row: gaps of 5 and 6 empty rows, the longer is outside
    rows, cols = box_extents(x, 0.0)
    assert rows.tolist() == [16 - 6] and cols.tolist() == [1]
    assert [e.tolist() for e in box_extents(torch.zeros(2, 1, 4, 4), 0.0)] == [[0, 0], [0, 0]]
    for i in range(16):
        for j in range(10):
            moved = shift(x, torch.tensor([[i, j]]))
            assert [e.tolist() for e in box_extents(moved, 0.0)] == [[10], [1]]


@pytest.mark.parametrize("frame", [(8, 6), (5, 4)])
def test_gated_estimator_is_exactly_equivariant_for_every_shift(frame):
    box = BoxEstimator((1, 12, 12), 0.0, (5.75, 5.75)).double()
    est = GatedEstimator(box, randomised_features(FeatureEstimator((1, 12, 12))), frame).double()
    x = _framed(4)
    assert est.gate(x).tolist() == ([True, False] * 2 if frame == (8, 6) else [True] * 4)
    report = assert_equivariant(est, x, max_elements=None, atol=1e-9)
    assert report.exhaustive


def test_the_box_decides_where_it_spans_the_frame_and_the_other_elsewhere():
    box = BoxEstimator((1, 12, 12), 0.0, (5.75, 5.75)).double()
    other = randomised_features(FeatureEstimator((1, 12, 12))).double()
    est = GatedEstimator(box, other, (8, 8)).double()
    x = shift(_framed(6, seed=2), torch.tensor([[2, -3]] * 6))
    with torch.no_grad():
        s, b, o = est(x), box(x), other(x)
    on = est.gate(x)
    assert on.tolist() == [True, False] * 3
    assert torch.equal(s[~on], o[~on])
    assert torch.equal(peaks(s[on].squeeze(1)).position, peaks(b[on].squeeze(1)).position)
    assert (peaks(s[on].squeeze(1)).position == torch.tensor([2, -3 % 12])).all()
    # the other's scores, scaled to [0, 1/16], break the box's ties only
    assert ((s[on] - b[on]) >= 0).all() and ((s[on] - b[on]) <= 1 / 16 + 1e-12).all()


@pytest.mark.parametrize("tie_break", [True, False])
def test_the_scores_are_the_docstring_formula_on_the_public_parts_bit_for_bit(tie_break):
    # forward shares one occupancy pass between the box and the gate: same numbers
    box = BoxEstimator((1, 12, 12), 0.0, (5.75, 5.75), tie_break=tie_break).double()
    other = randomised_features(FeatureEstimator((1, 12, 12))).double()
    est = GatedEstimator(box, other, (8, 8)).double()
    x = shift(_framed(6, seed=4), torch.tensor([[1, 5]] * 6))
    with torch.no_grad():
        g = other(x)
        lo = g.flatten(1).amin(1).view(-1, 1, 1, 1)
        hi = g.flatten(1).amax(1).view(-1, 1, 1, 1)
        expected = torch.where(
            est.gate(x).view(-1, 1, 1, 1), box(x) + (g - lo) * ((1 / 16) / (hi - lo)), g
        )
        assert torch.equal(est(x), expected)


def test_fit_frame_is_the_most_common_extent_and_the_checkpoint_round_trips(tmp_path):
    x = _framed(7)  # four spanning 8 rows, three spanning 7
    box = BoxEstimator((1, 12, 12), 0.0, (5.75, 5.75))
    assert fit_frame(box, x) == (8, 4)
    est = GatedEstimator(box, randomised_features(FeatureEstimator((1, 12, 12))), (8, 4))
    restorer = TranslationRestorer(est, (1, 12, 12))
    save_restorer(restorer, tmp_path / "g.pt")
    loaded = load_restorer(tmp_path / "g.pt")
    assert isinstance(loaded.estimator, GatedEstimator) and loaded.estimator.frame == (8, 4)
    moved = shift(x, torch.tensor([[1, 2]] * 7))
    assert torch.equal(loaded.estimate(moved), restorer.estimate(moved))


def test_the_recipe_tries_the_gated_candidate_after_the_features_and_needs_one_before_it():
    x = bbox_blobs(120, seed=3)
    x[::3] = shift(x[::3], torch.tensor([0, 1]))  # a third not centred by the box rule
    settings = RecipeSettings(candidates=("box", "features", "gated"), steps=20)
    _, record = fit_restorer(x, "mixed", settings, progress=False)
    tried = [c["candidate"] for c in record["candidates"]]
    assert tried == ["box", "features", "gated"]
    gated = record["candidates"][2]
    assert len(gated["frame"]) == 2 and all(1 <= f <= 16 for f in gated["frame"])
    assert gated["parameters"] == record["candidates"][1]["parameters"]
    with pytest.raises(ValueError, match="trained candidate"):
        RecipeSettings(candidates=("box", "gated"))
