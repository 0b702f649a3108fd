"""``equirestore evaluate``: how strict a restorer is on a test set, and Table 1 / Figure 3
of the paper when a classifier is given.

Protocol (Section 5.1): every test image is placed on the restorer's canvas, circularly
shifted by a shift drawn uniformly from ``{-k..k}`` on each axis (scope ``k = 0..8``), then
classified directly ("w/o") and after restoration ("w/"), at the classifier's own size
(:func:`equirestore.measures.accuracy_under_shifts`). Rotation and SE(2) restorers:
:mod:`equirestore.cli.evaluate_rotation`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from equirestore import distributed
from equirestore.classifiers.training import load_classifier
from equirestore.cli.evaluate_rotation import evaluate_rotation, upright_cost
from equirestore.cli.evaluate_rotation import figures as rotation_figures
from equirestore.cli.evaluate_rotation import markdown as rotation_markdown
from equirestore.data import DATASETS, load_dataset
from equirestore.data.folder import load_folder
from equirestore.groups.translation import random_shifts, shift
from equirestore.io import atomic_path
from equirestore.measures import accuracy_under_shifts
from equirestore.report import hardware, save_figure, save_image_grid
from equirestore.restore.classifier import pad_to
from equirestore.restore.evaluation import consistency, restore_rates
from equirestore.restore.hub import load_restorer, restorer_meta
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
    restorer: TranslationRestorer, canvas: Tensor, path: Path, scope: int, seed: int
) -> None:
    """Original / shifted / restored columns for 6 evenly spaced test images (Figure 3)."""
    n = 6
    gen = torch.Generator().manual_seed(seed)
    x = canvas[torch.linspace(0, len(canvas) - 1, n).long()]  # spread over the (sorted) set
    s = random_shifts(n, scope, 2, gen)
    xs = shift(x, s)
    est = restorer.estimate(xs)
    restored = restorer.undo(xs, est)
    rows = [
        [
            (x[i], "original"),
            (xs[i], f"shifted {tuple(s[i].tolist())}"),
            (restored[i], f"restored (est. {tuple(est[i].tolist())})"),
        ]
        for i in range(n)
    ]
    save_image_grid(rows, path)


def accuracy_plot(dataset: str, rows: dict[str, list[float]], paper: bool, path: Path) -> None:
    """Accuracy vs shift scope, ours and (where comparable) the paper's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = list(range(len(rows["w/o"])))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(k, rows["w/o"], "o-", color="tab:red", label="w/o restorer (ours)")
    ax.plot(k, rows["w/"], "o-", color="tab:blue", label="w/ restorer (ours)")
    if paper and dataset in PAPER_TABLE1:
        ref = PAPER_TABLE1[dataset]
        kp = k[: len(ref["w/o"])]
        ax.plot(kp, ref["w/o"][: len(kp)], "x--", color="tab:red", alpha=0.5, label="w/o (paper)")
        ax.plot(kp, ref["w/"][: len(kp)], "x--", color="tab:blue", alpha=0.5, label="w/ (paper)")
    ax.set_xlabel("shift scope k (pixels, each axis)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{dataset}: accuracy under random circular shifts")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def _table(res: dict[str, Any]) -> str:
    t = res["table"]
    k = list(range(len(t["w/o"])))
    lines = ["| | " + " | ".join(str(i) for i in k) + " |", "|---|" + "---|" * len(k)]
    eff = [round(b - a, 2) for a, b in zip(t["w/o"], t["w/"], strict=True)]
    rows = [("w/o restorer", t["w/o"]), ("w/ restorer", t["w/"]), ("effect", eff)]
    paper = PAPER_TABLE1.get(res["dataset"]) if res["paper_comparable"] else None
    if paper:
        rows += [(f"paper {n}", paper[n][: len(k)]) for n in ("w/o", "w/")]
    lines += [f"| {name} | " + " | ".join(f"{v:.2f}" for v in vals) + " |" for name, vals in rows]
    return "\n".join(lines) + "\n"


