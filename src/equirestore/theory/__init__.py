"""The paper's theory, executable."""

from equirestore.theory.affine import AffineReport, check_affine, check_affine_module, probe_affine

__all__ = ["AffineReport", "check_affine", "check_affine_module", "probe_affine"]
