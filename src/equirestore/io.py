"""Writing files so that a failure never leaves a corrupted or half-written output."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    Nothing is left behind on failure, so an interrupted or failed write never leaves a
    corrupted or half-written output file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete what an :func:`atomic_path` write of ``path`` left behind when its process
    was killed (``SIGKILL`` runs no cleanup); returns the files removed."""
    target = Path(path)
    if not target.parent.is_dir():
        return []
    stale = sorted(target.parent.glob(f".{target.name}.*{target.suffix}"))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
