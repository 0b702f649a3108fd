"""The automatic recipe behind ``equirestore train-restorer``: a translation restorer for
any dataset, with no recipe flags.

A dataset's canonical position is whatever rule centred it, and the recipe does not know
it. It tries estimators from the cheapest to the most expressive and keeps the first that
is strict on data it did not train on:

1. ``moment``: the closed-form estimator of the centre of mass, which puts it nearest the
   point the training images' centres of mass lie around - a pixel, or a point between
   pixels (no training; :func:`~equirestore.restore.training.moment_centre`);
2. ``box``: the closed-form estimator of a bounding box centred with the dataset's
   rounding, at the ink threshold that fits the training images best (no training;
   :func:`~equirestore.nn.box.fit_box`);
3. ``linear``: one full-size circular filter on the image, trained from zero (its
   objective is convex; started from 1 instead, it ended lower on CIFAR-10 padded by 4:
   99.84% held out, against 100% on the test images from zero);
4. ``features``: full-size filters on the image and 1-D filters on the axis profiles of
   :class:`~equirestore.nn.features.ShiftFeatures` (ink occupancy and bounding box at
   several thresholds, box profiles, edge energy, mass), warm-started from the best of
   1-3;
5. ``gated``: the box of 2 where the object's box spans the dataset's frame along some
   axis, the trained estimator before it (4) elsewhere
   (:class:`~equirestore.nn.gated.GatedEstimator`; no training);
6. ``deep``: 4 plus a learned branch of small circular filters, warm-started from 4 (not
   tried by default: on every suite dataset where 4 fell short it did no better);
7. ``wide``: a hidden layer of 32 full-size circular filters on the image, a ReLU and a
   1x1 filter, from a seeded random start (not tried by default: it beats 4 on the test
   split of scikit-learn's digits but not on its held-out split, and on MNIST resized it
   is no better than 3; ``results/width_ablation.md``).

Before training, the data are inspected (:func:`inspect_images`): blank or periodic
images, exact duplicates and translated copies (Definition 4.2) are named, and the rate
that any estimator can reach is stated. Where the images' border is mostly one colour
other than black (dark strokes on a white page), every candidate sees each pixel's
distance from that colour, and the chosen one is wrapped in
:class:`~equirestore.nn.background.BackgroundEstimator`
(:func:`~equirestore.nn.background.fit_background`; on a black background nothing
changes). A seeded held-out split (``holdout``) is carved
out of the images; every candidate trains on the rest and is measured on both (strict:
a tie for the maximum is a failure). The search stops at the first candidate that is at
least ``target`` strict on both splits; otherwise the best on the held-out split is kept.
Why these candidates and settings: ``results/generality.md`` (every candidate's rates are
in each row's record), ``python -m paper.recipe_ablation`` (step sizes, steps, the
deep candidate: ``results/recipe_ablation.md``) and ``python -m paper.objective_ablation``
(the hinge and hard-example mining against the default cross-entropy:
``results/objective_ablation.md``).

Training is deterministic on the CPU (same seed, bitwise the same weights) and resumable:
with ``state_path``, the state after every epoch is saved there, and a call with the same
data and settings continues from it.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from equirestore.checkpoint import load_checkpoint, save_checkpoint
from equirestore.nn.background import BackgroundEstimator, away_from, fit_background
from equirestore.nn.box import BoxEstimator, fit_box
from equirestore.nn.features import FeatureConfig, FeatureEstimator
from equirestore.nn.gated import GatedEstimator, fit_frame
from equirestore.restore.evaluation import RestoreRates, restore_rates
from equirestore.restore.training import (
    OBJECTIVES,
    TEMPERATURE,
    moment_centre,
    moment_filter,
    train_estimator,
)
from equirestore.restore.translation import TranslationRestorer
from equirestore.theory.aperiodic import check_aperiodic

STATE_FORMAT = "equirestore.restorer_training_state"

#: The image itself as the only feature: a single full-size circular filter.
LINEAR = FeatureConfig(thresholds=(), windows=(), edges=False, mass=False, raw=True)
#: Every feature, the box profiles included (so that the features can start from the box).
FEATURES = FeatureConfig(boxes=True)

#: What a candidate is.
Estimator = FeatureEstimator | BoxEstimator | GatedEstimator
#: A candidate that is not a combination of others (what a candidate starts from).
Single = FeatureEstimator | BoxEstimator


def linear_estimator(input_shape: tuple[int, ...]) -> FeatureEstimator:
    """One full-size circular filter on the image, ``(C, *N) -> (1, *N)``, all zero (the
    ``moment`` and ``linear`` candidates)."""
    return FeatureEstimator(input_shape, LINEAR)


@dataclass(frozen=True)
class Candidate:
    """One estimator the recipe can try.

    ``closed_form``: how a closed-form candidate is fitted (``"moment"``: the filter of the
    centre of mass at :func:`~equirestore.restore.training.moment_centre`; ``"box"``:
    :func:`~equirestore.nn.box.fit_box`; ``"gated"``: :func:`~equirestore.nn.gated.fit_frame`
    between the box and the trained estimator tried last), ``None`` for a trained one. A
    trained candidate has fixed ``features``, a learned branch of width ``hidden``,
    ``steps`` optimisation steps at Adam step size ``lr``, and starts from the filters of
    the best candidate before it when ``warm_start`` (else from zero). Its initialisation
    and training are seeded with ``seed + seed_offset``.
    """

    name: str
    seed_offset: int
    closed_form: str | None = None
    features: FeatureConfig = LINEAR
    hidden: int = 0
    width: int = 0
    steps: int = 1000
    lr: float = 0.05
    warm_start: bool = True


#: Every candidate, in the order of the default search (:attr:`RecipeSettings.candidates`
#: chooses which are tried, in its own order). The seed offsets are the candidates'
#: places before ``box`` was added, so that the others kept their weights.
CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate("moment", 0, closed_form="moment", steps=0, warm_start=False),
        Candidate("box", 4, closed_form="box", steps=0, warm_start=False),
        # one filter on raw pixels: at 0.05 it is still climbing after 1,000 steps
        # (paper.recipe_ablation)
        Candidate("linear", 1, lr=1.0, warm_start=False),
        # still improving after 1,000 steps on every dataset it did not finish
        Candidate("features", 2, features=FEATURES, steps=2000),
        # the box where it spans the frame, the features elsewhere (Fashion-MNIST)
        Candidate("gated", 5, closed_form="gated", steps=0, warm_start=False),
        # warm-started from the features; its learned branch costs ~10x per step
        Candidate("deep", 3, features=FEATURES, hidden=8, steps=400),
        # a hidden layer of full-size filters on the image (paper.width_ablation)
        Candidate("wide", 6, features=LINEAR, width=32, steps=2000, lr=0.01, warm_start=False),
    )
}


@dataclass(frozen=True)
class RecipeSettings:
    """The recipe's settings; the defaults are what ``train-restorer`` uses.

    ``holdout``: fraction of the images held out (at most ``max_holdout``; none for
    fewer than 20 images). ``target``: strict rate on both splits that ends the search.
    ``candidates``: tried in this order (``deep`` only when asked for). A trained
    candidate runs for its :attr:`Candidate.steps` optimisation steps (the epochs follow
    from the data size, at least ``min_epochs``); ``steps`` or ``epochs`` override them,
    ``lr`` overrides every candidate's step size. ``mining`` and ``objective``: how every
    trained candidate is trained (:func:`~equirestore.restore.training.train_estimator`;
    ``python -m paper.objective_ablation`` measures them against the defaults).
    """

    holdout: float = 0.1
    max_holdout: int = 5000
    target: float = 0.999
    candidates: tuple[str, ...] = ("moment", "box", "linear", "features", "gated")
    seed: int = 0
    epochs: int | None = None
    min_epochs: int = 2
    batch_size: int = 500
    lr: float | None = None
    steps: int | None = None
    temperature: float = TEMPERATURE
    mining: int = 0
    objective: str = "cross-entropy"

    def __post_init__(self) -> None:
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or not self.candidates:
            raise ValueError(f"candidates must be among {list(CANDIDATES)}, got {unknown}")
        if "gated" in self.candidates:
            before = self.candidates[: self.candidates.index("gated")]
            if not any(CANDIDATES[c].steps for c in before):
                raise ValueError(
                    "the gated candidate combines the box with a trained candidate tried "
                    "before it: list one of linear, features, deep before 'gated'"
                )
        if not 0 <= self.holdout < 1:
            raise ValueError(f"holdout must be in [0, 1), got {self.holdout}")
        if not 0 < self.target <= 1:
            raise ValueError(f"target must be in (0, 1], got {self.target}")
        if self.epochs is not None and self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1 or (self.lr is not None and not self.lr > 0):
            raise ValueError("batch_size must be >= 1 and lr > 0")
        if self.mining < 0 or self.objective not in OBJECTIVES:
            raise ValueError(
                f"mining must be >= 0 and objective one of {OBJECTIVES}, got {self.mining}, "
                f"{self.objective!r}"
            )

    def epochs_for(self, candidate: Candidate, n: int) -> int:
        """Epochs of ``candidate`` on ``n`` images (0 if it is not trained)."""
        if not candidate.steps:
            return 0
        if self.epochs is not None:
            return self.epochs
        per_epoch = max(1, math.ceil(n / self.batch_size))
        steps = candidate.steps if self.steps is None else self.steps
        return max(self.min_epochs, math.ceil(steps / per_epoch))


@dataclass
class DataReport:
    """What :func:`inspect_images` found (Definition 4.2).

    ``blank``: indices of constant images (every shift leaves them unchanged);
    ``periodic``: other images equal to a non-zero shift of themselves; ``translates``:
    ``(i, j, shift)`` with ``x[j] == shift(x[i], shift)``; ``duplicates``: ``(i, j)``
    exact copies (harmless: one image, one canonical position). ``attainable``: the
    largest fraction of the images any estimator can restore strictly (a periodic image
    never; of a group of translated copies, one at most).
    """

    n: int
    blank: list[int] = field(default_factory=list)
    periodic: list[int] = field(default_factory=list)
    translates: list[tuple[int, int, list[int]]] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)
    attainable: float = 1.0

    def summary(self, show: int = 3) -> list[str]:
        """Human-readable lines (empty when nothing was found)."""
        lines = []
        if self.blank:
            lines.append(
                f"{len(self.blank)} blank (constant) image(s), e.g. #{self.blank[:show]}: they "
                "have no position to estimate"
            )
        if self.periodic:
            lines.append(
                f"{len(self.periodic)} periodic image(s) (equal to a shift of themselves), "
                f"e.g. #{self.periodic[:show]}: no unique estimate is possible"
            )
        if self.translates:
            eg = ", ".join(f"#{j} = shift(#{i}, {s})" for i, j, s in self.translates[:show])
            lines.append(
                f"{len(self.translates)} translated copies, e.g. {eg}: of each group of "
                "copies at most one can be restored exactly"
            )
        if self.duplicates:
            lines.append(f"{len(self.duplicates)} exact duplicate pair(s) (harmless)")
        if lines:
            lines.append(f"at most {100 * self.attainable:.2f}% can be restored exactly")
        return lines


def inspect_images(images: Tensor) -> DataReport:
    """Check ``images (N, C, *S)`` for what makes strict restoration impossible."""
    report = check_aperiodic(images)
    out = DataReport(n=len(images))
    flat = images.flatten(1)
    out.blank = [int(i) for i in ((flat == flat[:, :1]).all(1)).nonzero().flatten()]
    blank = set(out.blank)
    lost = set(blank)
    groups: dict[int, set[int]] = {}
    for v in report.violations:
        if v.kind == "periodic" and v.i not in blank:
            out.periodic.append(v.i)
            lost.add(v.i)
        elif v.kind == "duplicate":
            out.duplicates.append((v.i, v.j))
        elif v.kind == "translate" and v.i not in blank:
            out.translates.append((v.i, v.j, list(v.shift)))
            root = min(groups.get(v.i, {v.i}))
            groups.setdefault(root, {root}).update({v.i, v.j})
    out.periodic = sorted(set(out.periodic))
    for members in groups.values():
        lost.update(sorted(members - lost)[1:])
    out.attainable = 1 - len(lost) / max(1, len(images))
    return out


def split_indices(n: int, settings: RecipeSettings) -> tuple[Tensor, Tensor]:
    """Seeded ``(fit, holdout)`` index sets (see :class:`RecipeSettings`)."""
    k = 0 if n < 20 else min(settings.max_holdout, round(settings.holdout * n))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(settings.seed))
    return order[k:].sort().values, order[:k].sort().values


def _fingerprint(images: Tensor) -> str:
    h = hashlib.sha256(str(tuple(images.shape)).encode())
    h.update(images.float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _build(candidate: Candidate, fit: Tensor, seed: int) -> FeatureEstimator:
    torch.manual_seed(seed)
    est = FeatureEstimator(
        tuple(fit.shape[1:]), candidate.features, hidden=candidate.hidden, width=candidate.width
    )
    est.set_scales(fit[torch.linspace(0, len(fit) - 1, min(len(fit), 2000)).long()])
    return est


def _warm_start(est: FeatureEstimator, previous: Single | None) -> None:
    """Copy the filters of a smaller estimator whose features ``est`` extends, or become
    the box estimator."""
    if previous is None:
        return
    if isinstance(previous, BoxEstimator):
        est.set_box(previous.threshold, previous.centre, previous.levels)  # from zero if it cannot
        return
    with torch.no_grad():
        if previous.map_kernel is not None and est.map_kernel is not None:
            c = previous.map_kernel.shape[1]
            scale = previous.map_scale[:c] / est.map_scale[:c]
            est.map_kernel[:1, :c] = previous.map_kernel[:1] * scale.view(1, -1, *([1] * est.dims))
        for a, (old, new) in enumerate(
            zip(previous.profile_kernels, est.profile_kernels, strict=False)
        ):
            c = old.shape[1]
            scale = previous.profile_scale[a, :c] / est.profile_scale[a, :c]
            new[:1, :c] = old[:1] * scale.view(1, -1, 1)


@dataclass
class _Run:
    """The recipe's progress: finished candidates and the one in training."""

    settings: dict[str, Any]
    fingerprint: str
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> record + state
    current: dict[str, Any] | None = None  # {"name": ..., "train": train_estimator state}


