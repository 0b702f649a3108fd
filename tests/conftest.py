import os
from pathlib import Path

import pytest
import torch

from equirestore.data import DatasetNotFoundError, load_dataset

# the project's data lies beside the checkout (../shared/data) unless told otherwise
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED.is_dir():
    os.environ.setdefault("EQUIRESTORE_DATA", str(_SHARED))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def real_dataset(name: str, split: str):
    """Real data when available; in CI (CI=true) its absence is a failure, not a skip."""
    try:
        return load_dataset(name, split)
    except DatasetNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{name} not available on this machine")
