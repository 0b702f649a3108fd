"""Training a rotation restorer (Section 5.2) for upright images, as
``equirestore train-restorer --group rotation`` does.

The estimator (:meth:`RotationSettings.network`) is Equation (2) over the polar image
``(radius, angle)``: local 2-D circular filters shared by all radii (``polar_local``
widths of ``polar_kernel`` x ``polar_kernel``, :class:`~equirestore.nn.polar.PolarNetwork`),
then a full-size layer over the angle with ``hidden`` channels and a full-size filter to
one channel, ReLU between them. With ``polar_local=()`` it is the 1-D network of the
paper's Section 5.2 instead, the radius as channels: a local circular filter layer
(``local`` channels, ``local_kernel`` bins) before the same full-size layers - faster to
run, but fewer angles within one bin (``results/rotation_ablation.md``).
It is trained with the translation objective on polar images of the
training images, each

* moved by a random sub-pixel offset (area interpolation) and rotated about the image
  centre by a random angle ``θ`` uniform in ``[0, 360)`` - what the restorer will meet;
  a ``crisp`` fraction of them instead turned by a random whole quarter turn, exactly
  (:func:`quarter_turns`): an upright input is sharp, unlike every resampled one;
* read on the polar grid about its centroid (:class:`RotationRestorer`), which takes the
  offset and the rotation's centre out;
* rolled back along the angle axis by ``k = floor(θ / bin)`` bins, with the soft target
  ``1 - f`` on bin 0 and ``f`` on bin 1, ``f = θ / bin - k``: by equivariance this asks the
  estimator for the angle itself, between the bins, which the restorer's refined
  estimate reads back.

The epoch kept is the one whose estimates are best on rotated images held out of the
training set (angle within one bin). Images on a canvas that is not black (the training
images' border mostly one other colour ``b``, :func:`~equirestore.nn.background.fit_background`)
are rotated as ``x - b`` with ``b`` added back, so that the corners stay canvas, and the
restorer reads ``|x - b|`` (:class:`RotationRestorer`'s ``background``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from equirestore.groups.rotation import rotate
from equirestore.groups.translation import random_shifts, shift
from equirestore.nn.background import fit_background
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.nn.polar import PolarNetwork
from equirestore.restore.evaluation import angle_error
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.se2 import SE2Restorer, rotation_part
from equirestore.restore.subpixel import fractional_shift
from equirestore.restore.training import train_estimator


@dataclass(frozen=True)
class RotationSettings:
    """How a rotation restorer is made (the estimator: ``results/rotation_ablation.md``;
    what the shipped ``mnist-se2`` gives: ``results/rotated_mnist.md``)."""

    n_radius: int = 16
    n_angle: int = 36
    r_max: float | None = 14.0
    upsample: int = 2
    # widths of the 2-D local layers (PolarNetwork); () for the 1-D network. On MNIST
    # (16, 4) put 87.66% of rotated test digits within one bin (361 s of training)
    # against 85.19% for the 1-D network (273 s); README, rotated MNIST
    polar_local: tuple[int, ...] = (16, 4)
    polar_kernel: int = 3
    local: int = 64  # with polar_local=(): channels of the 1-D local layers (0: none)
    local_kernel: int = 5
    local_layers: int = 1
    hidden: int = 128
    # rotated copies of each image, drawn once: on MNIST with the 1-D network 4 copies put
    # 85.51% of the rotated test digits within one bin, 1 copy 82.75%, 8 copies 85.43%
    # against 85.19% for 4 at twice the time (README, rotated MNIST)
    copies: int = 4
    # fraction of the training images turned by a whole quarter turn without any
    # interpolation, as an upright (or quarter-turned) input arrives sharp, where every
    # other training image is blurred by the resampling. On MNIST 0.1 put 85.78% of the
    # upright test digits within one bin against 75.04% for 0 (rotated: 87.37% against
    # 87.66%; README, rotated MNIST)
    crisp: float = 0.1
    epochs: int = 8
    lr: float = 0.01
    batch_size: int = 250
    holdout: int = 2000  # images held out (at most a tenth of them)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_angle < 4 or self.n_radius < 1 or self.hidden < 1 or self.copies < 1:
            raise ValueError("need n_angle >= 4, n_radius >= 1, hidden >= 1, copies >= 1")
        if self.local < 0 or not 1 <= self.local_kernel <= self.n_angle:
            raise ValueError("need local >= 0 and 1 <= local_kernel <= n_angle")
        if not 0 <= self.crisp <= 1:
            raise ValueError(f"need 0 <= crisp <= 1 (a fraction of the images), got {self.crisp}")
        if self.local_layers < 1:
            raise ValueError("need local_layers >= 1 (local = 0 turns the local layers off)")
        if any(w < 1 for w in self.polar_local) or self.polar_kernel % 2 == 0:
            raise ValueError("need polar_local widths >= 1 and an odd polar_kernel")

    def network(self, in_channels: int) -> PolarNetwork | CanonicalNetwork:
        """The estimator: a :class:`PolarNetwork` (its 2-D ``polar_local`` layers, then
        ``hidden (full-size) -> 1 (full-size)`` over the angle); with ``polar_local=()``,
        ``[local (local_kernel)] x local_layers -> hidden -> 1`` circular layers over the
        angle. ReLU between layers."""
        if self.polar_local:
            return PolarNetwork(
                in_channels,
                self.n_radius,
                self.n_angle,
                self.polar_local,
                self.polar_kernel,
                self.hidden,
            )
        widths, kernels = [self.hidden, 1], [self.n_angle, self.n_angle]
        if self.local:
            n = self.local_layers
            widths, kernels = [self.local] * n + widths, [self.local_kernel] * n + kernels
        return CanonicalNetwork(in_channels, widths, kernel_size=kernels, dims=1)


def random_rotations(
    images: Tensor, gen: torch.Generator, background: Sequence[float] | None = None
) -> tuple[Tensor, Tensor]:
    """``images`` moved by a random sub-pixel offset in ``[-1/2, 1/2)^2`` and rotated about
    the image centre by a uniform angle in ``[0, 360)``: ``(rotated, angles)``. The
    corners the rotation brings in are black, or the canvas colour ``background`` (one
    value per channel: ``x - b`` is moved and rotated, and ``b`` added back)."""
    offsets = torch.rand(len(images), 2, generator=gen, dtype=torch.float64) - 0.5
    angles = torch.rand(len(images), generator=gen, dtype=torch.float64) * 360
    if background is None:
        return rotate(fractional_shift(images, offsets, "linear"), angles), angles
    b = torch.tensor([float(v) for v in background], dtype=images.dtype).view(1, -1, 1, 1)
    return rotate(fractional_shift(images - b, offsets, "linear"), angles) + b, angles


def quarter_turns(
    images: Tensor, x: Tensor, theta: Tensor, crisp: float, gen: torch.Generator
) -> None:
    """In place: a random ``crisp`` fraction of the rotated ``x (B, C, H, W)`` replaced by
    their ``images`` turned by a random whole quarter turn (exact, no interpolation; a
    half turn or none where ``H != W``), ``theta (B,)`` set to its angle in degrees."""
    pick = torch.rand(len(x), generator=gen) < crisp
    square = x.shape[-1] == x.shape[-2]
    turns = torch.randint(0, 4, (len(x),), generator=gen)
    if not square:
        turns = turns // 2 * 2
    for k in range(4):
        sel = pick & (turns == k)
        if sel.any():
            x[sel] = torch.rot90(images[sel], k, (2, 3)).to(x.dtype)
            theta[sel] = 90.0 * k


def rotated_training_set(
    restorer: RotationRestorer,
    images: Tensor,
    copies: int,
    gen: torch.Generator,
    crisp: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Polar images ``(copies * N, C * N_r, N_θ)`` of randomly moved and rotated
    ``images (N, C, H, W)`` (a ``crisp`` fraction of them :func:`quarter_turns`), each
    rolled back by its angle's whole bins, and their soft targets ``(copies * N, N_θ)``
    (module docstring)."""
    polars, targets = [], []
    for _ in range(copies):
        for i in range(0, len(images), 2000):
            x, theta = random_rotations(images[i : i + 2000], gen, restorer.background)
            if crisp > 0:
                quarter_turns(images[i : i + 2000], x, theta, crisp, gen)
            bins = theta / restorer.bin_degrees
            k = torch.floor(bins).long()
            frac = (bins - k).to(torch.float32)
            with torch.no_grad():
                polar = restorer.polar(x).float()
            polars.append(shift(polar, -k[:, None]))
            t = torch.zeros(len(x), restorer.n_angle)
            t[:, 0], t[:, 1] = 1 - frac, frac
            targets.append(t)
    return torch.cat(polars), torch.cat(targets)