def _load_run(path: Path | None, settings: RecipeSettings, fingerprint: str) -> _Run:
    fresh = _Run(asdict(settings), fingerprint)
    if path is None or not path.exists():
        return fresh
    st = load_checkpoint(path, STATE_FORMAT)
    saved = {**st["settings"], "candidates": tuple(st["settings"]["candidates"])}
    if saved != asdict(settings) or st["fingerprint"] != fingerprint:
        differ = sorted(k for k, v in asdict(settings).items() if saved.get(k) != v)
        what = f"settings {differ}" if differ else "images"
        raise ValueError(
            f"{path} is the state of a training run with other {what}; run again with the "
            "original data and settings to resume it, or pass --restart to start afresh"
        )
    return _Run(fresh.settings, fingerprint, dict(st["done"]), st.get("current"))


def _save_run(path: Path | None, run: _Run) -> None:
    if path is not None:
        body = {"format": STATE_FORMAT, **asdict(run)}
        body["settings"] = {**body["settings"], "candidates": list(run.settings["candidates"])}
        save_checkpoint(body, path)


def _rates(est: nn.Module, fit: Tensor, hold: Tensor) -> tuple[RestoreRates, RestoreRates]:
    empty = RestoreRates(exact=1.0, within_one=1.0, ties=0.0, n=0)
    return restore_rates(est, fit), (restore_rates(est, hold) if len(hold) else empty)


