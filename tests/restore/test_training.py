import math

import pytest
import torch
from torch import nn

from equirestore.nn import CanonicalNetwork
from equirestore.restore import init_estimator, moment_filter, restore_rates, train_estimator
from equirestore.restore.recipe import linear_estimator
from equirestore.restore.training import (
    canonical_centre,
    estimator_loss,
    moment_centre,
    rounded_centre,
    sample_losses,
)
from tests.restore.helpers import blobs_between_pixels, centred_blobs, framed_noise


def test_moment_filter_estimates_the_rounded_centre_of_mass():
    x = centred_blobs(300, size=24, seed=3)
    assert canonical_centre(x) == (12, 12)
    net = linear_estimator((1, 24, 24))
    init_estimator(net, x, "moment")
    rates = restore_rates(net, x)
    assert rates.exact == 1.0 and rates.ties == 0.0


def test_moment_filter_values():
    k = moment_filter((4,), (1,))
    assert torch.allclose(k, -torch.tensor([1.0, 0.0, 1.0, 4.0], dtype=torch.float64) / 16)


def test_half_way_centres_of_mass_are_decided_by_the_datasets_side():
    from equirestore.restore.training import TIE_BREAK

    x = torch.zeros(4, 1, 8, 8)
    x[:, 0, 3:5, 3:5] = 1.0  # centre of mass (3.5, 3.5): half-way on both axes
    x[1:, 0, 3:6, 3:6] = 1.0  # (4, 4): the canonical pixel of the other three
    assert moment_centre(x) == (4 - TIE_BREAK, 4 - TIE_BREAK)  # the tie sits below c
    net = linear_estimator((1, 8, 8)).double()
    init_estimator(net, x, "moment")
    assert restore_rates(net, x).exact == 1.0  # the half-way image too, no tie


def test_training_from_zeros_reaches_strict_maximum_on_framed_images():
    x = framed_noise(256, size=12, border=2)
    net = linear_estimator((3, 12, 12))
    net.set_scales(x)
    report = train_estimator(net, x, epochs=4, batch_size=64, lr=0.05, progress=False)
    assert report.train_exact[-1] == 1.0
    assert restore_rates(net, framed_noise(256, size=12, border=2, seed=1)).exact == 1.0


def test_zero_network_counts_as_all_ties_not_success():
    net = linear_estimator((3, 12, 12))
    init_estimator(net, framed_noise(4), "zeros")
    rates = restore_rates(net, framed_noise(32))
    assert rates.exact == 0.0 and rates.ties == 1.0


def test_training_keeps_best_weights():
    x = centred_blobs(64, size=16)
    net = linear_estimator((1, 16, 16))
    init_estimator(net, x, "moment")
    report = train_estimator(net, x, epochs=2, lr=0.5, progress=False)
    assert restore_rates(net, x).exact == max([*report.train_exact, 1.0])


def test_moment_init_needs_full_size_layer():
    import pytest

    with pytest.raises(ValueError, match="single full-size layer"):
        init_estimator(CanonicalNetwork(1, [1], kernel_size=3), torch.rand(2, 1, 8, 8), "moment")


def test_a_centre_of_mass_between_pixels_is_found_and_restored_exactly():
    x = blobs_between_pixels(300, size=16)
    c = moment_centre(x)
    assert all(abs(v - 7.5) < 0.1 for v in c)
    rounded = linear_estimator((1, 16, 16)).double()
    rounded.set_map_filter(moment_filter((16, 16), canonical_centre(x)).expand(1, 16, 16))
    assert restore_rates(rounded, x).exact < 0.5  # the rounded centre splits the images
    net = linear_estimator((1, 16, 16)).double()
    init_estimator(net, x, "moment")
    rates = restore_rates(net, x)
    assert rates.exact == 1.0 and rates.ties == 0.0
    assert restore_rates(net, blobs_between_pixels(300, size=16, seed=1)).exact == 1.0


def _two_pixel_images(centres: list[float], size: int = 16) -> torch.Tensor:
    """One image per centre of mass along the columns (rows at 8): ink split between
    the two pixels around it."""
    x = torch.zeros(len(centres), 1, size, size, dtype=torch.float64)
    for i, c in enumerate(centres):
        a = int(c)
        x[i, 0, 8, a], x[i, 0, 8, a + 1] = 1 - (c - a), c - a
    return x


def test_a_few_outliers_do_not_move_a_rounded_centre_off_its_pixel():
    clear = [7.6 + 0.8 * k / 299 for k in range(300)]  # rounded to 8, clear of both edges
    x = _two_pixel_images([*clear, 8.55, 8.56])  # two outliers past the edge: 0.66%
    assert moment_centre(x)[1] == rounded_centre(x)[1]
    more = _two_pixel_images([*clear, *[8.55] * 4])  # 1.3% would move it
    assert abs(moment_centre(more)[1] - 8.075) < 1e-9


def test_the_hinge_is_the_margin_left_to_the_runner_up():
    # logits z = T |N| x / ||x||_1 for the identity "network"; |N| = 4, ||x||_1 = 1
    x = torch.tensor([[0.4, 0.3, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1], [0.1, 0.6, 0.2, 0.1]])
    x.requires_grad_(True)
    temperature = 1.0
    z = temperature * 4 * x
    margin = math.log(9 * 3)
    hinge = sample_losses(nn.Identity(), x, temperature, "hinge")
    gap = z[:, 0] - torch.stack([z[0, 1], z[1, 1:].max(), z[2, 1]])
    torch.testing.assert_close(hinge, torch.relu(margin - gap))
    assert hinge[1] > 0 and hinge[0] > hinge[1]
    # far past the margin the loss is exactly 0 and pushes nothing
    wide = sample_losses(nn.Identity(), x, 100.0, "hinge")
    assert wide[0] == 0 and wide[1] == 0 and wide[2] > 0
    wide.sum().backward()
    assert x.grad is not None and x.grad[:2].abs().sum() == 0
    # the cross-entropy per image sums to the batch loss
    ce = sample_losses(nn.Identity(), x.detach(), temperature)
    torch.testing.assert_close(ce.sum() / 3, estimator_loss(nn.Identity(), x.detach(), 1.0))


def test_bad_objective_and_mining_are_refused():
    net, x = linear_estimator((1, 8, 8)), framed_noise(4, size=8)[:, :1]
    with pytest.raises(ValueError, match="objective must be one of"):
        train_estimator(net, x, epochs=1, objective="magic", progress=False)
    with pytest.raises(ValueError, match="soft targets: cross-entropy only"):
        train_estimator(
            net, x, epochs=1, objective="hinge", targets=torch.ones(4, 64) / 64, progress=False
        )
    with pytest.raises(ValueError, match="mining needs the index-0 target"):
        train_estimator(net, x, epochs=1, mining=2, targets=torch.ones(4, 64) / 64, progress=False)
    with pytest.raises(ValueError, match="mining >= 0"):
        train_estimator(net, x, epochs=1, mining=-1, progress=False)
