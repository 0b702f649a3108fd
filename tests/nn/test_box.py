import pytest
import torch

from equirestore.groups.translation import shift
from equirestore.nn.box import BoxEstimator, fit_box
from equirestore.nn.features import FeatureConfig, FeatureEstimator
from equirestore.restore import TranslationRestorer, load_restorer, save_restorer
from equirestore.restore.estimator import exact_mask, peaks
from equirestore.restore.evaluation import restore_rates
from equirestore.restore.hub import estimator_from_config
from equirestore.restore.recipe import fit_restorer
from equirestore.testing import assert_equivariant
from tests.restore.helpers import bbox_blobs, centred_blobs


@pytest.mark.parametrize(
    ("shape", "centre"), [((2, 9, 6), (4.25, 2.75)), ((1, 5, 4, 6), (2, 1.5, 2.25))]
)
def test_box_estimator_is_exactly_equivariant_for_every_shift(shape, centre):
    x = (torch.rand(3, *shape) > 0.7).double() * torch.rand(3, *shape).double()
    report = assert_equivariant(BoxEstimator(shape, 0.1, centre), x, max_elements=None, atol=0)
    assert report.exhaustive


def test_the_maximum_is_the_shift_that_centres_the_box_with_the_datasets_rounding():
    x = torch.zeros(2, 1, 16, 16, dtype=torch.float64)
    x[0, 0, 2:6, 9:12] = 0.5  # rows 2..5 (middle 3.5), columns 9..11 (middle 10)
    x[1, 0, 2:6, 9:12] = 0.5
    x[1, 0, 4, 7] = 1 / 255  # one faint pixel widens the box to columns 7..11 at t = 0
    floor = BoxEstimator((1, 16, 16), 0.0, (7.25, 7.25))  # 16-wide canvas, floor rounding
    ceil = BoxEstimator((1, 16, 16), 0.0, (7.75, 7.75))
    # floor: a box of h slices starts at (16 - h) // 2; rows 4 high start at 6 -> shift
    # -4; columns 3 wide at 6 -> shift 3, 5 wide (the faint pixel) at 5 -> shift 2
    assert peaks(floor(x).squeeze(1)).position.tolist() == [[-4 % 16, 3], [-4 % 16, 2]]
    # ceiling: odd widths start one further: 3 wide at 7, 5 wide at 6
    assert peaks(ceil(x).squeeze(1)).position.tolist() == [[-4 % 16, 2], [-4 % 16, 1]]
    faint_ignored = BoxEstimator((1, 16, 16), 0.05, (7.25, 7.25))
    assert peaks(faint_ignored(x).squeeze(1)).position[1].tolist() == [-4 % 16, 3]


def test_blank_images_and_full_axes_are_ties_not_estimates():
    est = BoxEstimator((1, 8, 8), 0.0, (3.25, 3.25))
    blank, stripe = torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
    stripe[0, 0, 3, :] = 1.0  # inked in every column: no horizontal position
    p = peaks(est(torch.cat([blank, stripe]).double()).squeeze(1))
    assert not p.unique.any()


def test_the_tie_break_decides_equally_centred_boxes_by_the_ink_nearest_the_centre():
    # a "j": a 2x2 dot on rows 1..2, three empty rows, a 3-wide stem on rows 6..13; the
    # empty gap inside (rows 3..5) is as long as the one across the edge (14, 15, 0), so
    # under circular shifts the box is as well centred with the stem on rows 1..8
    x = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    x[0, 0, 1:3, 7:9] = 1.0
    x[0, 0, 6:14, 6:9] = 1.0
    box_only = BoxEstimator((1, 16, 16), 0.0, (7.25, 7.25), tie_break=False)
    tied = box_only(x).squeeze(1).flatten(1)
    assert torch.equal(torch.nonzero(tied[0] == tied.max()).flatten(), torch.tensor([0, 5 * 16]))
    p = peaks(BoxEstimator((1, 16, 16), 0.0, (7.25, 7.25))(x).squeeze(1))
    assert p.unique.all() and p.position.tolist() == [[0, 0]]  # the stem's placement
    # measured as the restorer scores it (float64), also from float32 images
    rates = restore_rates(BoxEstimator((1, 16, 16), 0.0, (7.25, 7.25)), x.float())
    assert rates.exact == 1.0 and rates.ties == 0.0