def _try_box(
    name: str, fit: Tensor, hold: Tensor, run: _Run, state_path: Path | None
) -> tuple[BoxEstimator, dict[str, Any]]:
    """A bounding-box candidate: chosen in closed form, so a resumed run rebuilds it from
    its record."""
    if name in run.done:
        record = run.done[name]["record"]
        shape = tuple(fit.shape[1:])
        return BoxEstimator(shape, record["threshold"], record["centre"]), record
    start = time.perf_counter()
    est, choice = fit_box(fit)
    fields = {
        "threshold": choice["threshold"],
        "centre": choice["centre"],
        "thresholds_tried": choice["tried"],
    }
    return est, _closed_form_record(name, est, 0, fields, start, fit, hold, run, state_path)


def _try_gated(
    name: str,
    box: BoxEstimator,
    other: Single,
    fit: Tensor,
    hold: Tensor,
    run: _Run,
    state_path: Path | None,
) -> tuple[GatedEstimator, dict[str, Any]]:
    """The gated candidate between ``box`` and the trained ``other``: its frame is chosen
    in closed form, so a resumed run rebuilds it from its record."""
    if name in run.done:
        record = run.done[name]["record"]
        return GatedEstimator(box, other, record["frame"]).eval(), record
    start = time.perf_counter()
    est = GatedEstimator(box, other, fit_frame(box, fit)).eval()
    fields = {
        "frame": list(est.frame),
        "box_threshold": box.threshold,
        "other": type(other).__name__,
    }
    record = _closed_form_record(
        name, est, est.parameter_count(), fields, start, fit, hold, run, state_path
    )
    return est, record


