"""The ``wide`` candidate against the default recipe where the default falls short: on
scikit-learn's 8x8 digits, whose horizontal placement no bounding box gives (every digit
fills all 8 rows but a varying number of columns), and on MNIST resized to 32x32 (a
frontier row of ``results/generality.md``, where the default keeps the features).

    python -m paper.width_ablation --out results/width_ablation

``wide`` (:data:`equirestore.restore.recipe.CANDIDATES`) is a hidden layer of 32 full-size
circular filters with constant biases on the image, a ReLU and a 1x1 filter: the score of
each shift is one small network applied to the image moved back by that shift
(:class:`~equirestore.nn.features.FeatureEstimator` with ``width``). Each variant:
:func:`~equirestore.restore.recipe.fit_restorer` with the candidates listed (everything
else the defaults), then the strict rate on the whole test split, as in
:mod:`paper.recipe_ablation`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from equirestore.report import provenance, write_report
from equirestore.restore.recipe import RecipeSettings
from paper.recipe_ablation import Experiment, run, table

EXPERIMENTS: tuple[Experiment, ...] = (
    (
        "sklearn-digits",
        "sklearn-digits",
        "pad",
        (
            ("default recipe", RecipeSettings().candidates, {}),
            ("wide alone", ("wide",), {}),
        ),
    ),
    # the frontier row whose features are nearest the target (the default recipe's row
    # is in results/generality.md)
    ("mnist-resize", "mnist", "resize", (("wide alone", ("wide",), {}),)),
)


def markdown(res: dict[str, Any]) -> str:
    """The grid as a Markdown report."""
    return (
        "# A hidden layer of full-size filters: the wide candidate\n\n"
        "scikit-learn's digits (8x8, zero-padded to 16x16; the seeded 80/20 split of "
        "`equirestore.load_dataset`) and MNIST resized to 32x32 (its default recipe's row: "
        "`results/generality.md`), 10% of the training images held out by the recipe. "
        "'default recipe': every candidate `train-restorer` tries, the one kept marked by "
        "its test rate; 'wide alone': the `wide` candidate only (not in the default search). "
        "Strict: index 0 the unique maximum (ties fail).\n\n"
        + "\n".join(table(res))
        + "\n\n"
        + provenance(res, res["seed"])
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/width_ablation")
    p.add_argument("--n", type=int, default=60_000, help="training images per dataset (at most)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    start = time.perf_counter()
    res = run(a.n, a.seed, EXPERIMENTS)
    res["command"] = "python -m paper.width_ablation " + " ".join(sys.argv[1:])
    write_report(a.out, res, markdown, start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
