import itertools

import pytest
import torch

from equirestore.gcnn import Group, GroupConv, LiftingConv, coset_max_pool
from equirestore.shifts import shift


@pytest.mark.parametrize("mirror", [False, True])
def test_group_laws(mirror):
    g = Group(mirror)
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


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_layers_are_exactly_equivariant_for_every_element_and_shift(mirror, dtype, atol):
    torch.manual_seed(0)
    grp = Group(mirror)
    lift = LiftingConv(grp, 2, 3, 3).to(dtype)
    conv = GroupConv(grp, 3, 4, 3).to(dtype)
    torch.nn.init.normal_(lift.bias)
    torch.nn.init.normal_(conv.bias)
    x = torch.rand(2, 2, 8, 8, dtype=dtype)
    with torch.no_grad():
        y = lift(x)
        z = conv(torch.relu(y))
        for g in grp.elements:
            torch.testing.assert_close(lift(grp.transform(x, g)), grp.act(y, g), atol=atol, rtol=0)
            torch.testing.assert_close(
                conv(torch.relu(grp.act(y, g))), grp.act(z, g), atol=atol, rtol=0
            )
            pooled = coset_max_pool(conv(torch.relu(lift(grp.transform(x, g)))))
            torch.testing.assert_close(
                pooled, grp.transform(coset_max_pool(z), g), atol=atol, rtol=0
            )
        for s in itertools.product(range(8), repeat=2):
            st = torch.tensor(s)
            moved = lift(shift(x, st))
            torch.testing.assert_close(
                moved, shift(y.flatten(1, 2), st).view_as(y), atol=atol, rtol=0
            )


def test_even_kernels_are_refused():
    with pytest.raises(ValueError, match="odd"):
        LiftingConv(Group(False), 1, 1, 4)


@pytest.mark.parametrize("mirror", [False, True])
def test_batch_norm_and_subsampling_commute_with_the_group(mirror):
    from equirestore.gcnn import GroupBatchNorm, spatial_max_pool

    grp = Group(mirror)
    y = torch.rand(3, 2, grp.order, 8, 8, dtype=torch.float64)
    bn = GroupBatchNorm(2).double().train()
    out = bn(y)
    for g in grp.elements:
        torch.testing.assert_close(bn(grp.act(y, g)), grp.act(out, g))
        torch.testing.assert_close(spatial_max_pool(grp.act(y, g)), grp.act(spatial_max_pool(y), g))
    st = torch.tensor([2, 4])
    moved = spatial_max_pool(shift(y.flatten(1, 2), st).view_as(y))
    pooled = spatial_max_pool(y)
    torch.testing.assert_close(moved, shift(pooled.flatten(1, 2), st // 2).view_as(pooled))


@pytest.mark.parametrize("mirror", [False, True])
def test_p4cnn_logits_are_invariant_to_every_group_element(mirror):
    from equirestore.gcnn import P4CNN

    torch.manual_seed(0)
    net = P4CNN(mirror=mirror).double()
    net.train()
    net(torch.rand(8, 1, 28, 28, dtype=torch.float64))  # non-trivial batch-norm statistics
    net.eval()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    with torch.no_grad():
        ref = net(x)
        for g in net.group.elements:
            torch.testing.assert_close(net(net.group.transform(x, g)), ref, atol=1e-10, rtol=0)
    assert ref.shape == (3, 10)


def test_z2cnn_and_p4cnn_have_comparable_sizes():
    from equirestore.gcnn import P4CNN, Z2CNN

    z2 = sum(p.numel() for p in Z2CNN().parameters())
    p4 = sum(p.numel() for p in P4CNN().parameters())
    assert Z2CNN()(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert 0.5 < p4 / z2 < 2.0