def _closed_form_record(
    name: str,
    est: Estimator,
    parameters: int,
    fields: dict[str, Any],
    start: float,
    fit: Tensor,
    hold: Tensor,
    run: _Run,
    state_path: Path | None,
) -> dict[str, Any]:
    """Measure a candidate chosen in closed form (no training, no state to keep), record
    it with its own ``fields`` in ``run`` and save the run."""
    fit_rates, hold_rates = _rates(est, fit, hold)
    record = {
        "candidate": name,
        "features": None,
        "hidden": 0,
        "parameters": parameters,
        "epochs": 0,
        **fields,
        "seconds": round(time.perf_counter() - start, 1),
        "fit": asdict(fit_rates),
        "holdout": asdict(hold_rates),
    }
    run.done[name] = {"record": record, "state": {}}
    _save_run(state_path, run)
    return record


def _try(
    candidate: Candidate,
    fit: Tensor,
    hold: Tensor,
    previous: Single | None,
    settings: RecipeSettings,
    run: _Run,
    state_path: Path | None,
    progress: bool,
) -> tuple[Single, dict[str, Any]]:
    """Build, initialise, train (resuming if a state says so) and measure one candidate."""
    if candidate.closed_form == "box":
        return _try_box(candidate.name, fit, hold, run, state_path)
    seed = settings.seed + candidate.seed_offset
    est = _build(candidate, fit, seed)
    if candidate.name in run.done:
        est.load_state_dict(run.done[candidate.name]["state"])
        return est.eval(), run.done[candidate.name]["record"]
    if candidate.closed_form == "moment":  # float64: its tie-break is a millionth of a pixel
        est = est.double()
        spatial = tuple(fit.shape[2:])
        est.set_map_filter(moment_filter(spatial, moment_centre(fit)).expand(fit.shape[1:]))
    elif candidate.warm_start:
        _warm_start(est, previous)
    start = time.perf_counter()
    epochs = settings.epochs_for(candidate, len(fit))
    resume = None
    if run.current is not None and run.current["name"] == candidate.name:
        resume = run.current["train"]

    def save(state: dict[str, Any]) -> None:
        run.current = {"name": candidate.name, "train": state}
        _save_run(state_path, run)

    track = fit[torch.linspace(0, len(fit) - 1, min(len(fit), 10_000)).long()]
    report = train_estimator(
        est,
        fit,
        epochs=epochs,
        batch_size=settings.batch_size,
        lr=candidate.lr if settings.lr is None else settings.lr,
        temperature=settings.temperature,
        seed=seed,
        progress=progress,
        track=track,
        resume=resume,
        on_epoch=save,
        mining=settings.mining,
        objective=settings.objective,
    )
    fit_rates, hold_rates = _rates(est, fit, hold)
    record = {
        "candidate": candidate.name,
        "features": candidate.features.to_dict(),
        "hidden": candidate.hidden,
        "width": candidate.width,
        "parameters": est.parameter_count(),
        "epochs": epochs,
        "best_epoch": report.best_epoch,
        "epoch_tracked_exact": report.train_exact,
        "seconds": round(time.perf_counter() - start, 1),
        "fit": asdict(fit_rates),
        "holdout": asdict(hold_rates),
    }
    run.done[candidate.name] = {"record": record, "state": est.state_dict()}
    run.current = None
    _save_run(state_path, run)
    return est, record


