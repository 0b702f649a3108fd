"""Aperiodic datasets (Definition 4.2): decide it, and list every violation.

A finite dataset ``D`` is *aperiodic* if no sample equals a circular translation of
itself or of another sample, except itself untranslated:

    T_s x_i == x_j   only for   (i, s) == (j, 0).                     (Definition 4.2)

Violations are of three kinds: an exact duplicate (``i != j``, ``s = 0``), a translated
copy (``i != j``, ``s != 0``) and a periodic sample (``i == j``, ``s != 0``; for example
a blank image, which equals every translation of itself). Theorem 4.5 needs an
aperiodic dataset: no translation estimator can put its unique maximum at index 0 on
both ``x`` and ``T_s x``.

Algorithm (exact, ``O(|D| |N| log |N|)`` plus the candidates found):

1. Values are replaced by small integer codes (equal floats get equal codes), so the
   checks below are exact integer arithmetic.
2. The circular autocorrelation ``R_x(s) = sum_p <x[p], x[p - s]>`` is invariant under
   translation, and computed for every ``s`` at once by the FFT (rounded: its error is
   far below 0.5). ``T_s x == x`` implies ``R_x(s) == R_x(0)``; conversely
   ``R_x(0) - R_x(s) = 1/2 sum_p (x[p] - x[p - s])^2``, so for integer codes any other
   ``s`` leaves a gap of at least 1/2.
3. Samples are grouped by a hash of ``R_x``; only samples in one group can be
   translates of each other. Every candidate is verified by direct comparison, so a
   hash collision costs time, never a wrong answer.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import Tensor

from equirestore.groups.translation import shift, signed

#: Codes are reduced modulo this prime before the autocorrelation so that ``R`` stays an
#: exact float64 integer for any grid up to 2**53 / 250**2 positions. Equal samples have
#: equal reduced codes, so this can only add candidates, which are then verified.
_CODE_MODULUS = 251


@dataclass(frozen=True)
class Violation:
    """``x[j] == shift(x[i], s)`` with ``(i, s) != (j, 0)``.

    ``kind``: ``"duplicate"`` (``i != j``, ``s = 0``), ``"translate"`` (``i != j``) or
    ``"periodic"`` (``i == j``). ``shift``: signed, axis order as
    :mod:`equirestore.groups.translation`.
    """

    i: int
    j: int
    shift: tuple[int, ...]
    kind: str


@dataclass
class AperiodicReport:
    """Outcome of :func:`check_aperiodic`.

    ``violations`` lists, for each offending pair, the smallest shift (periodic samples
    list every period): duplicates first, then translated copies, then periodic samples.
    ``candidates`` counts the samples the exact check had to look at after hashing.
    """

    n: int
    aperiodic: bool
    violations: list[Violation] = field(default_factory=list)
    candidates: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Number of violations of each kind."""
        out = {"duplicate": 0, "translate": 0, "periodic": 0}
        for v in self.violations:
            out[v.kind] += 1
        return out


def _codes(images: Tensor) -> Tensor:
    """Exact integer codes of the values (equal values, equal codes), mod a small prime."""
    if not images.dtype.is_floating_point:
        return images.to(torch.int64) % _CODE_MODULUS
    q = (images * 255).round()
    if torch.equal(q / 255, images):  # 8-bit images stored as floats k/255: exact codes
        return q.to(torch.int64) % _CODE_MODULUS
    _, inverse = torch.unique(images.reshape(-1), return_inverse=True)
    return (inverse % _CODE_MODULUS).view(images.shape)


def _autocorrelation(codes: Tensor) -> Tensor:
    """``R (B, *N)`` int64: ``R[b, s] = sum_c sum_p codes[b, c, p] * codes[b, c, p - s]``."""
    dims = tuple(range(2, codes.dim()))
    spatial = tuple(codes.shape[2:])
    f = torch.fft.rfftn(codes.to(torch.float64), dim=dims)
    power = (f.real.square() + f.imag.square()).sum(1)
    return torch.fft.irfftn(power, s=spatial, dim=tuple(range(1, codes.dim() - 1))).round().long()


