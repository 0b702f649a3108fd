"""equirestore: restore translated (and rotated) inputs before any classifier sees them.

A strictly translation-equivariant network (circular filters and constant biases,
Theorem 3.4) is trained so that the largest component of its output sits at index 0
for every canonical image; for a shifted input the argmax is the shift, and rolling the
input back restores it.

Load a shipped restorer, estimate a shift and undo it (convention: ``torch.roll``, axis
order rows, cols):

>>> import torch, equirestore
>>> restorer = equirestore.load_restorer("mnist")
>>> digit = torch.zeros(1, 1, 32, 32); digit[0, 0, 12:21, 14:19] = 1.0  # centred
>>> moved = equirestore.shift(digit, torch.tensor([[3, -5]]))
>>> restorer.estimate(moved).tolist()
[[3, -5]]
>>> bool(torch.equal(restorer(moved), digit))
True

Put it in front of any classifier (28x28 inputs are padded to the 32x32 canvas):

>>> from equirestore.classifiers.models import SmallCNN
>>> model = equirestore.RestoredClassifier(restorer, SmallCNN().eval())
>>> model(torch.rand(4, 1, 28, 28)).shape
torch.Size([4, 10])
"""

from equirestore.data import load_dataset
from equirestore.groups.translation import random_shifts, shift
from equirestore.nn import CanonicalNetwork, CircularConv, circular_conv
from equirestore.restore import (
    IdentityRestorer,
    RestoredClassifier,
    Restorer,
    RotationRestorer,
    SE2Restorer,
    TranslationRestorer,
    load_restorer,
    restore_rates,
)
from equirestore.testing import assert_equivariant, check_equivariance

__version__ = "0.2.0"

__all__ = [
    "CanonicalNetwork",
    "CircularConv",
    "IdentityRestorer",
    "RestoredClassifier",
    "Restorer",
    "RotationRestorer",
    "SE2Restorer",
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
