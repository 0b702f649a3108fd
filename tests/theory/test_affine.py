import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from equirestore.nn import CircularConv
from equirestore.theory import check_affine, check_affine_module


def test_circular_conv_with_constant_bias_is_equivariant():
    conv = CircularConv(2, 3, 3, dims=2, dilation=2).double()
    torch.nn.init.normal_(conv.bias)
    report, aff = check_affine_module(conv, (2, 5, 4))
    assert aff < 1e-12
    assert report.equivariant and report.circular and report.constant_bias
    assert report.filter_violations == [] and report.bias_violations == []


@pytest.mark.parametrize("dims", [1, 3])
def test_other_dimensions(dims):
    conv = CircularConv(1, 2, 3, dims=dims).double()
    report, _ = check_affine_module(conv, (1, *([4] * dims)))
    assert report.equivariant


def test_zero_padding_breaks_the_circular_filter_condition():
    w = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    report, aff = check_affine_module(lambda x: F.conv2d(x, w, padding=1), (1, 5, 5))
    assert aff < 1e-12 and not report.circular and report.constant_bias
    *_, actual, expected = report.filter_violations[0]
    assert actual != expected


def test_per_pixel_bias_breaks_the_constant_bias_condition():
    bias = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    report, _ = check_affine_module(lambda x: x + bias, (1, 4, 4))
    assert report.circular and not report.constant_bias
    assert report.bias_violations and report.max_bias_error > 0


def test_fully_connected_layer_is_not_equivariant():
    lin = torch.nn.Linear(9, 9).double()
    report, _ = check_affine_module(lambda x: lin(x.flatten(1)).view(-1, 1, 3, 3), (1, 3, 3))
    assert not report.circular and not report.equivariant


def test_stride_and_pooling_change_the_grid_or_are_not_affine():
    w = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="same grid"):
        check_affine_module(lambda x: F.conv2d(x, w, padding=1, stride=2), (1, 6, 6))
    with pytest.raises(ValueError, match="same grid"):
        check_affine_module(lambda x: F.max_pool2d(x, 2), (1, 6, 6))
    # pooling brought back to the same grid: probing shows it is not even affine
    _, aff = check_affine_module(
        lambda x: F.interpolate(F.max_pool2d(x, 2), scale_factor=2), (1, 6, 6)
    )
    assert aff > 1e-3


@settings(max_examples=30, deadline=None)
@given(
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    n=st.integers(2, 6),
    seed=st.integers(0, 2**16),
    corrupt=st.booleans(),
)
def test_random_circulant_operators(c_in, c_out, n, seed, corrupt):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(c_out, c_in, n, dtype=torch.float64, generator=g)
    # A_{c',c}[p, q] = w[c', c, (q - p) mod n]
    idx = (torch.arange(n).view(1, n) - torch.arange(n).view(n, 1)) % n
    a = w[:, :, idx].permute(0, 2, 1, 3).reshape(c_out * n, c_in * n)
    b = torch.randn(c_out, 1, dtype=torch.float64, generator=g).expand(c_out, n).reshape(-1)
    if corrupt:
        i = int(torch.randint(0, c_out * n, (1,), generator=g))
        j = int(torch.randint(0, c_in * n, (1,), generator=g))
        a = a.clone()
        a[i, j] += 0.5
    report = check_affine(a, b, (c_in, n), c_out, atol=1e-12)
    assert report.equivariant == (not corrupt)
    if corrupt:
        assert report.filter_violations