def markdown(res: dict[str, Any]) -> str:
    """The Markdown report of an evaluation."""
    r = res["restore_rates"]
    parts = [f"# Restorer `{res['restorer']}` on {res['data']}\n"]
    if "table" in res:
        parts += [
            f"Table 1: accuracy (%) under random circular shifts of at most k pixels per axis, "
            f"on the {res['canvas']} canvas; the classifier sees {res['classifier_size']}.\n",
            _table(res),
            f"Classifier `{res['classifier']}` ({res['classifier_arch']}, trained by "
            f"`{res['classifier_meta'].get('command', '?')}`). w/ restorer identical across "
            f"all scopes: {res['with_restorer_identical']}.\n",
        ]
        if res["dataset"] == "cifar10":
            parts.append(
                "CIFAR-10 here is the JPEG-compressed copy in `../shared/data`: absolute "
                "accuracies differ slightly from the original PNG/pickle release.\n"
            )
    parts.append(
        f"- {res['n_test']:,} test images; strict exact-restore rate (unique maximum at "
        f"index 0; ties fail): **{100 * r['exact']:.2f}%**; within one pixel: "
        f"{100 * r['within_one']:.2f}%; ties: {100 * r['ties']:.2f}%\n"
        f"- consistency, `restorer(shift(x)) == restorer(x)` bit for bit, one uniformly random "
        f"circular shift per image: **{100 * res['consistency']:.2f}%**\n"
    )
    for key, title in (("plot", "accuracy"), ("figure3", "figure 3")):
        if res.get(key):
            parts.append(f"\n![{title}]({Path(res[key]).name})\n")
    hw = res["hardware"]
    parts.append(
        f"\nCommand: `{res['command']}`  \nseed {res['seed']}; wall time {res['seconds']} s; "
        f"{hw['cores']} cores ({hw['cpu']}), torch {hw['torch']}, {res['date']}.\n"
    )
    return "\n".join(parts)


def _test_images(a: argparse.Namespace) -> tuple[Tensor, Tensor | None, str]:
    if (a.dataset is None) == (a.folder is None):
        raise ValueError("pass exactly one of --dataset NAME or --folder DIR")
    if a.folder is not None:
        if a.classifier:
            raise ValueError("--classifier needs labels: use a named --dataset")
        return load_folder(a.folder, a.size, a.grayscale), None, str(a.folder)
    images, labels = load_dataset(
        a.dataset, "test", a.data_root, a.geometry, size=a.size, download=a.download
    )
    return images, labels, f"the {a.dataset} test split"


def _validate(a: argparse.Namespace) -> str:
    if a.limit is not None and a.limit < 1:
        raise ValueError(f"--limit must be >= 1 (the number of test images), got {a.limit}")
    if a.max_scope < 0:
        raise ValueError(f"--max-scope must be >= 0, got {a.max_scope}")
    name = a.restorer or (DATASETS[a.dataset].restorer if a.dataset else None)
    if name is None:
        raise ValueError("pass --restorer (a shipped name or a checkpoint from train-restorer)")
    return str(name)


