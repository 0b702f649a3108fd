"""The benchmark's naive reference must compute the same restoration as the library,
otherwise its speed ratios compare different things."""

import importlib.util
from pathlib import Path

import pytest
import torch

from equirestore import load_restorer
from equirestore.nn.canonical import CanonicalNetwork
from equirestore.restore.translation import TranslationRestorer
from tests.restore.helpers import centred_blobs


def _benchmark(name: str = "performance"):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_naive_reference_agrees_with_restore():
    perf = _benchmark()
    r = load_restorer("mnist")
    x = torch.roll(centred_blobs(5), (3, -4), (2, 3))
    assert torch.equal(perf.naive_restore(r, x), r(x))
    net = CanonicalNetwork(1, [2, 1], kernel_size=[3, 8], dims=3)
    vol = TranslationRestorer(net, (1, 8, 8, 8)).eval()
    v = torch.rand(3, 1, 8, 8, 8)
    assert torch.equal(perf.naive_restore(vol, v), vol(v))


def test_peak_memory_probe_sees_an_allocation():
    perf = _benchmark()
    grow = perf.peak_extra_bytes(lambda: torch.ones(64 * 2**20, dtype=torch.uint8).sum())
    assert grow >= 32 * 2**20


@pytest.mark.parametrize("mirror", [False, True])
def test_gcnn_agrees_with_e2cnn(mirror: bool) -> None:
    """The cross-check against e2cnn (installed with the dev extras): same outputs from
    the same filters, and both exactly equivariant."""
    bench = _benchmark("gcnn_crosscheck")
    bench._numpy2_compat()
    r = bench.crosscheck(mirror, c_in=2, c_out=3, size=8, batch=2)
    assert "error" not in r, r.get("error")
    assert r["agreement_lifting"] < 1e-5 and r["agreement_groupconv"] < 1e-5
    assert r["structure_error_groupconv"] < 1e-6
    assert r["equivariance_error_ours"] < 1e-5
    assert len({tuple(g) for g in r["e2cnn_order"]}) == (8 if mirror else 4)
