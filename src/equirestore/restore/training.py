"""Training a translation estimator (Definition 4.1).

Objective. Definition 4.1 asks that component 0 be the *strict* maximum of ``f(x)`` for
every training image. We minimise the softmax cross-entropy of the estimator output
with target index 0, on logits normalised by the image mass:

    z(x) = T * |N| * f(x) / ||x||_1,     loss = -log softmax(z(x))_0

``T`` is a temperature and ``|N|`` the number of positions. For a bias-free network of
circular filters and ReLUs ``f`` is positively homogeneous, so ``z`` does not change
when an image is made brighter or darker: every image counts the same and the loss
cannot be lowered by just inflating the weights on bright images. The normalisation
lives in the loss only; the network stays in the canonical form of Equation (2).

What we tried, and why this recipe (the table is ``results/training.md``, made by
``python -m paper.recipes``):

* The Appendix D network (6 layers, 1 channel, 3x3, no bias) from PyTorch's default
  initialisation, with or without dilation: the ReLU stack collapses to a nearly
  constant output (the loss stays at ``log |N|``) and restores almost no test image
  exactly (0.10% and 0.00%).
  A wider dilated stack does better but stays far from the target within a CPU budget.
* A single full-size circular filter (kernel = input size, computed with the FFT) makes
  the objective *convex* in the kernel: every linear estimator is reachable and
  training cannot stall. On CIFAR-10 (40x40, a zero frame around every image) it
  reaches strict restores on the whole test set from a zero initialisation.
* On MNIST the same zero-initialised training falls short of the 99.5% target: MNIST
  digits were centred by their *rounded centre of mass*, so a large share of digits
  sits within a fraction of a pixel of a rounding boundary and the estimator has to
  reproduce that rounding rule exactly. The *moment* initialisation is the closed-form
  estimator of a rounded centre of mass, the circular filter ``k(o) = -|o - c|^2``
  (circular distance, ``c`` the canonical pixel): for a digit whose support lies within
  half the grid of its centre of mass ``m``,
  ``f(x)(p) = -||x||_1 |p + c - m|^2 + const``, maximal exactly at ``p = round(m) - c``.
  Fine-tuning from it with this objective only lowered the strict rate (the rounding
  boundary has no margin to gain), so the shipped MNIST recipe keeps it as is
  (0 epochs); :func:`train_estimator` keeps the best epoch, so training never makes a
  restorer worse.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore import distributed
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.nn.circular import CircularConv
from equirestore.nn.features import FeatureEstimator
from equirestore.restore.evaluation import restore_rates

INITS = ("default", "zeros", "moment", "matched")

#: ``T`` of :func:`estimator_logits`: sharp enough that the loss keeps pushing the
#: runner-up down until the margin is clear (``results/training.md``).
TEMPERATURE = 100.0
#: A training image whose loss is above this (component 0 has less than ~90% of the
#: softmax) is a hard example for ``mining`` in :func:`train_estimator`.
HARD_LOSS = 0.1
#: What :func:`train_estimator` minimises per image (:func:`sample_losses`).
OBJECTIVES = ("cross-entropy", "hinge")


def moment_filter(spatial: tuple[int, ...], centre: tuple[float, ...]) -> Tensor:
    """The second-moment circular filter ``k(u) = -sum_i d_i(u_i - c_i)^2 / N_i^2``.

    ``d_i`` is the signed circular distance on an axis of length ``N_i`` and ``c`` the
    canonical position of the centre of mass (a point, not necessarily a pixel:
    :func:`moment_centre`). Used with the correlation convention of
    :func:`equirestore.nn.circular.circular_conv` at full size, its output peaks at the
    whole-pixel shift that brings the centre of mass nearest to ``c``. A centre a hair off
    the pixel (:data:`TIE_BREAK`) decides the centres of mass that lie exactly half-way
    between two pixels, which the dataset's own rounding rule put on one side.

    Returns:
        ``(*spatial)`` float64, with values in ``[-len(spatial)/4, 0]``.
    """
    k = torch.zeros(spatial, dtype=torch.float64)
    for axis, (n, c) in enumerate(zip(spatial, centre, strict=True)):
        d = torch.remainder(torch.arange(n, dtype=torch.float64) - c + n / 2, n) - n / 2
        shape = [1] * len(spatial)
        shape[axis] = n
        k = k - ((d / n) ** 2).view(shape)
    return k


#: How far :func:`moment_centre` moves the centre off the pixel: far below the distance
#: of any 8-bit image's centre of mass from a half-way point (at least ``1 / (2 mass)``),
#: far above rounding.
TIE_BREAK = 1e-6


def centres_of_mass(images: Tensor) -> Tensor:
    """Centre of mass of each image ``(N, C, *S)`` (channels summed): float64 ``(N, len(S))``."""
    mass = images.double().sum(1)  # (N, *S)
    total = mass.flatten(1).sum(1).clamp_min(1e-12)
    centre = []
    for axis in range(1, mass.dim()):
        other = [d for d in range(1, mass.dim()) if d != axis]
        marginal = mass.sum(other) if other else mass
        pos = torch.arange(marginal.shape[1], dtype=torch.float64)
        centre.append((marginal * pos).sum(1) / total)
    return torch.stack(centre, 1)


def canonical_centre(images: Tensor) -> tuple[int, ...]:
    """The most common rounded centre of mass of a batch ``(N, C, *S)`` (one int per axis)."""
    return _most_common_pixel(centres_of_mass(images))


def _most_common_pixel(com: Tensor) -> tuple[int, ...]:
    return tuple(int(v) for v in torch.round(com).long().mode(0).values)


#: The share of the images a point between pixels must catch beyond the rounded centre's
#: window before :func:`moment_centre` prefers it.
CLUSTER_GAIN = 0.01


def rounded_centre(images: Tensor) -> tuple[float, ...]:
    """The :func:`canonical_centre` of ``images (N, C, *S)``, moved by :data:`TIE_BREAK`
    towards the side that the centres of mass lying exactly half-way between two pixels
    are on. A dataset rounds with one rule, the same on every axis, so the half-way cases
    of all axes are pooled; without any (or as many on each side), rounding half up: the
    centre of mass half a pixel below ``c`` is canonical."""
    return _tie_broken_pixel(centres_of_mass(images))


def _tie_broken_pixel(com: Tensor) -> tuple[float, ...]:
    """:func:`rounded_centre` from the centres of mass ``com (N, D)``."""
    centre = _most_common_pixel(com)
    offset = com - torch.tensor(centre, dtype=torch.float64)
    halfway = (offset.abs() - 0.5).abs() < 1e-9
    side = float(torch.sign(offset[halfway].sum())) or -1.0
    return tuple(c + TIE_BREAK * side for c in centre)


def moment_centre(images: Tensor) -> tuple[float, ...]:
    """The centre of :func:`moment_filter` for canonical ``images (N, C, *S)``, per axis
    the point that the most centres of mass lie within half a pixel of.

    Datasets centred by a rounded centre of mass (MNIST) put it on a pixel: there the
    centre is the :func:`rounded_centre`. Datasets that centre a region about the centre
    of mass at sub-pixel precision and resample it (a square about the centre of mass
    scaled into a fixed box, as NIST-derived sets are made) put it near a point between
    pixels: on an axis where a window narrower than a pixel catches more centres of mass
    than the rounded centre's by at least :data:`CLUSTER_GAIN` of the images, the centre is
    instead the middle of the extreme centres of mass in the lowest such window that
    catches the most (``results/moment_centre.md``). Below that gain the rounded centre
    stays: a window moved by a hair to catch a few outliers would give up the boundary the
    dataset's rounding rule defines exactly (3D-MNIST: 0.02% more training images, and the
    recipe no longer stopped at this candidate)."""
    com = centres_of_mass(images)
    chosen = []
    for axis, pixel in enumerate(_tie_broken_pixel(com)):
        m = com[:, axis].sort().values
        on_pixel = int(((m - pixel).abs() < 0.5).sum())
        # for each i, the centres of mass in [m_i, m_i + 1): a window narrower than a pixel
        ends = torch.searchsorted(m, m + 1, side="left")
        caught = ends - torch.arange(len(m))
        i = int(caught.argmax())
        if int(caught[i]) - on_pixel >= CLUSTER_GAIN * len(m):
            chosen.append(float(m[i] + m[int(ends[i]) - 1]) / 2)
        else:
            chosen.append(pixel)
    return tuple(chosen)


def _full_size_layer(network: CanonicalNetwork, spatial: tuple[int, ...]) -> CircularConv:
    layers = network.filters()
    if len(layers) != 1 or layers[0].kernel_size != spatial or layers[0].weight.shape[0] != 1:
        raise ValueError(
            "the 'moment' and 'matched' initialisations need a single full-size layer "
            f"(widths=[1], kernel_size={spatial[0]}); use init='default' or 'zeros' otherwise"
        )
    return layers[0]


@torch.no_grad()
def init_estimator(network: CanonicalNetwork | FeatureEstimator, images: Tensor, init: str) -> None:
    """Initialise ``network`` in place.

    ``"default"``: PyTorch's initialisation. ``"zeros"``: all weights and biases 0.
    ``"moment"``: :func:`moment_filter` centred on :func:`moment_centre` of ``images``
    in every channel. ``"matched"``: the zero-mean average training image (a matched
    filter). The last two need one full-size layer (or a :class:`FeatureEstimator`,
    whose full-size filter on the image they set, the other filters zero).
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "default":
        return
    if init == "zeros":
        for p in network.parameters():
            p.zero_()
        return
    spatial = tuple(images.shape[2:])
    if init == "moment":
        k = moment_filter(spatial, moment_centre(images))
        set_full_size_filter(network, k.expand(images.shape[1], *spatial))
    else:
        mean = images.float().mean(0)
        set_full_size_filter(network, mean - mean.mean())


