"""Table 1 and Figure 3 of the paper: accuracy under random circular shifts, w/o and w/
the restorer, plus the strict restore rates and the consistency of the restorer.

Protocol (Section 5.1): every test image is circularly shifted by a shift drawn uniformly
from ``{-k..k}`` on each axis (scope ``k = 0..8``), then classified directly ("w/o")
and after restoration ("w/").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from equirestore import distributed
from equirestore.classifiers.training import load_classifier
from equirestore.data import load_dataset
from equirestore.groups.translation import random_shifts, shift
from equirestore.io import atomic_path
from equirestore.measures import accuracy_under_shifts
from equirestore.report import hardware, save_figure
from equirestore.restore.evaluation import consistency, restore_rates
from equirestore.restore.hub import load_translation_restorer, restorer_meta
from equirestore.restore.translation import TranslationRestorer

#: Table 1 of the paper (accuracy %, scopes 0..8).
PAPER_TABLE1 = {
    "mnist": {
        "w/o": [98.89, 98.21, 95.41, 87.07, 76.61, 62.9, 51.33, 41.1, 35.7],
        "w/": [98.59] * 9,
    },
    "cifar10": {
        "w/o": [88.21, 86.58, 85.9, 83.65, 82.16, 80.46, 79.37, 77.71, 76.01],
        "w/": [88.18] * 9,
    },
}


def figure3(
    restorer: TranslationRestorer, images: Tensor, path: Path, scope: int, seed: int, n: int = 6
) -> None:
    """Original / shifted / restored columns for ``n`` evenly spaced test images (Figure 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gen = torch.Generator().manual_seed(seed)
    x = images[torch.linspace(0, len(images) - 1, n).long()]  # spread over the (class-sorted) set
    s = random_shifts(n, scope, 2, gen)
    xs = shift(x, s)
    restored, est = restorer(xs)
    fig, axes = plt.subplots(n, 3, figsize=(4.6, 1.55 * n))
    for i in range(n):
        for j, (img, title) in enumerate(
            (
                (x[i], "original"),
                (xs[i], f"shifted {tuple(s[i].tolist())}"),
                (restored[i], f"restored (est. {tuple(est[i].tolist())})"),
            )
        ):
            ax = axes[i, j]
            im = img.permute(1, 2, 0).squeeze(-1).clamp(0, 1).numpy()
            ax.imshow(im, cmap="gray" if im.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=6.5)
    save_figure(fig, path)


def accuracy_plot(dataset: str, rows: dict[str, list[float]], path: Path) -> None:
    """Accuracy vs shift scope, ours and the paper's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = list(range(len(rows["w/o"])))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(k, rows["w/o"], "o-", color="tab:red", label="w/o restorer (ours)")
    ax.plot(k, rows["w/"], "o-", color="tab:blue", label="w/ restorer (ours)")
    paper = PAPER_TABLE1.get(dataset)
    if paper:
        ax.plot(k, paper["w/o"][: len(k)], "x--", color="tab:red", alpha=0.5, label="w/o (paper)")
        ax.plot(k, paper["w/"][: len(k)], "x--", color="tab:blue", alpha=0.5, label="w/ (paper)")
    ax.set_xlabel("shift scope k (pixels, each axis)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{dataset}: accuracy under random circular shifts")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def markdown(res: dict[str, Any]) -> str:
    """The Markdown report of a Table 1 run."""
    k = list(range(len(res["table"]["w/o"])))
    head = "| | " + " | ".join(str(i) for i in k) + " |\n|---|" + "---|" * len(k) + "\n"
    t = res["table"]
    eff = [round(b - a, 2) for a, b in zip(t["w/o"], t["w/"], strict=True)]
    body = "".join(
        f"| {name} | " + " | ".join(f"{v:.2f}" for v in vals) + " |\n"
        for name, vals in (("w/o restorer", t["w/o"]), ("w/ restorer", t["w/"]), ("effect", eff))
    )
    paper = PAPER_TABLE1.get(res["dataset"])
    if paper:
        body += "".join(
            f"| paper {name} | " + " | ".join(f"{v:.2f}" for v in vals) + " |\n"
            for name, vals in (("w/o", paper["w/o"][: len(k)]), ("w/", paper["w/"][: len(k)]))
        )
    r = res["restore_rates"]
    note = (
        "\nCIFAR-10 here is the JPEG-compressed copy in `../shared/data`: absolute "
        "accuracies differ slightly from the original PNG/pickle release.\n"
        if res["dataset"] == "cifar10"
        else ""
    )
    return (
        f"# Table 1 ({res['dataset']}): accuracy (%) under random circular shifts of at most "
        f"k pixels per axis\n\n"
        f"{head}{body}{note}\n"
        f"Restorer `{res['restorer']}`; classifier `{res['classifier']}` "
        f"({res['classifier_arch']}, trained by "
        f"`{res['classifier_meta'].get('command', '?')}`); {res['n_test']} test images.\n\n"
        f"- strict exact-restore rate (unique maximum at index 0; ties are failures): "
        f"**{100 * r['exact']:.2f}%**; within one pixel: {100 * r['within_one']:.2f}%; "
        f"ties: {100 * r['ties']:.2f}%\n"
        f"- consistency, `restore(shift(x)) == restore(x)` bit for bit, one uniformly random "
        f"circular shift per image: **{100 * res['consistency']:.2f}%**\n"
        f"- w/ restorer identical across all scopes: {res['with_restorer_identical']}\n\n"
        f"![accuracy]({Path(res['plot']).name})\n\n![figure 3]({Path(res['figure3']).name})\n\n"
        f"Command: `{res['command']}`  \nseed {res['seed']}; wall time {res['seconds']} s; "
        f"{res['hardware']['cores']} cores ({res['hardware']['cpu']}), torch "
        f"{res['hardware']['torch']}, {res['date']}.\n"
    )


def evaluate_command(a: argparse.Namespace) -> int:
    """``equirestore evaluate``: see ``equirestore evaluate --help``."""
    t0 = time.perf_counter()
    torch.manual_seed(a.seed)
    images, labels = load_dataset(a.dataset, "test", a.data_root, a.geometry)
    if a.limit:
        images, labels = images[: a.limit], labels[: a.limit]
    restorer_name = a.restorer or a.dataset
    restorer = load_translation_restorer(restorer_name)
    classifier, ckpt = load_classifier(a.classifier)
    if tuple(ckpt["input_shape"]) != tuple(images.shape[1:]):
        raise ValueError(
            f"classifier {a.classifier} expects inputs {tuple(ckpt['input_shape'])}, "
            f"the {a.dataset} test images are {tuple(images.shape[1:])}"
        )
    rates = restore_rates(restorer.estimator, images)
    cons = consistency(restorer, images, seed=a.seed)
    rows = accuracy_under_shifts(classifier, restorer, images, labels, a.max_scope, a.seed)
    out = Path(a.out)
    res: dict[str, Any] = {
        "dataset": a.dataset,
        "geometry": a.geometry or "pad",
        "restorer": str(restorer_name),
        "restorer_meta": restorer_meta(restorer_name),
        "classifier": str(a.classifier),
        "classifier_arch": ckpt["arch"],
        "classifier_meta": ckpt.get("meta", {}),
        "n_test": len(images),
        "table": rows,
        "restore_rates": asdict(rates),
        "consistency": cons,
        "with_restorer_identical": len(set(rows["w/"])) == 1,
        "seed": a.seed,
        "command": " ".join(["equirestore", *sys.argv[1:]]),
        "hardware": hardware(),
        "date": time.strftime("%Y-%m-%d"),
        "plot": str(out) + "_accuracy.png",
        "figure3": str(out) + "_figure3.png",
    }
    if not distributed.is_main():
        return 0
    accuracy_plot(a.dataset, rows, Path(res["plot"]))
    figure3(restorer, images, Path(res["figure3"]), scope=a.max_scope, seed=a.seed)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    for suffix, text in ((".json", json.dumps(res, indent=2) + "\n"), (".md", markdown(res))):
        with atomic_path(str(out) + suffix) as tmp:
            Path(tmp).write_text(text)
    print(markdown(res))
    return 0


def add_parser(sub: Any, data_args: Any) -> None:
    """The parser of ``equirestore evaluate``."""
    p = sub.add_parser(
        "evaluate",
        help="Table 1: accuracy vs shift scope, w/o and w/ restorer",
        description="Accuracy of a classifier on test images randomly "
        "circularly shifted by at most k pixels per axis (k = 0..8), without and "
        "with the restorer; also strict restore rates, consistency and Figure 3. "
        "Writes <out>.md, <out>.json and PNG figures.",
    )
    data_args(p)
    p.add_argument("--classifier", required=True, help="classifier checkpoint")
    p.add_argument("--restorer", default=None, help="shipped name or checkpoint (default: dataset)")
    p.add_argument("--max-scope", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N test images")
    p.add_argument("--out", required=True, help="output prefix, e.g. results/table1_mnist")
    p.set_defaults(handler=evaluate_command)
