"""Translation and rotation estimators and restorers (Sections 4 and 5.2)."""

from equirestore.restore.base import ComposedRestorer, IdentityRestorer, Restorer
from equirestore.restore.classifier import RestoredClassifier
from equirestore.restore.estimator import Peaks, exact_mask, peaks
from equirestore.restore.evaluation import RestoreRates, angle_error, consistency, restore_rates
from equirestore.restore.hub import (
    SHIPPED,
    load_restorer,
    load_rotation_restorer,
    load_translation_restorer,
    restorer_meta,
    save_restorer,
)
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.se2 import SE2Restorer
from equirestore.restore.training import (
    estimator_loss,
    init_estimator,
    moment_filter,
    train_estimator,
)
from equirestore.restore.translation import TranslationRestorer

__all__ = [
    "SHIPPED",
    "ComposedRestorer",
    "IdentityRestorer",
    "Peaks",
    "RestoreRates",
    "RestoredClassifier",
    "Restorer",
    "RotationRestorer",
    "SE2Restorer",
    "TranslationRestorer",
    "angle_error",
    "consistency",
    "estimator_loss",
    "exact_mask",
    "init_estimator",
    "load_restorer",
    "load_rotation_restorer",
    "load_translation_restorer",
    "moment_filter",
    "peaks",
    "restore_rates",
    "restorer_meta",
    "save_restorer",
    "train_estimator",
]
