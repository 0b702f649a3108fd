"""Strictly translation-equivariant layers (Section 3)."""

from equirestore.nn.canonical import CanonicalNetwork, count_parameters, network_from_config
from equirestore.nn.circular import CircularConv, circular_conv, fold_kernel

__all__ = [
    "CanonicalNetwork",
    "CircularConv",
    "circular_conv",
    "count_parameters",
    "fold_kernel",
    "network_from_config",
]
