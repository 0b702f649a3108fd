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
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch
from torch import Tensor

from equirestore.data.folder import load_folder
from equirestore.nn.gated import TIE_WEIGHT, GatedEstimator, rescaled
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
        provenance(res, None),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--restorer", required=True, help="checkpoint with a gated estimator")
    p.add_argument("--folder", required=True, help="test images at their canonical position")
    p.add_argument("--grayscale", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--out", default="results/gated_anatomy", help="output stem (.md, .json)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    restorer = load_restorer(a.restorer)
    if not isinstance(restorer.estimator, GatedEstimator):
        p.error(f"{a.restorer}: its estimator is not gated; this report needs one")
    res: dict[str, Any] = {
        "restorer": a.restorer,
        "folder": a.folder,
        "anatomy": anatomy(restorer.estimator, load_folder(a.folder, grayscale=a.grayscale)),
        "command": "python -m paper.gated_anatomy " + " ".join(sys.argv[1:]),
    }
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
