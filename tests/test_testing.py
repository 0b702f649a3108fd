import pytest
import torch
import torch.nn.functional as F

from equirestore.nn import CircularConv
from equirestore.testing import assert_translation_equivariant, check_translation_equivariance


def test_passes_on_circular_filter_and_reports_exhaustive():
    x = torch.rand(2, 1, 6, 5)
    r = assert_translation_equivariant(CircularConv(1, 2, 3), x)
    assert r.exhaustive and r.shifts_checked == 30 and r.max_error < 1e-12


def test_fails_on_zero_padded_convolution():
    w = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    with pytest.raises(AssertionError, match="not translation-equivariant"):
        assert_translation_equivariant(lambda t: F.conv2d(t, w, padding=1), torch.rand(1, 1, 8, 8))


def test_fails_on_max_pooling():
    # pool then upsample back onto the same grid: equivariant to even shifts only
    def pool(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(F.max_pool2d(t, 2), scale_factor=2, mode="nearest")

    x = torch.rand(1, 1, 8, 8)
    report = check_translation_equivariance(pool, x)
    assert report.max_error > 0.01
    assert any(v % 2 for v in report.worst_shift)
    with pytest.raises(AssertionError):
        assert_translation_equivariant(pool, x)
    with pytest.raises(ValueError, match="spatial size"):
        assert_translation_equivariant(lambda t: F.max_pool2d(t, 2), x)


def test_random_sample_for_large_grids_is_stated():
    x = torch.rand(1, 1, 80, 80)
    r = assert_translation_equivariant(CircularConv(1, 1, 3), x, max_shifts=50)
    assert not r.exhaustive and r.shifts_checked == 50


def test_per_pixel_bias_is_caught():
    bias = torch.rand(1, 1, 7, 7, dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_translation_equivariant(lambda t: t + bias, torch.rand(1, 1, 7, 7))