@torch.no_grad()
def set_full_size_filter(network: CanonicalNetwork | FeatureEstimator, filt: Tensor) -> None:
    """Set the estimator to ``f(x)(p) = sum_c sum_o filt[c, o] x[c, p + o]``.

    Args:
        network: a :class:`CanonicalNetwork` with one full-size layer and one output, or
            a :class:`FeatureEstimator` (its other filters are set to zero).
        filt: ``(C, *N)`` indexed by offset ``o`` (mod ``N``); the bias is set to 0.
    """
    if isinstance(network, FeatureEstimator):
        network.set_map_filter(filt)
        return
    spatial = tuple(filt.shape[1:])
    layer = _full_size_layer(network, spatial)
    # circular_conv's tap u reads offset u - a with anchor a = (k-1)//2
    anchor = tuple((k - 1) // 2 for k in layer.kernel_size)
    w = torch.roll(filt, anchor, tuple(range(1, filt.dim()))).unsqueeze(0)
    layer.weight.copy_(w.to(layer.weight.dtype))
    if layer.bias is not None:
        layer.bias.zero_()


def estimator_logits(network: nn.Module, x: Tensor, temperature: float) -> Tensor:
    """``z(x) = T |N| f(x) / ||x||_1`` flattened to ``(B, |N|)`` (see module docstring)."""
    out = network(x).flatten(1)
    mass = x.abs().flatten(1).sum(1, keepdim=True).clamp_min(1e-6)
    return temperature * out.shape[1] * out / mass


def sample_losses(
    network: nn.Module, x: Tensor, temperature: float, objective: str = "cross-entropy"
) -> Tensor:
    """``(B,)``: each image's loss with target index 0, on :func:`estimator_logits` ``z``.

    ``"cross-entropy"``: ``-log softmax(z)_0``. ``"hinge"``: ``relu(M - (z_0 - max_{s != 0}
    z_s))`` with ``M = log(9 (|N| - 1))``, the gap at which index 0 holds 90% of the
    softmax even if every other position were the runner-up; only the runner-up is pushed
    down, and an image past the margin adds nothing.
    """
    z = estimator_logits(network, x, temperature)
    if objective == "hinge":
        margin = math.log(9 * (z.shape[1] - 1))
        return F.relu(margin - (z[:, 0] - z[:, 1:].amax(dim=1)))
    return F.cross_entropy(z, torch.zeros(len(z), dtype=torch.long), reduction="none")


def estimator_loss(
    network: nn.Module,
    x: Tensor,
    temperature: float,
    batch_size: int | None = None,
    target: Tensor | None = None,
) -> Tensor:
    """Cross-entropy of :func:`estimator_logits` with target index 0, or with the soft
    targets ``target (B, |N|)`` (distributions over the positions, e.g. a rotation that
    lies between two angular bins).

    Summed over ``x`` and divided by ``batch_size`` (default ``len(x)``, the mean): a
    process holding a shard of a global batch passes the global size.
    """
    z = estimator_logits(network, x, temperature)
    if target is None:
        index = torch.zeros(len(z), dtype=torch.long, device=z.device)
        total = F.cross_entropy(z, index, reduction="sum")
    else:
        total = -(target.to(z.dtype) * F.log_softmax(z, dim=1)).sum()
    return total / (batch_size or len(z))


def _step(
    model: nn.Module,
    images: Tensor,
    targets: Tensor | None,
    batch: Tensor,
    opt: torch.optim.Optimizer,
    temperature: float,
    hard: Tensor | None = None,
    objective: str = "cross-entropy",
) -> float:
    """One optimisation step on the global ``batch`` (indices); returns its summed loss.

    Each process takes its shard of the batch, and its loss is scaled so that DDP's
    gradient average is the gradient of the global batch mean. With ``hard (2, N)``, the
    entries of this process's images are set to whether each is a hard example (row 0:
    cross-entropy above :data:`HARD_LOSS`, or a hinge inside its margin; index-0 targets
    only) and row 1 to 1 (seen)."""
    world = distributed.world_size()
    mine = batch[distributed.shard(len(batch))]
    t = None if targets is None else targets[mine]
    x = images[mine].float()
    if t is not None or (hard is None and objective == "cross-entropy"):
        loss = estimator_loss(model, x, temperature, len(batch), t) * world
    else:
        each = sample_losses(model, x, temperature, objective)
        if hard is not None:
            limit = HARD_LOSS if objective == "cross-entropy" else 0.0
            hard[0, mine] = (each.detach() > limit).to(hard.dtype)
            hard[1, mine] = 1
        loss = each.sum() / len(batch) * world
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach()) * len(batch) / world


