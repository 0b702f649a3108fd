"""PolarNetwork: strictly equivariant to rolling the polar grid by whole bins."""

import pytest
import torch

from equirestore.nn.polar import PolarNetwork
from equirestore.testing import assert_equivariant


def _net() -> PolarNetwork:
    torch.manual_seed(0)
    return PolarNetwork(2 * 5, n_radius=5, n_angle=12, local=[6, 3], kernel=3, hidden=7)


def test_every_roll_of_the_angle_axis_rolls_the_output_exactly_in_float64():
    net = _net().double()
    polar = torch.rand(4, 10, 12, dtype=torch.float64)
    report = assert_equivariant(net, polar, group="polar", atol=1e-12)
    assert report.exhaustive and report.elements_checked == 12
    assert net(polar).shape == (4, 1, 12) and net(polar).dtype == torch.float64


def test_the_float32_local_layers_are_bitwise_equivariant():
    """They compute in float32 in every dtype; the features they hand on roll bitwise."""
    net = _net()
    polar = torch.rand(64, 10, 12)

    def local(x):
        h = x.reshape(len(x), 2, 5, 12)
        for conv in net.local:
            h = torch.relu(
                torch.nn.functional.conv2d(
                    torch.nn.functional.pad(h, (1, 1, 0, 0), mode="circular"),
                    conv.weight,
                    conv.bias,
                    padding=(1, 0),
                )
            )
        return h

    base = local(polar)
    for k in range(12):
        assert torch.equal(local(torch.roll(polar, k, -1)), torch.roll(base, k, -1))


def test_the_radius_axis_is_zero_padded_not_wrapped():
    """Ink on the outermost ring alone reaches the innermost ring's features only through
    the full-size layers, never through a wrapped local filter."""
    torch.manual_seed(0)
    net = PolarNetwork(4, n_radius=4, n_angle=8, local=[2], kernel=3, hidden=3)
    x = torch.zeros(1, 4, 8)
    x[0, 3] = 1.0  # the outermost ring
    h = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x.reshape(1, 1, 4, 8), (1, 1, 0, 0), mode="circular"),
        net.local[0].weight,
        None,
        padding=(1, 0),
    )
    assert torch.equal(h[0, :, 0], torch.zeros(2, 8))  # the innermost ring saw nothing


def test_bad_arguments_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="must divide"):
        PolarNetwork(10, n_radius=3, n_angle=12, local=[4])
    with pytest.raises(ValueError, match="odd"):
        PolarNetwork(10, n_radius=5, n_angle=12, local=[4], kernel=4)
    with pytest.raises(ValueError, match="local layer"):
        PolarNetwork(10, n_radius=5, n_angle=12, local=[])
    with pytest.raises(ValueError, match="angular bins"):
        _net()(torch.rand(1, 10, 13))
