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
from equirestore.data.images import atomic_path


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
    from equirestore.experiments.theory import theorem34, theorem34_cases
    from equirestore.theory.affine import check_affine_module

    if a.module is None:
        rows = theorem34()
        for (name, _, _), r in zip(theorem34_cases(), rows, strict=True):
            print(
                f"{name:45s} equivariant by Theorem 3.4: {r['theorem_3_4']!s:5s} "
                f"(measured error {r['measured_equivariance_error']:.2e})"
            )
        return 0
    shape = tuple(int(v) for v in a.shape.split(","))
    if len(shape) < 2:
        raise ValueError(f"--shape is (C, *N), e.g. 1,8,8; got {a.shape!r}")
    module = _load_factory(a.module)(**json.loads(a.kwargs))
    if isinstance(module, torch.nn.Module):
        module = module.double().eval()
    report, affinity = check_affine_module(module, shape, atol=a.atol)
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

    images, _ = load_dataset(a.dataset, a.split, a.data_root, a.geometry)
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

    images, _ = load_dataset(a.dataset, a.split, a.data_root, a.geometry)
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
