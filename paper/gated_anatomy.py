"""Where a gated restorer still fails, and whether the tie weight matters.

    python -m paper.gated_anatomy --restorer artifacts/fashion_folder.pt \\
        --folder artifacts/fashion_folder/test --out results/gated_anatomy

For a restorer whose estimator is a :class:`~equirestore.nn.gated.GatedEstimator` and a
folder of test images at their canonical position (as ``equirestore evaluate --folder``
reads them), it splits the images that are not strictly restored into those where the
gate is on (the box decides) and those where it is off (the other estimator decides),
counts how often the box and the other estimator, each alone, place a failure at the
same wrong shift, and scores the gated estimator with the weight of the other's scaled
scores (:data:`~equirestore.nn.gated.TIE_WEIGHT`, 1/16) replaced by larger ones, up to
values at which the other estimator can overrule a whole-pixel difference of the box.
The question: is what is left a weakness of the combination (another weight would fix
it) or a placement on which two estimators built on different evidence agree?

Where the gate is off because the box is one slice short of the frame (an outer row of
the object came out blank), it also tries a closed-form repair in place of the other
estimator: put the lost slice back beside the box's heavier edge slice (the one with the
heavier pixel, channel mean), or beside its lighter one, and let the box decide as where
it spans (``--train-folder`` measures the same on the training images, where a rule
with no trained parameters is measured as fairly as on the test images, and the other
estimator, which trained on them, is not).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch
from torch import Tensor

from equirestore.data.folder import load_folder
from equirestore.nn.box import ink
from equirestore.nn.gated import (
    TIE_WEIGHT,
    GatedEstimator,
    empty_runs,
    occupancy_extents,
    rescaled,
)
from equirestore.report import provenance, write_report
from equirestore.restore.estimator import exact_mask
from equirestore.restore.hub import load_restorer

WEIGHTS = (TIE_WEIGHT, 1 / 4, 1.0, 4.0)


@torch.no_grad()
def anatomy(est: GatedEstimator, images: Tensor, chunk: int = 2000) -> dict[str, Any]:
    """The counts of the module docstring for ``images (N, C, *S)`` (float64 scores)."""
    est = est.double()
    box, other, gate = [], [], []
    for b in images.double().split(chunk):
        box.append(est.box(b).flatten(1))
        other.append(est.other(b).flatten(1))
        gate.append(est.gate(b))
    b, g, on = torch.cat(box), torch.cat(other), torch.cat(gate)
    rates, strict = {}, {}
    for w in WEIGHTS:
        strict[w] = exact_mask(torch.where(on[:, None], b + rescaled(g, w), g))
        rates[f"{w:g}"] = {
            "strict": float(strict[w].double().mean()),
            "fail_gate_on": int((~strict[w] & on).sum()),
            "fail_gate_off": int((~strict[w] & ~on).sum()),
        }
    failed = ~strict[TIE_WEIGHT]
    agree = b.argmax(1) == g.argmax(1)
    return {
        "n": len(images),
        "gate_on": float(on.double().mean()),
        "box_alone": float(exact_mask(b).double().mean()),
        "other_alone": float(exact_mask(g).double().mean()),
        "weights": rates,
        "failures_both_agree": {
            "gate_on": int((failed & on & agree).sum()),
            "gate_off": int((failed & ~on & agree).sum()),
        },
    }


def box_edges(occupancy: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One axis's box edges from its occupancy ``(B, N)``: the first inked slice after the
    longest circular run of empty slices, the last one before it (``(B,)`` int64 each),
    and whether that run is the only longest one (``(B,)`` bool; where not, or where the
    axis is blank or full, the edges mean nothing)."""
    n = occupancy.shape[1]
    length = empty_runs(occupancy)
    longest = length.amax(1, keepdim=True)
    ends = (length == longest) & (occupancy.roll(-1, 1) > 0) & (longest > 0)
    end = ends.long().argmax(1)
    return (end + 1) % n, (end - longest[:, 0]) % n, ends.sum(1) == 1