def test_the_tie_break_never_overrides_the_box():
    x = bbox_blobs(200, seed=4).double()
    x = shift(x, torch.randint(-8, 8, (len(x), 2), generator=torch.Generator().manual_seed(3)))
    plain = peaks(BoxEstimator((1, 16, 16), 0.0, (7.25, 7.25), tie_break=False)(x).squeeze(1))
    broken = peaks(BoxEstimator((1, 16, 16), 0.0, (7.25, 7.25))(x).squeeze(1))
    assert plain.unique.all()
    assert torch.equal(plain.position, broken.position)


def test_fit_box_finds_the_rule_and_generalises_to_unseen_boxes():
    train, test = bbox_blobs(300, seed=0), bbox_blobs(300, seed=1)
    est, record = fit_box(train)
    assert record["threshold"] == 0.0 and record["centre"] == [7.25, 7.25]
    assert restore_rates(est, train).exact == 1.0
    assert restore_rates(est, test).exact == 1.0
    moved = shift(
        test, torch.randint(-8, 8, (len(test), 2), generator=torch.Generator().manual_seed(0))
    )
    scores = est(moved.double()).squeeze(1)
    assert exact_mask(est(test.double()).squeeze(1)).all()
    assert (TranslationRestorer(est, (1, 16, 16))(moved) == test).all()
    assert peaks(scores).unique.all()


def test_the_recipe_picks_the_box_for_box_centred_data_and_it_survives_a_checkpoint(tmp_path):
    x = bbox_blobs(200, seed=3)
    restorer, record = fit_restorer(x, "boxes", progress=False)
    assert [c["candidate"] for c in record["candidates"]] == ["moment", "box"]
    assert record["chosen"] == "box" and record["train_rates"]["exact"] == 1.0
    save_restorer(restorer, tmp_path / "r.pt")
    loaded = load_restorer(tmp_path / "r.pt")
    held = bbox_blobs(100, seed=5)
    assert torch.equal(loaded.estimate(held), restorer.estimate(held))
    # centre-of-mass data are not box-centred: the box candidate is not what they get
    _, record = fit_restorer(centred_blobs(100, size=16), "blobs", progress=False)
    assert record["chosen"] == "moment"


def test_the_features_estimator_with_box_profiles_can_be_the_box_estimator():
    x = bbox_blobs(40, seed=6).double()
    moved = shift(x, torch.randint(-8, 8, (len(x), 2), generator=torch.Generator().manual_seed(1)))
    box = BoxEstimator((1, 16, 16), 0.05, (7.25, 6.75), tie_break=False)
    est = FeatureEstimator((1, 16, 16), FeatureConfig(boxes=True)).double()
    est.set_scales(x)
    assert est.set_box(0.05, (7.25, 6.75))
    torch.testing.assert_close(est(moved), box(moved), rtol=0, atol=1e-12)
    assert not est.set_box(0.05, (7.0, 6.75))  # no profile for an integer centre
    assert not FeatureEstimator((1, 16, 16)).set_box(0.05, (7.25, 6.75))  # no box profiles
    assert_equivariant(est, x[:2], max_elements=None, atol=1e-9)


def test_a_box_checkpoint_without_levels_scores_with_the_old_ramp(tmp_path):
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 3:6, 4] = 128 / 255  # one level above t = 0.5
    x[0, 0, 4, 3:6] = 128 / 255  # a cross: its outer rows and columns hold one pixel
    new = BoxEstimator((1, 16, 16), 0.5, (7.25, 7.25))
    config = {k: v for k, v in new.config().items() if k != "levels"}
    old = estimator_from_config(config)
    assert old.levels == 0 and estimator_from_config(new.config()).levels == 255
    assert peaks(new(x.double()).squeeze(1)).position.tolist() == [[-3 % 16, -3 % 16]]
    assert not torch.equal(old(x.double()), new(x.double()))


def test_the_features_cannot_become_a_box_on_another_ramp():
    est = FeatureEstimator((1, 16, 16), FeatureConfig(boxes=True))
    assert not est.set_box(0.05, (7.25, 6.75), levels=0)
    assert est.set_box(0.05, (7.25, 6.75))
