import pytest
import torch

from equirestore.classifiers.gcnn import P4CNN, Z2CNN
from equirestore.nn import count_parameters
from equirestore.testing import assert_equivariant


@pytest.mark.parametrize("group", ["p4", "p4m"])
def test_p4cnn_logits_are_invariant_to_every_group_element(group):
    torch.manual_seed(0)
    mirror = group == "p4m"
    net = P4CNN(width=7 if mirror else 10, mirror=mirror).double()
    net.train()
    net(torch.rand(8, 1, 28, 28, dtype=torch.float64))  # non-trivial batch-norm statistics
    net.eval()
    report = assert_equivariant(net, torch.rand(3, 1, 28, 28), group, "invariant", atol=1e-10)
    assert report.exhaustive
    assert net(torch.rand(3, 1, 28, 28, dtype=torch.float64)).shape == (3, 10)


def test_parameter_counts_match_the_rotated_mnist_report():
    # results/rotated_mnist.md: Z2CNN 20,230, P4CNN 21,880, P4CNN (p4m, 7 maps) 22,879
    assert count_parameters(Z2CNN()) == 20_230
    assert count_parameters(P4CNN()) == 21_880
    assert count_parameters(P4CNN(width=7, mirror=True)) == 22_879
    assert Z2CNN()(torch.rand(2, 1, 28, 28)).shape == (2, 10)
