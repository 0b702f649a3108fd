"""``equirestore evaluate`` with a rotation or SE(2) restorer: how often the angle is
estimated within one bin, and with ``--classifier`` the accuracy behind the restorer.

Protocol (:func:`~equirestore.restore.rotation_training.rotated_test_sets`, seeded): every
test image, on the restorer's canvas, is moved by a random sub-pixel offset and rotated
about the canvas middle by a uniform random angle; a second set is the same images then
circularly shifted by up to ``--max-scope`` pixels per axis; and the test images as they
are ("upright", angle 0). Within one bin: absolute error at most ``360 / N_θ`` degrees; a
tie is no estimate and counts as a miss. Where the restorer lowers the classifier's
accuracy on the upright images (it turns some of them away from upright), the report and
a warning on stderr say by how much.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from equirestore.classifiers.training import load_classifier
from equirestore.measures import accuracy_under_rotations
from equirestore.report import save_image_grid
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.rotation_training import angle_rates, rotated_test_sets
from equirestore.restore.se2 import SE2Restorer, rotation_part


def rotation_figure(
    restorer: RotationRestorer | SE2Restorer, canvas: Tensor, path: Path, max_shift: int, seed: int
) -> None:
    """Upright / rotated and shifted / restored columns for 6 evenly spaced test images."""
    n = 6
    x = canvas[torch.linspace(0, len(canvas) - 1, n).long()]
    rotation = rotation_part(restorer)
    _, moved, angles = rotated_test_sets(x, seed, max_shift, rotation.background)
    with torch.no_grad():
        restored = restorer(moved)
        if isinstance(restorer, SE2Restorer):
            est = restorer.estimate(moved)[1]
        else:
            est = restorer.estimate(moved)
    rows = [
        [
            (x[i], "upright"),
            (moved[i], f"turned {angles[i]:.0f}°, shifted"),
            (restored[i], f"restored (est. {float(est[i]) % 360:.0f}°)"),
        ]
        for i in range(n)
    ]
    save_image_grid(rows, path)


def _label(key: str) -> str:
    if key.startswith("rotated_shifted_"):
        return f"rotated + shifted <= {key.removeprefix('rotated_shifted_').removesuffix('px')} px"
    return key


def markdown(res: dict[str, Any]) -> str:
    """The Markdown report of a rotation or SE(2) evaluation."""
    rates = res["within_one_bin"]
    parts = [
        f"# Restorer `{res['restorer']}` on {res['data']}\n",
        f"- {res['n_test']:,} test images, each moved by a random sub-pixel offset and rotated "
        "by a uniform random angle about the canvas middle, and the same then circularly "
        f"shifted by up to {res['max_shift']} px per axis; angle within one bin (absolute "
        f"error <= {res['bin_degrees']:g}°, a tie is a miss; upright: the images as they "
        "are, angle 0): "
        + ", ".join(f"{_label(k)} **{100 * v:.2f}%**" for k, v in rates.items())
        + "\n",
    ]
    if "table" in res:
        parts += [
            f"\nAccuracy (%) of classifier `{res['classifier']}` ({res['classifier_arch']}, "
            f"trained by `{res['classifier_meta'].get('command', '?')}`):\n",
            "| test images | w/o restorer | w/ restorer |",
            "|---|---|---|",
            *(f"| {_label(k)} | {v['w/o']:.2f} | {v['w/']:.2f} |" for k, v in res["table"].items()),
            "",
        ]
        if warning := upright_cost(res):
            parts.append(f"**{warning}**\n")
    if res.get("figure"):
        parts.append(f"\n![restored examples]({Path(res['figure']).name})\n")
    hw = res["hardware"]
    parts.append(
        f"\nCommand: `{res['command']}`  \nseed {res['seed']}; wall time {res['seconds']} s; "
        f"{hw['cores']} cores ({hw['cpu']}), torch {hw['torch']}, {res['date']}.\n"
    )
    return "\n".join(parts)


def upright_cost(res: dict[str, Any]) -> str | None:
    """The warning for a restorer that lowers the accuracy on upright images, or None."""
    up = res.get("table", {}).get("upright")
    if up is None or up["w/"] >= up["w/o"]:
        return None
    return (
        f"WARNING: the restorer lowers the classifier's accuracy on upright test images by "
        f"{up['w/o'] - up['w/']:.2f} points ({up['w/o']:.2f}% -> {up['w/']:.2f}%): it leaves "
        f"only {100 * res['within_one_bin']['upright']:.2f}% of them within one bin of upright"
    )


def evaluate_rotation(
    a: argparse.Namespace,
    restorer: RotationRestorer | SE2Restorer,
    canvas: Tensor,
    labels: Tensor | None,
) -> dict[str, Any]:
    """The measurements of the module docstring, as a JSON-able dict."""
    rotation = rotation_part(restorer)
    res: dict[str, Any] = {
        "group": "se2" if isinstance(restorer, SE2Restorer) else "rotation",
        "max_shift": a.max_scope,
        "bin_degrees": rotation.bin_degrees,
        "within_one_bin": angle_rates(restorer, canvas, a.seed, a.max_scope),
    }
    if a.classifier:
        assert labels is not None
        classifier, ckpt = load_classifier(a.classifier)
        if tuple(ckpt["input_shape"]) != tuple(restorer.input_shape):
            raise ValueError(
                f"classifier {a.classifier} takes inputs {tuple(ckpt['input_shape'])}, but a "
                f"rotation restorer hands on its whole canvas {tuple(restorer.input_shape)}; "
                "train the classifier at that size"
            )
        res.update(
            classifier=str(a.classifier),
            classifier_arch=ckpt["arch"],
            classifier_meta=ckpt.get("meta", {}),
            table=accuracy_under_rotations(
                classifier, restorer, canvas, labels, a.max_scope, a.seed
            ),
        )
    return res


def figures(
    res: dict[str, Any], restorer: RotationRestorer | SE2Restorer, canvas: Tensor, a: Any
) -> None:
    """The examples figure, if matplotlib is installed (the ``plot`` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("note: no figures (pip install 'equirestore[plot]' for them)", file=sys.stderr)
        return
    res["figure"] = str(a.out) + "_examples.png"
    rotation_figure(restorer, canvas, Path(res["figure"]), a.max_scope, a.seed)
