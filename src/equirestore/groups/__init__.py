"""The groups equirestore restores and their actions, each with its convention written
once: circular translations (:mod:`~equirestore.groups.translation`), rotations through
polar resampling (:mod:`~equirestore.groups.rotation`), and p4 / p4m
(:mod:`~equirestore.groups.p4`)."""

from equirestore.groups.p4 import Group
from equirestore.groups.rotation import polar_grid, rotate, to_polar
from equirestore.groups.translation import random_shifts, shift, signed, zero_fill_shift

__all__ = [
    "Group",
    "polar_grid",
    "random_shifts",
    "rotate",
    "shift",
    "signed",
    "to_polar",
    "zero_fill_shift",
]
