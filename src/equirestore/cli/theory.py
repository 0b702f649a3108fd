"""The theory checkers on the command line: ``check-affine``, ``check-aperiodic`` and
``construct-restorer`` (see ``equirestore <command> --help``)."""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from equirestore.data import load_dataset
from equirestore.io import atomic_path


def _load_factory(spec: str) -> Any:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"--module must look like 'package.module:callable', got {spec!r}")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"cannot import {module!r}: {e}") from e
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module!r} has no attribute {name!r}")
        obj = getattr(obj, part)
    return obj


def check_affine_command(a: argparse.Namespace) -> int:
    """Build ``callable(**kwargs)`` and check Theorem 3.4 on it (or on the demo layers)."""
    from equirestore.theory.affine import check_affine_module
    from equirestore.theory.examples import theorem34, theorem34_cases

    if a.module is None:
        rows = theorem34()
        for (name, _, _), r in zip(theorem34_cases(), rows, strict=True):
            print(
                f"{name:45s} equivariant by Theorem 3.4: {r['theorem_3_4']!s:5s} "
                f"(measured error {r['measured_equivariance_error']:.2e})"
            )
        return 0
    try:
        shape = tuple(int(v) for v in a.shape.split(","))
        kwargs = json.loads(a.kwargs)
    except ValueError as e:
        raise ValueError(
            f"--shape takes integers like 1,8,8 and --kwargs a JSON object: {e}"
        ) from e
    if len(shape) < 2 or min(shape) < 1:
        raise ValueError(f"--shape is (C, *N) with positive entries, e.g. 1,8,8; got {a.shape!r}")
    try:
        module = _load_factory(a.module)(**kwargs)
    except TypeError as e:
        raise ValueError(f"{a.module}(**{kwargs}) failed: {e}") from e
    if isinstance(module, torch.nn.Module):
        module = module.double().eval()
    try:
        report, affinity = check_affine_module(module, shape, atol=a.atol)
    except RuntimeError as e:  # the layer refuses inputs of this shape
        raise ValueError(
            f"{a.module} does not accept inputs of shape (B, {', '.join(map(str, shape))}) "
            f"(--shape): {str(e).splitlines()[0]}"
        ) from e
    print(f"affine: {affinity < a.atol} (probe error {affinity:.3g})")
    print(
        f"circular filter (Definition 3.5): {report.circular} "
        f"(max deviation {report.max_filter_error:.3g})"
    )
    for co, ci, p, q, actual, expected in report.filter_violations[:5]:
        print(
            f"  A[{co},{ci}][p={p}, q={q}] = {actual:.6g}, a circular filter needs {expected:.6g}"
        )
    print(
        f"constant bias (Corollary 3.6): {report.constant_bias} "
        f"(max deviation {report.max_bias_error:.3g})"
    )
    for co, p, actual, expected in report.bias_violations[:5]:
        print(f"  b[{co}, {p}] = {actual:.6g} but b[{co}, 0] = {expected:.6g}")
    ok = report.equivariant and affinity < a.atol
    print(f"translation-equivariant (Theorem 3.4): {ok}")
    return 0 if ok else 1


def check_aperiodic_command(a: argparse.Namespace) -> int:
    """Definition 4.2 on a named dataset split; exit status 1 if it is not aperiodic."""
    from equirestore.theory.aperiodic import check_aperiodic

    images, _ = load_dataset(
        a.dataset, a.split, a.data_root, a.geometry, size=a.size, download=a.download
    )
    rep = check_aperiodic(images)
    print(
        f"{a.dataset}/{a.split} {tuple(images.shape)}: aperiodic = {rep.aperiodic} "
        f"{rep.counts()} ({rep.seconds:.1f} s)"
    )
    for v in rep.violations[: a.show]:
        print(f"  x[{v.j}] == shift(x[{v.i}], {v.shift})  ({v.kind})")
    if a.report:
        with atomic_path(a.report) as tmp:
            body = asdict(rep) | {"counts": rep.counts(), "dataset": a.dataset, "split": a.split}
            Path(tmp).write_text(json.dumps(body, indent=2) + "\n")
    return 0 if rep.aperiodic else 1


