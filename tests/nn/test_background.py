import pytest
import torch

from equirestore.groups.translation import shift
from equirestore.nn.background import BackgroundEstimator, away_from, border, fit_background
from equirestore.nn.box import BoxEstimator, fit_box
from equirestore.nn.features import FeatureEstimator
from equirestore.restore import TranslationRestorer, load_restorer, save_restorer
from equirestore.restore.evaluation import restore_rates
from equirestore.restore.recipe import fit_restorer, settings_with
from equirestore.testing import assert_equivariant
from tests.restore.helpers import bbox_blobs, randomised_features


def _inverted(x: torch.Tensor) -> torch.Tensor:
    """Dark strokes on a white canvas, on the 8-bit grid (255 - k levels)."""
    return ((1 - x) * 255).round() / 255


def test_the_estimator_is_its_inner_one_on_the_distance_and_equivariant_for_every_shift():
    inner = randomised_features(FeatureEstimator((2, 10, 8))).double()
    est = BackgroundEstimator([0.75, 0.25], inner).double()
    x = torch.rand(3, 2, 10, 8, dtype=torch.float64)
    b = torch.tensor([0.75, 0.25], dtype=torch.float64).view(1, 2, 1, 1)
    with torch.no_grad():
        assert torch.equal(est(x), inner((x - b).abs()))
    report = assert_equivariant(est, x, max_elements=None, atol=1e-9)
    assert report.exhaustive and report.elements_checked == 80
    with pytest.raises(ValueError, match="one background value per channel"):
        BackgroundEstimator([1.0], inner)


def test_fit_background_reads_the_border_and_leaves_black_or_busy_borders_alone():
    x = bbox_blobs(50, seed=0)
    assert fit_background(x) is None  # black: nothing to change
    white = _inverted(x)
    assert fit_background(white) == [1.0]
    grey = x.clone()
    grey[grey == 0] = 100 / 255  # a grey card; the value is one of the pixels' own
    (level,) = fit_background(grey)
    assert level == float(torch.tensor(100 / 255))
    assert (away_from(grey, [level])[x == 0] == 0).all()
    noise = torch.rand(50, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert fit_background(noise) is None  # no colour holds half the border
    vol = torch.ones(4, 1, 6, 6, 6)
    vol[:, :, 1:-1, 1:-1, 1:-1] = 0
    assert len(border(vol)) == 4 * (6**3 - 4**3) and fit_background(vol) == [1.0]


def test_the_recipe_restores_dark_on_white_images_as_it_does_light_on_black():
    x, held = bbox_blobs(200, seed=0), bbox_blobs(100, seed=1)
    white, held_white = _inverted(x), _inverted(held)
    # without the distance the box has no background to find
    assert fit_box(white)[1]["tried"][0]["strict"] < 0.5
    settings = settings_with(candidates=("moment", "box"))
    restorer, record = fit_restorer(white, "white", settings, progress=False)
    assert record["background"] == [1.0] and record["chosen"] == "box"
    assert record["train_rates"]["exact"] == 1.0 and record["holdout_rates"]["exact"] == 1.0
    assert restore_rates(restorer.estimator, held_white).exact == 1.0
    _, plain = fit_restorer(x, "black", settings, progress=False)
    assert plain["background"] is None and plain["train_rates"] == record["train_rates"]


def test_the_checkpoint_round_trips(tmp_path):
    est = BackgroundEstimator([1.0], BoxEstimator((1, 16, 16), 0.0, (7.25, 7.25)))
    restorer = TranslationRestorer(est, (1, 16, 16))
    save_restorer(restorer, tmp_path / "w.pt")
    loaded = load_restorer(tmp_path / "w.pt")
    assert isinstance(loaded.estimator, BackgroundEstimator)
    assert loaded.estimator.config() == est.config()
    moved = shift(_inverted(bbox_blobs(20, seed=2)), torch.tensor([[3, -5]] * 20))
    assert torch.equal(loaded.estimate(moved), restorer.estimate(moved))
    assert (loaded.estimate(moved) == torch.tensor([3, -5])).all()
