"""The theory, measured: Theorem 3.4 on common layers, Definition 4.2 on MNIST and
CIFAR-10, the constructive restorer of Theorem 4.5, and seed 003's discrete vs
continuous translations.

    python -m paper.theory --out results/theory

writes ``<out>.md``, ``<out>.json`` and ``<out>_fractional.png``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from equirestore.data import DatasetNotFoundError, load_dataset
from equirestore.groups.translation import shift
from equirestore.nn.circular import circular_conv
from equirestore.report import provenance, save_figure, write_report
from equirestore.restore.subpixel import Interpolation, fractional_shift
from equirestore.theory.aperiodic import check_aperiodic
from equirestore.theory.constructive import NotAperiodicError, construct_restorer
from equirestore.theory.examples import theorem34

# -- 1. Theorem 3.4 ----------------------------------------------------------------------


# -- 2. Definition 4.2 ---------------------------------------------------------------------


def aperiodicity(datasets: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Each split as loaded; ``"+injected"`` adds a translated copy, a duplicate and a
    blank image to the split, to show that violations are found at full scale."""
    rows = []
    for name, split in datasets:
        try:
            images, _ = load_dataset(name, split.replace("+injected", ""))
            if split.endswith("+injected"):
                extra = torch.stack(
                    [
                        shift(images[123:124], torch.tensor([5, -7]))[0],
                        images[4567],
                        torch.zeros_like(images[0]),
                    ]
                )
                images = torch.cat([images, extra])
        except DatasetNotFoundError as e:
            missing: dict[str, Any] = {"dataset": name, "split": split}
            missing["error"] = str(e).splitlines()[0]
            rows.append(missing)
            continue
        rep = check_aperiodic(images)
        rows.append(
            {
                "dataset": name,
                "split": split,
                "shape": list(images.shape),
                "aperiodic": rep.aperiodic,
                "counts": rep.counts(),
                "candidates": rep.candidates,
                "seconds": rep.seconds,
                "violations": [asdict(v) for v in rep.violations[:20]],
            }
        )
        print(f"aperiodic {name}/{split}: {rep.aperiodic} {rep.counts()} {rep.seconds:.1f} s")
    return rows


# -- 3. Theorem 4.5 ------------------------------------------------------------------------


