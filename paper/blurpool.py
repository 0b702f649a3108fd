"""BlurPool filter sizes 1-7 on MNIST: accuracy vs shift-consistency (seed 001).

    python -m paper.blurpool --workdir artifacts/issue5 --out results/blurpool

The small MNIST CNN with the BlurPool replacement rules (both max-pools become
MaxBlurPool, reflect padding) for every binomial filter size ``k = 1..7`` (``k = 1`` is
the unblurred network: a dense max-pool subsampled is the strided max-pool), each trained
with the same recipe (:data:`paper.compare.CLASSIFIER_RECIPES`,
``small-cnn-blurpool<k>``), then measured on the MNIST test set: clean accuracy,
accuracy under shifts of at most 4 px, Zhang's consistency (two shifts of at most 8 px)
and Azulay & Weiss's probability that a one-pixel shift changes the label. The plain
network behind the translation restorer is the reference row.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from equirestore.data import load_dataset
from equirestore.groups.translation import random_shifts, shift
from equirestore.measures import label_change_probability, shift_consistency
from equirestore.report import provenance, save_figure, write_report
from equirestore.restore.classifier import RestoredClassifier
from equirestore.restore.hub import load_translation_restorer
from paper.compare import ensure_classifier, ms_per_image

SIZES = list(range(1, 8))


@torch.inference_mode()
def measure(classify: Any, images: Tensor, labels: Tensor, seed: int) -> dict[str, float]:
    s = random_shifts(len(images), 4, 2, torch.Generator().manual_seed(seed))
    clean = shifted = 0
    for i in range(0, len(images), 500):
        x, y = images[i : i + 500], labels[i : i + 500]
        clean += int((classify(x).argmax(1) == y).sum())
        shifted += int((classify(shift(x, s[i : i + 500])).argmax(1) == y).sum())
    return {
        "clean": round(100 * clean / len(images), 2),
        "shift <= 4": round(100 * shifted / len(images), 2),
        "consistency": round(100 * shift_consistency(classify, images, 8, seed), 2),
        "label_change": round(100 * label_change_probability(classify, images, 0, seed), 2),
        "ms_per_image": round(ms_per_image(classify, images[:500]), 4),
    }


def _plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.3))
    rows = res["rows"]
    k = [r["filter_size"] for r in rows]
    axes[0].plot(k, [r["consistency"] for r in rows], "o-", label="consistency (shifts <= 8)")
    axes[0].plot(k, [100 - r["label_change"] for r in rows], "s-", label="100 - P(change, 1 px)")
    axes[0].set_xlabel("BlurPool filter size k")
    axes[0].set_ylabel("%")
    axes[0].legend(fontsize=7)
    axes[1].plot([r["consistency"] for r in rows], [r["clean"] for r in rows], "o-")
    for r in rows:
        axes[1].annotate(str(r["filter_size"]), (r["consistency"], r["clean"]), fontsize=7)
    ref = res["restorer"]
    axes[1].plot([ref["consistency"]], [ref["clean"]], "*", ms=10, label="k = 1 + restorer")
    axes[1].set_xlabel("consistency (%)")
    axes[1].set_ylabel("clean accuracy (%)")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("MNIST small CNN with BlurPool: filter size vs shift robustness", fontsize=9)
    save_figure(fig, path)


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"# BlurPool filter sizes on MNIST ({res['n_test']} test images)",
        "",
        "| filter size | clean acc. (%) | acc., shifts <= 4 (%) | consistency (%) | "
        "P(label change, 1 px) (%) | ms / image |",
        "|---|---|---|---|---|---|",
    ]
    ref = res["restorer"]
    for r in [*res["rows"], {**ref, "filter_size": "1 + translation restorer"}]:
        lines.append(
            f"| {r['filter_size']} | {r['clean']:.2f} | {r['shift <= 4']:.2f} | "
            f"{r['consistency']:.2f} | {r['label_change']:.2f} | {r['ms_per_image']:.3f} |"
        )
    lines += [
        "",
        "Consistency: same top-1 class for two random circular shifts of at most 8 px per "
        "axis; P(label change): the top-1 class changes under a one-pixel shift. Every "
        "network: small CNN, 2 epochs, same seed; filter size 1 is the plain network.",
        "",
        f"![blurpool]({Path(res['out']).name}.png)",
        "",
        provenance(res, res["seed"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/blurpool", help="output stem (.md, .json, .png)")
    p.add_argument("--workdir", default="artifacts/compare", help="classifier checkpoints")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    workdir = Path(a.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    images, labels = load_dataset("mnist", "test")
    cache: list[tuple[Tensor, Tensor]] = []

    def train_set() -> tuple[Tensor, Tensor]:
        if not cache:
            cache.append(load_dataset("mnist", "train"))
        return cache[0]

    rows = []
    models = {}
    for k in SIZES:
        model, _ = ensure_classifier(workdir, "mnist", f"small-cnn-blurpool{k}", train_set)
        models[k] = model
        rows.append({"filter_size": k, **measure(lambda x, m=model: m(x), images, labels, a.seed)})
        print(rows[-1], flush=True)
    restorer = load_translation_restorer("mnist")
    ref = measure(RestoredClassifier(restorer, models[1]).eval(), images, labels, a.seed)
    res: dict[str, Any] = {
        "command": "python -m paper.blurpool " + " ".join(sys.argv[1:]),
        "out": a.out,
        "seed": a.seed,
        "n_test": len(images),
        "rows": rows,
        "restorer": ref,
    }
    _plot(res, Path(a.out + ".png"))
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
