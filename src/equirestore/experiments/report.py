"""Finishing a results report: hardware, date and wall time, then ``<out>.json`` and
``<out>.md`` written atomically, and the Markdown printed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from equirestore.data.images import atomic_path
from equirestore.experiments.restorer import hardware


def save_figure(fig: Any, path: str | Path, dpi: int = 130) -> None:
    """Lay out a matplotlib figure, write it as PNG atomically, and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def provenance(res: dict[str, Any], seed: int | None) -> str:
    """``Command: `...`; seed S; wall time T s; <cores> cores (<cpu>), torch <v>; <date>.``
    for a report completed by :func:`write_report` (``seed=None`` leaves the seed out)."""
    hw = res["hardware"]
    seed_part = f"seed {seed}; " if seed is not None else ""
    return (
        f"Command: `{res['command']}`; {seed_part}wall time {res['seconds']:.0f} s; "
        f"{hw['cores']} cores ({hw['cpu']}), torch {hw['torch']}; {res['date']}."
    )


def write_report(
    out: str, res: dict[str, Any], render: Callable[[dict[str, Any]], str], started: float
) -> str:
    """Complete ``res`` (``hardware``, ``date``, ``seconds`` since ``started``, a
    ``time.perf_counter()`` value), write ``<out>.json`` and ``<out>.md`` (from
    ``render(res)``), print the Markdown and return it."""
    res.update(hardware=hardware(), date=time.strftime("%Y-%m-%d"))
    res["seconds"] = time.perf_counter() - started
    text = render(res)
    for suffix, body in ((".json", json.dumps(res, indent=2) + "\n"), (".md", text)):
        with atomic_path(out + suffix) as tmp:
            Path(tmp).write_text(body)
    print(text)
    return text
