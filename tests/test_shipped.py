"""The shipped restorers meet the issue's targets on the real test sets (slow)."""

import pytest
import torch

from equirestore import load_restorer
from equirestore.experiments.table1 import consistency
from equirestore.restore import restore_rates
from tests.conftest import real_dataset


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_shipped_restorer_targets(name):
    images, _ = real_dataset(name, "test")
    restorer = load_restorer(name)
    rates = restore_rates(restorer.estimator, images)
    assert rates.exact >= 0.995, rates
    assert rates.ties == 0.0
    assert consistency(restorer, images, seed=1) >= 0.9999


def test_shipped_restorers_are_exactly_equivariant():
    for name in ("mnist", "cifar10"):
        r = load_restorer(name)
        x = torch.rand(1, *r.input_shape, dtype=torch.float64)
        from equirestore.testing import assert_translation_equivariant

        assert_translation_equivariant(r.estimator, x, atol=1e-9, max_shifts=None)
