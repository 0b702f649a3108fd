import torch

from equirestore.restore import exact_mask, peaks


def test_ties_are_reported_and_not_exact():
    s = torch.zeros(3, 4, 4)
    s[0, 0, 0] = 1.0  # unique max at 0
    s[1, 0, 0] = s[1, 2, 3] = 1.0  # tie including 0
    s[2, 1, 2] = 2.0  # unique max elsewhere
    pk = peaks(s)
    assert pk.gap.tolist() == [1.0, 0.0, 2.0]
    assert pk.position.tolist() == [[0, 0], [0, 0], [1, 2]]
    assert exact_mask(s).tolist() == [True, False, False]


def test_constant_output_is_all_ties():
    s = torch.full((2, 8), 3.0)
    assert not exact_mask(s).any()
    assert (peaks(s).gap == 0).all()
