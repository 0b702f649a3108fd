import pytest
import torch

from equirestore.groups.translation import shift
from equirestore.theory.aperiodic import check_aperiodic


def _distinct(m: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (m, *shape), generator=g).float() / 3


@pytest.mark.parametrize("shape", [(1, 9), (2, 6, 5), (1, 4, 3, 5)])
def test_random_data_is_aperiodic(shape):
    rep = check_aperiodic(_distinct(50, shape))
    assert rep.aperiodic and rep.violations == []


@pytest.mark.parametrize("shape", [(1, 9), (2, 6, 5), (1, 4, 3, 5)])
def test_every_kind_of_violation_is_found_with_its_shift(shape):
    x = _distinct(20, shape, seed=1)
    dims = len(shape) - 1
    s = torch.tensor([2, -1, 1][:dims])
    x[7] = shift(x[3].unsqueeze(0), s)[0]  # a translated copy
    x[11] = x[5]  # an exact duplicate
    x[15] = 0.0  # blank: periodic under every shift
    rep = check_aperiodic(x)
    assert not rep.aperiodic
    kinds = {(v.i, v.j, v.kind) for v in rep.violations}
    assert (3, 7, "translate") in kinds and (5, 11, "duplicate") in kinds
    moved = next(v for v in rep.violations if v.kind == "translate")
    assert torch.equal(shift(x[3].unsqueeze(0), torch.tensor(moved.shift))[0], x[7])
    periods = {v.shift for v in rep.violations if v.kind == "periodic"}
    n_shifts = torch.tensor(shape[1:]).prod().item()
    assert len(periods) == n_shifts - 1  # every non-zero shift of the blank sample
    assert rep.counts()["duplicate"] == 1 and rep.counts()["translate"] == 1


def test_partial_periodicity_is_found():
    x = _distinct(10, (1, 8, 8), seed=2)
    x[4] = x[4, :, :4].repeat(1, 2, 1)  # period 4 along rows only
    rep = check_aperiodic(x)
    assert {v.shift for v in rep.violations} == {(-4, 0)}


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        check_aperiodic(torch.full((2, 1, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="spatial axes"):
        check_aperiodic(torch.zeros(4, 4))
