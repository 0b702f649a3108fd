"""The paper's theory, executable: Theorem 3.4 (affine checker), Definition 4.2
(aperiodicity) and Theorem 4.5 (the constructive restorer)."""

from equirestore.theory.affine import AffineReport, check_affine, check_affine_module, probe_affine
from equirestore.theory.aperiodic import AperiodicReport, Violation, check_aperiodic
from equirestore.theory.constructive import (
    ConstructionReport,
    NotAperiodicError,
    construct_restorer,
)

__all__ = [
    "AffineReport",
    "AperiodicReport",
    "ConstructionReport",
    "NotAperiodicError",
    "Violation",
    "check_affine",
    "check_affine_module",
    "check_aperiodic",
    "construct_restorer",
    "probe_affine",
]
