import pytest
import torch

from equirestore.nn.circular import circular_conv
from equirestore.nn.features import FeatureConfig, FeatureEstimator, ShiftFeatures
from equirestore.testing import assert_equivariant


def _randomised(est: FeatureEstimator) -> FeatureEstimator:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in est.parameters():
            p.normal_()
    return est


@pytest.mark.parametrize(("hidden", "width"), [(0, 0), (3, 0), (0, 4), (3, 4)])
def test_feature_estimator_is_exactly_equivariant_for_every_shift(hidden, width):
    est = _randomised(FeatureEstimator((2, 8, 6), hidden=hidden, width=width))
    est.set_scales(torch.rand(4, 2, 8, 6))
    x = (torch.rand(2, 2, 8, 6) * 255).round() / 255
    report = assert_equivariant(est, x, max_elements=None, atol=1e-9)
    assert report.exhaustive and report.elements_checked == 48


@pytest.mark.parametrize("shape", [(1, 12), (1, 5, 5, 4)])
def test_one_and_three_dimensional_grids(shape):
    est = _randomised(FeatureEstimator(shape))
    assert_equivariant(est, torch.rand(2, *shape), max_elements=None, atol=1e-9)


def test_width_is_a_hidden_layer_of_full_size_filters():
    # the score at shift s is z_0 + sum_k v_k relu(z_k + b_k), z the full-size filters'
    # responses: evaluated here on the image moved back by s, one shift at a time
    config = FeatureConfig(thresholds=(), windows=(), edges=False, mass=False, raw=True)
    est = _randomised(FeatureEstimator((1, 5, 4), config, width=3)).double()
    x = torch.rand(1, 1, 5, 4, dtype=torch.float64)
    out = est(x)
    w = est.map_kernel.detach() * est.map_scale.double()[0]
    anchor = (2, 1)  # circular_conv reads offset u - (k - 1) // 2
    for s in [(0, 0), (1, 0), (3, 2), (4, 3)]:
        moved = torch.roll(x[0, 0], (-s[0], -s[1]), (0, 1))
        z = (torch.roll(w[:, 0], (-anchor[0], -anchor[1]), (1, 2)) * moved).sum((1, 2))
        want = z[0] + (est.width_out * torch.relu(z[1:] + est.width_bias)).sum()
        torch.testing.assert_close(out[0, 0][s], want.detach())


def test_set_box_keeps_the_hidden_filters_and_makes_the_score_the_box():
    est = FeatureEstimator((1, 8, 8), FeatureConfig(boxes=True), width=2).double()
    est.set_scales(torch.rand(4, 1, 8, 8, dtype=torch.float64))
    hidden = est.map_kernel[1:].detach().clone()
    assert hidden.abs().sum() > 0
    assert est.set_box(0.0, (3.75, 3.75))
    assert torch.equal(est.map_kernel[1:].detach(), hidden)
    assert est.width_out is not None and not est.width_out.any()
    box = FeatureEstimator((1, 8, 8), FeatureConfig(boxes=True)).double()
    box.set_scales(torch.rand(4, 1, 8, 8, dtype=torch.float64))
    assert box.set_box(0.0, (3.75, 3.75))
    x = (torch.rand(3, 1, 8, 8, dtype=torch.float64) * 255).round() / 255
    x[:, :, :2] = 0
    assert torch.equal(est(x).flatten(1).argmax(1), box(x).flatten(1).argmax(1))


def test_width_survives_the_checkpoint_config():
    from equirestore.restore.hub import estimator_from_config

    est = _randomised(FeatureEstimator((1, 6, 6), width=3))
    est.set_scales(torch.rand(4, 1, 6, 6))
    again = estimator_from_config(est.config())
    again.load_state_dict(est.state_dict())
    x = torch.rand(2, 1, 6, 6)
    assert again.width == 3 and torch.equal(again(x), est(x))
    legacy = {k: v for k, v in est.config().items() if k != "width"}
    assert estimator_from_config(legacy).width == 0


