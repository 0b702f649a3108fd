"""Data parallelism under ``torchrun`` (gloo on CPU), invisible in a single process.

``torchrun --nproc_per_node 2 -m equirestore <command> ...`` runs the same command in
every process. :func:`init` joins the process group when ``torchrun``'s environment is
present; every data loop then takes its :func:`shard` of the samples and combines counts
with :func:`all_sum`. Without ``torchrun`` these are no-ops (rank 0 of 1), so the code
path is identical. Random draws (batch order, shifts) are made for the *whole* dataset
in every process from the same seed and then sharded, so a 2-process run sees exactly
the samples and shifts of a 1-process run.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import Tensor


def init() -> None:
    """Join the process group if launched by ``torchrun`` with more than one process; it
    is left again at exit (:func:`leave`)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
        atexit.register(leave)


def leave() -> None:
    """Leave the process group, if joined. :func:`init` has this run at exit, while the
    interpreter is whole: a group still alive when it shuts down can abort the process
    (SIGABRT from gloo's threads, after the work is done; once in 14 runs of the
    two-process tests)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def world_size() -> int:
    """Number of processes (1 without ``torchrun``)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without ``torchrun``)."""
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """True in the process that prints and writes files."""
    return rank() == 0


def shard(n: int) -> slice:
    """This process's contiguous block of ``range(n)`` (blocks differ by at most one)."""
    w, r = world_size(), rank()
    return slice(n * r // w, n * (r + 1) // w)


def all_sum_tensor(t: Tensor) -> Tensor:
    """``t`` summed over processes (a copy under ``torchrun``; ``t`` itself alone)."""
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t)
    return t


def all_sum(values: Sequence[float]) -> list[float]:
    """Sum numbers over processes (float64; exact for counts below 2**53)."""
    t = torch.tensor(list(values), dtype=torch.float64)
    if world_size() > 1:
        dist.all_reduce(t)
    return t.tolist()