def _shifts_between(a: Tensor, b: Tensor) -> list[tuple[int, ...]]:
    """Every shift ``s`` (in ``[0, N)``) with ``shift(a, s) == b``; ``a, b: (C, *N)``."""
    spatial = tuple(a.shape[1:])
    grid = torch.cartesian_prod(*[torch.arange(n) for n in spatial]).view(-1, len(spatial))
    out: list[tuple[int, ...]] = []
    for start in range(0, len(grid), 1024):
        s = grid[start : start + 1024]
        moved = shift(a.unsqueeze(0).expand(len(s), *a.shape), s)
        hit = (moved == b.unsqueeze(0)).flatten(1).all(1)
        out += [tuple(int(v) for v in row) for row in s[hit]]
    return out


def check_aperiodic(images: Tensor, batch_size: int = 4096) -> AperiodicReport:
    """Decide Definition 4.2 for ``images (M, C, *N)`` (1-3 spatial axes) and list every
    violation.

    Args:
        images: the dataset; any real or integer dtype. Equality is exact.
        batch_size: samples per FFT batch.

    Returns:
        :class:`AperiodicReport`; ``aperiodic`` is True iff there is no violation.
    """
    import time

    if not isinstance(images, Tensor) or images.dim() not in (3, 4, 5):
        raise ValueError(
            "images must be a tensor (M, C, *N) with 1-3 spatial axes, got "
            f"{getattr(images, 'shape', type(images).__name__)}"
        )
    if images.dtype.is_floating_point and not bool(torch.isfinite(images).all()):
        raise ValueError("images contain NaN or infinite values; equality is undefined")
    start = time.perf_counter()
    m = len(images)
    spatial = tuple(images.shape[2:])
    codes = _codes(images)
    keys: dict[tuple[int, int], list[int]] = defaultdict(list)
    gen = torch.Generator().manual_seed(0)
    weights = torch.randint(1, 2**62, (2, *spatial), generator=gen)
    periodic_candidates: list[int] = []
    for lo in range(0, m, batch_size):
        r = _autocorrelation(codes[lo : lo + batch_size])
        flat = r.flatten(1)
        repeats = (flat[:, 1:] == flat[:, :1]).any(1)
        periodic_candidates += (torch.nonzero(repeats).flatten() + lo).tolist()
        # two 64-bit hashes of R (int64 products wrap around; still deterministic)
        h = (r.unsqueeze(1) * weights.unsqueeze(0)).flatten(2).sum(2)
        for k, (h0, h1) in enumerate(h.tolist()):
            keys[(h0, h1)].append(lo + k)
    report = AperiodicReport(n=m, aperiodic=True)
    checked: set[int] = set()
    for i in periodic_candidates:
        checked.add(i)
        for s in _shifts_between(images[i], images[i]):
            if any(s):
                sg = tuple(signed(torch.tensor(s), spatial).tolist())
                report.violations.append(Violation(i, i, sg, "periodic"))
    for group in keys.values():
        if len(group) < 2:
            continue
        checked.update(group)
        for i, j in itertools.combinations(group, 2):
            found = _shifts_between(images[i], images[j])
            if found:
                s = min(found, key=lambda v: sum(abs(t) for t in signed(torch.tensor(v), spatial)))
                sg = tuple(signed(torch.tensor(s), spatial).tolist())
                kind = "duplicate" if not any(sg) else "translate"
                report.violations.append(Violation(i, j, sg, kind))
    order = {"duplicate": 0, "translate": 1, "periodic": 2}
    report.violations.sort(key=lambda v: (order[v.kind], v.i, v.j, v.shift))
    report.candidates = len(checked)
    report.aperiodic = not report.violations
    report.seconds = time.perf_counter() - start
    return report
