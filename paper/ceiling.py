"""How far is a generality row from what its images allow? A residual probe.

    python -m paper.ceiling --out results/ceiling [--only fashion-mnist sklearn-digits]

Where the recipe's restorer falls short of strict exactness on a dataset, either the
estimator is too weak or the images do not say where their canonical position is (two
placements of one object are equally plausible, and the dataset chose one by a rule
that left no trace, such as a blank edge row the resampling produced). This probe asks
how much of the shortfall an unconstrained network recovers. For each dataset:

1. the restorer of the default recipe (:func:`~equirestore.restore.recipe.fit_restorer`,
   as in ``paper.generality``) is trained and scored on the test split;
2. a closed-form base estimator, the better on the training split of the recipe's
   ``moment`` and ``box`` candidates (no gradient steps, so it does not memorise the
   training images: a trained restorer that fits them leaves the probe nothing to learn
   from), moves every training and test image to its canonical position;
3. an ordinary CNN (not equivariant: it sees the canonicalised image, which translation
   does not change) is trained to predict the *residual* shift that takes the
   canonicalised image to the dataset's own position, among the ``(2 r + 1)^dims``
   shifts of at most ``r`` pixels per axis (cross-entropy, Adam, seeded);
4. the composite estimate, the base's shift plus the predicted residual, is scored on
   the test split (strict: the right shift; an image whose residual lies outside the
   window counts as a failure). The composite is itself exactly translation-equivariant
   wherever the base's maximum is unique.

The probe is a measurement, not a bound: a bigger network or more data might do better.
It tells which rows are short of an estimator and which are short of information.

With ``--rotation`` the same question is asked of rotated MNIST (issue: angle within one
bin): the probe CNN is trained on the 60,000 upright training digits, each epoch rotated
afresh (and moved by a sub-pixel offset) by :func:`random_rotations`, to name the
``N_θ = 36`` bin of the angle; it is scored, like the shipped ``mnist-se2`` restorer
beside it, on the rotated test set of ``paper.rotated_mnist`` (all 10,000 test digits,
same seed): the fraction whose angle it names within one bin (absolute error at most
10 degrees). A second probe is trained and scored on the protocol's rotated + shifted
variant (every training digit also shifted afresh by up to 8 px per axis): the protocol
rotates about the canvas middle, half a pixel from where MNIST puts the digits' centre of
mass, so on rotated digits alone a network that sees the position can read the angle
off that offset; the shifted variant removes the cue (the report measures the offset).
A third probe sees what the SE(2) restorer's polar grid keeps: every rotated + shifted
digit moved (circularly, by linear interpolation) so that its circular centroid
(:func:`~equirestore.groups.rotation.centroid`, the centre ``mnist-se2`` rotates about)
sits on the canvas middle. Neither the shift nor the protocol's centre cue survives that,
so this probe asks whether an unconstrained network reads the angle off the digit's shape
better than the restorer's equivariant estimator does.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from equirestore.data import load_dataset
from equirestore.groups.rotation import centroid
from equirestore.groups.translation import random_shifts, shift
from equirestore.report import provenance, write_report
from equirestore.restore.evaluation import angle_error, restore_rates
from equirestore.restore.hub import load_restorer
from equirestore.restore.recipe import fit_restorer, settings_with
from equirestore.restore.rotation_training import random_rotations, within_one_bin
from equirestore.restore.subpixel import fractional_shift
from equirestore.restore.training import centres_of_mass
from paper.generality import ROWS, Row
from paper.rotated_mnist import MAX_SHIFT as ROTATED_MAX_SHIFT


def probe_network(channels: int, classes: int) -> nn.Module:
    """A small ordinary CNN on 2-D images of any size: ``(B, C, H, W) -> (B, classes)``."""

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

    return nn.Sequential(
        *block(channels, 32),
        *block(32, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        *block(64, 64),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(64 * 16, 256),
        nn.ReLU(),
        nn.Linear(256, classes),
    )


def residual_labels(shift: Tensor, radius: int) -> Tensor:
    """Class of each residual ``shift (B, dims)`` in the window of half-width ``radius``
    (row-major over the axes), -1 outside it."""
    side = 2 * radius + 1
    inside = (shift.abs() <= radius).all(1)
    index = torch.zeros(len(shift), dtype=torch.long)
    for a in range(shift.shape[1]):
        index = index * side + (shift[:, a] + radius)
    return torch.where(inside, index, torch.full_like(index, -1))


def run_row(row: Row, seed: int, radius: int, epochs: int) -> dict[str, Any]:
    """The probe of one generality row (2-D rows only)."""
    where = {"geometry": row.geometry, "size": row.size, "download": row.download}
    train, _ = load_dataset(row.dataset, "train", **where)
    test, _ = load_dataset(row.dataset, "test", **where)
    if train.dim() != 4:
        raise ValueError(f"{row.key}: the probe handles images, not {train.dim() - 2}-D data")
    restorer, record = fit_restorer(train, row.key, settings_with(seed=seed))
    recipe_exact = restore_rates(restorer.estimator, test).exact
    restorer, base = fit_restorer(
        train, row.key, settings_with(seed=seed, candidates=("moment", "box")), progress=False
    )
    # x == shift(canonicalised, g): the residual that puts the canonicalised image back
    # at the dataset's own position is the base's estimate g itself (0 when exact)
    g_train, g_test = restorer.estimate(train), restorer.estimate(test)
    can_train, can_test = restorer.undo(train, g_train), restorer.undo(test, g_test)
    y_train, y_test = residual_labels(g_train, radius), residual_labels(g_test, radius)
    side = 2 * radius + 1
    torch.manual_seed(seed)
    net = probe_network(train.shape[1], side**2)
    keep = (y_train >= 0).nonzero().squeeze(1)
    batch = 128
    steps = epochs * ((len(keep) + batch - 1) // batch)
    gen = torch.Generator().manual_seed(seed)

    def batches() -> Any:
        for _ in range(epochs):
            order = keep[torch.randperm(len(keep), generator=gen)]
            for i in range(0, len(order), batch):
                b = order[i : i + batch]
                yield can_train[b], y_train[b]

    seconds = _fit(net, batches(), steps, f"probe {row.key}")
    with torch.no_grad():
        pred = torch.cat([net(c).argmax(1) for c in can_test.split(1000)])
    centre = (side**2) // 2  # the class of a zero residual
    return {
        "key": row.key,
        "label": row.label,
        "chosen": record["chosen"],
        "recipe_test_exact": recipe_exact,
        "base": base["chosen"],
        "n_train": len(train),
        "n_test": len(test),
        "base_test_exact": float((y_test == centre).double().mean()),
        "outside_window": float((y_test < 0).double().mean()),
        "probe_test_exact": float((pred == y_test).double().mean()),
        "probe_seconds": seconds,
        "radius": radius,
        "epochs": epochs,
    }


def _fit(net: nn.Module, batches: Any, steps: int, desc: str) -> float:
    """Adam, one-cycle schedule, cross-entropy over ``batches`` of ``(x, y)``; seconds."""
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    start = time.perf_counter()
    net.train()
    for x, y in tqdm(batches, total=steps, desc=desc):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    return round(time.perf_counter() - start, 1)


def centre_on_centroid(x: Tensor) -> Tensor:
    """``x (B, C, H, W)`` moved circularly (linear interpolation) so that each image's
    circular centroid lies on the middle ``((H - 1) / 2, (W - 1) / 2)``."""
    size = torch.tensor(x.shape[2:], dtype=torch.float64)
    offset = (size - 1) / 2 - centroid(x)
    offset = torch.remainder(offset + size / 2, size) - size / 2  # the short way round
    return fractional_shift(x, offset, "linear")


def run_rotation(
    seed: int, epochs: int, max_shift: int = 0, n_angle: int = 36, centred: bool = False
) -> dict[str, Any]:
    """The rotation probe of the module docstring; with ``max_shift``, on the protocol's
    rotated + shifted variant (training digits shifted afresh every epoch likewise); with
    ``centred``, every digit it sees is first centred on its centroid
    (:func:`centre_on_centroid`), and it is scored on both test variants."""
    train, _ = load_dataset("mnist", "train")
    test, _ = load_dataset("mnist", "test")
    gen = torch.Generator().manual_seed(seed + 1)  # as paper.rotated_mnist draws them
    rotated, angles = random_rotations(test, gen)
    shifted = shift(rotated, random_shifts(len(rotated), ROTATED_MAX_SHIFT, 2, gen))
    scored = shifted if max_shift else rotated
    prepare = centre_on_centroid if centred else (lambda x: x)
    bin_degrees = 360 / n_angle
    batch = 128

    def batches() -> Any:
        for epoch in range(epochs):
            gen = torch.Generator().manual_seed(seed + 100 + epoch)
            x, theta = random_rotations(train, gen)
            if max_shift:
                x = shift(x, random_shifts(len(x), max_shift, 2, gen))
            x = prepare(x)
            y = torch.round(theta / bin_degrees).long() % n_angle
            order = torch.randperm(len(x), generator=gen)
            for i in range(0, len(order), batch):
                b = order[i : i + batch]
                yield x[b], y[b]

    torch.manual_seed(seed)
    net = probe_network(1, n_angle)
    steps = epochs * ((len(train) + batch - 1) // batch)
    desc = f"probe rotation (shift <= {max_shift} px{', centred' if centred else ''})"
    seconds = _fit(net, batches(), steps, desc)

    def within(x: Tensor) -> float:
        with torch.no_grad():
            k = torch.cat([net(prepare(c)).argmax(1) for c in x.split(1000)])
        error = angle_error(k.double() * bin_degrees, angles)
        return float((error.abs() <= bin_degrees).double().mean())

    res = {
        "n_test": len(test),
        "epochs": epochs,
        "max_shift": max_shift,
        "centred": centred,
        "probe_within_one_bin": within(scored),
        "se2_within_one_bin": within_one_bin(load_restorer("mnist-se2"), scored, angles),
        "probe_seconds": seconds,
    }
    if centred:  # scored on both variants: the centring leaves nothing of the shift
        res["probe_within_one_bin_rotated"] = within(rotated)
    return res


def centre_of_mass() -> dict[str, float]:
    """Where the upright training digits' centre of mass lies on the 32 x 32 canvas (mean
    and standard deviation per axis), against the protocol's centre of rotation, the
    middle of the canvas (15.5, 15.5)."""
    x, _ = load_dataset("mnist", "train")
    rows, cols = centres_of_mass(x).unbind(1)
    return {
        "row_mean": float(rows.mean()),
        "row_std": float(rows.std()),
        "col_mean": float(cols.mean()),
        "col_std": float(cols.std()),
        "rotation_centre": (x.shape[2] - 1) / 2,
    }


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# Residual probe: the recipe's restorer, and an unconstrained CNN after it",
        "",
        "The recipe's restorer beside what an ordinary CNN recovers after a closed-form "
        "base: trained on the training images moved to the base's canonical position, it "
        "predicts the shift back to the dataset's own position (residual shifts up to "
        f"{res['radius']} pixel(s) per axis, {res['epochs']} epochs; see "
        "`paper/ceiling.py`). Strict exact rates on the test split.",
        "",
        "| dataset | recipe (estimator) | base (closed form) | base + probe | residual "
        "outside the window | probe training |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['label']} | {100 * r['recipe_test_exact']:.2f}% ({r['chosen']}) | "
            f"{100 * r['base_test_exact']:.2f}% ({r['base']}) | "
            f"**{100 * r['probe_test_exact']:.2f}%** | {100 * r['outside_window']:.2f}% | "
            f"{r['probe_seconds']:.0f} s |"
        )
    rot = res.get("rotation")
    if rot:
        com = rot["centre_of_mass"]
        lines += [
            "",
            "## Rotated MNIST: the angle within one 10-degree bin",
            "",
            "Test digits of `paper.rotated_mnist` (same seed): rotated, and rotated then "
            f"shifted by up to {rot['shifted']['max_shift']} px per axis (circular); the probe "
            "trained on freshly rotated (and, for the second column, shifted) training digits "
            f"every epoch, {rot['rotated']['epochs']} epochs.",
            "",
            "| estimator | rotated | rotated + shifted |",
            "|---|---|---|",
            "| `mnist-se2` (the shipped SE(2) restorer) | "
            f"{100 * rot['rotated']['se2_within_one_bin']:.2f}% | "
            f"{100 * rot['shifted']['se2_within_one_bin']:.2f}% |",
            f"| probe CNN ({rot['rotated']['probe_seconds']:.0f} s / "
            f"{rot['shifted']['probe_seconds']:.0f} s of training) | "
            f"**{100 * rot['rotated']['probe_within_one_bin']:.2f}%** | "
            f"**{100 * rot['shifted']['probe_within_one_bin']:.2f}%** |",
            "| probe CNN on the digits centred on their centroid, trained on rotated + "
            f"shifted digits ({rot['centred']['probe_seconds']:.0f} s) | "
            f"**{100 * rot['centred']['probe_within_one_bin_rotated']:.2f}%** | "
            f"**{100 * rot['centred']['probe_within_one_bin']:.2f}%** |",
            "",
            "Where the digits sit: the upright training digits' centre of mass is at row "
            f"{com['row_mean']:.2f} +- {com['row_std']:.2f}, column {com['col_mean']:.2f} +- "
            f"{com['col_std']:.2f} (MNIST centres it on pixel (14, 14) of 28 x 28), while the "
            f"protocol rotates about the canvas middle ({com['rotation_centre']}, "
            f"{com['rotation_centre']}). In a rotated digit the centre of mass therefore lies "
            "about 0.7 px from the middle, in a direction that turns with the angle (the "
            "sub-pixel offset of +-0.5 px blurs it but keeps its quadrant): a network that sees "
            "where the digit lies can read the angle off it, the 180-degree turns included. "
            "The SE(2) restorer, whose polar grid follows the digit, cannot, by design; nor "
            "can anything once the digits are also shifted. The second column is the probe "
            "without that cue. The third row sees what the SE(2) restorer's polar grid keeps: "
            "each digit moved (circularly, linear interpolation) so that its circular "
            "centroid, the point `mnist-se2` rotates about, sits on the canvas middle; "
            "neither the shift nor the centre cue survives that, so it measures how well an "
            "unconstrained network names the angle from the digit's shape alone.",
        ]
    lines += [
        "",
        "Where the probe ends close to the recipe, both short of 100%, the shortfall is "
        "most likely in the images rather than in the estimator: an unconstrained network "
        "recovers little more. The probe is a measurement, not a bound.",
        "",
        provenance(res, res["seed"]),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/ceiling")
    p.add_argument(
        "--only",
        nargs="*",
        default=["fashion-mnist", "sklearn-digits"],
        help="generality row keys (default: the rows short of the target)",
    )
    p.add_argument("--radius", type=int, default=2, help="largest residual per axis (pixels)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--rotation",
        action="store_true",
        help="add the rotated-MNIST angle probes (rotated; rotated + shifted; centred on "
        "the centroid)",
    )
    a = p.parse_args(argv)
    start = time.perf_counter()
    rows = [run_row(r, a.seed, a.radius, a.epochs) for r in ROWS if r.key in a.only]
    res: dict[str, Any] = {
        "command": "python -m paper.ceiling " + " ".join(sys.argv[1:]),
        "seed": a.seed,
        "radius": a.radius,
        "epochs": a.epochs,
        "rows": rows,
    }
    if a.rotation:
        res["rotation"] = {
            "rotated": run_rotation(a.seed, a.epochs),
            "shifted": run_rotation(a.seed, a.epochs, ROTATED_MAX_SHIFT),
            "centred": run_rotation(a.seed, a.epochs, ROTATED_MAX_SHIFT, centred=True),
            "centre_of_mass": centre_of_mass(),
        }
    write_report(a.out, res, markdown, start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
