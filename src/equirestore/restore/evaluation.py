"""How well a restorer does on a set of images: strict restore rates (Definition 4.1, ties
are failures), consistency under circular shifts, and the angle error of rotation
estimates."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from equirestore import distributed
from equirestore.groups.translation import shift, signed
from equirestore.restore.estimator import exact_mask, peaks
from equirestore.restore.translation import TranslationRestorer


@dataclass
class RestoreRates:
    """Strict estimator quality on a set of canonical (unshifted) images.

    ``exact``: fraction with component 0 the unique maximum (ties are failures).
    ``within_one``: fraction whose unique maximum is within one pixel of index 0 on
    every axis (circularly). ``ties``: fraction whose maximum is tied.
    """

    exact: float
    within_one: float
    ties: float
    n: int


@torch.no_grad()
def restore_rates(
    network: nn.Module,
    images: Tensor,
    batch_size: int = 2000,
    dtype: torch.dtype = torch.float64,
) -> RestoreRates:
    """Measure :class:`RestoreRates` of ``network`` on ``images (N, C, *S)``.

    The network and the images are both cast to ``dtype`` (as
    :class:`~equirestore.restore.TranslationRestorer` casts them to its score dtype), so
    that the rates are those of the restorer and ties are judged at that precision. Under
    ``torchrun`` every process scores its shard and the counts are summed.
    """
    net = copy.deepcopy(network).to(dtype)
    exact = within = ties = 0
    spatial = tuple(images.shape[2:])
    mine = images[distributed.shard(len(images))]
    for i in range(0, len(mine), batch_size):
        s = net(mine[i : i + batch_size].to(dtype)).squeeze(1)
        pk = peaks(s)
        unique = pk.unique
        exact += int((exact_mask(s) & unique).sum())
        near = (signed(pk.position, spatial).abs() <= 1).all(1)
        within += int((near & unique).sum())
        ties += int((~unique).sum())
    total = distributed.all_sum([exact, within, ties])
    n = len(images)
    return RestoreRates(total[0] / n, total[1] / n, total[2] / n, n)


@torch.no_grad()
def consistency(
    restorer: TranslationRestorer,
    images: Tensor,
    seed: int = 0,
    batch_size: int = 1000,
    trials: int = 1,
) -> float:
    """Fraction of (image, shift) pairs with ``restore(shift(x, s)) == restore(x)`` exactly,
    ``s`` uniform over the whole grid, ``trials`` random shifts per image. Batched;
    sharded under torchrun."""
    gen = torch.Generator().manual_seed(seed)
    s_all = [
        torch.stack(
            [torch.randint(0, n, (len(images),), generator=gen) for n in restorer.spatial], 1
        )
        for _ in range(trials)
    ]
    mine = distributed.shard(len(images))
    x_mine, s_mine = images[mine], [s[mine] for s in s_all]
    same = 0
    for i in range(0, len(x_mine), batch_size):
        x = x_mine[i : i + batch_size]
        a = restorer(x)
        for s in s_mine:
            b = restorer(shift(x, s[i : i + batch_size]))
            same += int((a == b).flatten(1).all(1).sum())
    return distributed.all_sum([same])[0] / (trials * len(images))


def angle_error(estimate: Tensor, truth: Tensor) -> Tensor:
    """Signed circular difference ``estimate - truth`` in degrees, in ``(-180, 180]``."""
    d = torch.remainder(estimate - truth, 360.0)
    return torch.where(d > 180, d - 360, d)
