"""Every way of making a classifier shift- or rotation-robust, side by side (one command
per dataset), plus Figure 4 of the paper.

    python -m paper.compare --table mnist --out results/compare_mnist
    python -m paper.compare --table cifar10 --limit 2000 \\
        --out results/compare_cifar10
    python -m paper.compare --table rotated-mnist \\
        --out results/compare_rotated_mnist

Each table has one row per option - plain CNN, + augmentation, + BlurPool
(:func:`equirestore.nn.blurpool.antialias`), the G-CNNs p4 / p4m (:mod:`equirestore.nn.gcnn`),
and the plain CNN behind our restorers (translation, rotation, both) - and columns:
accuracy on the clean test set and under each transformation scope, consistency
(:mod:`equirestore.measures`), parameters (classifier + restorer) and inference time per
image, all measured in the same run.

Every classifier is trained on the same (upright, unshifted) training set; the rows
differ only in what the option changes. Missing classifiers are trained into
``--workdir`` with the recipe in :data:`CLASSIFIER_RECIPES` (resumable, see
:func:`equirestore.classifiers.training.train_classifier`); existing checkpoints are
reused after checking that they were made with that recipe.

Scopes. Shift tables: every test image circularly shifted by a shift uniform in
``{-k..k}`` per axis, ``k = 0..8`` (as Table 1). Rotation table: every test image rotated
about its centre by an angle uniform in ``[-θ, θ]``, ``θ = 0, 45, 90, 135, 180`` degrees,
and one more column with a rotation in ``[-180, 180]`` followed by a shift of up to 8 px.

Figure 4 (shift tables): the classifier trained with translation augmentation (scope 3
for MNIST, 4 for CIFAR-10; solid lines) and without (dashed), each w/o and w/ the
translation restorer, for test scopes 0..8.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from equirestore.classifiers.training import load_classifier, train_classifier
from equirestore.data import load_dataset
from equirestore.groups.rotation import rotate
from equirestore.groups.translation import random_shifts, shift
from equirestore.measures import label_change_probability, rotation_consistency, shift_consistency
from equirestore.report import provenance, save_figure, write_report
from equirestore.restore.base import ComposedRestorer, Restorer
from equirestore.restore.classifier import RestoredClassifier
from equirestore.restore.hub import load_rotation_restorer, load_translation_restorer

#: How each compared classifier is trained (``train_classifier`` keyword arguments);
#: the checkpoint is ``<workdir>/<dataset>_<name>.pt``.
CLASSIFIER_RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "mnist": {
        "small-cnn": {"arch": "small-cnn", "epochs": 2},
        "small-cnn_aug3": {"arch": "small-cnn", "epochs": 2, "shift_scope": 3},
        "small-cnn_rot": {"arch": "small-cnn", "epochs": 2, "rotate": 180.0},
        "small-cnn-blurpool": {"arch": "small-cnn-blurpool", "epochs": 2},
        "p4cnn": {"arch": "p4cnn", "epochs": 2},
        "p4mcnn": {"arch": "p4mcnn", "epochs": 2},
        # the BlurPool filter-size sweep (paper.blurpool)
        **{
            f"small-cnn-blurpool{k}": {"arch": f"small-cnn-blurpool{k}", "epochs": 2}
            for k in range(1, 8)
        },
    },
    "cifar10": {
        "resnet18": {"arch": "resnet18", "epochs": 8, "hflip": True},
        "resnet18_aug4": {"arch": "resnet18", "epochs": 8, "hflip": True, "shift_scope": 4},
        "resnet18-blurpool": {"arch": "resnet18-blurpool", "epochs": 8, "hflip": True},
        "p4cnn": {"arch": "p4cnn", "epochs": 4, "hflip": True},
    },
}


@dataclass(frozen=True)
class Row:
    label: str
    classifier: str  # a key of CLASSIFIER_RECIPES[dataset]
    restorer: str | None = None  # None, "translation", "rotation" or "both"


@dataclass(frozen=True)
class Table:
    dataset: str
    kind: str  # "shift" or "rotation"
    rows: tuple[Row, ...]
    augmented: str = ""  # the classifier trained with translation augmentation (Figure 4)


def _shift_rows(plain: str, aug: str, scope: int, gcnns: tuple[str, ...]) -> tuple[Row, ...]:
    return (
        Row("plain CNN", plain),
        Row(f"+ shift augmentation (<= {scope} px)", aug),
        Row("+ BlurPool (filter 3)", f"{plain}-blurpool"),
        *(Row(f"G-CNN {g.removesuffix('cnn')}", g) for g in gcnns),
        Row("plain CNN + translation restorer", plain, "translation"),
        Row("+ shift augmentation + translation restorer", aug, "translation"),
    )


TABLES: dict[str, Table] = {
    "mnist": Table(
        "mnist",
        "shift",
        _shift_rows("small-cnn", "small-cnn_aug3", 3, ("p4cnn", "p4mcnn")),
        "small-cnn_aug3",
    ),
    "cifar10": Table(
        "cifar10", "shift", _shift_rows("resnet18", "resnet18_aug4", 4, ("p4cnn",)), "resnet18_aug4"
    ),
    "rotated-mnist": Table(
        "mnist",
        "rotation",
        (
            Row("plain CNN", "small-cnn"),
            Row("+ rotation augmentation", "small-cnn_rot"),
            Row("+ BlurPool (filter 3)", "small-cnn-blurpool"),
            Row("G-CNN p4", "p4cnn"),
            Row("G-CNN p4m", "p4mcnn"),
            Row("plain CNN + translation restorer", "small-cnn", "translation"),
            Row("plain CNN + rotation restorer", "small-cnn", "rotation"),
            Row("plain CNN + both restorers", "small-cnn", "both"),
        ),
    ),
}
SHIFT_SCOPES = list(range(9))
ANGLE_SCOPES = [0, 45, 90, 135, 180]


def ensure_classifier(
    workdir: Path, dataset: str, name: str, train: Callable[[], tuple[Tensor, Tensor]]
) -> tuple[nn.Module, dict[str, Any]]:
    """Load ``<workdir>/<dataset>_<name>.pt`` if it was made with the recipe, else train it."""
    recipe = CLASSIFIER_RECIPES[dataset][name]
    path = workdir / f"{dataset}_{name}.pt"
    if not path.exists():
        images, labels = train()
        kwargs = {k: v for k, v in recipe.items() if k != "arch"}
        train_classifier(
            recipe["arch"],
            images,
            labels,
            path,
            **kwargs,
            meta={"dataset": dataset, "command": " ".join(["compare", *sys.argv[1:]])},
        )
    model, ckpt = load_classifier(path)
    meta = ckpt["meta"]
    made = {"dataset": meta.get("dataset"), "arch": ckpt["arch"]}
    made.update({k: meta.get(k) for k in recipe if k != "arch"})
    want = {"dataset": dataset, **recipe}
    defaults = {"shift_scope": 0, "rotate": 0.0, "hflip": False}
    made = {k: (v if v is not None else defaults.get(k)) for k, v in made.items()}
    if made != want:
        raise ValueError(
            f"{path} was trained with {made}, but the comparison's recipe is {want}; "
            "delete it (it will be retrained) or use another --workdir"
        )
    return model, ckpt


Transform = Callable[[Tensor, slice], Tensor]


def _shifter(s: Tensor) -> Transform:
    return lambda x, sl: shift(x, s[sl])


def _rotator(a: Tensor) -> Transform:
    return lambda x, sl: rotate(x, a[sl])


def transforms(kind: str, n: int, seed: int) -> tuple[list[str], list[Transform]]:
    """Column names and the test-time transformation of each column (rows ``sl`` of the
    test set; random parameters are drawn once per column for the whole set)."""
    names: list[str] = []
    fns: list[Transform] = []
    if kind == "shift":
        for k in SHIFT_SCOPES:
            s = random_shifts(n, k, 2, torch.Generator().manual_seed(seed * 100 + k))
            names.append(f"shift <= {k}")
            fns.append(_shifter(s))
        return names, fns
    for deg in ANGLE_SCOPES:
        gen = torch.Generator().manual_seed(seed * 100 + deg)
        a = (torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * deg
        names.append(f"rotation <= {deg}°")
        fns.append(_rotator(a))
    gen = torch.Generator().manual_seed(seed * 100 + 999)
    a = (torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * 180
    s = random_shifts(n, 8, 2, gen)
    names.append("rotation <= 180° + shift <= 8")
    fns.append(lambda x, sl: shift(rotate(x, a[sl]), s[sl]))
    return names, fns


def ms_per_image(classify: Callable[[Tensor], Tensor], x: Tensor, repeats: int = 5) -> float:
    """Median wall time of ``classify`` on the batch ``x``, per image, in milliseconds."""
    with torch.inference_mode():
        classify(x)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            classify(x)
            times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times) / len(x)


def evaluate_table(
    table: Table, workdir: Path, limit: int | None, seed: int, batch: int = 500
) -> dict[str, Any]:
    from tqdm.auto import tqdm

    images, labels = load_dataset(table.dataset, "test")
    if limit is not None and limit < len(images):
        keep = torch.linspace(0, len(images) - 1, limit).round().long()
        images, labels = images[keep], labels[keep]
    train_cache: list[tuple[Tensor, Tensor]] = []

    def train_set() -> tuple[Tensor, Tensor]:
        if not train_cache:
            train_cache.append(load_dataset(table.dataset, "train"))
        return train_cache[0]

    restorers: dict[str, Restorer] = {}
    n_restorer: dict[str, int] = {}
    if any(r.restorer in ("translation", "both") for r in table.rows):
        tr = load_translation_restorer(table.dataset)
        restorers["translation"] = tr
        n_restorer["translation"] = sum(p.numel() for p in tr.parameters())
    if any(r.restorer in ("rotation", "both") for r in table.rows):
        rot = load_rotation_restorer("mnist-rotation")
        restorers["rotation"] = rot
        n_restorer["rotation"] = sum(p.numel() for p in rot.parameters())
    if "translation" in restorers and "rotation" in restorers:
        restorers["both"] = ComposedRestorer(restorers["translation"], restorers["rotation"])
        n_restorer["both"] = n_restorer["translation"] + n_restorer["rotation"]

    names, fns = transforms(table.kind, len(images), seed)
    rows = []
    for row in table.rows:
        model, ckpt = ensure_classifier(workdir, table.dataset, row.classifier, train_set)
        model.eval()
        restorer = restorers.get(row.restorer or "")
        protected = model if restorer is None else RestoredClassifier(restorer, model)

        def classify(x: Tensor, protected: nn.Module = protected) -> Tensor:
            return protected(x.float())

        correct = [0] * len(fns)
        with torch.inference_mode():
            for i in tqdm(range(0, len(images), batch), desc=row.label, leave=False):
                sl = slice(i, i + batch)
                x, y = images[sl], labels[sl]
                for j, fn in enumerate(fns):
                    correct[j] += int((classify(fn(x, sl)).argmax(1) == y).sum())
            if table.kind == "shift":
                consistency = shift_consistency(classify, images, scope=8, seed=seed)
                change: float | None = label_change_probability(classify, images, seed=seed)
            else:
                consistency = rotation_consistency(classify, images, seed=seed)
                change = None
        meta = ckpt["meta"]
        rows.append(
            {
                "label": row.label,
                "classifier": row.classifier,
                "arch": ckpt["arch"],
                "restorer": row.restorer,
                "accuracy": [round(100 * c / len(images), 2) for c in correct],
                "consistency": round(100 * consistency, 2),
                "label_change": None if change is None else round(100 * change, 2),
                "parameters": sum(p.numel() for p in model.parameters())
                + n_restorer.get(row.restorer or "", 0),
                "ms_per_image": round(ms_per_image(classify, images[:batch]), 4),
                "training": {
                    k: meta.get(k)
                    for k in ("epochs", "shift_scope", "rotate", "hflip", "train_seconds_this_run")
                },
            }
        )
        print(rows[-1]["label"], rows[-1]["accuracy"], flush=True)
    return {"columns": names, "rows": rows, "n_test": len(images)}


def _plot(table: Table, res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    cols = res["columns"]
    x = list(range(len(cols)))
    for row in res["rows"]:
        ax.plot(x, row["accuracy"], "o-", ms=3, label=row["label"])
    ax.set_xticks(x, [c.split(" <= ")[-1] if table.kind == "shift" else c for c in cols])
    ax.tick_params(axis="x", labelsize=7, rotation=0 if table.kind == "shift" else 20)
    ax.set_xlabel("max shift (px per axis)" if table.kind == "shift" else "test transformation")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{res['name']}: every option on the same test set")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def _figure4(table: Table, res: dict[str, Any], path: Path) -> None:
    """Figure 4: dashed = trained without augmentation, solid = with; red = w/o restorer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {(r["classifier"], r["restorer"]): r["accuracy"] for r in res["rows"]}
    plain = table.rows[0].classifier
    fig, ax = plt.subplots(figsize=(5, 3.3))
    for clf, style, what in ((plain, "--", "no aug."), (table.augmented, "-", "aug.")):
        for rest, colour, name in ((None, "tab:red", "w/o"), ("translation", "tab:blue", "w/")):
            ax.plot(SHIFT_SCOPES, by[(clf, rest)], style, marker="o", ms=3, color=colour,
                    label=f"{what}, {name} restorer")  # fmt: skip
    scope = CLASSIFIER_RECIPES[table.dataset][table.augmented]["shift_scope"]
    ax.axvline(scope, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("test shift scope k (pixels, each axis)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Figure 4 ({table.dataset}): augmentation scope {scope} vs none")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def markdown(res: dict[str, Any]) -> str:
    cols = res["columns"]
    shift_kind = res["kind"] == "shift"
    head = ["option", *cols, "consistency"]
    head += ["P(label change, 1 px)"] if shift_kind else []
    head += ["parameters", "ms / image", "classifier training"]
    lines = [
        f"# Every option on {res['name']} ({res['n_test']} test images)",
        "",
        "Accuracy (%) clean and under each test transformation, "
        + (
            "consistency (%: same top-1 class for two random shifts of at most 8 px), "
            "P(label change) (%: top-1 class changes under a one-pixel shift), "
            if shift_kind
            else "consistency (%: same top-1 class for two random rotations), "
        )
        + "parameters (classifier + restorer), inference time per image (batch 500). "
        "All rows in one run, on the same test images.",
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
    ]
    for r in res["rows"]:
        t = r["training"]
        extra = [f"{t['epochs']} epochs"]
        if t.get("shift_scope"):
            extra.append(f"shifts <= {t['shift_scope']}")
        if t.get("rotate"):
            extra.append(f"rotations <= {t['rotate']:g}°")
        if t.get("hflip"):
            extra.append("flips")
        cells = [r["label"], *(f"{v:.2f}" for v in r["accuracy"]), f"{r['consistency']:.2f}"]
        cells += [f"{r['label_change']:.2f}"] if shift_kind else []
        cells += [
            f"{r['parameters']:,}",
            f"{r['ms_per_image']:.3f}",
            f"{r['arch']}, " + ", ".join(extra),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![comparison]({Path(res['out']).name}.png)", ""]
    if shift_kind:
        lines += [f"![figure 4]({Path(res['out']).name}_figure4.png)", ""]
    lines += [provenance(res, res["seed"]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--table", choices=sorted(TABLES), required=True)
    p.add_argument("--out", required=True, help="output stem (.md, .json, .png)")
    p.add_argument("--workdir", default="artifacts/compare", help="classifier checkpoints")
    p.add_argument("--limit", type=int, default=None, help="N evenly spaced test images")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    table = TABLES[a.table]
    workdir = Path(a.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "command": "python -m paper.compare " + " ".join(sys.argv[1:]),
        "name": a.table,
        "kind": table.kind,
        "out": a.out,
        "seed": a.seed,
        **evaluate_table(table, workdir, a.limit, a.seed),
    }
    _plot(table, res, Path(a.out + ".png"))
    if table.kind == "shift":
        _figure4(table, res, Path(a.out + "_figure4.png"))
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
