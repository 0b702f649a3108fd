"""Cross-check equirestore.nn.gcnn against e2cnn (Weiler & Cesa), a public G-CNN library.

    pip install e2cnn        # from PyPI; not a dependency of equirestore
                             # (its NumPy-2 incompatibility is patched here, see below)
    python benchmarks/gcnn_crosscheck.py --out results/gcnn_crosscheck

For p4 (e2cnn: ``Rot2dOnR2(N=4)``) and p4m (``FlipRot2dOnR2(N=4)``) with 3x3 filters and
circular padding, the script builds e2cnn's lifting convolution (trivial -> regular
fields) and group convolution (regular -> regular), expands their filters, and checks:

1. structure: e2cnn's filter for every group element is the filter-transformation of
   its identity filter, exactly as :class:`equirestore.nn.gcnn.LiftingConv` /
   :class:`~equirestore.nn.gcnn.GroupConv` build theirs (this also finds how e2cnn orders
   the group axis);
2. agreement: our layer loaded with e2cnn's identity filter gives e2cnn's output;
3. equivariance of both, for every group element (float32, max error);
4. where they differ: parameters per layer (e2cnn's steerable 3x3 basis is
   band-limited, ours is every 3x3 filter) and forward time (same run, same input).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
import time
import warnings
from typing import Any

import torch

from equirestore.groups.p4 import Group
from equirestore.nn.gcnn import GroupConv, LiftingConv
from equirestore.report import provenance, write_report


def _numpy2_compat() -> None:
    """Two NumPy-2 incompatibilities of e2cnn 0.2.3 that only the dihedral group (p4m)
    reaches: its kernel bases hash ``ndarray.tostring()`` (removed; the same hash is
    built from ``tobytes()``) and ``kernels.utils`` calls ``np.array(x, copy=False)``
    (now an error when a copy is needed; ``np.asarray`` is the NumPy-1 meaning)."""
    import numpy as np
    from e2cnn.kernels import irreps_basis, utils

    class _NumpyOne:
        def __getattr__(self, name: str) -> Any:
            return getattr(np, name)

        @staticmethod
        def array(obj: Any, *args: Any, copy: bool = True, **kwargs: Any) -> Any:
            if copy is False:
                return np.asarray(obj, *args, **kwargs)
            return np.array(obj, *args, **kwargs)

    utils.np = _NumpyOne()  # type: ignore[assignment]

    def _hash(self: Any) -> int:
        parts = (np.asarray(self.mu).tobytes(), np.asarray(self.gamma).tobytes())
        return hash((self.in_irrep, self.out_irrep, *parts))

    for name in dir(irreps_basis):
        cls = getattr(irreps_basis, name)
        if isinstance(cls, type) and name.startswith("R2") and name.endswith("Solution"):
            cls.__hash__ = _hash  # type: ignore[method-assign,assignment]


def _median_ms(fn: Any, x: Any, repeats: int = 7) -> float:
    with torch.no_grad():
        fn(x)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def crosscheck(mirror: bool, c_in: int, c_out: int, size: int, batch: int) -> dict[str, Any]:
    from e2cnn import gspaces
    from e2cnn import nn as enn

    torch.manual_seed(0)
    group = Group(mirror)
    n = group.order
    gs = gspaces.FlipRot2dOnR2(N=4) if mirror else gspaces.Rot2dOnR2(N=4)
    t_img = enn.FieldType(gs, c_in * [gs.trivial_repr])
    t_in = enn.FieldType(gs, c_in * [gs.regular_repr])
    t_out = enn.FieldType(gs, c_out * [gs.regular_repr])
    out: dict[str, Any] = {"group": "p4m" if mirror else "p4"}
    try:
        e_lift = enn.R2Conv(t_img, t_out, 3, padding=1, padding_mode="circular", bias=False)
        e_conv = enn.R2Conv(t_in, t_out, 3, padding=1, padding_mode="circular", bias=False)
    except Exception as err:  # reported, not hidden
        out["error"] = f"{type(err).__name__}: {err}"
        return out
    e_lift.eval()
    e_conv.eval()
    with torch.no_grad():
        f_lift = e_lift.expand_parameters()[0].view(c_out, n, c_in, 3, 3)
        f_conv = e_conv.expand_parameters()[0].view(c_out, n, c_in, n, 3, 3)
    # 1. which of our group elements e2cnn's k-th filter is
    order: list[tuple[int, int]] = []
    for k in range(n):
        hits = [
            g for g in group.elements
            if torch.allclose(f_lift[:, k], group.transform(f_lift[:, 0], g), atol=1e-6)
        ]  # fmt: skip
        if len(hits) != 1:
            out["error"] = f"e2cnn's lifting filter {k} is not a transformation of filter 0"
            return out
        order.append(hits[0])
    out["e2cnn_order"] = [list(g) for g in order]
    ours_idx = [group.index(g) for g in order]  # e2cnn position k holds our element ours_idx[k]
    inv = [ours_idx.index(i) for i in range(n)]  # e2cnn axis -> our axis: take [..., inv]
    f_ours = f_conv[:, inv][:, :, :, inv]
    out["structure_error_groupconv"] = max(
        float(
            (f_ours[:, i] - group.transform(f_ours[:, 0][:, :, group.permutation(g)], g))
            .abs()
            .max()
        )
        for i, g in enumerate(group.elements)
    )
    lift = LiftingConv(group, c_in, c_out, 3)
    conv = GroupConv(group, c_in, c_out, 3)
    with torch.no_grad():
        lift.weight.copy_(f_lift[:, 0])
        lift.bias.zero_()
        conv.weight.copy_(f_ours[:, 0])
        conv.bias.zero_()
    # 2. agreement on random inputs
    x = torch.randn(batch, c_in, size, size)
    h = torch.randn(batch, c_in, n, size, size)
    h_e = h[:, :, ours_idx].reshape(batch, c_in * n, size, size)  # our axis -> e2cnn's
    with torch.no_grad():
        y_lift_e = e_lift(enn.GeometricTensor(x, t_img)).tensor.view(batch, c_out, n, size, size)
        y_conv_e = e_conv(enn.GeometricTensor(h_e, t_in)).tensor.view(batch, c_out, n, size, size)
        y_lift, y_conv = lift(x), conv(h)
    scale = float(y_conv.abs().max())
    out["agreement_lifting"] = float((y_lift[:, :, ours_idx] - y_lift_e).abs().max())
    out["agreement_groupconv"] = float((y_conv[:, :, ours_idx] - y_conv_e).abs().max())
    out["output_scale"] = scale
    # 3. equivariance of both for every group element
    worst_ours = worst_e2cnn = 0.0
    with torch.no_grad():
        for g in group.elements:
            gx, gh = group.transform(x, g), group.act(h, g)
            worst_ours = max(worst_ours, float((conv(gh) - group.act(y_conv, g)).abs().max()))
            worst_ours = max(worst_ours, float((lift(gx) - group.act(y_lift, g)).abs().max()))
            ge = e_lift(enn.GeometricTensor(gx, t_img)).tensor.view(batch, c_out, n, size, size)
            ge_ours = ge[:, :, inv]
            worst_e2cnn = max(
                worst_e2cnn, float((ge_ours - group.act(y_lift_e[:, :, inv], g)).abs().max())
            )
            gh_e = gh[:, :, ours_idx].reshape(batch, c_in * n, size, size)
            ge = e_conv(enn.GeometricTensor(gh_e, t_in)).tensor.view(batch, c_out, n, size, size)
            worst_e2cnn = max(
                worst_e2cnn,
                float((ge[:, :, inv] - group.act(y_conv_e[:, :, inv], g)).abs().max()),
            )
    out["equivariance_error_ours"] = worst_ours
    out["equivariance_error_e2cnn"] = worst_e2cnn
    # 4. differences
    out["parameters_groupconv"] = {
        "ours": sum(p.numel() for p in conv.parameters() if p is not conv.bias),
        "e2cnn": sum(p.numel() for p in e_conv.parameters()),
    }
    ms_ours = _median_ms(conv, h)
    ms_e2cnn = _median_ms(lambda t: e_conv(enn.GeometricTensor(t, t_in)), h_e)
    out["forward_ms_groupconv"] = {"ours": ms_ours, "e2cnn (eval, cached filter)": ms_e2cnn}
    return out


def markdown(res: dict[str, Any]) -> str:
    c = res["config"]
    lines = [
        "# Cross-check of equirestore.nn.gcnn against e2cnn",
        "",
        f"e2cnn {res['e2cnn_version']}; 3x3 filters, circular padding, {c['c_in']} -> "
        f"{c['c_out']} fields, {c['batch']} inputs of {c['size']}x{c['size']}, float32.",
        "",
    ]
    for r in res["groups"]:
        lines.append(f"## {r['group']}")
        lines.append("")
        if "error" in r:
            lines += [f"Not checked: e2cnn failed to build the layers: `{r['error']}`.", ""]
            continue
        p, t = r["parameters_groupconv"], r["forward_ms_groupconv"]
        lines += [
            "| check | result |",
            "|---|---|",
            f"| e2cnn's group-axis order, as our (mirror, rotation) | {r['e2cnn_order']} |",
            "| e2cnn's group-conv filters = filter transformation of its identity filter "
            f"(max error) | {r['structure_error_groupconv']:.1e} |",
            f"| our lifting conv with e2cnn's filter vs e2cnn (max abs diff) | "
            f"{r['agreement_lifting']:.1e} |",
            f"| our group conv with e2cnn's filter vs e2cnn (max abs diff; outputs up to "
            f"{r['output_scale']:.1f}) | {r['agreement_groupconv']:.1e} |",
            f"| equivariance error, every group element: ours / e2cnn | "
            f"{r['equivariance_error_ours']:.1e} / {r['equivariance_error_e2cnn']:.1e} |",
            f"| parameters of one group conv: ours / e2cnn | {p['ours']:,} / {p['e2cnn']:,} |",
            f"| forward time of one group conv (ms): ours / e2cnn | "
            f"{t['ours']:.2f} / {list(t.values())[1]:.2f} |",
            "",
        ]
    checked = [r for r in res["groups"] if "error" not in r]
    same = [
        r["group"] for r in checked if max(r["agreement_lifting"], r["agreement_groupconv"]) < 1e-5
    ]
    exact = all(
        max(r["equivariance_error_ours"], r["equivariance_error_e2cnn"]) < 1e-5 for r in checked
    )
    lines += [
        f"Agree: given the same filters, our layers compute e2cnn's output for "
        f"{', '.join(same) or 'no group'} (max difference below 1e-5); both libraries are "
        f"{'exactly equivariant (error below 1e-5, float32)' if exact else 'NOT both exact'}"
        " for every group element. e2cnn orders the reflections differently (table), which "
        "is only a relabelling of the group axis.",
        "",
        "Differ: e2cnn expands its filters from a band-limited steerable basis, so a 3x3 "
        "layer has fewer free parameters than ours (ours learns every 3x3 filter, as Cohen & "
        "Welling do): every e2cnn layer is one of ours, not the other way round. In eval mode "
        "e2cnn caches the expanded filter bank; ours transforms the filters on every call.",
        "",
        provenance(res, 0),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/gcnn_crosscheck")
    a = p.parse_args(argv)
    try:
        import e2cnn  # noqa: F401
    except ImportError:
        print("e2cnn is not installed: run `pip install e2cnn` first", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", module="e2cnn")
    _numpy2_compat()
    t0 = time.perf_counter()
    config = {"c_in": 4, "c_out": 6, "size": 16, "batch": 8}
    res: dict[str, Any] = {
        "command": "python benchmarks/gcnn_crosscheck.py " + " ".join(sys.argv[1:]),
        "e2cnn_version": importlib.metadata.version("e2cnn"),
        "config": config,
        "groups": [crosscheck(m, **config) for m in (False, True)],
    }
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
