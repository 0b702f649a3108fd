import pytest
import torch
from torch import Tensor

from equirestore.measures import label_change_probability, one_pixel_steps, shift_consistency


def _images(n: int = 200) -> Tensor:
    return torch.rand(n, 1, 12, 12, generator=torch.Generator().manual_seed(0))


def _position_classifier(x: Tensor) -> Tensor:
    """Class = row of the brightest pixel: as shift-sensitive as a classifier can be."""
    rows = x.flatten(1).argmax(1) // x.shape[-1]
    return torch.nn.functional.one_hot(rows, x.shape[-2]).float()


def test_invariant_classifier_is_fully_consistent() -> None:
    def total(x: Tensor) -> Tensor:  # shift-invariant: a function of the pixel sum
        s = x.sum((1, 2, 3))
        return torch.stack([s, -s], 1)

    assert shift_consistency(total, _images(), scope=5) == 1.0
    assert label_change_probability(total, _images(), scope=5) == 0.0


def test_position_classifier_is_caught() -> None:
    x = _images()
    c = shift_consistency(_position_classifier, x, scope=5)
    # two independent row shifts in {-5..5} agree with probability 1/11
    assert c == pytest.approx(1 / 11, abs=0.06)
    # a one-pixel step changes the row half of the time (row steps), never for column steps
    p = label_change_probability(_position_classifier, x)
    assert p == pytest.approx(0.5, abs=0.1)


def test_scope_zero_consistency_is_trivially_one() -> None:
    assert shift_consistency(_position_classifier, _images(), scope=0) == 1.0


def test_one_pixel_steps() -> None:
    s = one_pixel_steps(1000, 2, torch.Generator().manual_seed(0))
    assert torch.equal(s.abs().sum(1), torch.ones(1000, dtype=torch.long))
    counts = torch.stack([(s == v).sum(0) for v in (-1, 1)])
    assert (counts > 200).all()  # all four directions occur
