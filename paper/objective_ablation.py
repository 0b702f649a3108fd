"""How the recipe's trained candidates are trained: the objective and hard-example mining,
on the suite rows that fall short.

    python -m paper.objective_ablation --out results/objective_ablation

Each cell is :func:`equirestore.restore.recipe.fit_restorer` with every default but one
(:data:`VARIANTS`) on the whole training split of a suite row of ``paper.generality``
(:data:`ROWS`), then the strict exact-restore rate (ties fail) on its whole test split:

* ``cross-entropy`` (the default): softmax cross-entropy with target index 0;
* ``cross-entropy + mining``: the same, and every image that was hard in its last step
  (cross-entropy above ``HARD_LOSS``, index 0 under 90% of the softmax) comes up to 4
  more times in the next epoch, in place of easy ones;
* ``hinge``: a margin on the gap between index 0 and the runner-up
  (:func:`equirestore.restore.training.sample_losses`).

Cells run in ``--jobs`` processes of one torch thread each (the rates depend on the
thread count in their last bits, so the table is for one thread).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch

from equirestore.data import load_dataset
from equirestore.report import provenance, write_report
from equirestore.restore.evaluation import restore_rates
from equirestore.restore.recipe import fit_restorer, settings_with
from paper.generality import ROWS as SUITE

#: The suite rows below the 99.5% target (``results/generality.md``), longest first.
ROWS = ("cifar10-raw", "mnist-resize", "fashion-mnist", "sklearn-digits")
#: (label, settings changed)
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("cross-entropy (default)", {}),
    ("cross-entropy + mining", {"mining": 4}),
    ("hinge", {"objective": "hinge"}),
)


def cell(key: str, label: str, changes: dict[str, Any], seed: int) -> dict[str, Any]:
    """One row under one variant, in one torch thread."""
    torch.set_num_threads(1)
    row = next(r for r in SUITE if r.key == key)
    where = {"geometry": row.geometry, "size": row.size, "download": row.download}
    train, _ = load_dataset(row.dataset, "train", **where)
    test, _ = load_dataset(row.dataset, "test", **where)
    start = time.perf_counter()
    restorer, record = fit_restorer(train, key, settings_with(seed=seed, **changes), False)
    seconds = time.perf_counter() - start
    test_rates = restore_rates(restorer.estimator, test)
    out = {
        "dataset": key,
        "variant": label,
        "changes": changes,
        "chosen": record["chosen"],
        "fit_exact": record["fit_rates"]["exact"],
        "holdout_exact": record["holdout_rates"]["exact"],
        "test_exact": test_rates.exact,
        "test_ties": test_rates.ties,
        "seconds": round(seconds, 1),
        "candidates": [
            {k: c[k] for k in ("candidate", "fit", "holdout", "seconds")}
            for c in record["candidates"]
        ],
    }
    print(out, flush=True)
    return out


def run(seed: int, jobs: int) -> dict[str, Any]:
    """Every cell (rows x variants)."""
    grid = [(key, label, changes) for key in ROWS for label, changes in VARIANTS]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(cell, key, label, changes, seed) for key, label, changes in grid]
        cells = [f.result() for f in futures]
    return {"seed": seed, "jobs": jobs, "cells": cells}


def markdown(res: dict[str, Any]) -> str:
    """The grid as a Markdown table."""
    lines = [
        "| dataset | variant | chosen | strict, trained on | held out | test | ties, test "
        "| features: trained on / held out | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in res["cells"]:
        feats = next((f for f in c["candidates"] if f["candidate"] == "features"), None)
        f_part = (
            "-"
            if feats is None
            else f"{100 * feats['fit']['exact']:.2f}% / {100 * feats['holdout']['exact']:.2f}%"
        )
        lines.append(
            f"| {c['dataset']} | {c['variant']} | {c['chosen']} | {100 * c['fit_exact']:.2f}% "
            f"| {100 * c['holdout_exact']:.2f}% | **{100 * c['test_exact']:.2f}%** "
            f"| {100 * c['test_ties']:.2f}% | {f_part} | {c['seconds']:.0f} |"
        )
    return (
        "# How the trained candidates are trained: objective and hard-example mining\n\n"
        "Every cell: `equirestore train-restorer`'s recipe with its defaults but the one "
        "named, on the whole training split (10% held out by the recipe), measured on the "
        "test split (strict: index 0 the unique maximum, ties fail). 'mining': images that "
        "were hard in their last step come up to 4 more times in the next epoch. 'hinge': "
        "a margin on the gap between index 0 and the runner-up. One torch thread per cell, "
        f"{res['jobs']} cells at a time.\n\n"
        + "\n".join(lines)
        + "\n\n"
        + provenance(res, res["seed"])
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/objective_ablation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="cells run at once (one thread each)")
    a = p.parse_args(argv)
    if a.jobs < 1:
        p.error("--jobs must be >= 1")
    start = time.perf_counter()
    res = run(a.seed, a.jobs)
    res["command"] = "python -m paper.objective_ablation " + " ".join(sys.argv[1:])
    write_report(a.out, res, markdown, start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
