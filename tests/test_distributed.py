"""Training and evaluation under torchrun (2 processes, gloo) match a single process."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from equirestore.checkpoint import load_checkpoint
from equirestore.classifiers.models import SmallCNN
from equirestore.classifiers.training import save_classifier
from tests.cli.test_cli import _write_pngs
from tests.conftest import real_dataset
from tests.restore.helpers import framed_noise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], procs: int) -> None:
    if procs == 1:
        cmd = [sys.executable, "-m", "equirestore", *args]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(procs),
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            "-m",
            "equirestore",
            *args,
        ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_train_restorer_two_processes_match_one(tmp_path):
    # 90 images with batch 20: the last global batch (10) and the shards (5 + 5) are uneven
    # in size to the per-batch ones, so the loss scaling is exercised too.
    _write_pngs(tmp_path / "train", framed_noise(90, size=12, border=2, seed=3))
    out = {}
    for procs in (1, 2):
        path = tmp_path / f"r{procs}.pt"
        report = tmp_path / f"r{procs}.json"
        _run(
            [
                "train-restorer",
                "--folder",
                str(tmp_path / "train"),
                "--estimator",
                "linear",
                "--epochs",
                "3",
                "--batch-size",
                "20",
                "--out",
                str(path),
                "--report",
                str(report),
            ],
            procs,
        )
        out[procs] = (
            load_checkpoint(path, "equirestore.translation_restorer"),
            json.loads(report.read_text()),
        )
    (c1, r1), (c2, r2) = out[1], out[2]
    for k, v in c1["state_dict"].items():
        torch.testing.assert_close(c2["state_dict"][k], v, rtol=1e-4, atol=1e-6)
    assert r1["train_rates"] == r2["train_rates"]
    assert [c["epoch_tracked_exact"] for c in r1["candidates"]] == [
        c["epoch_tracked_exact"] for c in r2["candidates"]
    ]


def test_evaluate_two_processes_match_one(tmp_path):
    images, _ = real_dataset("mnist", "test")
    torch.manual_seed(0)
    save_classifier(SmallCNN(), tmp_path / "c.pt", "small-cnn", tuple(images.shape[1:]), 10)
    res = {}
    for procs in (1, 2):
        out = tmp_path / f"t{procs}"
        _run(
            [
                "evaluate",
                "--dataset",
                "mnist",
                "--classifier",
                str(tmp_path / "c.pt"),
                "--limit",
                "501",
                "--max-scope",
                "3",
                "--out",
                str(out),
            ],
            procs,
        )
        res[procs] = json.loads((tmp_path / f"t{procs}.json").read_text())
    for key in ("table", "restore_rates", "consistency", "n_test"):
        assert res[1][key] == res[2][key], key


MINING_SCRIPT = """
import sys, torch
from equirestore import distributed
from equirestore.restore.recipe import linear_estimator
from equirestore.restore.training import train_estimator
from tests.restore.helpers import framed_noise

distributed.init()
x = framed_noise(90, size=12, border=2, seed=3)
net = linear_estimator(tuple(x.shape[1:]))
report = train_estimator(net, x, epochs=4, batch_size=20, lr=0.5, mining=2, progress=False)
if distributed.is_main():
    torch.save({"state": net.state_dict(), "exact": report.train_exact}, sys.argv[1])
"""


def test_hard_example_mining_under_two_processes_matches_one(tmp_path):
    # every process must see the hard examples of all shards, or the batch orders part
    script = tmp_path / "mine.py"
    script.write_text(MINING_SCRIPT)
    out = {}
    for procs in (1, 2):
        path = tmp_path / f"m{procs}.pt"
        launch = ["-m", "torch.distributed.run", "--nproc_per_node", str(procs)]
        launch += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port())]
        cmd = [sys.executable, *(launch if procs > 1 else []), str(script), str(path)]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        out[procs] = torch.load(path, weights_only=True)
    for k, v in out[1]["state"].items():
        torch.testing.assert_close(out[2]["state"][k], v, rtol=1e-4, atol=1e-6)
    assert out[1]["exact"] == out[2]["exact"]
