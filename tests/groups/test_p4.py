import itertools

import pytest
import torch

from equirestore.groups.p4 import Group


@pytest.mark.parametrize("mirror", [False, True])
def test_group_laws(mirror):
    g = Group(mirror)
    assert g.order == (8 if mirror else 4)
    x = torch.rand(2, 3, 5, 5)
    for a, b in itertools.product(g.elements, repeat=2):
        # T_a T_b = T_(ab) and the action on G-maps is a homomorphism
        torch.testing.assert_close(
            g.transform(g.transform(x, b), a), g.transform(x, g.compose(a, b))
        )
        y = torch.rand(2, 3, g.order, 5, 5)
        torch.testing.assert_close(g.act(g.act(y, b), a), g.act(y, g.compose(a, b)))
    for a in g.elements:
        assert g.compose(a, g.inverse(a)) == (0, 0)


def test_quarter_turn_is_rot90_and_mirror_flips_columns():
    g = Group(True)
    x = torch.arange(9.0).view(1, 1, 3, 3)
    assert torch.equal(g.transform(x, (0, 1)), torch.rot90(x, 1, (-2, -1)))
    assert torch.equal(g.transform(x, (1, 0)), x.flip(-1))
