"""Results reports: what the run was measured on (:func:`hardware`) and from which commit
(:func:`source_revision`), ``<out>.json`` and ``<out>.md`` written atomically
(:func:`write_report`), figures (:func:`save_figure`, matplotlib is the optional ``plot``
extra and imported only when a figure is saved)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from equirestore.io import atomic_path


def hardware() -> dict[str, Any]:
    """What the run was measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "platform": platform.platform(),
    }


def source_revision(path: str | Path) -> str | None:
    """The git commit of the checkout holding ``path`` (a directory; short hash), with
    ``+ changes`` when tracked files other than the reports under the checkout's
    ``results/`` differ from it (reports run one after another rewrite those; they are
    outputs, not source); ``None`` outside a git checkout."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        head, dirty = (
            git("rev-parse", "--short", "HEAD"),
            git("status", "--porcelain", "-uno", "--", ":/", ":(top,exclude)results"),
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" + changes" if dirty else "")


def save_figure(fig: Any, path: str | Path, dpi: int = 130) -> None:
    """Lay out a matplotlib figure, write it as PNG atomically, and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def save_image_grid(rows: list[list[tuple[torch.Tensor, str]]], path: str | Path) -> None:
    """A PNG of titled images, one row of ``(image (C, H, W) in [0, 1], title)`` per
    example (grayscale when ``C == 1``), saved with :func:`save_figure`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, m = len(rows), len(rows[0])
    fig, axes = plt.subplots(n, m, figsize=(1.55 * m - 0.05, 1.55 * n), squeeze=False)
    for i, row in enumerate(rows):
        for j, (img, title) in enumerate(row):
            im = img.permute(1, 2, 0).squeeze(-1).clamp(0, 1).numpy()
            axes[i, j].imshow(im, cmap="gray" if im.ndim == 2 else None, vmin=0, vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            axes[i, j].set_title(title, fontsize=6.5)
    save_figure(fig, path)


def provenance(res: dict[str, Any], seed: int | None) -> str:
    """``Command: `...`; seed S; wall time T s; <cores> cores (<cpu>), torch <v>; <date>;
    commit <hash>.`` for a report completed by :func:`write_report` (``seed=None`` leaves
    the seed out; reports written before commits were recorded, or outside a checkout,
    have no commit part)."""
    hw = res["hardware"]
    seed_part = f"seed {seed}; " if seed is not None else ""
    commit = f"; commit {res['revision']}" if res.get("revision") else ""
    return (
        f"Command: `{res['command']}`; {seed_part}wall time {res['seconds']:.0f} s; "
        f"{hw['cores']} cores ({hw['cpu']}), torch {hw['torch']}; {res['date']}{commit}."
    )


def write_report(
    out: str, res: dict[str, Any], render: Callable[[dict[str, Any]], str], started: float
) -> str:
    """Complete ``res`` (``hardware``, ``date``, ``revision``: the commit of the checkout
    equirestore runs from (:func:`source_revision`), ``seconds`` since ``started``, a
    ``time.perf_counter()`` value), write ``<out>.json`` and ``<out>.md`` (from
    ``render(res)``), print the Markdown and return it."""
    revision = source_revision(Path(__file__).parent)
    res.update(hardware=hardware(), date=time.strftime("%Y-%m-%d"), revision=revision)
    res["seconds"] = time.perf_counter() - started
    text = render(res)
    for suffix, body in ((".json", json.dumps(res, indent=2) + "\n"), (".md", text)):
        with atomic_path(out + suffix) as tmp:
            Path(tmp).write_text(body)
    print(text)
    return text
