"""equirestore: restore translated inputs before any classifier sees them.

A strictly translation-equivariant network (circular filters and constant biases,
Theorem 3.4) is trained so that the largest component of its output sits at index 0
for every canonical image; for a shifted input the argmax is the shift, and rolling the
input back restores it.

>>> import torch, equirestore
>>> r = equirestore.load_restorer("mnist")
>>> x = torch.zeros(1, 1, 32, 32); x[0, 0, 12:21, 14:19] = 1.0  # centre of mass (16, 16)
>>> s = torch.tensor([[3, -5]])
>>> r.estimate(equirestore.shift(x, s)).tolist()
[[3, -5]]
"""

from equirestore.data import load_dataset
from equirestore.groups.translation import random_shifts, shift
from equirestore.nn import CanonicalNetwork, CircularConv, circular_conv
from equirestore.restore import RotationRestorer, TranslationRestorer, load_restorer, restore_rates
from equirestore.testing import assert_equivariant, check_equivariance

__version__ = "0.1.0"

__all__ = [
    "CanonicalNetwork",
    "CircularConv",
    "RotationRestorer",
    "TranslationRestorer",
    "__version__",
    "assert_equivariant",
    "check_equivariance",
    "circular_conv",
    "load_dataset",
    "load_restorer",
    "random_shifts",
    "restore_rates",
    "shift",
]