def _good(record: dict[str, Any], target: float) -> bool:
    return record["fit"]["exact"] >= target and (
        record["holdout"]["n"] == 0 or record["holdout"]["exact"] >= target
    )


def _score(record: dict[str, Any]) -> tuple[float, float]:
    hold = record["holdout"]
    return (hold["exact"] if hold["n"] else record["fit"]["exact"], record["fit"]["exact"])


def fit_restorer(
    images: Tensor,
    name: str = "custom",
    settings: RecipeSettings | None = None,
    progress: bool = True,
    state_path: str | os.PathLike[str] | None = None,
) -> tuple[TranslationRestorer, dict[str, Any]]:
    """Choose and train a translation restorer for canonical ``images (N, C, *S)``.

    Args:
        images: the training images as the dataset centred them, float in [0, 1].
        name: a label kept in the checkpoint.
        settings: :class:`RecipeSettings` (default: the defaults).
        progress: show progress bars.
        state_path: where to keep the resumable training state (deleted on success).

    Returns:
        ``(restorer, record)``: the restorer (float64 scores) and a JSON-ready record of
        the data inspection, the split, every candidate tried (settings, strict rates on
        both splits, time) and the one chosen.
    """
    settings = settings or RecipeSettings()
    if images.dim() not in (3, 4, 5) or len(images) < 2:
        raise ValueError(
            f"need at least 2 images of shape (C, *S) with 1-3 spatial axes, got "
            f"{tuple(images.shape)}"
        )
    if min(images.shape[2:]) < 2:
        raise ValueError(f"images of size {tuple(images.shape[2:])} are too small to shift")
    start = time.perf_counter()
    inspection = inspect_images(images)
    background = fit_background(images)
    seen = images if background is None else away_from(images, background)
    fit_idx, hold_idx = split_indices(len(images), settings)
    fit, hold = seen[fit_idx], seen[hold_idx]
    path = Path(state_path) if state_path is not None else None
    run = _load_run(path, settings, _fingerprint(images))
    records: list[dict[str, Any]] = []
    best: tuple[tuple[float, float], Estimator, dict[str, Any]] | None = None
    warm: tuple[float, Single] | None = None  # what the next candidate starts from
    box: BoxEstimator | None = None  # the box candidate, for the gated one
    trained: Single | None = None  # the trained candidate tried last, for the gated one
    for cname in settings.candidates:
        candidate = CANDIDATES[cname]
        est: Estimator
        if candidate.closed_form == "gated":
            assert trained is not None  # RecipeSettings lists a trained candidate before it
            box = box if box is not None else fit_box(fit)[0]
            est, record = _try_gated(cname, box, trained, fit, hold, run, path)
        else:
            start_from = warm[1] if warm is not None else None
            single, record = _try(candidate, fit, hold, start_from, settings, run, path, progress)
            est = single
            if isinstance(single, BoxEstimator):
                box = single
            elif candidate.steps:
                trained = single
            # a warm-started candidate (features, deep) is what the next one starts from;
            # of those that start afresh (closed form, linear), the best on the fit split
            if candidate.warm_start or warm is None or record["fit"]["exact"] > warm[0]:
                warm = (record["fit"]["exact"], single)
        records.append(record)
        if best is None or _score(record) > best[0]:
            best = (_score(record), est, record)
        if _good(record, settings.target):
            break
    assert best is not None
    _, chosen, chosen_record = best
    fit_rates, hold_rates = chosen_record["fit"], chosen_record["holdout"]
    final: Estimator | BackgroundEstimator = chosen
    if background is not None:  # measured again on the images as the restorer gets them
        final = BackgroundEstimator(background, chosen)
        fit_rates, hold_rates = map(asdict, _rates(final, images[fit_idx], images[hold_idx]))
    restorer = TranslationRestorer(final, tuple(images.shape[1:]), name=name).eval()
    record = {
        "name": name,
        "settings": asdict(settings),
        "n_images": len(images),
        "n_fit": len(fit),
        "n_holdout": len(hold),
        "inspection": asdict(inspection),
        "background": background,
        "candidates": records,
        "chosen": chosen_record["candidate"],
        "train_rates": asdict(restore_rates(final, images)),
        "fit_rates": fit_rates,
        "holdout_rates": hold_rates,
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    if path is not None:
        path.unlink(missing_ok=True)
    return restorer, record


def settings_with(**changes: Any) -> RecipeSettings:
    """:class:`RecipeSettings` with some fields changed (``None`` values are ignored)."""
    return replace(RecipeSettings(), **{k: v for k, v in changes.items() if v is not None})