def constructive(n_mnist: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    g = torch.Generator().manual_seed(0)
    cases: list[tuple[str, Tensor, int]] = []
    try:
        mnist, _ = load_dataset("mnist", "test")
        cases.append((f"MNIST test digits 0..{n_mnist - 1} (1x32x32, 8 bits)", mnist[:n_mnist], 8))
    except DatasetNotFoundError:
        mnist = None
    cases.append(
        (
            "random 1-D signals (2x64, 4 bits)",
            torch.randint(0, 16, (300, 2, 64), generator=g).double() / 15,
            4,
        )
    )
    cases.append(
        (
            "random 3-D volumes (1x8x8x8, 2 bits)",
            torch.randint(0, 4, (200, 1, 8, 8, 8), generator=g).double() / 3,
            2,
        )
    )
    for name, data, bits in cases:
        _, rep = construct_restorer(data, bits)
        rows.append({"dataset": name, **asdict(rep)})
        print(f"constructive {name}: strict={rep.strict} margin={rep.min_margin:.4f}")
    # a dataset that is not aperiodic must be refused
    bad = mnist[:100].clone() if mnist is not None else cases[-1][1][:100].clone()
    bad[50] = shift(bad[10:11], torch.tensor([3, -2] if bad.dim() == 4 else [1, 1, 1]))[0]
    bad[60] = bad[20]
    try:
        construct_restorer(bad, 8 if mnist is not None else 2)
        refused = "built (WRONG)"
    except NotAperiodicError as e:
        refused = str(e)
    rows.append({"dataset": "the same with a translated copy and a duplicate", "refused": refused})
    return rows


# -- 4. Seed 003 ---------------------------------------------------------------------------


def heaviside() -> dict[str, Any]:
    """N = 4 pixel averages of H(x) on [-1, 1] and of H(x - dx/2); the edge detector
    ReLU(conv([2, -2]) - 1). The paper's kernel is a convolution, so as a cross-correlation
    (Eq. 3) it is ``w = [-2, 2]`` anchored at the pixel itself: ``y_j = 2 x_{j+1} - 2 x_j``.
    """
    n, dx = 4, 0.5
    edges = torch.linspace(-1, 1, n + 1, dtype=torch.float64)

    def pixels(offset: float) -> Tensor:
        # average of H(x - offset) over [edges[j], edges[j+1]]
        lo, hi = edges[:-1], edges[1:]
        return ((hi - torch.maximum(lo, torch.tensor(offset))).clamp(min=0) / dx).clamp(max=1)

    w = torch.tensor([[[-2.0, 2.0]]], dtype=torch.float64)

    def layer(x: Tensor) -> Tensor:
        return torch.relu(circular_conv(x.view(1, 1, -1), w, method="direct") - 1).flatten()

    x0, x1 = pixels(0.0), pixels(dx / 2)
    return {
        "pixels": x0.tolist(),
        "pixels_translated": x1.tolist(),
        "output": layer(x0).tolist(),
        "output_translated": layer(x1).tolist(),
        "output_integer_shift": layer(torch.roll(x0, -1)).tolist(),
    }


def advection(n: int = 8, length: float = 1.0) -> dict[str, Any]:
    """Cell averages of sin(2 pi (x - ct)/L) at t = 0 and t = dx / (2c) (seed 003, Eq. 7)."""
    dx = length / n
    xj = (torch.arange(n, dtype=torch.float64) + 0.5) * dx

    def cells(ct: float) -> Tensor:
        return (
            length
            / (math.pi * dx)
            * torch.sin(2 * math.pi * (xj - ct) / length)
            * math.sin(math.pi * dx / length)
        )

    f0, f1 = cells(0.0), cells(dx / 2)
    dist = [float((f1 - torch.roll(f0, s)).abs().max()) for s in range(n)]
    return {
        "n": n,
        "t0": f0.tolist(),
        "t_half_cell": f1.tolist(),
        "closest_integer_shift_max_difference": min(dist),
        "max_values": [float(f0.abs().max()), float(f1.abs().max())],
    }


def _along_columns(method: Interpolation) -> Callable[[Tensor, float], Tensor]:
    """Translate a batch ``(B, C, H, W)`` by ``delta`` pixels along the columns with
    :func:`equirestore.restore.subpixel.fractional_shift` (Fourier: band-limited;
    linear: area sampling, ``(1 - delta) x_j + delta x_{j-1}`` for delta in [0, 1))."""

    def move(x: Tensor, delta: float) -> Tensor:
        s = torch.zeros(len(x), 2, dtype=torch.float64)
        s[:, 1] = delta
        return fractional_shift(x, s, method)

    return move


def fractional_equivariance(deltas: list[float], seed: int = 0) -> dict[str, Any]:
    """Relative equivariance error ``|f(S x) - S f(x)| / |f(x)|`` of a circular conv layer
    (8 channels, 3x3) under a fractional shift ``S`` by ``delta``, with and without bias +
    ReLU, on MNIST test digits (or smooth noise if MNIST is absent)."""
    g = torch.Generator().manual_seed(seed)
    try:
        x = load_dataset("mnist", "test")[0][:256].double()
        source = "256 MNIST test digits"
    except DatasetNotFoundError:
        x = F.avg_pool2d(torch.rand(256, 1, 32, 32, generator=g, dtype=torch.float64), 3, 1, 1)
        source = "256 smoothed noise images"
    w = torch.randn(8, 1, 3, 3, generator=g, dtype=torch.float64) / 3
    b = -0.3 * torch.ones(8, dtype=torch.float64)
    layers = {
        "linear": lambda t: circular_conv(t, w, method="direct"),
        "bias+ReLU": lambda t: torch.relu(
            circular_conv(t, w, method="direct") + b.view(1, -1, 1, 1)
        ),
    }
    curves: dict[str, list[float]] = {}
    for lname, f in layers.items():
        fx = f(x)
        for sname, s in (
            ("Fourier", _along_columns("fourier")),
            ("area", _along_columns("linear")),
        ):
            curves[f"{lname}, {sname} shift"] = [
                float((f(s(x, d)) - s(fx, d)).norm() / fx.norm()) for d in deltas
            ]
    return {"source": source, "deltas": deltas, "curves": curves}


def fractional_plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.4, 3.4))
    styles = {"Fourier": "-", "area": "--"}
    for name, ys in res["curves"].items():
        color = "tab:red" if name.startswith("bias") else "tab:blue"
        ax.plot(
            res["deltas"],
            [max(y, 1e-17) for y in ys],
            styles[name.split(", ")[1].split()[0]],
            color=color,
            marker="o",
            ms=3,
            label=name,
        )
    ax.set_yscale("log")
    ax.set_xlabel("fractional shift delta (pixels)")
    ax.set_ylabel("relative equivariance error")
    ax.set_title("A circular conv layer under sub-pixel translation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


# -- report --------------------------------------------------------------------------------


def markdown(res: dict[str, Any]) -> str:
    yes = {True: "yes", False: "**no**"}
    lines = [
        "# The theory, measured",
        "",
        provenance(res, 0),
        "",
        "## 1. Theorem 3.4 / Corollary 3.6 on common layers",
        "",
        "Each layer is probed (`equirestore.theory.check_affine_module`: `b = f(0)`, "
        "columns `f(e_j) - f(0)`), the two conditions are checked exactly (float64, "
        "atol 1e-9), and, independently, the equivariance error is measured over *every* "
        "circular shift (`check_equivariance`). Input grid 2x6x6, 3 output "
        "channels.",
        "",
        "| layer | affine | circular filter | constant bias | Theorem 3.4 says equivariant "
        "| first violation | measured max error over all 36 shifts |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["theorem34"]:
        if not r["affine"]:
            where = (
                f"not affine (probe error {r['affinity_error']:.2f}): the theorem does not apply"
            )
        elif r["first_filter_violation"]:
            co, ci, p, q, a, e = r["first_filter_violation"]
            where = f"A[{co},{ci}][p={tuple(p)}, q={tuple(q)}] = {a:.3f}, circulant needs {e:.3f}"
        elif r["first_bias_violation"]:
            co, p, a, e = r["first_bias_violation"]
            where = f"b[{co}, {tuple(p)}] = {a:.3f} != b[{co}, (0, 0)] = {e:.3f}"
        else:
            where = "none"
        circ = yes[r["circular_filter"]] if r["affine"] else "n/a"
        const = yes[r["constant_bias"]] if r["affine"] else "n/a"
        lines.append(
            f"| {r['layer']} | {yes[r['affine']]} | {circ} | {const} | "
            f"{yes[r['theorem_3_4']]} | {where} | "
            f"{r['measured_equivariance_error']:.2e} |"
        )
    lines += [
        "",
        "The verdict of the theorem and the direct measurement agree on every row.",
        "",
        "## 2. Aperiodic datasets (Definition 4.2)",
        "",
        "`equirestore check-aperiodic`: exact, via translation-invariant autocorrelation "
        "hashes and direct verification of every candidate (see "
        "`equirestore.theory.aperiodic`). Images in the geometry of the shipped restorers "
        "(MNIST padded to 32x32, CIFAR-10 to 40x40).",
        "",
        "| dataset | split | images | aperiodic | duplicates | translated copies | periodic "
        "| samples verified | time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["aperiodic"]:
        if "error" in r:
            lines.append(f"| {r['dataset']} | {r['split']} | not available: {r['error']} ||||||| ")
            continue
        c = r["counts"]
        lines.append(
            f"| {r['dataset']} | {r['split']} | {r['shape'][0]:,} | {yes[r['aperiodic']]} | "
            f"{c['duplicate']} | {c['translate']} | {c['periodic']} | {r['candidates']} | "
            f"{r['seconds']:.1f} |"
        )
    viol = [
        (r["dataset"], r["split"], v) for r in res["aperiodic"] for v in r.get("violations", [])
    ]
    if viol:
        lines += [
            "",
            "`train+injected` is the training set with three samples appended: a copy of "
            "x[123] shifted by (5, -7), a copy of x[4567] and a blank image. Violations "
            "found (first 4): "
            + "; ".join(
                f"x[{v['j']}] == shift(x[{v['i']}], {tuple(v['shift'])}) ({v['kind']})"
                for _, _, v in viol[:4]
            )
            + "; the blank image is periodic under every one of the 1,023 non-zero shifts.",
        ]
    lines += [
        "",
        "## 3. The constructive restorer (Lemmas 4.3, 4.4, Theorem 4.5)",
        "",
        "Built, not trained (`equirestore construct-restorer`): the binary decomposition "
        "network, then one exact-match detector per sample (reconstruction in "
        "`docs/paper.md`). Verified on every sample in float64.",
        "",
        "| dataset | samples | bits n | depth (bound n+2) | width (bound max(C(n+1), M)) "
        "| parameters | strict max at 0 on every sample | smallest margin | build s "
        "| verify s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["constructive"]:
        if "refused" in r:
            continue
        lines.append(
            f"| {r['dataset']} | {r['samples']:,} | {r['bits']} | {r['depth']} "
            f"({r['depth_bound']}) | {r['width']:,} ({r['width_bound']:,}) | "
            f"{r['parameters']:,} | {yes[r['strict']]} | {r['min_margin']:.4f} | "
            f"{r['build_seconds']:.2f} | {r['verify_seconds']:.1f} |"
        )
    refused = next(r for r in res["constructive"] if "refused" in r)
    lines += [
        "",
        f"Not aperiodic ({refused['dataset']}): `{refused['refused']}`",
        "",
        "The margin is 1 in exact arithmetic (one matching sample at index 0, none "
        "elsewhere). MNIST pixels are float32 values k/255, up to 1e-5 levels off the "
        "grid; the binary decomposition network amplifies that by up to 2^(n-1) in its "
        "remainders, which is where the MNIST margin loses its last digits.",
        "",
        "## 4. Discrete vs continuous translation (seed 003)",
        "",
    ]
    h = res["heaviside"]
    lines += [
        "**Heaviside edge.** 4 pixel averages of H(x) on [-1, 1], edge detector "
        "ReLU(conv([2, -2]) - 1):",
        "",
        "| | pixels | layer output |",
        "|---|---|---|",
        f"| H(x) | {h['pixels']} | {h['output']} |",
        f"| H(x - dx/2) | {h['pixels_translated']} | {h['output_translated']} |",
        f"| H(x - dx) (one whole pixel) | (the pixels rolled by one) | "
        f"{h['output_integer_shift']} |",
        "",
        "The half-pixel translation makes the edge disappear from the output; a whole-pixel "
        "translation only moves it (discrete equivariance).",
        "",
    ]
    a = res["advection"]
    lines += [
        f"**Advection.** Cell averages of sin(2 pi (x - ct)/L), N = {a['n']}: at t = 0 "
        f"{[round(v, 4) for v in a['t0']]}; at t = dx/(2c) "
        f"{[round(v, 4) for v in a['t_half_cell']]}. No circular shift of the first profile "
        f"matches the second (smallest max difference over all {a['n']} shifts: "
        f"{a['closest_integer_shift_max_difference']:.4f}): the discrete profile changes "
        "shape as the continuous solution translates.",
        "",
    ]
    fr = res["fractional"]
    lines += [
        f"**A conv layer under fractional shifts** ({fr['source']}, 8 random 3x3 circular "
        "filters; relative error `|f(S x) - S f(x)| / |f(x)|`):",
        "",
        "| delta | " + " | ".join(fr["curves"]) + " |",
        "|---|" + "---|" * len(fr["curves"]),
    ]
    for i, d in enumerate(fr["deltas"]):
        lines.append(
            f"| {d:.3f} | " + " | ".join(f"{ys[i]:.2e}" for ys in fr["curves"].values()) + " |"
        )
    lines += [
        "",
        f"![fractional]({Path(res['plot']).name})",
        "",
        "Both fractional shifts are themselves circular filters (Fourier: a phase ramp; area "
        "sampling: the kernel [1 - delta, delta]), so they commute with the linear layer to "
        "rounding error at every delta. With a bias and a ReLU the error is zero only at "
        "delta = 0 and grows towards the half pixel: discrete equivariance does not extend "
        "to sub-pixel translations, which is why the restorer's guarantee is for whole "
        "pixels (`results/subpixel.md` measures what that costs).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/theory", help="output stem")
    p.add_argument("--mnist-samples", type=int, default=1000, help="digits for Theorem 4.5")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    torch.manual_seed(0)
    res: dict[str, Any] = {"command": "python -m paper.theory " + " ".join(sys.argv[1:])}
    res["theorem34"] = theorem34()
    res["aperiodic"] = aperiodicity(
        [
            ("mnist", "train"),
            ("mnist", "test"),
            ("cifar10", "train"),
            ("cifar10", "test"),
            ("mnist", "train+injected"),
        ]
    )
    res["constructive"] = constructive(a.mnist_samples)
    res["heaviside"] = heaviside()
    res["advection"] = advection()
    res["fractional"] = fractional_equivariance([i / 16 for i in range(17)])
    res["plot"] = a.out + "_fractional.png"
    fractional_plot(res["fractional"], Path(res["plot"]))
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
