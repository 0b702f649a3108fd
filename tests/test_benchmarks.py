"""The benchmark's naive reference must compute the same restoration as the library,
otherwise its speed ratios compare different things."""

import importlib.util
from pathlib import Path

import torch

from equirestore import load_restorer
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.restore.translation import TranslationRestorer
from tests.restore.helpers import centred_blobs


def _performance():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "performance.py"
    spec = importlib.util.spec_from_file_location("performance", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_naive_reference_agrees_with_restore():
    perf = _performance()
    r = load_restorer("mnist")
    x = torch.roll(centred_blobs(5), (3, -4), (2, 3))
    assert torch.equal(perf.naive_restore(r, x), r.restore(x))
    net = CanonicalNetwork(1, [2, 1], kernel_size=[3, 8], dims=3)
    vol = TranslationRestorer(net, (1, 8, 8, 8)).eval()
    v = torch.rand(3, 1, 8, 8, 8)
    assert torch.equal(perf.naive_restore(vol, v), vol.restore(v))


def test_peak_memory_probe_sees_an_allocation():
    perf = _performance()
    grow = perf.peak_extra_bytes(lambda: torch.ones(64 * 2**20, dtype=torch.uint8).sum())
    assert grow >= 32 * 2**20
