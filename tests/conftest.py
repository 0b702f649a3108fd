import os

import pytest
import torch

from equirestore.data import DatasetNotFoundError, load_dataset


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
