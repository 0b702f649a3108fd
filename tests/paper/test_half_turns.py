import torch
from torch import nn

from paper import half_turns


class _Brightness(nn.Module):
    """A decider scoring an image by its mass in the top half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, : x.shape[2] // 2].sum((1, 2, 3))[:, None]


def test_the_decider_is_antisymmetric_in_the_two_candidates():
    torch.manual_seed(0)
    a, b = torch.rand(5, 1, 8, 8), torch.rand(5, 1, 8, 8)
    first = half_turns.decide(_Brightness(), a, b)
    assert torch.equal(first, _Brightness()(a)[:, 0] >= _Brightness()(b)[:, 0])
    differ = _Brightness()(a)[:, 0] != _Brightness()(b)[:, 0]
    assert torch.equal(half_turns.decide(_Brightness(), b, a)[differ], ~first[differ])


def test_nearer_half_picks_the_estimate_or_its_half_turn():
    estimate = torch.tensor([10.0, 10.0, -170.0, 0.0, 0.0], dtype=torch.float64)
    applied = torch.tensor([15.0, 185.0, 15.0, 90.0, 91.0], dtype=torch.float64)
    assert half_turns.nearer_half(estimate, applied).tolist() == [True, False, False, True, False]


def test_bands_cover_every_error_once():
    errors = torch.tensor([0.0, 5.0, 5.5, 90.0, 175.0, 180.0], dtype=torch.float64)
    shares = [b["share"] for b in half_turns.bands(errors)]
    assert abs(sum(shares) - 100) < 1e-9
    counts = [round(share * 6 / 100) for share in shares]
    assert counts == [2, 1, 0, 0, 0, 0, 1, 0, 2]  # 0 and 5 | 5.5 | 90 | 175 and 180
