import itertools

import pytest
import torch
import torch.nn.functional as F

from equirestore.groups.translation import shift
from equirestore.nn import CircularConv, circular_conv, fold_kernel
from equirestore.testing import assert_equivariant


@pytest.mark.parametrize(
    ("dims", "size", "k", "d"),
    [
        (1, (11,), 3, 1),
        (1, (8,), 5, 2),
        (2, (6, 7), 3, 1),
        (2, (8, 8), 3, 3),
        (2, (5, 6), 4, 1),
        (3, (4, 5, 3), 3, 1),
        (3, (4, 4, 4), 2, 2),
    ],
)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_circular_filter_is_equivariant_for_every_shift(dims, size, k, d, method):
    conv = CircularConv(3, 2, k, dims=dims, dilation=d, bias=True, method=method).double()
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    report = assert_equivariant(conv, x, atol=1e-12, max_elements=None)
    assert report.exhaustive and report.elements_checked == torch.Size(size).numel()


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_direct_and_fft_agree(dims):
    size = (7, 6, 5)[:dims]
    w = torch.randn(4, 2, *([3] * dims), dtype=torch.float64)
    x = torch.randn(3, 2, *size, dtype=torch.float64)
    a = circular_conv(x, w, dilation=2, method="direct")
    b = circular_conv(x, w, dilation=2, method="fft")
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_direct_matches_explicit_definition():
    # y[p] = sum_u w[u] x[(p + d*u - d*(k-1)//2) mod N]  (Eq. 3 convention)
    n, k, d = 9, 3, 2
    x = torch.randn(1, 1, n, dtype=torch.float64)
    w = torch.randn(1, 1, k, dtype=torch.float64)
    y = circular_conv(x, w, dilation=d, method="direct")
    a = d * (k - 1) // 2
    for p in range(n):
        ref = sum(w[0, 0, u] * x[0, 0, (p + d * u - a) % n] for u in range(k))
        assert torch.isclose(y[0, 0, p], ref, atol=1e-12)


def test_direct_is_bitwise_equivariant_in_float32():
    conv = CircularConv(1, 4, 3, dims=2, method="direct")
    x = torch.rand(3, 1, 10, 10)
    y = conv(x)
    for s in itertools.product(range(10), range(10)):
        st = torch.tensor(s)
        assert torch.equal(conv(shift(x, st)), shift(y, st))


def test_kernel_wider_than_grid_folds_onto_itself():
    # A 7-tap kernel on a 4-periodic grid equals the folded 4-tap full-size kernel.
    w = torch.randn(1, 1, 7, dtype=torch.float64)
    x = torch.randn(2, 1, 4, dtype=torch.float64)
    y = circular_conv(x, w, method="direct")  # falls back to the FFT
    folded = fold_kernel(w, (4,), (1,))
    ref = torch.stack(
        [(folded[0, 0] * torch.roll(x[:, 0], -p, dims=-1)).sum(-1) for p in range(4)], -1
    )
    torch.testing.assert_close(y[:, 0], ref, rtol=0, atol=1e-12)
    assert_equivariant(lambda t: circular_conv(t, w), x, atol=1e-12, max_elements=None)


def test_bad_shapes_are_explained():
    with pytest.raises(ValueError, match="spatial axes"):
        circular_conv(torch.randn(2, 3), torch.randn(1, 3, 3))
    with pytest.raises(ValueError, match="input channels"):
        circular_conv(torch.randn(1, 2, 5, 5), torch.randn(1, 3, 3, 3))
    with pytest.raises(ValueError, match="dims"):
        CircularConv(1, 1, 3, dims=4)


def test_zero_padding_is_not_equivariant_but_circular_padding_is():
    w = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_equivariant(lambda t: F.conv2d(t, w, padding=1), x)
    assert_equivariant(lambda t: circular_conv(t, w), x, atol=1e-12)