@dataclass
class TrainReport:
    """What :func:`train_estimator` did: per-epoch loss, the strict rate on the tracked
    images where it was measured (about 25 times per run), the epoch whose weights were
    kept (0: the start), wall time of this call."""

    losses: list[float] = field(default_factory=list)
    train_exact: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


class _Loop:
    """A run's optimiser (Adam, one-cycle schedule), batch order, best weights so far and
    last finished epoch; :meth:`state` and :meth:`load` make the run resumable."""

    def __init__(self, network: nn.Module, lr: float, total_steps: int, seed: int) -> None:
        self.network = network
        self.opt = torch.optim.Adam(network.parameters(), lr=lr)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(
            self.opt, max_lr=lr, total_steps=total_steps, pct_start=0.25
        )
        self.gen = torch.Generator().manual_seed(seed)
        self.best_state = {k: v.clone() for k, v in network.state_dict().items()}
        self.best = 0.0
        self.epoch = 0
        self.hard: Tensor | None = None  # images hard in their last step (mining)

    def state(self, report: TrainReport) -> dict[str, Any]:
        """Everything needed to continue after :attr:`epoch` (``weights_only``-savable)."""
        return {
            "epoch": self.epoch,
            "model": self.network.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "generator": self.gen.get_state(),
            "best_state": self.best_state,
            "best": self.best,
            "best_epoch": report.best_epoch,
            "losses": report.losses,
            "train_exact": report.train_exact,
            "hard": self.hard,
        }

    def epoch_loss(
        self,
        model: nn.Module,
        images: Tensor,
        targets: Tensor | None,
        batch_size: int,
        temperature: float,
        on_step: Callable[[int], object],
        mining: int = 0,
        objective: str = "cross-entropy",
    ) -> float:
        """One pass over ``images`` in a fresh random order; the summed loss (all ranks).

        With ``mining``, up to ``mining`` extra copies of each image that was hard in its
        last step (:func:`_step`) replace easy ones in the order (at most half the
        epoch), so that the epoch keeps its length."""
        n = len(images)
        perm = torch.randperm(n, generator=self.gen)
        record = None
        if mining:
            if self.hard is not None and bool(self.hard.any()):
                idx = self.hard.nonzero().flatten()
                m = min(mining * len(idx), n // 2)
                extra = idx[torch.randint(len(idx), (m,), generator=self.gen)]
                perm = torch.cat([perm[: n - m], extra])[torch.randperm(n, generator=self.gen)]
            record = torch.zeros(2, n)
        self.network.train()
        total = 0.0
        for i in range(0, n, batch_size):
            batch = perm[i : i + batch_size]
            total += _step(model, images, targets, batch, self.opt, temperature, record, objective)
            self.sched.step()
            on_step(1)
        self.network.eval()
        (total,) = distributed.all_sum([total])
        if record is not None:
            record = distributed.all_sum_tensor(record)
            old = self.hard if self.hard is not None else torch.zeros(n, dtype=torch.bool)
            self.hard = torch.where(record[1] > 0, record[0] > 0, old)
        return total

    def track(self, rate: float, report: TrainReport) -> float:
        """Record the tracked ``rate`` of :attr:`epoch`; keep the weights if best so far."""
        report.train_exact.append(rate)
        if rate > self.best:
            self.best, report.best_epoch = rate, self.epoch
            self.best_state = {k: v.clone() for k, v in self.network.state_dict().items()}
        return rate

    def load(self, state: dict[str, Any], report: TrainReport) -> None:
        """Continue from a :meth:`state`."""
        self.network.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.gen.set_state(state["generator"])
        self.best_state, self.best = state["best_state"], float(state["best"])
        self.epoch = int(state["epoch"])
        report.losses, report.train_exact = list(state["losses"]), list(state["train_exact"])
        report.best_epoch = int(state["best_epoch"])
        self.hard = state.get("hard")


def train_estimator(
    network: nn.Module,
    images: Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 500,
    lr: float = 0.02,
    temperature: float = TEMPERATURE,
    seed: int = 0,
    progress: bool = True,
    keep_best: bool = True,
    track: Tensor | None = None,
    targets: Tensor | None = None,
    score: Callable[[nn.Module], float] | None = None,
    resume: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    mining: int = 0,
    objective: str = "cross-entropy",
) -> TrainReport:
    """Train ``network`` so that component 0 is the strict maximum on ``images``.

    Adam with a one-cycle schedule on :func:`estimator_loss` (soft ``targets (N, |N|)``
    if given, else index 0; with index 0, ``objective`` picks the loss of
    :func:`sample_losses`) over ``images (N, C, *S)``, float in [0, 1]; the seed fixes
    the batch order. With ``mining > 0`` (index 0 only), images that were hard in their
    last step come up to ``mining`` extra times in the next epoch, in place of easy ones
    (``_Loop.epoch_loss``). About 25 times per run and after the last epoch the strict
    rate on ``track`` (default ``images``; float64, ties fail), or ``score(network)`` if given
    (higher is better), is measured; with ``keep_best`` the best of these epochs (or the
    start) is returned, so training never makes an estimator worse.

    Deterministic on the CPU (same seed, bitwise the same weights) and resumable: after
    every epoch ``on_epoch`` gets the complete state (``weights_only``-savable); passing
    it back as ``resume`` to the same call continues as if never interrupted.
    """
    from tqdm.auto import tqdm

    if epochs < 0 or batch_size < 1 or not lr > 0 or mining < 0:
        raise ValueError(
            f"need epochs >= 0, batch_size >= 1, lr > 0, mining >= 0; got {epochs}, "
            f"{batch_size}, {lr}, {mining}"
        )
    if objective not in OBJECTIVES or (objective != "cross-entropy" and targets is not None):
        raise ValueError(
            f"objective must be one of {OBJECTIVES} (soft targets: cross-entropy only), "
            f"got {objective!r}"
        )
    if mining and targets is not None:
        raise ValueError("mining needs the index-0 target: pass targets=None or mining=0")
    start_time = time.perf_counter()
    tracked = images if track is None else track

    def measure(net: nn.Module) -> float:
        return score(net) if score is not None else restore_rates(net, tracked).exact

    model: nn.Module = network
    if distributed.world_size() > 1:
        model = nn.parallel.DistributedDataParallel(network)
    steps_per_epoch = math.ceil(len(images) / batch_size)
    loop = _Loop(network, lr, max(1, epochs * steps_per_epoch), seed)
    report = TrainReport()
    if resume is None:
        loop.best = measure(network) if epochs else 0.0
    else:
        loop.load(resume, report)
    bar = tqdm(
        total=epochs * steps_per_epoch,
        initial=loop.epoch * steps_per_epoch,
        desc="train estimator",
        disable=not (progress and distributed.is_main()),
    )
    for epoch in range(loop.epoch + 1, epochs + 1):
        total = loop.epoch_loss(
            model, images, targets, batch_size, temperature, bar.update, mining, objective
        )
        report.losses.append(total / len(images))
        loop.epoch = epoch
        # the strict rate is measured about 25 times per run (and after the last epoch)
        if epoch % max(1, epochs // 25) == 0 or epoch == epochs:
            rate = loop.track(measure(network), report)
            bar.set_postfix(loss=f"{total / len(images):.4f}", exact=f"{rate:.5f}")
        if on_epoch is not None:
            on_epoch(loop.state(report))
    bar.close()
    if keep_best:
        network.load_state_dict(loop.best_state)
    network.eval()
    report.seconds = time.perf_counter() - start_time
    return report
