import pytest
import torch

from equirestore.groups.translation import shift
from equirestore.testing import assert_equivariant
from equirestore.theory.constructive import (
    NotAperiodicError,
    binary_decomposition,
    construct_restorer,
    quantize,
)


def _quantized(m: int, shape: tuple[int, ...], bits: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2**bits, (m, *shape), generator=g).double() / (2**bits - 1)


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8])
def test_bit_layers_compute_the_binary_decomposition(bits):
    levels = torch.arange(2**bits).double().view(1, 1, -1) / (2**bits - 1)
    x = torch.cat([levels, levels.flip(-1)], 1)  # 2 channels, every level
    net, _ = construct_restorer(x, bits)
    out = x
    for layer in list(net.layers)[: 2 * bits]:  # n (conv, relu) pairs
        out = layer(out)
    torch.testing.assert_close(
        out, binary_decomposition(quantize(x, bits), bits), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize(
    "shape,bits", [((1, 16), 3), ((2, 7), 2), ((1, 6, 6), 2), ((3, 5, 5), 1), ((1, 4, 4, 4), 2)]
)
def test_constructed_restorer_is_strict_on_every_sample_and_restores(shape, bits):
    x = _quantized(40, shape, bits)
    net, rep = construct_restorer(x, bits)
    assert rep.strict and rep.min_margin > 0.99
    assert rep.depth == rep.depth_bound == bits + 2
    assert rep.width <= rep.width_bound
    dims = len(shape) - 1
    g = torch.Generator().manual_seed(1)
    s = torch.stack([torch.randint(0, n, (40,), generator=g) for n in shape[1:]], 1)
    with torch.no_grad():
        scores = net(shift(x, s)).flatten(1)
    est = torch.stack(torch.unravel_index(scores.argmax(1), shape[1:]), 1)
    assert torch.equal(est, s)
    assert_equivariant(net, x[:2], max_elements=64 if dims == 3 else 4096)


def test_refuses_a_dataset_that_is_not_aperiodic():
    x = _quantized(10, (1, 5, 5), 2)
    x[6] = shift(x[2:3], torch.tensor([1, 3]))[0]
    with pytest.raises(NotAperiodicError, match=r"x\[6\] == shift\(x\[2\], \(1, -2\)\)"):
        construct_restorer(x, 2)


def test_refuses_unquantized_values():
    with pytest.raises(ValueError, match="not quantized to 4 levels"):
        construct_restorer(torch.rand(3, 1, 5), 2)
