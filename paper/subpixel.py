"""How the integer restorer fares on translations it was not built for: fractional
shifts (and a sub-pixel extension) and zero-filled (non-circular) shifts.

    python -m paper.subpixel --out results/subpixel \\
        --classifier mnist=artifacts/mnist_small-cnn.pt \\
        --classifier cifar10=artifacts/cifar10_resnet18.pt --limit cifar10=2000

Protocol: every test image is translated by a real shift drawn uniformly from
``[-4, 4]`` per axis, by band-limited (Fourier) or area (linear) interpolation, and
classified as is, after the integer restorer, after the sub-pixel restorer
(:mod:`equirestore.restore.subpixel`) and after undoing the true shift (the "oracle",
which shows what the interpolation itself costs). Separately, integer shifts that fill
with zeros instead of wrapping around (what a camera sees when an object moves) are
restored with the plain restorer.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch

from equirestore.classifiers.training import load_classifier
from equirestore.data import load_dataset
from equirestore.groups.translation import random_shifts, shift, signed, zero_fill_shift
from equirestore.report import provenance, write_report
from equirestore.restore.estimator import peaks
from equirestore.restore.hub import load_translation_restorer
from equirestore.restore.subpixel import fractional_shift, refine_peaks


@torch.no_grad()
def evaluate(
    dataset: str, classifier_path: str, limit: int | None, seed: int, batch: int = 500
) -> dict[str, Any]:
    images, labels = load_dataset(dataset, "test")
    if limit and limit < len(images):
        # evenly spaced, not the first N: the CIFAR-10 folders are sorted by class
        pick = torch.arange(limit) * len(images) // limit
        images, labels = images[pick], labels[pick]
    restorer = load_translation_restorer(dataset)
    classifier, _ = load_classifier(classifier_path)
    gen = torch.Generator().manual_seed(seed)
    s_true = (torch.rand(len(images), 2, generator=gen, dtype=torch.float64) - 0.5) * 8
    n = len(images)

    def acc(correct: int) -> float:
        return round(100 * correct / n, 2)

    res: dict[str, Any] = {"dataset": dataset, "n": n, "classifier": classifier_path}
    clean = 0
    for i in range(0, n, batch):
        clean += int((classifier(images[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
    res["clean"] = acc(clean)
    for method in ("fourier", "linear"):
        right = dict.fromkeys(("shifted", "integer", "subpixel", "oracle"), 0)
        err_int = err_sub = 0.0
        for i in range(0, n, batch):
            x, y, s = images[i : i + batch], labels[i : i + batch], s_true[i : i + batch]
            xs = fractional_shift(x, s, method)
            scores = restorer.scores(xs)
            est_int = signed(peaks(scores).position, restorer.spatial)  # == estimate(xs)
            est_sub = refine_peaks(scores)
            outs = {
                "shifted": xs,
                "integer": shift(xs, -est_int),
                "subpixel": fractional_shift(xs, -est_sub, method),
                "oracle": fractional_shift(xs, -s, method),
            }
            for key, xr in outs.items():
                right[key] += int((classifier(xr.float()).argmax(1) == y).sum())
            err_int += float((est_int - s).abs().sum())
            err_sub += float((est_sub - s).abs().sum())
        res[method] = {k: acc(v) for k, v in right.items()} | {
            "mean_abs_error_integer": err_int / (2 * n),
            "mean_abs_error_subpixel": err_sub / (2 * n),
        }
        print(f"{dataset} {method}: {res[method]}", flush=True)
    rows: dict[str, list[float]] = {"w/o": [], "w/": [], "exact estimate": []}
    for k in range(9):
        g = torch.Generator().manual_seed(seed * 100 + k)
        s_all = random_shifts(n, k, 2, g)
        c_wo = c_w = exact = 0
        for i in range(0, n, batch):
            x, y, s = images[i : i + batch], labels[i : i + batch], s_all[i : i + batch]
            xz = zero_fill_shift(x, s)
            est = restorer.estimate(xz)
            exact += int((est == s).all(1).sum())
            c_wo += int((classifier(xz).argmax(1) == y).sum())
            c_w += int((classifier(shift(xz, -est)).argmax(1) == y).sum())
        rows["w/o"].append(acc(c_wo))
        rows["w/"].append(acc(c_w))
        rows["exact estimate"].append(acc(exact))
    res["zero_fill"] = rows
    print(f"{dataset} zero-fill: {rows}", flush=True)
    return res


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# Beyond the paper: sub-pixel and zero-filled translations",
        "",
        provenance(res, res["seed"]) + " Classifiers as in Table 1 (`results/table1_*.md`).",
        "",
        "## Fractional shifts, uniform in [-4, 4] pixels per axis (circular)",
        "",
        "| dataset | images | interpolation | clean | shifted, no restorer | integer restorer "
        "| sub-pixel restorer | oracle (true inverse shift) | mean abs. shift error: integer "
        "/ sub-pixel (px) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["datasets"]:
        for method in ("fourier", "linear"):
            m = r[method]
            lines.append(
                f"| {r['dataset']} | {r['n']:,} | {method} | {r['clean']:.2f} | "
                f"{m['shifted']:.2f} | {m['integer']:.2f} | {m['subpixel']:.2f} | "
                f"{m['oracle']:.2f} | {m['mean_abs_error_integer']:.3f} / "
                f"{m['mean_abs_error_subpixel']:.3f} |"
            )
    lines += [
        "",
        "The shift error is measured against the drawn shift. For MNIST it cannot go to "
        "zero: the canonical digits sit at their *rounded* centre of mass, up to half a "
        "pixel from the grid point, and that offset is not recoverable from the shifted "
        "image; the sub-pixel restorer puts every centre of mass exactly on the grid point "
        "instead.",
        "",
        "## Zero-filled integer shifts (content leaving the frame is lost, zeros enter)",
        "",
    ]
    for r in res["datasets"]:
        z = r["zero_fill"]
        lines += [
            f"**{r['dataset']}** ({r['n']:,} images), scope k = 0..8:",
            "",
            "| | " + " | ".join(str(k) for k in range(9)) + " |",
            "|---|" + "---|" * 9,
        ]
        for key, vals in z.items():
            lines.append(f"| {key} (%) | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
        lines.append("")
    lines += [
        "Where the padded frame holds the whole object (MNIST digits mostly lie in the central "
        "20x20 pixels of 32; CIFAR-10 images have a 4-pixel zero border), a zero-filled "
        "shift equals a circular one and the restorer is exact. Beyond that, content is cut "
        "off, the image is no longer a translate of a training image, and the guarantee is gone: "
        "the tables show how fast it degrades.",
        "",
    ]
    return "\n".join(lines)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep:
            raise ValueError(f"{what} must look like dataset=value, got {v!r}")
        out[key] = val
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/subpixel", help="output stem (.md, .json)")
    p.add_argument(
        "--classifier", action="append", required=True, help="dataset=checkpoint (repeatable)"
    )
    p.add_argument(
        "--limit", action="append", default=[], help="dataset=N evenly spaced test images"
    )
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    classifiers = _pairs(a.classifier, "--classifier")
    limits = {k: int(v) for k, v in _pairs(a.limit, "--limit").items()}
    res: dict[str, Any] = {
        "command": "python -m paper.subpixel " + " ".join(sys.argv[1:]),
        "seed": a.seed,
        "datasets": [evaluate(d, path, limits.get(d), a.seed) for d, path in classifiers.items()],
    }
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
