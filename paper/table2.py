"""Table 2 of the paper: the CIFAR-10 restorer in front of four architectures.

    python -m paper.table2 --out results/table2 \\
        artifacts/issue5/cifar10_vgg16.pt artifacts/cifar10_resnet18.pt \\
        artifacts/issue5/cifar10_densenet121.pt artifacts/issue5/cifar10_mobilenet_v2.pt

Each classifier (made by ``equirestore train-classifier --dataset cifar10 --arch A
--epochs E --hflip``; the command and its wall time are read from the checkpoint and
printed as the training budget) is evaluated on the whole CIFAR-10 test set, original
and randomly circularly shifted within scope 4 on both axes ("w/ Trans."), without
and with the shipped ``cifar10`` translation restorer.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch

from equirestore.classifiers.training import load_classifier
from equirestore.data import load_dataset
from equirestore.groups.translation import random_shifts, shift
from equirestore.report import provenance, write_report
from equirestore.restore.classifier import RestoredClassifier
from equirestore.restore.hub import load_translation_restorer

#: Table 2 of the paper: (original w/o, original w/, shifted w/o, shifted w/) restorer.
PAPER_TABLE2 = {
    "vgg16": (89.27, 89.23, 83.40, 89.23),
    "resnet18": (88.21, 88.18, 82.16, 88.18),
    "densenet121": (92.14, 92.12, 90.46, 92.12),
    "mobilenet_v2": (88.10, 88.09, 83.36, 88.09),
}
SCOPE = 4


@torch.inference_mode()
def evaluate(path: str, seed: int, batch: int = 500) -> dict[str, Any]:
    """Accuracy (%) original / shifted (scope 4), w/o and w/ the restorer."""
    from tqdm.auto import tqdm

    model, ckpt = load_classifier(path)
    images, labels = load_dataset("cifar10", "test")
    protected = RestoredClassifier(load_translation_restorer("cifar10"), model).eval()
    s = random_shifts(len(images), SCOPE, 2, torch.Generator().manual_seed(seed))
    correct = [0, 0, 0, 0]
    for i in tqdm(range(0, len(images), batch), desc=ckpt["arch"]):
        x, y = images[i : i + batch], labels[i : i + batch]
        xs = shift(x, s[i : i + batch])
        with torch.inference_mode():
            for j, (net, inp) in enumerate(
                ((model, x), (protected, x), (model, xs), (protected, xs))
            ):
                correct[j] += int((net(inp).argmax(1) == y).sum())
    meta = ckpt["meta"]
    return {
        "arch": ckpt["arch"],
        "checkpoint": path,
        "accuracy": [round(100 * c / len(images), 2) for c in correct],
        "n_test": len(images),
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": meta.get("epochs"),
        "train_seconds": meta.get("train_seconds_this_run"),
        "train_command": meta.get("command"),
    }


def markdown(res: dict[str, Any]) -> str:
    rows = res["rows"]
    head = "| Res. \\ Trans. | " + " | ".join(f"{r['arch']} w/o | {r['arch']} w/" for r in rows)
    lines = [
        f"# Table 2: the restorer in front of {len(rows)} architectures (CIFAR-10, "
        f"{res['n_test']} "
        f"test images; w/ Trans. = random circular shifts within scope {SCOPE})",
        "",
        head + " |",
        "|---" * (1 + 2 * len(rows)) + "|",
    ]

    def line(name: str, values: list[str]) -> str:
        return f"| {name} | " + " | ".join(values) + " |"

    acc = [r["accuracy"] for r in rows]
    lines.append(line("w/o restorer", [f"{a[0]:.2f} | {a[2]:.2f}" for a in acc]))
    lines.append(line("w/ restorer", [f"{a[1]:.2f} | {a[3]:.2f}" for a in acc]))
    lines.append(line("effect", [f"{a[1] - a[0]:+.2f} | {a[3] - a[2]:+.2f}" for a in acc]))
    paper = [PAPER_TABLE2.get(r["arch"]) for r in rows]
    for name, (i, j) in (("paper w/o", (0, 2)), ("paper w/", (1, 3))):
        lines.append(line(name, [f"{p[i]:.2f} | {p[j]:.2f}" if p else "- | -" for p in paper]))
    lines += [
        "",
        "Columns: w/o = original test images, w/ = shifted (the paper's 'w/o Trans.' and "
        "'w/ Trans.'). CIFAR-10 here is the JPEG copy in `../shared/data` and every network "
        "was trained for a short budget on 2 CPU cores, so absolute accuracies are below the "
        "paper's; the restorer's effect is the point.",
        "",
        "## Training budget",
        "",
        "| network | parameters | epochs | wall time (s) | command |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        secs = f"{r['train_seconds']:.0f}" if r["train_seconds"] is not None else "-"
        lines.append(
            f"| {r['arch']} | {r['parameters']:,} | {r['epochs']} | {secs} | "
            f"`{r['train_command']}` |"
        )
    lines += [
        "",
        "Wall time is that of the (last, if resumed) training run, on the same 2-core machine.",
        "",
        provenance(res, res["seed"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/table2", help="output stem (.md, .json)")
    p.add_argument("checkpoints", nargs="+", help="CIFAR-10 classifier checkpoints")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    rows = [evaluate(path, a.seed) for path in a.checkpoints]
    res = {
        "command": "python -m paper.table2 " + " ".join(sys.argv[1:]),
        "seed": a.seed,
        "n_test": rows[0]["n_test"],
        "rows": rows,
    }
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
