import pytest
import torch

from equirestore.groups.p4 import Group
from equirestore.groups.translation import shift
from equirestore.nn.gcnn import (
    GroupBatchNorm,
    GroupConv,
    LiftingConv,
    coset_max_pool,
    spatial_max_pool,
)
from equirestore.testing import assert_equivariant

GROUPS = ["p4", "p4m"]


def _layers(group: str, dtype: torch.dtype) -> tuple[LiftingConv, GroupConv]:
    torch.manual_seed(0)
    grp = Group(group == "p4m")
    lift, conv = LiftingConv(grp, 2, 3, 3).to(dtype), GroupConv(grp, 3, 4, 3).to(dtype)
    torch.nn.init.normal_(lift.bias)
    torch.nn.init.normal_(conv.bias)
    return lift, conv


@pytest.mark.parametrize("group", GROUPS)
def test_lifting_and_group_convolutions_are_exact_for_every_element(group):
    lift, conv = _layers(group, torch.float64)
    x = torch.rand(2, 2, 8, 8)
    assert_equivariant(lift, x, group=group, output="regular", atol=1e-12)
    y = torch.relu(lift(x.double())).detach()
    # GroupConv acts on G-feature maps: check it through the lifting layer
    assert_equivariant(lambda t: conv(torch.relu(lift(t))), x, group, "regular", atol=1e-12)
    pooled = lambda t: coset_max_pool(conv(torch.relu(lift(t))))  # noqa: E731
    assert_equivariant(pooled, x, group=group, atol=1e-12)
    assert y.shape == (2, 3, Group(group == "p4m").order, 8, 8)


@pytest.mark.parametrize("group", GROUPS)
def test_float32_layers_are_equivariant_to_rounding(group):
    lift, _ = _layers(group, torch.float32)
    assert_equivariant(lift, torch.rand(2, 2, 8, 8), group, "regular", atol=1e-5, dtype=None)


@pytest.mark.parametrize("group", GROUPS)
def test_lifting_is_exactly_equivariant_to_every_circular_shift(group):
    lift, _ = _layers(group, torch.float64)
    flat = lambda t: lift(t).flatten(1, 2)  # noqa: E731  (the group axis as channels)
    report = assert_equivariant(flat, torch.rand(2, 2, 8, 8), max_elements=None, atol=1e-12)
    assert report.elements_checked == 64


def test_even_kernels_are_refused():
    with pytest.raises(ValueError, match="odd"):
        LiftingConv(Group(False), 1, 1, 4)


@pytest.mark.parametrize("mirror", [False, True])
def test_batch_norm_and_subsampling_commute_with_the_group(mirror):
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
