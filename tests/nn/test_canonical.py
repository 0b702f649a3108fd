import pytest
import torch

from equirestore.nn import CanonicalNetwork, count_parameters, network_from_config
from equirestore.testing import assert_equivariant


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_canonical_network_is_equivariant(dims):
    size = (12, 9, 4)[:dims] if dims < 3 else (6, 5, 4)
    net = CanonicalNetwork(2, [4, 3, 1], kernel_size=[3, 5, 3], dilation=[1, 2, 1], dims=dims)
    for m in net.filters():
        torch.nn.init.normal_(m.bias)
    x = torch.randn(2, 2, *size)
    assert_equivariant(net, x, atol=1e-10, max_elements=None)


def test_without_gradients_the_network_computes_the_same_bits_in_place():
    """Without gradients the biases are added and the ReLUs applied in place; the input
    is left as it was."""
    torch.manual_seed(0)
    net = CanonicalNetwork(3, [8, 8, 1], kernel_size=[3, 10, 10], dims=1, method="fft").double()
    x = torch.randn(5, 3, 10, dtype=torch.float64)
    kept = x.clone()
    tracked = net(x)
    with torch.no_grad():
        plain = net(x)
    assert tracked.requires_grad and torch.equal(tracked, plain) and torch.equal(x, kept)


def test_appendix_d_network_shape_and_size():
    # Appendix D: 6 layers, one channel each, sparse 3x3 filters (9 taps), no bias.
    net = CanonicalNetwork(1, [1] * 6, kernel_size=3, dilation=[1, 2, 4, 8, 4, 1], bias=False)
    assert count_parameters(net) == 6 * 9
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_config_round_trip():
    net = CanonicalNetwork(3, [8, 1], kernel_size=[3, 40], dilation=1, bias=False)
    clone = network_from_config(net.config())
    clone.load_state_dict(net.state_dict())
    x = torch.rand(1, 3, 40, 40)
    assert torch.equal(net(x), clone(x))
    with pytest.raises(ValueError, match="unknown network settings"):
        network_from_config({**net.config(), "stride": 2})


def test_bad_configs():
    with pytest.raises(ValueError, match="at least one layer"):
        CanonicalNetwork(1, [])
    with pytest.raises(ValueError, match="kernel_size has 1 entries for 2 layers"):
        CanonicalNetwork(1, [2, 1], kernel_size=[3])
    with pytest.raises(ValueError, match="activation"):
        CanonicalNetwork(1, [1], activation="gelu")
