"""Datasets, geometry and image files."""

from equirestore.data.datasets import (
    DATASETS,
    DatasetNotFoundError,
    candidate_roots,
    load_dataset,
    to_geometry,
)
from equirestore.data.images import list_images, read_image, write_image

__all__ = [
    "DATASETS",
    "DatasetNotFoundError",
    "candidate_roots",
    "list_images",
    "load_dataset",
    "read_image",
    "to_geometry",
    "write_image",
]
