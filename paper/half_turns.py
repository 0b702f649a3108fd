"""Half turns behind the SE(2) restorer: how much of the classification error they are,
and whether a second look at the two candidates ``θ`` and ``θ + 180°`` removes them.

    python -m paper.half_turns --out results/half_turns

Setting: the test sets of :mod:`paper.rotated_mnist` (all 10,000 MNIST test digits,
rotated with seed ``--seed + 1``; rotated only, and rotated plus shifted up to 8 px), the
shipped ``mnist-se2`` restorer, and the upright Z2CNN with sub-pixel augmentation that
``python -m paper.rotated_mnist`` trained on 12,000 upright digits (read from
``--workdir``; that command makes it). The restorer estimates ``(shift, θ)``; each row
undoes the shift it estimates and one choice of angle:

* ``θ``, as shipped;
* the better of ``θ`` and ``θ + 180°`` chosen by a *learned half-turn decider*: a
  :class:`~equirestore.classifiers.models.SmallCNN` ``u`` with one output, read as
  ``u(undo(x, θ)) - u(undo(x, θ + 180°))`` (antisymmetric in the two candidates: swapping
  them swaps the decision), trained with a logistic loss on the restorer's own output for
  the 60,000 MNIST training digits, each rotated once by a random angle (seed
  ``--seed + 2``), labelled by which candidate is nearer the applied angle. It sees what the
  restorer sees: upright digits and rotated copies of them, never a test digit;
* the better of ``θ`` and ``θ + 180°`` by the applied angle: no decision between the two
  can do better, so this is the most a half-turn decider can give;
* the applied angle itself (the shift still estimated): the most any angle estimate can
  give behind this undo.

A second table gives the distribution of the absolute angle error as shipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore import load_dataset, load_restorer
from equirestore.classifiers.models import SmallCNN
from equirestore.classifiers.training import load_classifier, predict
from equirestore.report import provenance, write_report
from equirestore.restore.evaluation import angle_error
from equirestore.restore.rotation_training import random_rotations
from equirestore.restore.se2 import SE2Restorer
from paper.rotated_mnist import test_sets

#: Upper edges (degrees) of the bands of absolute angle error in the second table.
BANDS = (5, 10, 15, 20, 30, 60, 120, 170, 180)


@torch.no_grad()
def candidates(restorer: SE2Restorer, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """For ``x (B, 1, H, W)``: the estimated angle ``θ (B,)`` and the images restored with
    ``θ`` and with ``θ + 180°`` (both with the estimated shift), and the shift ``(B, 2)``."""
    s, theta = restorer.estimate(x)
    return theta, restorer.undo(x, (s, theta)), restorer.undo(x, (s, theta + 180)), s


def decide(decider: nn.Module, upright: Tensor, turned: Tensor) -> Tensor:
    """``(B,)`` bool: whether ``decider`` prefers the first candidate,
    ``u(upright) >= u(turned)``."""
    return (decider(upright.float()) - decider(turned.float())).squeeze(1) >= 0


def nearer_half(estimate: Tensor, applied: Tensor) -> Tensor:
    """``(B,)`` bool: whether ``estimate`` is at least as near ``applied`` (degrees) as
    ``estimate + 180``."""
    return angle_error(estimate, applied).abs() <= 90


def train_decider(
    restorer: SE2Restorer, images: Tensor, epochs: int, seed: int, batch_size: int = 128
) -> tuple[nn.Module, dict[str, Any]]:
    """The learned half-turn decider (module docstring) for upright ``images (N, 1, H, W)``,
    each rotated once with seed ``seed``."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    ups, downs, labels = [], [], []
    for i in tqdm(range(0, len(images), 1000), desc="restoring the training digits"):
        x, applied = random_rotations(images[i : i + 1000], gen)
        theta, up, down, _ = candidates(restorer, x)
        ups.append(up.float())
        downs.append(down.float())
        labels.append(nearer_half(theta, applied).float())
    up, down, label = torch.cat(ups), torch.cat(downs), torch.cat(labels)
    torch.manual_seed(seed)
    decider = SmallCNN(1, 1)
    opt = torch.optim.Adam(decider.parameters(), lr=1e-3)
    losses = []
    for epoch in range(epochs):
        decider.train()
        order = torch.randperm(len(up), generator=gen)
        total = 0.0
        for i in tqdm(range(0, len(up), batch_size), desc=f"decider epoch {epoch + 1}"):
            idx = order[i : i + batch_size]
            margin = (decider(up[idx]) - decider(down[idx])).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(margin, label[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(up))
    record = {
        "n_train": len(up),
        "restorer_right_half": float(label.mean()),
        "epochs": epochs,
        "epoch_loss": losses,
        "train_seconds": time.perf_counter() - start,
        "parameters": sum(p.numel() for p in decider.parameters()),
    }
    return decider.eval(), record


@torch.no_grad()
def rows(
    restorer: SE2Restorer,
    classifier: nn.Module,
    decider: nn.Module,
    tests: dict[str, Tensor],
    angles: Tensor,
    labels: Tensor,
) -> tuple[list[dict[str, Any]], Tensor]:
    """Error and angle within one bin of every choice of angle (module docstring) on every
    test variant, and the shipped absolute angle errors ``(N,)`` on the first variant."""
    bin_degrees = restorer.rotation.bin_degrees
    names = ("estimate θ (as shipped)", "learned half-turn decider", "better half (applied angle)")
    out: dict[str, dict[str, Any]] = {n: {"choice": n} for n in (*names, "applied angle")}
    shipped_errors: dict[str, Tensor] = {}
    for key, x in tests.items():
        predicted: dict[str, list[Tensor]] = {n: [] for n in out}
        chosen: dict[str, list[Tensor]] = {n: [] for n in names}
        for i in range(0, len(x), 1000):
            xb, applied = x[i : i + 1000], angles[i : i + 1000]
            theta, up, down, s = candidates(restorer, xb)
            for name, keep in (
                (names[0], torch.ones_like(theta, dtype=torch.bool)),
                (names[1], decide(decider, up, down)),
                (names[2], nearer_half(theta, applied)),
            ):
                image = torch.where(keep[:, None, None, None], up, down)
                predicted[name].append(predict(classifier, image))
                chosen[name].append(torch.where(keep, theta, theta + 180))
            exact = restorer.undo(xb, (s, applied))
            predicted["applied angle"].append(predict(classifier, exact))
        for name, p in predicted.items():
            out[name][f"{key}_error"] = 100 * float((torch.cat(p) != labels).double().mean())
        for name, est in chosen.items():
            err = angle_error(torch.cat(est), angles).abs()
            out[name][f"{key}_within_one_bin"] = 100 * float((err <= bin_degrees).double().mean())
            if name == names[0]:
                shipped_errors[key] = err
    return list(out.values()), shipped_errors[next(iter(tests))]


def bands(errors: Tensor) -> list[dict[str, float]]:
    """Share (%) of absolute angle errors ``(N,)`` in each band ``(lower, upper]`` of
    :data:`BANDS` (the first band includes 0)."""
    lower = -1.0
    out = []
    for upper in BANDS:
        share = ((errors > lower) & (errors <= upper)).double().mean()
        out.append({"from": max(lower, 0.0), "to": float(upper), "share": 100 * float(share)})
        lower = float(upper)
    return out


def run(a: argparse.Namespace) -> dict[str, Any]:
    path = Path(a.workdir) / "z2cnn_subpixel.pt"
    if not path.exists():
        raise SystemExit(
            f"error: {path} not found: it is the upright classifier that "
            "`python -m paper.rotated_mnist` trains; run that first (or pass --workdir)"
        )
    classifier, _ = load_classifier(path)
    restorer = load_restorer("mnist-se2").eval()
    assert isinstance(restorer, SE2Restorer)
    images, _ = load_dataset("mnist", "train")
    decider, record = train_decider(restorer, images[: a.n_train], a.epochs, a.seed + 2)
    tests, angles, labels = test_sets(a.seed)
    table, errors = rows(restorer, classifier.eval(), decider, tests, angles, labels)
    return {
        "classifier": str(path),
        "decider": record,
        "rows": table,
        "bands": bands(errors),
        "n_test": len(labels),
        "bin_degrees": restorer.rotation.bin_degrees,
        "seed": a.seed,
    }


def markdown(res: dict[str, Any]) -> str:
    d = res["decider"]
    lines = [
        "# Half turns behind the SE(2) restorer",
        "",
        f"All {res['n_test']:,} MNIST test digits rotated as in `results/rotated_mnist.md` "
        "(rotated; rotated + shifted up to 8 px), restored by `mnist-se2` with its estimated "
        "shift and one choice of angle, then classified by the upright Z2CNN with sub-pixel "
        f"augmentation (`{res['classifier']}`, never shown a rotated digit). Within one bin: "
        f"absolute error of the angle at most {res['bin_degrees']:g}°.",
        "",
        "| angle undone | error, rotated | error, + shifted | within one bin, rotated | "
        "within one bin, + shifted |",
        "|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        within = [
            f"{r[k]:.2f}%" if k in r else "-"
            for k in ("rotated_within_one_bin", "shifted_within_one_bin")
        ]
        lines.append(
            f"| {r['choice']} | **{r['rotated_error']:.2f}%** | **{r['shifted_error']:.2f}%** | "
            + " | ".join(within)
            + " |"
        )
    lines += [
        "",
        f"The learned decider: `SmallCNN` with one output ({d['parameters']:,} parameters), "
        f"{d['epochs']} epochs of Adam on the restorer's output for {d['n_train']:,} rotated "
        f"training digits (the restorer put {100 * d['restorer_right_half']:.2f}% of them in "
        f"the right half turn), {d['train_seconds']:.0f} s; training loss by epoch "
        + ", ".join(f"{v:.3f}" for v in d["epoch_loss"])
        + ".",
        "",
        "Absolute angle error as shipped, rotated test digits:",
        "",
        "| error (degrees) | share |",
        "|---|---|",
    ]
    lines += [f"| {b['from']:g}-{b['to']:g} | {b['share']:.2f}% |" for b in res["bands"]]
    lines += ["", provenance(res, res["seed"]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/half_turns", help="output stem (.md, .json)")
    p.add_argument("--epochs", type=int, default=8, help="epochs of the half-turn decider")
    p.add_argument("--n-train", type=int, default=60000, help="training digits for the decider")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--workdir", default="artifacts/rotated_mnist", help="paper.rotated_mnist's networks"
    )
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    res = run(a)
    res["command"] = "python -m paper.half_turns " + " ".join(sys.argv[1:])
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
