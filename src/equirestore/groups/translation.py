"""Circular translations ``T_s`` (Definition 3.1), batched.

Convention (used everywhere in equirestore):
    ``shift(x, s)[..., i] = x[..., (i - s) mod N]`` per spatial axis, i.e. the same as
    ``torch.roll(x, s)``: a positive ``s`` moves content towards higher indices
    (down for rows, right for columns). Shifts are given in axis order
    ``(rows, cols)`` for images and ``(depth, rows, cols)`` for volumes, and
    ``shift(shift(x, s), -s) == x``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def shift(x: Tensor, s: Tensor) -> Tensor:
    """Circularly translate every sample of a batch by its own integer shift.

    Args:
        x: ``(B, C, *N)`` with ``k = len(N)`` spatial axes.
        s: integer tensor ``(B, k)`` (any integers; taken mod ``N``), or ``(k,)`` for
            one shift applied to the whole batch.

    Returns:
        ``(B, C, *N)``, a new tensor; ``x`` is not modified.

    One gather for the whole batch; no Python loop over the batch.
    """
    k = s.shape[-1] if s.dim() > 0 else 0
    spatial = tuple(x.shape[2:])
    if s.dtype.is_floating_point or s.dtype == torch.bool:
        raise TypeError(f"shifts must be an integer tensor, got {s.dtype}")
    if k != len(spatial) or s.dim() not in (1, 2):
        raise ValueError(
            f"shifts must have shape (B, {len(spatial)}) or ({len(spatial)},) for input "
            f"{tuple(x.shape)}, got {tuple(s.shape)}"
        )
    if s.dim() == 1:
        return torch.roll(x, tuple(int(v) for v in s), tuple(range(2, x.dim())))
    b = x.shape[0]
    if s.shape[0] != b:
        raise ValueError(f"{s.shape[0]} shifts for a batch of {b}")
    s = s.to(x.device)
    # Source index of every output position, (i - s) mod n per axis, combined into one
    # row-major linear index (B, prod N) shared by all channels: a single gather moves
    # the data once (one gather per axis would move it once per axis).
    lin = torch.zeros((b, 1), dtype=torch.long, device=x.device)
    for axis, n in enumerate(spatial):
        src = (torch.arange(n, device=x.device).view(1, n) - s[:, axis : axis + 1]) % n
        lin = (lin.unsqueeze(2) * n + src.unsqueeze(1)).flatten(1)
    flat = x.reshape(b, x.shape[1], -1)
    return torch.gather(flat, 2, lin.unsqueeze(1).expand(-1, x.shape[1], -1)).view(x.shape)


def random_shifts(
    n: int, scope: int, dims: int = 2, generator: torch.Generator | None = None
) -> Tensor:
    """Shifts drawn uniformly from ``{-scope, ..., scope}`` on each axis (Table 1).

    Returns:
        ``LongTensor (n, dims)``.
    """
    if scope < 0:
        raise ValueError(f"scope must be >= 0, got {scope}")
    return torch.randint(-scope, scope + 1, (n, dims), generator=generator)


def signed(s: Tensor, spatial: tuple[int, ...]) -> Tensor:
    """Map shifts to the representative in ``[-(N // 2), N - N // 2 - 1]`` per axis."""
    n = torch.tensor(spatial, device=s.device)
    return (s + n // 2) % n - n // 2


def zero_fill_shift(x: Tensor, s: Tensor) -> Tensor:
    """Integer translation that fills with zeros what enters the frame (no wrap-around)."""
    out = shift(x, s)
    for axis, n in enumerate(x.shape[2:]):
        src = torch.arange(n).view(1, n) - s[:, axis : axis + 1]  # (B, n) source index
        valid = (src >= 0) & (src < n)
        shape = [len(x)] + [1] * (x.dim() - 1)
        shape[2 + axis] = n
        out = out * valid.view(shape).to(x.dtype)
    return out