def test_cached_kernel_spectrum_follows_weight_changes():
    conv = CircularConv(2, 3, 8, dims=2, bias=False).double()  # full-size: FFT path
    x = torch.rand(4, 2, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        first = conv(x)
        assert torch.equal(conv(x), first)  # served from the cache
        conv.weight.mul_(2)  # in-place change bumps the version counter
        torch.testing.assert_close(conv(x), 2 * first)
        conv.load_state_dict({"weight": torch.zeros_like(conv.weight)})
        assert conv(x).abs().max() == 0
    with torch.inference_mode():
        y = conv(x)
    y2 = conv(x)  # grad enabled, weight requires grad: no cache, gradients flow
    y2.sum().backward()
    assert conv.weight.grad is not None and torch.equal(y, y2.detach())


def test_layers_built_under_inference_mode_work():
    with torch.inference_mode():
        conv = CircularConv(1, 1, 8, dims=2, bias=False)
        x = torch.rand(2, 1, 8, 8)
        torch.testing.assert_close(conv(x), circular_conv(x, conv.weight, method="direct"))


class _Layer(torch.nn.Module):
    def __init__(self, weight, dilation):
        super().__init__()
        self.weight, self.dilation = torch.nn.Parameter(weight), dilation

    def forward(self, x):
        return circular_conv(x, self.weight, self.dilation)


@pytest.mark.parametrize("matrix_limit", [0, 2**40])  # gathered taps / circulant matrix
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "dilation"),
    [
        ((2, 3, 11), (4, 3, 5), 2),
        ((2, 2, 9, 7), (3, 2, 3, 3), 1),
        ((1, 2, 5, 4, 6), (2, 2, 3, 1, 3), 1),
    ],
)
def test_the_exported_layer_computes_the_eager_one(
    monkeypatch, matrix_limit, x_shape, w_shape, dilation
):
    import equirestore.nn.circular as circular

    monkeypatch.setattr(circular, "EXPORT_MATRIX", matrix_limit)
    g = torch.Generator().manual_seed(0)
    layer = _Layer(torch.randn(w_shape, generator=g, dtype=torch.float64), dilation)
    x = torch.randn(x_shape, generator=g, dtype=torch.float64)
    program = torch.export.export(layer, (x,))
    torch.testing.assert_close(program.module()(x), layer(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "c_in, c_out, setting",
    [
        (4, 5, None),  # elementwise, the whole batch at once
        (4, 5, ("MIX_BYTES", 1200)),  # elementwise, 2 samples per piece (560 bytes each)
        (64, 64, None),  # matrix products, one padded piece
        (64, 64, ("MIX_PIECE", 16)),  # matrix products, several pieces
    ],
)
def test_fft_gives_every_sample_the_bits_it_gets_alone_in_any_batch(
    c_in, c_out, setting, monkeypatch
):
    from equirestore.nn import circular

    if setting is not None:
        monkeypatch.setattr(circular, *setting)
    torch.manual_seed(0)
    x = torch.randn(40, c_in, 12, dtype=torch.float64)
    w = torch.randn(c_out, c_in, 12, dtype=torch.float64)
    whole = circular_conv(x, w, method="fft")
    alone = torch.cat([circular_conv(x[i : i + 1], w, method="fft") for i in range(40)])
    assert torch.equal(alone, whole)
    for trial in range(5):  # each sample among others, at another place in its piece
        order = torch.randperm(40)
        others = torch.randn(40, c_in, 12, dtype=torch.float64)
        n = 7 + 5 * trial
        mixed = torch.cat([x[order[:n]], others[: 3 + trial]])
        assert torch.equal(circular_conv(mixed, w, method="fft")[:n], whole[order[:n]])
    torch.testing.assert_close(whole, circular_conv(x, w, method="direct"), rtol=0, atol=1e-10)


@pytest.mark.parametrize("c_in, c_out", [(4, 5), (64, 64)])  # elementwise; matrix products
def test_fft_gradients_are_those_of_the_direct_convolution(c_in, c_out):
    torch.manual_seed(0)
    x = torch.randn(6, c_in, 12, dtype=torch.float64, requires_grad=True)
    w = torch.randn(c_out, c_in, 12, dtype=torch.float64, requires_grad=True)
    up = torch.randn(6, c_out, 12, dtype=torch.float64)
    grads = {}
    for method in ("fft", "direct"):
        (circular_conv(x, w, method=method) * up).sum().backward()
        grads[method] = (x.grad.clone(), w.grad.clone())
        x.grad, w.grad = None, None
    for a, b in zip(grads["fft"], grads["direct"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("c_in, c_out", [(4, 5), (128, 1)])  # elementwise accumulation
def test_fft_computes_the_same_bits_with_and_without_gradients(c_in, c_out):
    torch.manual_seed(0)
    x = torch.randn(6, c_in, 36)
    w = torch.randn(c_out, c_in, 36)
    with torch.no_grad():
        plain = circular_conv(x, w, method="fft")
    tracked = circular_conv(x, w.requires_grad_(), method="fft")
    assert tracked.requires_grad and torch.equal(tracked, plain)


def test_auto_multiplies_by_the_circulant_matrix_only_where_that_is_cheaper():
    from equirestore.nn.circular import prefer_matmul

    assert prefer_matmul(128, 1, (36,), torch.float64)  # the rotation estimators' last layer
    assert not prefer_matmul(64, 128, (36,), torch.float64)  # their hidden layer
    assert not prefer_matmul(1, 1, (32, 32), torch.float32)  # a translation estimator
    assert not prefer_matmul(1, 1, (32, 32, 32), torch.float32)  # a matrix too large to make


def test_auto_without_gradients_gives_every_sample_the_bits_it_gets_alone_in_any_batch():
    """The circulant matrix in pieces of MIX_PIECE samples (a product of one row rounds
    differently); with gradients ``auto`` keeps the FFT."""
    from equirestore.nn import circular

    torch.manual_seed(0)
    x = torch.randn(150, 128, 36, dtype=torch.float64)
    w = torch.randn(1, 128, 36, dtype=torch.float64)
    with torch.no_grad():
        whole = circular_conv(x, w)
        assert torch.equal(whole, circular_conv(x, w, method="matmul"))
        for n in (1, 2, 63, 64, 65):
            for start in (0, 7, 150 - n):
                assert torch.equal(circular_conv(x[start : start + n], w), whole[start : start + n])
    tracked = circular_conv(x, w.clone().requires_grad_())
    assert torch.equal(tracked, circular_conv(x, w, method="fft"))
    torch.testing.assert_close(tracked.detach(), whole, rtol=0, atol=1e-10)
    assert circular.prefer_matmul(128, 1, (36,), torch.float64)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("shape", [(250, 128, 19), (5, 3, 6, 4), (3, 2, 4, 4, 3)])
def test_one_output_mix_gives_autograd_s_bits_through_the_plain_sum(shape, dtype):
    from equirestore.nn.circular import ONE_OUTPUT_NODE, _accumulate, _OneOutputMix

    def plain(zf, kf):  # the sum recorded channel by channel, as autograd sees it
        zs, ks = zf.unbind(1), kf.unbind(1)
        yf = zs[0].unsqueeze(1) * ks[0]
        for z_c, k_c in zip(zs[1:], ks[1:], strict=True):
            yf = yf.addcmul(z_c.unsqueeze(1), k_c)
        return yf

    torch.manual_seed(0)
    z = torch.randn(*shape, dtype=dtype, requires_grad=True)
    k = torch.randn(1, *shape[1:], dtype=dtype, requires_grad=True)
    up = torch.randn(shape[0], 1, *shape[2:], dtype=dtype)
    out = []
    for mix in (plain, _OneOutputMix.apply):
        y = mix(z, k)
        (y.real * up.real + y.imag * up.imag).sum().backward()
        out.append((y.detach().clone(), z.grad.clone(), k.grad.clone()))
        z.grad, k.grad = None, None
    for a, b in zip(*out, strict=True):
        assert torch.equal(a, b)
    many = shape[1] >= ONE_OUTPUT_NODE  # the wide layers take it
    assert (_accumulate(z, k, True).grad_fn.name() == "_OneOutputMixBackward") == many