@torch.no_grad()
def put_back(est: GatedEstimator, images: Tensor, chunk: int = 2000) -> dict[str, Any]:
    """Strict rates of ``est`` on ``images (N, C, *S)`` (float64) with the lost slice put
    back (module docstring) beside the heavier and beside the lighter edge, against the
    shipped estimator, overall and on the images it is put back for."""
    est = est.double()
    shipped, sides, mended = [], {1: [], -1: []}, []
    for x in images.double().split(chunk):
        occupancy, counts = ink(x, est.box.threshold, est.box.tie_break, est.box.levels)
        extents = occupancy_extents(occupancy)
        g = est.other(x)
        s = est(x)
        shipped.append(exact_mask(s.flatten(1)))
        spans = torch.stack([e == f for e, f in zip(extents, est.frame, strict=True)]).any(0)
        mean = x.mean(1)
        put, heavier_first, slots = [], [], []
        for a, occ in enumerate(occupancy):
            first, last, unique = box_edges(occ)
            others = [d for d in range(1, mean.dim()) if d != a + 1]
            weight = mean.amax(others) if others else mean
            w_first = weight.gather(1, first[:, None])[:, 0]
            w_last = weight.gather(1, last[:, None])[:, 0]
            put.append((extents[a] == est.frame[a] - 1) & unique & (w_first != w_last) & ~spans)
            heavier_first.append(w_first > w_last)
            slots.append(((first - 1) % occ.shape[1], (last + 1) % occ.shape[1]))
        any_put = torch.stack(put).any(0)
        mended.append(any_put)
        for side, out in sides.items():
            restored = []
            for a, occ in enumerate(occupancy):
                before = heavier_first[a] == (side > 0)
                slot = torch.where(before, slots[a][0], slots[a][1])
                occ = occ.clone()
                rows = put[a].nonzero()[:, 0]
                occ[rows, slot[rows]] = 1
                restored.append(occ)
            boxed = est.box.score_ink(restored, counts) + rescaled(g, TIE_WEIGHT)
            shape = (-1,) + (1,) * (s.dim() - 1)
            out.append(exact_mask(torch.where(any_put.view(shape), boxed, s).flatten(1)))
    m = torch.cat(mended)
    rows = {"shipped (the other estimator)": torch.cat(shipped)}
    rows.update(
        {
            f"beside the {'heavier' if k > 0 else 'lighter'} edge": torch.cat(v)
            for k, v in sides.items()
        }
    )
    return {
        "n": len(images),
        "mended": int(m.sum()),
        "rows": {
            k: {"strict": float(v.double().mean()), "strict_mended": int((v & m).sum())}
            for k, v in rows.items()
        },
    }


def markdown(res: dict[str, Any]) -> str:
    """The report as Markdown."""
    a = res["anatomy"]
    lines = [
        "# Where the gated restorer fails",
        "",
        f"Restorer `{res['restorer']}` on the {a['n']:,} images of `{res['folder']}`: the gate "
        f"(the box decides) is on for {100 * a['gate_on']:.2f}% of them; strict exact restore "
        f"with the box alone {100 * a['box_alone']:.2f}%, the other estimator alone "
        f"{100 * a['other_alone']:.2f}%.",
        "",
        "| weight of the other's scaled scores where the gate is on | strict | failures, gate on "
        "| failures, gate off |",
        "|---|---|---|---|",
    ]
    for w, r in a["weights"].items():
        shipped = " (shipped)" if float(w) == TIE_WEIGHT else ""
        lines.append(
            f"| {w}{shipped} | **{100 * r['strict']:.2f}%** | {r['fail_gate_on']} | "
            f"{r['fail_gate_off']} |"
        )
    agree = a["failures_both_agree"]
    lines += [
        "",
        f"Of the shipped weight's failures, the box alone and the other estimator alone put "
        f"the image at the same (wrong) shift for {agree['gate_on']} where the gate is on and "
        f"{agree['gate_off']} where it is off.",
        "",
        "## Putting the lost slice back",
        "",
        "Where the box spans the frame along no axis but is one slice short of it along some "
        "(and its two edge slices differ in their heaviest pixel), the slice is put back beside "
        "one edge and the box decides, in place of the other estimator. Strict exact restore, "
        "overall and on the images the slice is put back for:",
        "",
        "| images | choice where the slice is put back | strict | strict where put back |",
        "|---|---|---|---|",
    ]
    for split, r in res["put_back"].items():
        for name, row in r["rows"].items():
            lines.append(
                f"| {split} ({r['n']:,}; put back for {r['mended']:,}) | {name} | "
                f"**{100 * row['strict']:.2f}%** | {row['strict_mended']:,} "
                f"({100 * row['strict_mended'] / max(1, r['mended']):.1f}%) |"
            )
    lines += [
        "",
        provenance(res, None),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--restorer", required=True, help="checkpoint with a gated estimator")
    p.add_argument("--folder", required=True, help="test images at their canonical position")
    p.add_argument(
        "--train-folder", help="the restorer's training images, to measure the repair on too"
    )
    p.add_argument("--grayscale", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--out", default="results/gated_anatomy", help="output stem (.md, .json)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    restorer = load_restorer(a.restorer)
    if not isinstance(restorer.estimator, GatedEstimator):
        p.error(f"{a.restorer}: its estimator is not gated; this report needs one")
    est = restorer.estimator
    test = load_folder(a.folder, grayscale=a.grayscale)
    res: dict[str, Any] = {
        "restorer": a.restorer,
        "folder": a.folder,
        "anatomy": anatomy(est, test),
        "put_back": {"test": put_back(est, test)},
        "command": "python -m paper.gated_anatomy " + " ".join(sys.argv[1:]),
    }
    if a.train_folder:
        train = load_folder(a.train_folder, grayscale=a.grayscale)
        res["put_back"]["training"] = put_back(est, train)
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
