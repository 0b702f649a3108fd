"""3D-MNIST, generated reproducibly from MNIST (Section 5.1, Appendix D).

The original 3D-MNIST (point clouds made from MNIST digits, voxelized to 16x16x16) cannot
be downloaded here, so equirestore makes its own, deterministically:

1. **Digit -> point cloud.** Every pixel of the 28x28 digit with intensity ``v >= 64``
   (of 255) emits ``4`` points, uniformly inside its pixel square in the image plane
   (``x`` = column, ``y`` = up) and uniformly in depth ``z in [-h, h]`` with
   ``h = 1 + 2 v / 255``: the stroke is extruded into a slab that is thicker where
   the ink is darker.
2. **Pose.** The cloud is tilted by random angles uniform in ``[-30, 30]`` degrees about
   the ``x`` and then the ``y`` axis (the digit stays upright in its own plane).
3. **Voxelization.** The cloud's bounding box is scaled uniformly (aspect ratio kept) so
   that its longest side spans the 16-voxel grid and centred in it; each voxel counts
   its points, and the volume is divided by its largest count and stored as ``uint8``.
4. **Padding** (Appendix D): 8 zero voxels on every side, giving 32x32x32 volumes.
5. **Centring.** Each volume is translated (inside the zero frame, nothing is cut) so
   that its rounded centre of mass is voxel ``(16, 16, 16)``, the way MNIST centres its
   2-D digits by their centre of mass. This defines the canonical position, and the
   closed-form *moment* estimator of a rounded centre of mass applies (a bounding-box
   centring left the canonical position ambiguous to half a voxel on the short axes:
   a full-size filter trained on it reached only 80.5% train / 69.3% test).

The split sizes follow the published 3D-MNIST: 10,000 training volumes from the first
10,000 MNIST training digits and 2,000 test volumes from the first 2,000 test digits.
Seeds: 0 for train, 1 for test. ``equirestore make-mnist3d`` writes them to a file.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

GRID = 16
PAD = 8
SIZES = {"train": 10_000, "test": 2_000}
SEEDS = {"train": 0, "test": 1}
POINTS_PER_PIXEL = 4
MAX_TILT_DEG = 30.0


def digit_to_cloud(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(28, 28)`` uint8 -> ``(P, 3)`` float64 points ``(x, y, z)`` (steps 1-2)."""
    rows, cols = np.nonzero(digit >= 64)
    v = digit[rows, cols].astype(np.float64) / 255
    n = len(rows) * POINTS_PER_PIXEL
    rows = np.repeat(rows, POINTS_PER_PIXEL)
    cols = np.repeat(cols, POINTS_PER_PIXEL)
    h = np.repeat(1 + 2 * v, POINTS_PER_PIXEL)
    x = cols + rng.random(n)
    y = (27 - rows) + rng.random(n)
    z = (2 * rng.random(n) - 1) * h
    pts = np.stack([x, y, z], 1)
    a, b = np.deg2rad(rng.uniform(-MAX_TILT_DEG, MAX_TILT_DEG, 2))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    return pts @ (ry @ rx).T


def voxelize(points: np.ndarray, grid: int = GRID) -> np.ndarray:
    """``(P, 3)`` points -> ``(grid, grid, grid)`` uint8 occupancy (step 3), axes
    ``(depth z, rows = -y, cols = x)`` so that a slice looks like the digit."""
    lo, hi = points.min(0), points.max(0)
    scale = (grid - 1e-9) / max(float((hi - lo).max()), 1e-9)
    p = (points - lo) * scale
    p += (grid - (hi - lo) * scale) / 2  # centre the box in the grid
    idx = np.clip(np.floor(p).astype(np.int64), 0, grid - 1)
    z, y, x = idx[:, 2], grid - 1 - idx[:, 1], idx[:, 0]
    counts = np.zeros((grid, grid, grid), dtype=np.float64)
    np.add.at(counts, (z, y, x), 1.0)
    return np.round(255 * counts / counts.max()).astype(np.uint8)


def make_mnist3d(digits: Tensor, seed: int) -> Tensor:
    """``(N, 1, 28, 28)`` uint8 MNIST -> ``(N, 1, 32, 32, 32)`` uint8 volumes (steps 1-5)."""
    from equirestore.groups.translation import shift
    from equirestore.restore.training import centres_of_mass

    rng = np.random.default_rng(seed)
    arr = digits.numpy()
    small = torch.from_numpy(np.stack([voxelize(digit_to_cloud(d[0], rng)) for d in arr]))
    size = GRID + 2 * PAD
    vol = torch.nn.functional.pad(small.unsqueeze(1), [PAD] * 6)
    com = torch.round(centres_of_mass(vol)).long()
    return shift(vol, size // 2 - com)
