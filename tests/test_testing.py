import pytest
import torch
import torch.nn.functional as F

from equirestore.nn import CircularConv
from equirestore.testing import assert_equivariant, check_equivariance


def test_passes_on_circular_filter_and_reports_exhaustive():
    x = torch.rand(2, 1, 6, 5)
    r = assert_equivariant(CircularConv(1, 2, 3), x)
    assert r.exhaustive and r.elements_checked == 30 and r.max_error < 1e-12


def test_fails_on_zero_padded_convolution():
    w = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    with pytest.raises(AssertionError, match="not translation-equivariant"):
        assert_equivariant(lambda t: F.conv2d(t, w, padding=1), torch.rand(1, 1, 8, 8))


def test_fails_on_max_pooling():
    # pool then upsample back onto the same grid: equivariant to even shifts only
    def pool(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(F.max_pool2d(t, 2), scale_factor=2, mode="nearest")

    x = torch.rand(1, 1, 8, 8)
    report = check_equivariance(pool, x)
    assert report.max_error > 0.01
    assert any(v % 2 for v in report.worst_element)
    with pytest.raises(AssertionError):
        assert_equivariant(pool, x)
    with pytest.raises(ValueError, match="same grid"):
        assert_equivariant(lambda t: F.max_pool2d(t, 2), x)


def test_random_sample_for_large_grids_is_stated():
    x = torch.rand(1, 1, 80, 80)
    r = assert_equivariant(CircularConv(1, 1, 3), x, max_elements=50)
    assert not r.exhaustive and r.elements_checked == 50


def test_per_pixel_bias_is_caught():
    bias = torch.rand(1, 1, 7, 7, dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_equivariant(lambda t: t + bias, torch.rand(1, 1, 7, 7))


@pytest.mark.parametrize("group", ["p4", "p4m"])
def test_p4_groups_pass_on_group_convolutions_and_fail_on_a_planar_one(group):
    from equirestore.groups.p4 import Group
    from equirestore.nn.gcnn import LiftingConv

    lift = LiftingConv(Group(group == "p4m"), 2, 3, 3)
    x = torch.rand(2, 2, 6, 6)
    r = assert_equivariant(lift, x, group=group, output="regular")
    assert r.exhaustive and r.elements_checked == (8 if group == "p4m" else 4)
    assert r.max_error < 1e-12
    planar = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")
    with pytest.raises(AssertionError, match=f"not {group}-equivariant"):
        assert_equivariant(planar, x, group=group)


def test_p4_invariant_output_and_wrong_layout():
    x = torch.rand(1, 1, 6, 6)
    r = assert_equivariant(lambda t: t.sum((2, 3)), x, group="p4m", output="invariant")
    assert r.max_error < 1e-12
    with pytest.raises(AssertionError, match="not p4-equivariant"):
        assert_equivariant(lambda t: t[:, :, 0, :2], x, group="p4", output="invariant")
    with pytest.raises(ValueError, match="square images"):
        assert_equivariant(lambda t: t, torch.rand(1, 1, 6, 5), group="p4")
    with pytest.raises(ValueError, match="needs group 'p4'"):
        assert_equivariant(lambda t: t, x, output="regular")


def test_polar_rolls_only_the_angle_axis():
    conv = CircularConv(4, 1, 9, dims=1)
    polar = torch.rand(2, 4, 9)
    r = assert_equivariant(conv, polar, group="polar")
    assert r.exhaustive and r.elements_checked == 9
    # mixing the radius channels in a position-dependent way breaks it
    weight = torch.rand(9, dtype=torch.float64)
    with pytest.raises(AssertionError, match="not polar-equivariant"):
        assert_equivariant(lambda t: t * weight, polar, group="polar")
    # a 2-D image is rolled along its last axis only: rows may mix freely
    assert_equivariant(lambda t: t.flip(-2), torch.rand(1, 1, 3, 5), group="polar")
