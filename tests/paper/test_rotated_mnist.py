import torch

from equirestore.nn.canonical import CanonicalNetwork
from equirestore.restore.rotation import RotationRestorer
from paper import rotated_mnist


def _random_restorer() -> tuple[RotationRestorer, torch.Tensor, torch.Tensor]:
    """A random 12-bin rotation restorer, 6 random images and its estimates of them."""
    torch.manual_seed(0)
    net = CanonicalNetwork(4, [3, 1], kernel_size=[12, 12], dims=1)
    restorer = RotationRestorer(net, (1, 16, 16), n_radius=4, n_angle=12).eval()
    x = torch.rand(6, 1, 16, 16)
    return restorer, x, restorer.estimate(x)


def test_within_one_bin_compares_the_estimate_with_the_applied_angle():
    restorer, x, estimate = _random_restorer()
    tests = {"rotated": x, "shifted": torch.roll(x, (1, 2), (2, 3))}
    exact = rotated_mnist.within_one_bin(restorer, tests, estimate)
    assert exact["rotated"] == 1.0
    opposite = rotated_mnist.within_one_bin(restorer, tests, estimate + 180)
    assert opposite == {"rotated": 0.0, "shifted": 0.0}


def test_the_equiadapt_row_trains_and_is_invariant_to_quarter_turns():
    torch.manual_seed(0)
    images, labels = torch.rand(16, 1, 32, 32), torch.randint(0, 10, (16,))
    model = rotated_mnist.train_equiadapt(images, labels, epochs=1, seed=0, batch_size=8)
    with torch.no_grad():
        logits = model(images[:4])
        turned = model(torch.rot90(images[:4], 1, (2, 3)))
    assert logits.shape == (4, 10)
    torch.testing.assert_close(turned, logits, atol=1e-4, rtol=1e-4)


def test_per_class_counts_each_class_within_one_bin_and_half_turned():
    restorer, x, estimate = _random_restorer()
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    applied = estimate.clone()
    applied[[1, 2, 3]] += torch.tensor([180.0, 175.0, 60.0])  # half, about half, neither
    res = rotated_mnist.per_class(restorer, {"rotated": x}, applied, labels)["rotated"]
    assert [r["within_one_bin"] for r in res] == [0.5, 0.0, 1.0]
    assert [r["half_turn"] for r in res] == [0.5, 0.5, 0.0]
