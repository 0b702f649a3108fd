import itertools

import pytest
import torch
from torch import nn

from equirestore.groups.translation import shift
from equirestore.nn.blurpool import (
    BlurPool,
    MaxBlurPool,
    antialias,
    binomial_filter,
    blur,
)


@pytest.mark.parametrize("size", range(1, 8))
def test_binomial_filter_is_pascal_row_outer_product(size: int) -> None:
    f = binomial_filter(size, torch.float64)
    row = torch.tensor([[1.0], [1, 1], [1, 2, 1], [1, 3, 3, 1], [1, 4, 6, 4, 1],
                        [1, 5, 10, 10, 5, 1], [1, 6, 15, 20, 15, 6, 1]][size - 1],
                       dtype=torch.float64)  # fmt: skip
    expected = torch.outer(row, row) / row.sum() ** 2
    assert torch.equal(f, expected)
    assert f.sum().item() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("size", [0, 8])
def test_filter_size_out_of_range_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.7"):
        BlurPool(size)


def _all_even_shifts_commute(layer: nn.Module, x: torch.Tensor, stride: int) -> float:
    """Worst |layer(T_{stride t} x) - T_t layer(x)| over every output shift t."""
    y = layer(x)
    worst = 0.0
    for t in itertools.product(range(y.shape[-2]), range(y.shape[-1])):
        tt = torch.tensor(t)
        worst = max(worst, float((layer(shift(x, stride * tt)) - shift(y, tt)).abs().max()))
    return worst


@pytest.mark.parametrize("size", range(1, 8))
def test_circular_blurpool_commutes_with_every_shift_by_the_stride(size: int) -> None:
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert _all_even_shifts_commute(BlurPool(size, 2, "circular"), x, 2) < 1e-12


@pytest.mark.parametrize("size", [1, 3, 4])
def test_circular_maxblurpool_commutes_with_every_shift_by_the_stride(size: int) -> None:
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert _all_even_shifts_commute(MaxBlurPool(2, 2, size, "circular"), x, 2) < 1e-12


def test_blurpool_reduces_aliasing_of_a_one_pixel_shift() -> None:
    """Measured, not exact: after a one-pixel shift, BlurPool's output moves less than
    plain subsampling's (relative change of the subsampled map)."""
    x = torch.randn(8, 4, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    one = torch.tensor([0, 1])

    def change(size: int) -> float:
        a, b = blur(x, size, 2, "circular"), blur(shift(x, one), size, 2, "circular")
        return float((a - b).norm() / a.norm())

    changes = [change(k) for k in range(1, 8)]
    assert changes[0] > 1.3  # white noise: plain subsampling of a shifted image is unrelated
    assert all(b < a for a, b in itertools.pairwise(changes))


def test_shapes_and_bad_input() -> None:
    x = torch.randn(2, 5, 9, 10)
    assert BlurPool(3, 2)(x).shape == (2, 5, 5, 5)
    assert MaxBlurPool(2, 2, 3)(torch.randn(2, 5, 40, 40)).shape == (2, 5, 20, 20)
    with pytest.raises(ValueError, match="padding_mode"):
        blur(x, 3, 2, "wrap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        blur(torch.randn(5, 9, 10))


def test_strided_conv_rule_equals_conv_then_blurpool_with_circular_padding() -> None:
    """Zhang's ConvBlurPool = BlurPool_2 o Conv(stride 1); antialias computes it as
    Conv(stride 2) o Blur - the same linear map exactly when everything is circular."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, padding_mode="circular").double()
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    dense = nn.Conv2d(3, 4, 3, stride=1, padding=1, padding_mode="circular").double()
    dense.load_state_dict(conv.state_dict())
    for size in range(1, 8):
        got = antialias(conv, size, "circular")(x)
        want = BlurPool(size, 2, "circular")(dense(x))
        assert torch.allclose(got, want, atol=1e-12), size


def test_rules_on_a_torchvision_resnet() -> None:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=10).eval()
    aa = antialias(model, 3).eval()
    kinds = [type(m).__name__ for m in aa.modules()]
    assert kinds.count("MaxBlurPool") == 1  # the stem max-pool
    strided = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.stride != (1, 1)]
    assert len(strided) == 7  # stem + 3 x (3x3 conv + 1x1 downsample)
    assert kinds.count("BlurPool") == 1 + len(strided)  # one inside MaxBlurPool
    assert isinstance(model.maxpool, nn.MaxPool2d)  # the original is left untouched
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert aa(x).shape == model(x).shape
        # filter size 1: max-pools and strided convs compute what they did before
        assert torch.allclose(antialias(model, 1).eval()(x), model(x), atol=1e-5)
        assert not torch.allclose(aa(x), model(x), atol=1e-3)


def test_avgpool_rule() -> None:
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    pool = nn.AvgPool2d(2, 2)
    assert torch.allclose(antialias(pool, 2)(x), pool(x), atol=1e-14)  # binomial(2) = box(2)
    assert isinstance(antialias(pool, 3), BlurPool)
