import pytest
import torch

from equirestore.groups.translation import shift, zero_fill_shift
from equirestore.restore.subpixel import fractional_shift, refine_peaks, restore_subpixel
from tests.restore.helpers import centred_blobs


@pytest.mark.parametrize("method", ["fourier", "linear"])
def test_integer_fractional_shift_is_the_circular_shift(method):
    x = torch.rand(4, 2, 8, 6, dtype=torch.float64)
    s = torch.tensor([[1, -2], [0, 3], [7, 5], [-9, 0]])
    torch.testing.assert_close(fractional_shift(x, s.double(), method), shift(x, s))


def test_fourier_shift_of_a_band_limited_signal_is_exact_and_invertible():
    n = 16
    t = torch.arange(n, dtype=torch.float64)
    x = (torch.cos(2 * torch.pi * 3 * t / n) + 0.5 * torch.sin(2 * torch.pi * t / n)).view(1, 1, n)
    d = torch.tensor([[0.37]], dtype=torch.float64)
    moved = fractional_shift(x, d)
    expected = torch.cos(2 * torch.pi * 3 * (t - 0.37) / n) + 0.5 * torch.sin(
        2 * torch.pi * (t - 0.37) / n
    )
    torch.testing.assert_close(moved.flatten(), expected)
    torch.testing.assert_close(fractional_shift(moved, -d), x)


def test_linear_shift_is_area_sampling():
    x = torch.tensor([[[0.0, 0.0, 1.0, 1.0]]], dtype=torch.float64)  # seed 003's Heaviside
    out = fractional_shift(x, torch.tensor([[0.5]], dtype=torch.float64), "linear")
    assert out.flatten().tolist() == [0.5, 0.0, 0.5, 1.0]  # circular: x_3 wraps into x_0


def test_refine_peaks_finds_the_vertex_of_a_parabola():
    p = torch.arange(16, dtype=torch.float64)
    scores = -((p.view(-1, 1) - 3.3) ** 2 + (p.view(1, -1) - 12.8) ** 2)
    torch.testing.assert_close(
        refine_peaks(scores[None]), torch.tensor([[3.3, -3.2]], dtype=torch.float64)
    )


def test_subpixel_restorer_undoes_the_fractional_shift_of_the_centre_of_mass():
    from equirestore import load_restorer

    r = load_restorer("mnist")
    x = centred_blobs(8).double()
    s = torch.tensor([[2.25, -1.4]], dtype=torch.float64).expand(8, 2)
    restored, est = restore_subpixel(r, fractional_shift(x, s, "linear"), "linear")
    pos = torch.arange(32, dtype=torch.float64)
    com = (restored.sum((1, 3)) * pos).sum(-1) / restored.sum((1, 2, 3))
    assert (com - 16).abs().max() < 0.05  # centre of mass moved onto the canonical pixel
    assert ((est - s).abs() <= 0.55).all()


def test_zero_fill_shift():
    x = torch.arange(1.0, 5.0).view(1, 1, 1, 4)
    out = zero_fill_shift(x, torch.tensor([[0, 1]]))
    assert out.flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    out = zero_fill_shift(x, torch.tensor([[0, -2]]))
    assert out.flatten().tolist() == [3.0, 4.0, 0.0, 0.0]