@torch.no_grad()
def angle_errors(
    restorer: RotationRestorer | SE2Restorer, images: Tensor, angles: Tensor
) -> Tensor:
    """``(B,)`` float64: the signed error (degrees, in ``(-180, 180]``) of the angle that
    ``restorer`` estimates (of an SE(2) restorer, its angle) for ``images`` rotated by
    ``angles (B,)`` degrees, in batches of 1,000; NaN where the estimate is a tie (of an
    SE(2) restorer: its shift or its angle), which is no estimate and within no bin."""
    errors = []
    for i in range(0, len(images), 1000):
        batch = images[i : i + 1000]
        if isinstance(restorer, SE2Restorer):
            (_, est), unique = restorer.estimate_unique(batch)
        else:
            est, unique = restorer.estimate_unique(batch)
        error = angle_error(est, angles[i : i + 1000])
        errors.append(torch.where(unique, error, torch.nan))
    return torch.cat(errors)


def rotated_test_sets(
    images: Tensor,
    seed: int = 0,
    max_shift: int = 8,
    background: Sequence[float] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The evaluation protocol of rotation restorers: ``(rotated, shifted, angles)``,
    ``images (B, C, H, W)`` moved by a random sub-pixel offset and rotated by a uniform
    angle (:func:`random_rotations`, on a ``background`` canvas), and the same then
    circularly shifted by up to ``max_shift`` pixels per axis; one generator seeded with
    ``seed`` draws both."""
    gen = torch.Generator().manual_seed(seed)
    rotated, angles = random_rotations(images, gen, background)
    shifted = shift(rotated, random_shifts(len(rotated), max_shift, 2, gen))
    return rotated, shifted, angles


def angle_rates(
    restorer: RotationRestorer | SE2Restorer, images: Tensor, seed: int = 0, max_shift: int = 8
) -> dict[str, float]:
    """Fraction of ``images`` whose angle is estimated within one bin (absolute error
    ``<= 360 / N_θ`` degrees; a tie is not): as they are (upright, angle 0) and on the two
    sets of :func:`rotated_test_sets`: ``{"upright": ..., "rotated": ...,
    "rotated_shifted_<max_shift>px": ...}``; on the restorer's canvas colour."""
    rotation = rotation_part(restorer)
    rotated, shifted, angles = rotated_test_sets(images, seed, max_shift, rotation.background)
    return {
        "upright": within_one_bin(restorer, images, torch.zeros_like(angles)),
        "rotated": within_one_bin(restorer, rotated, angles),
        f"rotated_shifted_{max_shift}px": within_one_bin(restorer, shifted, angles),
    }


def within_one_bin(
    restorer: RotationRestorer | SE2Restorer, images: Tensor, angles: Tensor
) -> float:
    """Fraction of ``images`` (rotated by ``angles (B,)`` degrees) whose estimated angle is
    within one bin: absolute error at most ``360 / N_θ`` degrees (of an SE(2) restorer,
    its angle); a tie is not."""
    rotation = rotation_part(restorer)
    errors = angle_errors(restorer, images, angles)
    return float((errors.abs() <= rotation.bin_degrees).double().mean())


def fit_rotation_restorer(
    images: Tensor,
    name: str = "custom",
    settings: RotationSettings | None = None,
    progress: bool = True,
) -> tuple[RotationRestorer, dict[str, Any]]:
    """Train a rotation restorer for upright ``images (N, C, H, W)`` (module docstring).

    Returns:
        ``(restorer, record)``: the restorer and a JSON-ready record (settings, within one
        bin on the held-out rotations per tracked epoch, time).
    """
    s = settings or RotationSettings()
    if images.dim() != 4 or len(images) < 20:
        raise ValueError(
            f"need at least 20 images (B, C, H, W) to train a rotation restorer, got "
            f"{tuple(images.shape)}"
        )
    start = time.perf_counter()
    torch.manual_seed(s.seed)
    gen = torch.Generator().manual_seed(s.seed)
    order = torch.randperm(len(images), generator=gen)
    n_held = min(s.holdout, len(images) // 10)
    held, train = images[order[:n_held]], images[order[n_held:]]
    c, h, w = images.shape[1:]
    na = s.n_angle
    net = s.network(c * s.n_radius)
    background = fit_background(images)
    restorer = RotationRestorer(
        net, (c, h, w), s.n_radius, na, s.r_max, s.upsample, name=name, background=background
    ).eval()
    polar, targets = rotated_training_set(restorer, train, s.copies, gen, s.crisp)
    held_x, held_angles = random_rotations(held, gen, background)
    restorer.estimator.float()
    report = train_estimator(
        restorer.estimator,
        polar,
        epochs=s.epochs,
        batch_size=s.batch_size,
        lr=s.lr,
        seed=s.seed,
        progress=progress,
        targets=targets,
        score=lambda _: within_one_bin(restorer, held_x, held_angles),
    )
    restorer.estimator.to(restorer.score_dtype)
    record = {
        "name": name,
        "settings": asdict(s),
        "n_images": len(images),
        "n_train": len(train),
        "n_holdout": len(held),
        "background": background,
        "epoch_holdout_within_one_bin": report.train_exact,
        "best_epoch": report.best_epoch,
        "holdout_within_one_bin": within_one_bin(restorer, held_x, held_angles),
        "train_seconds": round(time.perf_counter() - start, 1),
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    return restorer, record
