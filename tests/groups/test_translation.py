import pytest
import torch

from equirestore.groups.translation import random_shifts, shift, signed


@pytest.mark.parametrize("size", [(7,), (5, 6), (3, 4, 5)])
def test_batched_shift_matches_roll_per_sample(size):
    x = torch.randn(6, 2, *size)
    s = torch.randint(-20, 20, (6, len(size)))
    y = shift(x, s)
    for i in range(6):
        ref = torch.roll(x[i], tuple(s[i].tolist()), tuple(range(1, len(size) + 1)))
        assert torch.equal(y[i], ref)
    assert torch.equal(shift(y, -s), x)


def test_sign_convention_positive_moves_towards_higher_indices():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 1, 1] = 1
    y = shift(x, torch.tensor([[2, -1]]))
    assert y[0, 0, 3, 0] == 1


def test_shift_does_not_modify_input_and_single_shift_broadcasts():
    x = torch.randn(3, 1, 4, 4)
    before = x.clone()
    y = shift(x, torch.tensor([1, 2]))
    assert torch.equal(x, before)
    assert torch.equal(y, torch.roll(x, (1, 2), (2, 3)))


def test_bad_shifts():
    x = torch.randn(2, 1, 4, 4)
    with pytest.raises(TypeError):
        shift(x, torch.tensor([[0.5, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="shape"):
        shift(x, torch.tensor([[1, 2, 3], [0, 0, 0]]))
    with pytest.raises(ValueError, match="3 shifts for a batch of 2"):
        shift(x, torch.zeros(3, 2, dtype=torch.long))


def test_random_shifts_range_and_signed():
    s = random_shifts(5000, 3, 2, torch.Generator().manual_seed(0))
    assert s.min() == -3 and s.max() == 3
    assert signed(torch.tensor([[31, 16, 15, 0]]), (32, 32, 32, 32)).tolist() == [[-1, -16, 15, 0]]
