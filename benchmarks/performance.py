"""Performance of the restorer against its baselines, all measured in one run.

    python benchmarks/performance.py --out results/performance

Prints one table per section and writes ``<out>.md`` / ``<out>.json``:

1. ``restore`` throughput (images/s) and peak extra memory of the shipped MNIST and
   CIFAR-10 restorers at batch 1, 64 and 4096, next to (a) a naive reference with the
   same weights (``F.pad(mode="circular")`` + ``conv2d`` per layer, then one Python
   ``torch.roll`` per image; timed on at most ``NAIVE_MAX`` images of a batch, as its
   time per image does not fall with the batch) and (b) the classifier it protects
   (random weights: the speed does not depend on them). Ratios are against numbers from
   the same run.
2. Direct vs FFT vs circulant-matrix circular convolution over kernel sizes, in 1-D to
   3-D: the measured crossover and what ``method="auto"`` picks.
3. A 3-D full-size restorer on volumes.
4. Wall time of ``equirestore train-restorer --dataset mnist`` (subprocess).
5. Peak memory of evaluation (Table 1 loop) and of streaming ``equirestore restore``
   over a folder, for two data sizes: it must not grow with the data.

Peak memory is the growth of the process's resident-set high-water mark (``VmHWM``,
reset through ``/proc/self/clear_refs``) over its resident size before the call.
Needs Linux. Times are medians over repeats within a small time budget.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

import equirestore
from equirestore.classifiers.models import SmallCNN, resnet18_small
from equirestore.data import DatasetNotFoundError, load_dataset
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.nn.circular import EXPORT_MATRIX, CircularConv, auto_method, circular_conv
from equirestore.nn.features import FeatureEstimator
from equirestore.report import write_report
from equirestore.restore.translation import TranslationRestorer

# the project's data lies beside the checkout unless $EQUIRESTORE_DATA says otherwise
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED.is_dir():
    os.environ.setdefault("EQUIRESTORE_DATA", str(_SHARED))


#: the naive reference is timed on at most this many images of a batch
NAIVE_MAX = 256


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status (Linux only)")


def peak_extra_bytes(fn: Callable[[], object]) -> int:
    """Growth of the resident high-water mark while ``fn`` runs."""
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    fn()
    return max(0, _status("VmHWM") - before)


def seconds_per_call(fn: Callable[[], object], budget: float = 1.0, min_reps: int = 3) -> float:
    """Median wall time of ``fn`` after one warm-up call."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < budget and len(times) < 200):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved_ratio(
    fn: Callable[[], object], baseline: Callable[[], object], rounds: int = 9
) -> float:
    """Median over rounds of ``time(fn) / time(baseline)``, the two timed back to back in
    every round (``fn`` as the median of several calls), so that the machine's drift
    between minutes cancels out of the ratio."""
    fn()
    baseline()
    ratios = []
    for _ in range(rounds):
        t = time.perf_counter()
        baseline()
        t_base = time.perf_counter() - t
        reps = max(3, min(50, int(0.5 * t_base / max(1e-6, _once(fn)))))
        ratios.append(statistics.median(_once(fn) for _ in range(reps)) / t_base)
    return statistics.median(ratios)


