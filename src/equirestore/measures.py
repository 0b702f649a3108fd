"""How shift-robust a classifier is: the two measures of seed 001.

* :func:`shift_consistency` - Zhang (ICML 2019): how often the top-1 class of two
  random shifts of the same image agree. Here both shifts are circular, drawn
  independently and uniformly from ``{-scope..scope}`` per axis.
* :func:`label_change_probability` - Azulay & Weiss (JMLR 2019): the probability that
  the top-1 class changes when the image moves by one pixel. Here: the image is first
  circularly shifted by a random base shift in ``{-scope..scope}`` per axis, then by one
  more pixel in one of the 4 axis directions (chosen uniformly); the measure is the
  fraction of images whose top-1 class differs between the two.
* :func:`rotation_consistency` - Zhang's consistency with two random rotations.

``classify`` is anything mapping ``(B, C, H, W)`` images to ``(B, K)`` scores - a
classifier, or a classifier behind a restorer (:class:`equirestore.RestoredClassifier`).
Shifts follow :mod:`equirestore.groups.translation`. :func:`accuracy_under_shifts` is
Table 1's protocol; :func:`accuracy_under_rotations` its counterpart for rotation and
SE(2) restorers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from equirestore import distributed
from equirestore.groups.translation import random_shifts, shift
from equirestore.restore.base import Restorer

Classify = Callable[[Tensor], Tensor]


@torch.no_grad()
def _agreement(
    classify: Classify,
    images: Tensor,
    first: Tensor,
    second: Tensor,
    batch_size: int,
    act: Callable[[Tensor, Tensor], Tensor] = shift,
) -> float:
    """Fraction of ``images`` labelled the same after ``act(x, first)`` and
    ``act(x, second)`` (per-sample group elements)."""
    same = 0
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size]
        a = classify(act(x, first[i : i + batch_size])).argmax(1)
        b = classify(act(x, second[i : i + batch_size])).argmax(1)
        same += int((a == b).sum())
    return same / len(images)


def shift_consistency(
    classify: Classify, images: Tensor, scope: int = 8, seed: int = 0, batch_size: int = 500
) -> float:
    """Zhang's consistency: ``P[top1(T_a x) == top1(T_b x)]``, ``a, b`` independent and
    uniform in ``{-scope..scope}^2``. Returns a fraction in ``[0, 1]``.

    Args:
        classify: ``(B, C, H, W) -> (B, K)`` scores.
        images: ``(N, C, H, W)``.
    """
    gen = torch.Generator().manual_seed(seed)
    a = random_shifts(len(images), scope, images.dim() - 2, gen)
    b = random_shifts(len(images), scope, images.dim() - 2, gen)
    return _agreement(classify, images, a, b, batch_size)


def one_pixel_steps(n: int, dims: int, generator: torch.Generator) -> Tensor:
    """``(n, dims)`` unit steps, each along one axis in one direction, uniformly drawn."""
    axis = torch.randint(0, dims, (n,), generator=generator)
    sign = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
    steps = torch.zeros(n, dims, dtype=torch.long)
    steps[torch.arange(n), axis] = sign
    return steps


def label_change_probability(
    classify: Classify, images: Tensor, scope: int = 0, seed: int = 0, batch_size: int = 500
) -> float:
    """Azulay & Weiss's ``P(top-1 change)`` under a one-pixel shift (module doc).

    Returns a fraction in ``[0, 1]``; ``1 - P`` is a consistency for one-pixel shifts.
    """
    gen = torch.Generator().manual_seed(seed)
    base = random_shifts(len(images), scope, images.dim() - 2, gen)
    step = one_pixel_steps(len(images), images.dim() - 2, gen)
    return 1.0 - _agreement(classify, images, base, base + step, batch_size)


def rotation_consistency(
    classify: Classify, images: Tensor, seed: int = 0, batch_size: int = 500
) -> float:
    """Zhang's consistency under rotations: ``P[top1(R_a x) == top1(R_b x)]``, ``a, b``
    independent and uniform in ``[0, 360)`` degrees (:func:`equirestore.groups.rotation.rotate`,
    about the image centre)."""
    from equirestore.groups.rotation import rotate

    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(len(images), generator=gen, dtype=torch.float64) * 360
    b = torch.rand(len(images), generator=gen, dtype=torch.float64) * 360
    return _agreement(classify, images, a, b, batch_size, rotate)


@torch.no_grad()
def accuracy_under_shifts(
    classifier: torch.nn.Module,
    restorer: Restorer,
    images: Tensor,
    labels: Tensor,
    max_scope: int,
    seed: int,
    progress: bool = True,
    batch_size: int = 500,
) -> dict[str, list[float]]:
    """Table 1: accuracy (%) per shift scope ``0..max_scope``, without and with the restorer.

    Args:
        classifier: ``(B, C, *n) -> (B, K)``.
        restorer: its canvas ``N`` (``restorer.input_shape[1:]``) is at least ``n``.
        images, labels: ``(M, C, *n)`` at the classifier's own size, and ``(M,)``.

    Every image is zero-padded to the canvas (centred), circularly shifted on the canvas by
    a shift uniform in ``{-k..k}`` per axis (scope ``k``), and classified as the centred
    ``n`` window (``"w/o"``) and behind :class:`~equirestore.RestoredClassifier` (``"w/"``).
    Shifted images are made one batch at a time (never a shifted copy of the whole set);
    under torchrun every process classifies its shard and the counts are summed.
    """
    from tqdm.auto import tqdm

    from equirestore.restore.classifier import RestoredClassifier, crop_centre, pad_to

    if max_scope < 0:
        raise ValueError(f"max_scope must be >= 0, got {max_scope}")
    classifier.eval()
    size = tuple(images.shape[2:])
    protected = RestoredClassifier(restorer, classifier, size)
    rows: dict[str, list[float]] = {"w/o": [], "w/": []}
    mine = distributed.shard(len(images))
    x_mine, y_mine = images[mine], labels[mine]
    bar = tqdm(
        range(max_scope + 1), desc="shift scopes", disable=not (progress and distributed.is_main())
    )
    for k in bar:
        gen = torch.Generator().manual_seed(seed * 100 + k)
        s_mine = random_shifts(len(images), k, images.dim() - 2, gen)[mine]
        correct = [0, 0]
        for i in range(0, len(x_mine), batch_size):
            canvas, _ = pad_to(x_mine[i : i + batch_size], tuple(restorer.input_shape[1:]))
            xs = shift(canvas, s_mine[i : i + batch_size])
            y = y_mine[i : i + batch_size]
            correct[0] += int((classifier(crop_centre(xs, size)).argmax(1) == y).sum())
            correct[1] += int((protected(xs).argmax(1) == y).sum())
        total = distributed.all_sum(correct)
        for key, c in zip(("w/o", "w/"), total, strict=True):
            rows[key].append(round(100 * c / len(images), 2))
    return rows


@torch.no_grad()
def accuracy_under_rotations(
    classifier: torch.nn.Module,
    restorer: Restorer,
    images: Tensor,
    labels: Tensor,
    max_shift: int,
    seed: int,
    progress: bool = True,
    batch_size: int = 500,
) -> dict[str, dict[str, float]]:
    """Accuracy (%) without (``"w/o"``) and with (``"w/"``) a rotation or SE(2) restorer in
    front of the classifier, on the test images as they are (``"upright"``) and on the
    two sets of :func:`~equirestore.restore.rotation_training.rotated_test_sets`
    (``"rotated"``, ``"rotated_shifted_<max_shift>px"``).

    Args:
        classifier: ``(B, C, H, W) -> (B, K)`` on the restorer's canvas.
        restorer: a rotation or SE(2) restorer.
        images, labels: ``(M, C, H, W)`` on the canvas, and ``(M,)``.
    """
    from tqdm.auto import tqdm

    from equirestore.restore.rotation_training import rotated_test_sets
    from equirestore.restore.se2 import SE2Restorer

    classifier.eval()
    rotation = restorer.rotation if isinstance(restorer, SE2Restorer) else restorer
    background = getattr(rotation, "background", None)  # the canvas colour, None: black
    rotated, shifted, _ = rotated_test_sets(images, seed, max_shift, background)
    sets = {"upright": images, "rotated": rotated, f"rotated_shifted_{max_shift}px": shifted}
    rows: dict[str, dict[str, float]] = {}
    for name, x in tqdm(sets.items(), desc="test sets", disable=not progress):
        correct = [0, 0]
        for i in range(0, len(x), batch_size):
            batch, y = x[i : i + batch_size], labels[i : i + batch_size]
            correct[0] += int((classifier(batch).argmax(1) == y).sum())
            correct[1] += int((classifier(restorer(batch)).argmax(1) == y).sum())
        rows[name] = {
            "w/o": round(100 * correct[0] / len(x), 2),
            "w/": round(100 * correct[1] / len(x), 2),
        }
    return rows