def test_occupancy_and_hull_read_the_bounding_box():
    feats = ShiftFeatures(1, 2, FeatureConfig(thresholds=(0.0,), windows=(3,), edges=False))
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 2, 4] = 1 / 255  # the faintest 8-bit ink counts
    x[0, 0, 6, 5] = 0.5  # rows 3..5 are empty: a gap inside the bounding box
    _, (rows, cols) = feats(x.double())
    occupancy, hull, mass = rows[0]
    assert occupancy.tolist() == [0, 0, 1, 0, 0, 0, 1] + [0] * 9
    # first to last inked row: the inner gap (3 <= W rows) is filled, the outer one (11 > 2W)
    # is not
    assert hull.tolist() == [0, 0, 1, 1, 1, 1, 1] + [0] * 9
    assert cols[0, 0].tolist() == [0, 0, 0, 0, 1, 1] + [0] * 10
    torch.testing.assert_close(mass, x[0, 0].double().sum(1))


def test_blank_threshold_sees_one_8_bit_level_in_one_channel():
    feats = ShiftFeatures(3, 2, FeatureConfig(thresholds=(0.0,), windows=(), edges=False))
    x = torch.zeros(1, 3, 4, 4, dtype=torch.float64)
    x[0, 2, 1, 1] = 1 / 255
    _, (rows, _) = feats(x)
    assert rows[0, 0].tolist() == [0, 1, 0, 0]


def test_set_map_filter_is_the_linear_correlation():
    est = FeatureEstimator((2, 6, 6))
    est.set_scales(torch.rand(3, 2, 6, 6))
    filt = torch.randn(2, 6, 6, dtype=torch.float64)
    est = est.double()
    est.set_map_filter(filt)
    x = torch.rand(3, 2, 6, 6, dtype=torch.float64)
    # f(x)(p) = sum_o filt[o] x[p + o]: the correlation with the filter centred at offset 0
    anchor = (2, 2)
    expected = circular_conv(x, torch.roll(filt, anchor, (1, 2)).unsqueeze(0), method="direct")
    torch.testing.assert_close(est(x), expected)


def test_config_roundtrip_and_errors():
    cfg = FeatureConfig(thresholds=(0.0, 0.3), windows=(2,), edges=False)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown feature settings"):
        FeatureConfig.from_dict({"colour": 1})
    with pytest.raises(ValueError, match="no features"):
        FeatureEstimator(
            (1, 4, 4), FeatureConfig(thresholds=(), windows=(), edges=False, mass=False, raw=False)
        )
    with pytest.raises(ValueError, match="raw=True"):
        FeatureEstimator((1, 4, 4), FeatureConfig(raw=False)).set_map_filter(torch.zeros(1, 4, 4))


@pytest.mark.parametrize("channels", [1, 3])
def test_every_8_bit_pixel_is_ink_or_not_at_every_threshold(channels):
    thresholds = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 127 / 255)
    feats = ShiftFeatures(
        channels,
        1,
        FeatureConfig(thresholds=thresholds, windows=(), edges=False, mass=False, raw=False),
    )
    # every value the channel mean of 8-bit pixels takes, one pixel per slice
    levels = torch.arange(255 * channels + 1, dtype=torch.float64)
    x = torch.zeros(1, channels, len(levels), dtype=torch.float64)
    for c in range(channels):
        x[0, c] = (levels - c).div(channels).ceil().clamp(0, 255) / 255
    mean = x.mean(1)[0]
    _, (occupancy,) = feats(x)
    for i, t in enumerate(thresholds):
        # a pixel is ink exactly when its mean exceeds t, wholly (no half-inked level)
        expected = (mean * 255 * channels > t * 255 * channels + 1e-6).double()
        assert torch.equal(occupancy[0, i], expected), t


def test_checkpoints_without_levels_keep_the_ramp_they_were_trained_with():
    legacy = FeatureConfig.from_dict({"thresholds": [0.5], "windows": [], "edges": False})
    assert legacy.levels == 0 and FeatureConfig().levels == 255
    x = torch.zeros(1, 1, 4, dtype=torch.float64)
    x[0, 0, 1] = 128 / 255  # one level above the threshold: half ink under the old ramp
    _, (old,) = ShiftFeatures(1, 1, legacy)(x)
    _, (new,) = ShiftFeatures(1, 1, FeatureConfig(thresholds=(0.5,), windows=(), edges=False))(x)
    assert old[0, 0].tolist() == pytest.approx([0, 0.5, 0, 0], abs=1e-9)
    assert new[0, 0].tolist() == [0, 1, 0, 0]