def _figures(res: dict[str, Any], restorer: TranslationRestorer, canvas: Tensor, a: Any) -> None:
    """Figure 3 and the accuracy plot, if matplotlib is installed (the ``plot`` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("note: no figures (pip install 'equirestore[plot]' for them)", file=sys.stderr)
        return
    out = str(a.out)
    if "table" in res:
        res["plot"] = out + "_accuracy.png"
        accuracy_plot(res["dataset"], res["table"], res["paper_comparable"], Path(res["plot"]))
    if canvas.dim() == 4:
        res["figure3"] = out + "_figure3.png"
        figure3(restorer, canvas, Path(res["figure3"]), min(a.max_scope, 8), a.seed)


def evaluate_command(a: argparse.Namespace) -> int:
    """``equirestore evaluate``: see ``equirestore evaluate --help``."""
    t0 = time.perf_counter()
    restorer_name = _validate(a)
    images, labels, what = _test_images(a)
    if a.limit:
        images = images[: a.limit]
        labels = None if labels is None else labels[: a.limit]
    restorer = load_restorer(restorer_name)
    canvas, _ = pad_to(images, tuple(restorer.input_shape[1:]))
    res: dict[str, Any] = {
        "dataset": a.dataset,
        "data": what,
        "geometry": a.geometry or "pad",
        "restorer": restorer_name,
        "restorer_meta": restorer_meta(restorer_name),
        "canvas": "x".join(str(v) for v in restorer.input_shape[1:]),
        "n_test": len(images),
        "seed": a.seed,
        "command": " ".join(["equirestore", *sys.argv[1:]]),
        "hardware": hardware(),
        "date": time.strftime("%Y-%m-%d"),
    }
    if not isinstance(restorer, TranslationRestorer):
        res.update(evaluate_rotation(a, restorer, canvas, labels))
        if not distributed.is_main():
            return 0
        rotation_figures(res, restorer, canvas, a)
        status = _write(res, rotation_markdown, a.out, t0)
        if warning := upright_cost(res):
            print(warning, file=sys.stderr)
        return status
    res.update(
        restore_rates=asdict(restore_rates(restorer.estimator, canvas)),
        consistency=consistency(restorer, canvas, seed=a.seed),
    )
    if a.classifier:
        assert labels is not None
        torch.manual_seed(a.seed)
        classifier, ckpt = load_classifier(a.classifier)
        if tuple(ckpt["input_shape"]) != tuple(images.shape[1:]):
            raise ValueError(
                f"classifier {a.classifier} takes inputs {tuple(ckpt['input_shape'])}, the test "
                f"images are {tuple(images.shape[1:])}; pass --size {ckpt['input_shape'][-1]}"
            )
        rows = accuracy_under_shifts(classifier, restorer, images, labels, a.max_scope, a.seed)
        res.update(
            classifier=str(a.classifier),
            classifier_arch=ckpt["arch"],
            classifier_meta=ckpt.get("meta", {}),
            classifier_size="x".join(str(v) for v in images.shape[2:]),
            table=rows,
            with_restorer_identical=len(set(rows["w/"])) == 1,
            paper_comparable=images.shape[2:] == canvas.shape[2:],
        )
    if not distributed.is_main():
        return 0
    _figures(res, restorer, canvas, a)
    return _write(res, markdown, a.out, t0)


def _write(
    res: dict[str, Any], render: Callable[[dict[str, Any]], str], out: str, t0: float
) -> int:
    """``<out>.json`` and ``<out>.md`` (each atomically); the report is printed too."""
    res["seconds"] = round(time.perf_counter() - t0, 1)
    text = render(res)
    for suffix, body in ((".json", json.dumps(res, indent=2) + "\n"), (".md", text)):
        with atomic_path(str(out) + suffix) as tmp:
            Path(tmp).write_text(body)
    print(text)
    return 0


def add_parser(sub: Any, data_args: Any) -> None:
    """The parser of ``equirestore evaluate``."""
    p = sub.add_parser(
        "evaluate",
        help="strict rates of a restorer; with --classifier, Table 1 (accuracy vs shifts)",
        description="Measure a restorer on test images: the strict exact-restore rate (ties "
        "fail), within one pixel, ties, and consistency under random circular shifts. With "
        "--classifier, also the accuracy of the classifier on test images randomly circularly "
        "shifted by at most k pixels per axis (k = 0..--max-scope) on the restorer's canvas, "
        "without and with the restorer, at the classifier's own input size (e.g. a 32x32 "
        "CIFAR-10 classifier behind the 40x40 cifar10 restorer: --size 32), and Figure 3. "
        "With a rotation or SE(2) restorer (mnist-rotation, mnist-se2, or from "
        "train-restorer --group): the fraction of test images whose angle is estimated "
        "within one bin as they are (upright), after a random rotation, and after a rotation "
        "and a circular shift of up to --max-scope pixels per axis; with --classifier (at "
        "the canvas size) its accuracy on upright, rotated and rotated + shifted test images "
        "without and with the restorer, and a warning where the restorer lowers it on "
        "upright images. Writes <out>.md, <out>.json and PNG figures (with matplotlib).",
    )
    data_args(p, required=False)
    p.add_argument("--folder", default=None, help="canonical test images instead of --dataset")
    p.add_argument("--grayscale", action="store_true", help="with --folder: read as 1 channel")
    p.add_argument("--classifier", default=None, help="classifier checkpoint (Table 1)")
    p.add_argument(
        "--restorer", default=None, help="shipped name or checkpoint (default: the dataset's)"
    )
    p.add_argument(
        "--max-scope",
        type=int,
        default=8,
        help="largest shift scope k (default 8); for a rotation or SE(2) restorer the largest "
        "shift per axis of the rotated + shifted test set",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N test images")
    p.add_argument("--out", required=True, help="output prefix, e.g. results/table1_mnist")
    p.set_defaults(handler=evaluate_command)