def construct_restorer_command(a: argparse.Namespace) -> int:
    """Theorem 4.5: build the estimator for the first ``--limit`` images and verify it."""
    from equirestore.restore.hub import save_restorer
    from equirestore.restore.translation import TranslationRestorer
    from equirestore.theory.constructive import construct_restorer

    images, _ = load_dataset(
        a.dataset, a.split, a.data_root, a.geometry, size=a.size, download=a.download
    )
    images = images[: a.limit]
    net, rep = construct_restorer(images, a.bits)
    for k, v in asdict(rep).items():
        print(f"{k:18s} {v}")
    if a.out:
        restorer = TranslationRestorer(
            net, tuple(images.shape[1:]), name=f"{a.dataset}-constructed"
        )
        save_restorer(restorer, a.out, meta={"construction": asdict(rep), "limit": a.limit})
        print(f"saved {a.out}")
    return 0 if rep.strict else 1


def make_mnist3d_command(a: argparse.Namespace) -> int:
    """``equirestore make-mnist3d``: the generated volumes into one ``.npz``."""
    import numpy as np

    arrays: dict[str, Any] = {}
    for split in ("train", "test"):
        x, y = load_dataset("mnist3d", split, a.data_root)
        arrays[f"{split}_volumes"] = (x * 255).round().byte().numpy()
        arrays[f"{split}_labels"] = y.numpy()
    with atomic_path(a.out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, allow_pickle=False, **arrays)
    shapes = {k: v.shape for k, v in arrays.items() if k.endswith("volumes")}
    print(f"wrote {a.out}: {shapes} (uint8, 0..255)")
    return 0


def add_parsers(sub: Any, data_args: Any) -> None:
    """The parsers of make-mnist3d, check-affine, check-aperiodic and construct-restorer."""
    p = sub.add_parser(
        "make-mnist3d",
        help="generate 3D-MNIST from MNIST (point clouds, voxels, padding) into a .npz",
        description="Generate the 3D-MNIST volumes of equirestore.data.mnist3d (10,000 train, "
        "2,000 test; seeds 0 and 1; 32x32x32 after the 8-voxel padding) and write them with "
        "their labels to one compressed .npz (train_volumes, train_labels, test_volumes, "
        "test_labels). load_dataset('mnist3d', split) makes the same volumes in memory.",
    )
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument("--data-root", default=None, help="folder holding MNIST")
    p.set_defaults(handler=make_mnist3d_command)

    p = sub.add_parser(
        "check-affine",
        help="Theorem 3.4: is an affine layer translation-equivariant, and where not",
        description="Probe an affine layer (b = f(0), columns f(e_j) - f(0)) and decide "
        "exactly whether it is translation-equivariant: its matrix must be a circular filter "
        "(Definition 3.5) and its bias constant per channel (Corollary 3.6). Lists where "
        "each condition fails. Without --module, runs the built-in demonstrations (circular "
        "conv, zero padding, stride 2, max-pooling, per-pixel bias, fully connected). Exit "
        "status 1 if the layer is not equivariant, 2 if it cannot be checked (bad --module, "
        "--kwargs or --shape).",
    )
    p.add_argument("--module", help="factory as 'package.module:callable', e.g. torch.nn:Conv2d")
    p.add_argument("--kwargs", default="{}", help="JSON keyword arguments for the factory")
    p.add_argument("--shape", default="1,8,8", help="input shape C,*N (default 1,8,8)")
    p.add_argument("--atol", type=float, default=1e-9, help="tolerance (float64)")
    p.set_defaults(handler=check_affine_command)

    p = sub.add_parser(
        "check-aperiodic",
        help="Definition 4.2: list images equal to a circular shift of themselves or another",
        description="Decide exactly whether a dataset split is aperiodic (Definition 4.2) and "
        "list every violation: exact duplicates, translated copies (with the shift) and "
        "periodic images. Exit status 1 if it is not aperiodic.",
    )
    data_args(p)
    p.add_argument("--split", choices=["train", "test"], default="train")
    p.add_argument("--show", type=int, default=20, help="violations to print")
    p.add_argument("--report", help="write the full report as JSON here")
    p.set_defaults(handler=check_aperiodic_command)

    p = sub.add_parser(
        "construct-restorer",
        help="Theorem 4.5: build (no training) a translation estimator for quantized data",
        description="Build the network of Lemmas 4.3 + 4.4 for the first --limit images "
        "(values quantized to 2^bits levels), verify on every image that component 0 is the "
        "strict maximum, and print depth, width, parameters and times. Refuses datasets that "
        "are not aperiodic. Memory grows with limit^2 x grid size: keep --limit to a few "
        "thousand.",
    )
    data_args(p)
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("--limit", type=int, default=1000, help="number of images (default 1000)")
    p.add_argument("--bits", type=int, default=8, help="n: levels = 2^n (8 for MNIST/CIFAR)")
    p.add_argument("--out", help="also save the built restorer checkpoint here")
    p.set_defaults(handler=construct_restorer_command)