def _once(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _is_single_filter(restorer: TranslationRestorer) -> bool:
    try:
        _layers(restorer)
    except ValueError:
        return False
    return True


def _layers(restorer: TranslationRestorer) -> list[tuple[Tensor, Tensor | None, tuple[int, ...]]]:
    """``(weight, bias, dilation)`` of every circular filter layer of the estimator: a
    canonical network's layers, or the one full-size filter of a feature estimator that
    reads the raw image only (its map scale folded into the weight)."""
    est = restorer.estimator
    if isinstance(est, FeatureEstimator):
        config = est.config()["features"]
        if est.map_kernel is None or config["thresholds"] or config["windows"] or est.hidden:
            raise ValueError("the naive reference covers single full-size filters only")
        scale = est.map_scale.view(1, -1, *([1] * restorer.dims)).to(est.map_kernel.dtype)
        return [(est.map_kernel * scale, None, (1,) * restorer.dims)]
    return [
        (m.weight, m.bias, tuple(m.dilation)) for m in est.modules() if isinstance(m, CircularConv)
    ]


def naive_restore(restorer: TranslationRestorer, x: Tensor) -> Tensor:
    """The same estimator applied layer by layer with ``F.pad(mode="circular")`` and
    ``conv2d``/``conv3d``, then one ``torch.roll`` per image. Runs in chunks that keep
    the unfolded input of a full-size kernel (``|N|**2`` values per image and channel)
    near 1 GiB; in one piece, 4096 MNIST images would need 34 GB."""
    per_image = math.prod(restorer.spatial) ** 2 * restorer.input_shape[0] * 8
    chunk = max(1, 2**30 // per_image)
    if len(x) > chunk:
        return torch.cat(
            [naive_restore(restorer, x[i : i + chunk]) for i in range(0, len(x), chunk)]
        )
    conv = {2: F.conv2d, 3: F.conv3d}[restorer.dims]
    h = x.to(restorer.score_dtype)
    for i, (weight, bias, dilation) in enumerate(layers := _layers(restorer)):
        pad: list[int] = []
        for k, d in zip(reversed(weight.shape[2:]), reversed(dilation), strict=True):
            left = d * (k - 1) // 2
            pad += [left, d * (k - 1) - left]
        h = F.pad(h, pad, mode="circular")
        h = conv(h, weight, bias, dilation=dilation)
        if i < len(layers) - 1:
            h = torch.relu(h)
    flat = h.flatten(1).argmax(1)
    out = []
    for i in range(len(x)):
        pos = torch.unravel_index(flat[i], restorer.spatial)
        out.append(torch.roll(x[i], [-int(p) for p in pos], list(range(1, x.dim() - 1))))
    return torch.stack(out)


def _images(dataset: str, shape: tuple[int, ...], n: int) -> tuple[Tensor, str]:
    try:
        x, _ = load_dataset(dataset, "test")
        source = f"{dataset} test images"
    except DatasetNotFoundError:
        x = torch.rand(n, *shape)
        source = "uniform noise (dataset not found)"
    reps = -(-n // len(x))
    return x.repeat(reps, *([1] * (x.dim() - 1)))[:n].contiguous(), source


@torch.inference_mode()
def section_throughput(batches: tuple[int, ...]) -> list[dict[str, Any]]:
    rows = []
    for dataset, classifier in (("mnist", SmallCNN(1)), ("cifar10", resnet18_small(3))):
        restorer = equirestore.load_restorer(dataset)
        classifier.eval()
        data, source = _images(dataset, restorer.input_shape, max(batches))
        single = _is_single_filter(restorer)
        for b in batches:
            x = data[:b]
            res: dict[str, Any] = {"dataset": dataset, "batch": b, "inputs": source}
            res["estimator"] = restorer.estimator.config().get("kind", "canonical")
            timed = [
                ("restore", lambda x=x, r=restorer: r(x)),
                ("classifier", lambda x=x, c=classifier: c(x)),
            ]
            if single:  # the naive reference exists for single full-size filters
                # its time per image does not fall with the batch: timed on at most 256
                xn = x[:NAIVE_MAX]
                timed.append(("naive", lambda x=xn, r=restorer: naive_restore(r, x)))
                res["naive_agrees_on_64"] = bool(
                    torch.equal(naive_restore(restorer, x[:64]), restorer(x[:64]))
                )
            for key, fn in timed:
                n = min(b, NAIVE_MAX) if key == "naive" else b
                t = seconds_per_call(fn, min_reps=2 if key == "naive" else 3)
                res[f"{key}_img_s"] = n / t
                res[f"{key}_peak_mb"] = peak_extra_bytes(fn) / 2**20
            if single:
                res["speedup_vs_naive"] = res["restore_img_s"] / res["naive_img_s"]
            res["restorer_over_classifier"] = interleaved_ratio(
                lambda x=x, r=restorer: r(x),
                lambda x=x, c=classifier: c(x),
                rounds=3 if b == max(batches) else 9,
            )
            rows.append(res)
            print(
                f"{dataset:8s} B={b:5d}  restore {res['restore_img_s']:10.0f} img/s "
                f"({res['restore_peak_mb']:.0f} MB)  classifier {res['classifier_img_s']:9.0f}"
                f"  restorer/classifier {100 * res['restorer_over_classifier']:.2f}%",
                flush=True,
            )
    return rows


@torch.inference_mode()
def section_crossover() -> list[dict[str, Any]]:
    """Direct vs FFT vs the circulant matrix for one circular layer, without gradients;
    ``auto`` should pick the fastest. The float64 cases include the layers of the rotation
    estimators (1-D, 36 angle bins: 16 or 64 -> 128 -> 1 channels). The circulant matrix
    is timed where it has at most ``EXPORT_MATRIX`` entries (``auto`` never makes a larger
    one)."""
    f32, f64 = torch.float32, torch.float64
    cases = [  # dims, grid, C_in, C_out, batch, kernels, dtype
        (2, 32, 8, 8, 256, (3, 5, 7, 9, 11, 15, 21, 32), f32),
        (2, 32, 1, 1, 1024, (3, 5, 7, 9, 11, 15, 21, 32), f32),
        (2, 32, 32, 32, 64, (3, 5, 7, 9, 11), f32),
        (3, 24, 4, 4, 16, (3, 5, 7, 9, 13, 24), f32),
        (1, 36, 64, 64, 500, (3, 5, 9, 36), f64),
        (1, 36, 64, 128, 500, (36,), f64),
        (1, 36, 16, 128, 500, (36,), f64),
        (1, 36, 128, 1, 500, (3, 36), f64),
        (1, 36, 128, 1, 500, (36,), f32),
        (2, 32, 8, 8, 256, (3, 5, 9, 32), f64),
        (2, 32, 32, 32, 64, (3, 5), f64),
    ]
    rows = []
    for dims, n, c_in, c_out, b, sizes, dtype in cases:
        x = torch.rand(b, c_in, *([n] * dims), dtype=dtype)
        methods = ["direct", "fft"]
        if c_in * c_out * n ** (2 * dims) <= EXPORT_MATRIX:
            methods.append("matmul")
        for k in sizes:
            w = torch.rand(c_out, c_in, *([k] * dims), dtype=dtype)
            t = {
                m: seconds_per_call(lambda m=m, x=x, w=w: circular_conv(x, w, method=m), budget=0.3)
                for m in methods
            }
            auto = auto_method(c_in, c_out, (k,) * dims, (n,) * dims, (1,) * dims, dtype, False)
            best = min(t, key=lambda m: t[m])
            rows.append(
                {
                    "dims": dims,
                    "dtype": str(dtype).removeprefix("torch."),
                    "grid": n,
                    "channels_in": c_in,
                    "channels_out": c_out,
                    "batch": b,
                    "kernel": k,
                    **{f"{m}_ms": 1000 * t[m] for m in methods},
                    "auto": auto,
                    "faster": best,
                    "auto_loss": t[auto] / t[best],
                }
            )
            timings = "  ".join(f"{m} {1000 * t[m]:8.2f} ms" for m in methods)
            print(
                f"{dims}-D {n}^{dims} {dtype} C={c_in}->{c_out} B={b} k={k:2d}: {timings}  "
                f"auto={auto:6s} faster={best}",
                flush=True,
            )
    return rows


@torch.inference_mode()
def section_volumes() -> list[dict[str, Any]]:
    """A full-size 3-D restorer (random weights) on 16^3 and 32^3 volumes. The naive
    reference runs on 16^3 only: at 32^3 its unfolded input is 8 GiB per volume."""
    rows = []
    for n in (16, 32):
        net = CanonicalNetwork(1, [1], kernel_size=n, dims=3, bias=False)
        restorer = TranslationRestorer(net, (1, n, n, n), name="volume").eval()
        for b in (1, 16):
            x = torch.rand(b, 1, n, n, n)
            t_r = seconds_per_call(lambda x=x, r=restorer: r(x))
            row: dict[str, Any] = {
                "grid": f"{n}^3",
                "batch": b,
                "restore_vol_s": b / t_r,
                "restore_peak_mb": peak_extra_bytes(lambda x=x, r=restorer: r(x)) / 2**20,
            }
            if n == 16:
                same = torch.equal(naive_restore(restorer, x), restorer(x))
                t_n = seconds_per_call(
                    lambda x=x, r=restorer: naive_restore(r, x), budget=0.5, min_reps=2
                )
                row.update(naive_vol_s=b / t_n, speedup_vs_naive=t_n / t_r, naive_agrees=same)
            rows.append(row)
            print(f"3-D {n}^3 B={b}: restore {b / t_r:.1f} vol/s", flush=True)
    return rows


def _run(cmd: list[str]) -> float:
    """Wall time of a subprocess."""
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def section_training(tmp: Path) -> dict[str, Any]:
    out, report = tmp / "mnist.pt", tmp / "mnist.json"
    cmd = [sys.executable, "-m", "equirestore", "train-restorer", "--dataset", "mnist"]
    seconds = _run([*cmd, "--out", str(out), "--report", str(report)])
    rec = json.loads(report.read_text())
    res = {
        "command": "equirestore train-restorer --dataset mnist --out ... --report ...",
        "wall_s": seconds,
        "train_exact": rec["train_rates"]["exact"],
        "test_exact": rec["test_rates"]["exact"],
    }
    print(f"train-restorer mnist: {seconds:.1f} s wall, test exact {res['test_exact']:.5f}")
    return res


_EVAL = """
import sys, torch, json
sys.path.insert(0, {bench!r})
from performance import peak_extra_bytes
from equirestore import load_restorer
from equirestore.classifiers.models import SmallCNN
from equirestore.data import load_dataset
from equirestore.measures import accuracy_under_shifts
from equirestore.restore.evaluation import consistency
from equirestore.restore import restore_rates
x, y = load_dataset("mnist", "test")
x, y = x[:{n}].clone(), y[:{n}].clone()
r, c = load_restorer("mnist"), SmallCNN().eval()
def run():
    restore_rates(r.estimator, x); consistency(r, x); accuracy_under_shifts(c, r, x, y, 2, 0, False)
run()
print(json.dumps({{"peak": peak_extra_bytes(run), "data": x.numel() * 4}}))
"""


_RESTORE = """
import resource
from equirestore.cli import main
assert main({args!r}) == 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def section_memory(tmp: Path) -> list[dict[str, Any]]:
    rows = []
    bench = str(Path(__file__).resolve().parent)
    for n in (2500, 10000):
        out = subprocess.run(
            [sys.executable, "-c", _EVAL.format(bench=bench, n=n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        got = json.loads(out.strip().splitlines()[-1])
        rows.append(
            {
                "what": "evaluate (rates, consistency, Table 1 loop)",
                "n": n,
                "data_mb": got["data"] / 2**20,
                "peak_extra_mb": got["peak"] / 2**20,
            }
        )
        print(
            f"evaluate n={n}: data {got['data'] / 2**20:.0f} MB, peak extra "
            f"{got['peak'] / 2**20:.0f} MB",
            flush=True,
        )
    rng = np.random.default_rng(0)
    for n in (1000, 4000):
        folder = tmp / f"folder{n}"
        folder.mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(
                folder / f"{i:05d}.png"
            )
        args = ["restore", str(folder), "--restorer", "mnist", "--out", str(tmp / f"out{n}")]
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _RESTORE.format(args=[*args, "--batch-size", "256"])],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        seconds = time.perf_counter() - t
        peak = int(out.strip().splitlines()[-1])
        rows.append(
            {
                "what": "restore a folder (streaming, 2 workers)",
                "n": n,
                "data_mb": n * 32 * 32 * 4 / 2**20,
                "peak_process_mb": peak / 2**20,
                "wall_s": seconds,
            }
        )
        print(f"restore folder n={n}: {seconds:.1f} s, peak process RSS {peak / 2**20:.0f} MB")
    return rows


def markdown(res: dict[str, Any]) -> str:
    hw = res["hardware"]
    lines = [
        "# Performance",
        "",
        f"Command: `{res['command']}`; {hw['cores']} cores ({hw['cpu']}), "
        f"{hw['torch_threads']} torch threads, torch {hw['torch']}, Python {hw['python']}; "
        f"{res['date']}; wall time {res['seconds']:.0f} s. Every ratio compares numbers from "
        "this one run.",
        "",
        "## 1. `restore` throughput (images/s) and peak extra memory",
        "",
        "| dataset | batch | restore | peak MB | naive reference | speedup | classifier "
        "| restorer time / classifier time (interleaved) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["throughput"]:
        naive, speedup = "- (not a single filter)", "-"
        if "naive_img_s" in r:
            naive, speedup = f"{r['naive_img_s']:,.0f}", f"x{r['speedup_vs_naive']:.1f}"
        lines.append(
            f"| {r['dataset']} ({r['estimator']}) | {r['batch']} | {r['restore_img_s']:,.0f} | "
            f"{r['restore_peak_mb']:.0f} | {naive} | {speedup} | {r['classifier_img_s']:,.0f} | "
            f"{100 * r['restorer_over_classifier']:.2f}% |"
        )
    lines += [
        "",
        "Restorers: the shipped `mnist` (1x32x32) and `cifar10` (3x40x40), scores in "
        "float64; the first column names the estimator type (`features`: the recipe's "
        "feature estimator, here one full-size filter on the raw image, the centre-of-mass "
        "filter for `mnist` and a trained linear filter for `cifar10`). Naive reference, "
        "for a single full-size filter: the same weights with `F.pad(mode='circular')` + "
        f"`conv2d`, then one `torch.roll` per image, timed on at most {NAIVE_MAX} images of "
        "the batch (it agrees with `restore` on the first 64 images: "
        f"{all(r.get('naive_agrees_on_64', True) for r in res['throughput'])}). "
        "Classifiers: the MNIST small CNN and the CIFAR-10 ResNet-18 (random weights, "
        "float32, eval mode). The last column is the median over rounds of restorer time "
        "over classifier time measured back to back (this shared machine's speed drifts "
        "by tens of percent from minute to minute; the images/s columns are medians "
        "measured one after the other).",
        "",
        "## 2. Direct vs FFT vs circulant matrix (one circular layer, without gradients)",
        "",
        "| dims | dtype | grid | C in -> out | batch | kernel | direct ms | FFT ms | matrix ms "
        "| auto picks | fastest | auto / best |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["crossover"]:
        c_in = r.get("channels_in", r.get("channels"))
        c_out = r.get("channels_out", r.get("channels"))
        matrix = f"{r['matmul_ms']:.2f}" if "matmul_ms" in r else "-"
        lines.append(
            f"| {r['dims']} | {r.get('dtype', 'float32')} | {r['grid']} | {c_in} -> {c_out} | "
            f"{r['batch']} | {r['kernel']} | {r['direct_ms']:.2f} | {r['fft_ms']:.2f} | "
            f"{matrix} | {r['auto']} | {r['faster']} | {r['auto_loss']:.2f} |"
        )
    lines += [
        "",
        "`method='auto'` follows the cost models `equirestore.nn.circular.prefer_fft` and, "
        "without gradients, `prefer_matmul` (`auto_method`), fitted to these timings; "
        "'auto / best' is the time of its choice over the fastest method's. '-': a circulant "
        f"matrix of more than {EXPORT_MATRIX:,} entries, which `auto` never makes.",
        "",
        "## 3. 3-D full-size restorer",
        "",
        "| grid | batch | restore vol/s | naive vol/s | speedup | peak MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["volumes"]:
        naive = f"{r['naive_vol_s']:.2f}" if "naive_vol_s" in r else "(8 GiB per volume)"
        speed = f"x{r['speedup_vs_naive']:.0f}" if "speedup_vs_naive" in r else ""
        lines.append(
            f"| {r['grid']} | {r['batch']} | {r['restore_vol_s']:.1f} | {naive} | {speed} | "
            f"{r['restore_peak_mb']:.0f} |"
        )
    t = res["training"]
    lines += [
        "",
        "## 4. Training the MNIST restorer",
        "",
        f"`{t['command']}`: **{t['wall_s']:.1f} s** wall time for the whole command (loading "
        f"60,000 + 10,000 digits, building the estimator, measuring both rates, saving); "
        f"strict exact-restore rate train {100 * t['train_exact']:.3f}%, "
        f"test {100 * t['test_exact']:.2f}%.",
        "",
        "## 5. Memory does not grow with the data",
        "",
        "| what | images | data MB | peak extra MB (evaluate) / peak RSS MB (restore) | wall s |",
        "|---|---|---|---|---|",
    ]
    for r in res["memory"]:
        peak = r.get("peak_extra_mb", r.get("peak_process_mb"))
        wall = f"{r['wall_s']:.1f}" if "wall_s" in r else ""
        lines.append(f"| {r['what']} | {r['n']} | {r['data_mb']:.0f} | {peak:.0f} | {wall} |")
    lines += [
        "",
        "Evaluate: growth of the resident high-water mark over the loaded dataset while the "
        "strict rates, the consistency and the Table 1 loop run (a full shifted copy of the "
        "data would add one 'data MB'). Restore: peak resident size of the largest process "
        "of `equirestore restore` (the main process; each DataLoader worker decodes one batch "
        "at a time) on a folder of random 32x32 PNGs.",
        "",
    ]
    lines += _onnx_table(res)
    lines += _se2_table(res)
    return "\n".join(lines)


def _onnx_table(res: dict[str, Any]) -> list[str]:
    lines = [
        "## 6. Exported: restore + classify as one ONNX model (onnxruntime, CPU)",
        "",
        "| restorer | batch | eager PyTorch img/s | onnxruntime img/s | onnx time / eager "
        "time (interleaved) |",
        "|---|---|---|---|---|",
    ]
    for r in res["onnx"]:
        lines.append(
            f"| {r['restorer']} | {r['batch']} | {r['eager_img_s']:,.0f} | "
            f"{r['onnx_img_s']:,.0f} | {r['onnx_over_eager']:.2f} |"
        )
    lines += [
        "",
        "`RestoredClassifier(restorer, SmallCNN)` on MNIST digits, exported by "
        "`equirestore.export.export_onnx` (circular filters as float64 matrix products, "
        "since onnxruntime has no float64 convolution); both sides with the same threads.",
        "",
    ]
    return lines


def _alone_markdown(res: dict[str, Any], title: str, table: list[str]) -> str:
    """The report of one section run alone (``--sections onnx`` or ``se2``)."""
    hw = res["hardware"]
    head = [
        f"# Performance: {title}",
        "",
        f"Command: `{res['command']}`; {hw['cores']} cores ({hw['cpu']}), "
        f"{hw['torch_threads']} torch threads, torch {hw['torch']}; {res['date']}; wall time "
        f"{res['seconds']:.0f} s. The section ran alone, in a fresh process.",
        "",
    ]
    return "\n".join(head + table)


@torch.inference_mode()
def section_se2(batch: int = 500) -> dict[str, Any]:
    """The shipped ``mnist-se2`` restorer against equiadapt's learned rotation
    canonicalizer (the architecture of ``paper.rotated_mnist``, untrained: its speed does
    not depend on its weights), each alone and in front of the same Z2CNN, on MNIST test
    digits (random images when MNIST is absent)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's paper/
    from paper.rotated_mnist import build_equiadapt

    try:
        x = load_dataset("mnist", "test")[0][:batch]
    except DatasetNotFoundError:
        x = torch.rand(batch, 1, 32, 32)
    se2 = equirestore.load_restorer("mnist-se2").eval()
    equi = build_equiadapt(tuple(x.shape[1:]), seed=0).eval()
    z2 = equi.predictor
    t = {
        "se2": seconds_per_call(lambda: se2(x)),
        "se2_classify": seconds_per_call(lambda: z2(se2(x))),
        "equiadapt_canonicalize": seconds_per_call(lambda: equi.canonicalizer(x)),
        "equiadapt_classify": seconds_per_call(lambda: equi(x)),
        "classify": seconds_per_call(lambda: z2(x)),
    }
    res: dict[str, Any] = {"batch": batch, **{f"{k}_img_s": batch / v for k, v in t.items()}}
    # the ratios from back-to-back timings: the machine's speed drifts between the
    # sequential medians above by tens of percent
    res["se2_over_equiadapt"] = interleaved_ratio(lambda: equi(x), lambda: se2(x))
    res["se2_classify_over_equiadapt"] = interleaved_ratio(lambda: equi(x), lambda: z2(se2(x)))
    res["se2_over_canonicalizer"] = interleaved_ratio(lambda: equi.canonicalizer(x), lambda: se2(x))
    print(
        f"se2 {res['se2_img_s']:.0f} img/s, equiadapt inference "
        f"{res['equiadapt_classify_img_s']:.0f} img/s: x{res['se2_over_equiadapt']:.1f}",
        flush=True,
    )
    return res


def _se2_table(res: dict[str, Any]) -> list[str]:
    r = res["se2"]
    return [
        "## 7. SE(2) restore against equiadapt's learned canonicalizer",
        "",
        "| what | images/s | SE(2) speed / this |",
        "|---|---|---|",
        f"| SE(2) restore (`mnist-se2`) | {r['se2_img_s']:,.0f} | 1 |",
        f"| equiadapt canonicalizer alone | {r['equiadapt_canonicalize_img_s']:,.0f} | "
        f"x{r['se2_over_canonicalizer']:.1f} |",
        f"| equiadapt inference (canonicalizer + Z2CNN) | {r['equiadapt_classify_img_s']:,.0f} | "
        f"x{r['se2_over_equiadapt']:.1f} |",
        f"| SE(2) restore + Z2CNN | {r['se2_classify_img_s']:,.0f} | "
        f"(x{r['se2_classify_over_equiadapt']:.1f} equiadapt inference) |",
        f"| Z2CNN alone | {r['classify_img_s']:,.0f} | |",
        "",
        f"Batch {r['batch']} of MNIST test digits. Images/s: medians of repeated calls, one "
        "measurement after the other; the ratios: medians over rounds of the two timed back "
        "to back (`interleaved_ratio`), which the machine's drift does not skew. "
        "equiadapt: `paper.rotated_mnist.build_equiadapt` (4 rotations, 3 layers, 16 "
        "channels), untrained; the Z2CNN is the one in front of it.",
        "",
    ]


@torch.inference_mode()
def section_onnx(tmp: Path, batch: int = 256) -> list[dict[str, Any]]:
    """Restore + classify as one ONNX model (onnxruntime, CPU) against eager PyTorch, on
    the same MNIST batch, for the translation and SE(2) restorers."""
    import onnxruntime as ort

    from equirestore.export import export_onnx

    rows = []
    data, source = _images("mnist", (1, 32, 32), batch)
    for kind in ("translation", "se2"):
        restorer = equirestore.load_restorer({"translation": "mnist", "se2": "mnist-se2"}[kind])
        model = equirestore.RestoredClassifier(restorer, SmallCNN(1)).eval()
        with torch.inference_mode(False):
            path = export_onnx(model, data[:2].clone(), tmp / f"{kind}.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: data.numpy()}
        res = {
            "restorer": kind,
            "batch": batch,
            "inputs": source,
            "eager_img_s": batch / seconds_per_call(lambda m=model: m(data)),
            "onnx_img_s": batch / seconds_per_call(lambda s=session, f=feed: s.run(None, f)),
            "onnx_over_eager": interleaved_ratio(
                lambda s=session, f=feed: s.run(None, f), lambda m=model: m(data)
            ),
        }
        rows.append(res)
        print(
            f"onnx {kind:11s} B={batch}: eager {res['eager_img_s']:.0f} img/s, onnxruntime "
            f"{res['onnx_img_s']:.0f} img/s, onnx time / eager time {res['onnx_over_eager']:.2f}",
            flush=True,
        )
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default="results/performance", help="output stem (.md and .json)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    p.add_argument(
        "--sections",
        choices=["all", "onnx", "se2"],
        default="all",
        help="all sections, or only the ONNX (6) or the SE(2) (7) one, in a fresh process",
    )
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    res: dict[str, Any] = {"command": "python benchmarks/performance.py " + " ".join(sys.argv[1:])}
    if a.sections == "onnx":
        with tempfile.TemporaryDirectory() as d:
            res["onnx"] = section_onnx(Path(d))
        write_report(
            a.out, res, lambda r: _alone_markdown(r, "the exported model", _onnx_table(r)), t0
        )
        return 0
    if a.sections == "se2":
        res["se2"] = section_se2()
        write_report(a.out, res, lambda r: _alone_markdown(r, "SE(2) restore", _se2_table(r)), t0)
        return 0
    with tempfile.TemporaryDirectory() as d:
        res["throughput"] = section_throughput((1, 64, 4096))
        res["crossover"] = section_crossover()
        res["volumes"] = section_volumes()
        res["training"] = section_training(Path(d))
        res["memory"] = section_memory(Path(d))
        res["onnx"] = section_onnx(Path(d))
    res["se2"] = section_se2()
    write_report(a.out, res, markdown, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
