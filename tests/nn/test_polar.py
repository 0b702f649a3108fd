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


@pytest.mark.parametrize("grad", [True, False])  # without gradients: channels last
def test_the_float32_local_layers_are_bitwise_equivariant(grad):
    """They compute in float32 in every dtype; the features they hand on roll bitwise."""
    for net in (_net(), _net().double()):
        polar = torch.rand(64, 10, 12, dtype=torch.float64)
        with torch.set_grad_enabled(grad):
            base = net.local_features(polar)
            assert base.dtype == torch.float32 and base.shape == (64, 3, 5, 12)
            for k in range(12):
                rolled = net.local_features(torch.roll(polar, k, -1))
                assert torch.equal(rolled, torch.roll(base, k, -1))


def test_the_local_layers_give_the_same_bits_with_and_without_gradients():
    """Without gradients the layers after the first read channels last: same bits."""
    torch.manual_seed(0)
    net = PolarNetwork(16, n_radius=16, n_angle=36, local=[16, 4], kernel=3, hidden=8)
    polar = torch.rand(300, 16, 36)
    tracked = net.local_features(polar)
    with torch.no_grad():
        plain = net.local_features(polar)
    assert tracked.requires_grad and torch.equal(tracked, plain)


def test_the_radius_axis_is_zero_padded_not_wrapped():
    """Ink on the outermost ring alone reaches the innermost ring's features only through
    the full-size layers, never through a wrapped local filter."""
    net = PolarNetwork(4, n_radius=4, n_angle=8, local=[2], kernel=3, hidden=3)
    with torch.no_grad():  # positive filters, no bias: anything that wraps would show
        net.local[0].weight.fill_(1.0)
        net.local[0].bias.zero_()
    x = torch.zeros(1, 4, 8)
    x[0, 3] = 1.0  # the outermost ring
    h = net.local_features(x)
    assert h[0, :, 2].gt(0).all()  # the ring next to it saw the ink
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


def test_wrapping_the_angle_axis_once_gives_the_bits_of_wrapping_before_every_layer():
    """Also where the layers read past the axis more than once around (5 bins, 3 layers
    of 5-bin filters: 6 bins on either side)."""
    for n_angle, kernel, local in ((36, 3, [16, 4]), (5, 5, [3, 2, 2])):
        torch.manual_seed(0)
        net = PolarNetwork(8, n_radius=4, n_angle=n_angle, local=local, kernel=kernel, hidden=3)
        polar = torch.rand(40, 8, n_angle)
        h, p = polar.reshape(40, 2, 4, n_angle), kernel // 2
        for conv in net.local:  # the reference: wrap, filter, ReLU, layer by layer
            h = h[..., torch.arange(-p, n_angle + p) % n_angle]
            h = torch.relu(torch.nn.functional.conv2d(h, conv.weight, conv.bias, padding=(p, 0)))
        for grad in (True, False):
            with torch.set_grad_enabled(grad):
                assert torch.equal(net.local_features(polar), h)


def test_with_gradients_the_local_layers_wrap_before_every_layer_for_the_same_gradients():
    """Training's rounding: the gradients are bitwise those of wrapping the angle axis
    before every layer (wrapping once rounds the backward differently)."""
    torch.manual_seed(0)
    net = PolarNetwork(16, n_radius=16, n_angle=36, local=[16, 4], kernel=3, hidden=8)
    polar, up = torch.rand(50, 16, 36), torch.randn(50, 4, 16, 36)
    (net.local_features(polar) * up).sum().backward()
    got = [conv.weight.grad.clone() for conv in net.local]
    net.zero_grad()
    h = polar.reshape(50, 1, 16, 36)
    for conv in net.local:
        h = torch.nn.functional.pad(h, (1, 1, 0, 0), mode="circular")
        h = torch.relu(torch.nn.functional.conv2d(h, conv.weight, conv.bias, padding=(1, 0)))
    (h * up).sum().backward()
    assert all(torch.equal(g, conv.weight.grad) for g, conv in zip(got, net.local, strict=True))
