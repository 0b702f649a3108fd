"""The constructive restorer of Section 4.2: Lemma 4.3 + Lemma 4.4 = Theorem 4.5.

Given a finite aperiodic dataset whose values are quantized to ``2^n`` levels, this
module *builds* (no training) a network in the canonical form of Equation (2) whose
output has its strict maximum at index 0 on every sample. The extraction of the paper
lost the formulas; this is the reconstruction (also in ``docs/paper.md``).

**Quantization.** A value ``x`` in ``[0, 1]`` on the grid ``q / (2^n - 1)``,
``q in {0..2^n-1}``, has the binary decomposition ``q = sum_k 2^(n-k) b_k``,
``b_k in {0, 1}`` (``b_1`` the most significant bit). Decomposing every value of a
``C``-channel sample gives a binary sample with ``C n`` channels, and the dataset is
aperiodic iff its decomposition is (the map is injective and commutes with ``T_s``).

**Lemma 4.3 (binary decomposition network).** Point-wise (1x1 circular filters, one
block per input channel, so trivially equivariant), with ``T_k = 2^(n-k)``:

* layer 1: ``r_0 = (2^n - 1) x = q`` and the step pair ``A_1 = σ(r_0 - T_1 + 1)``,
  ``B_1 = σ(r_0 - T_1)``; on integers ``A_1 - B_1 = [r_0 >= T_1] = b_1``;
* layer l = 2..n-1: ``b_{l-1} = A_{l-1} - B_{l-1}``, the remainder
  ``r_{l-1} = r_{l-2} - T_{l-1} b_{l-1}`` and the next step pair from it; the bits found
  so far are carried (``σ(b) = b`` for ``b >= 0``);
* layer n: ``b_{n-1} = A_{n-1} - B_{n-1}`` and ``b_n = r_{n-1}`` (the last remainder).

Depth ``n``, width ``C (n + 1)`` (``C`` for ``n = 1``), every layer affine + ReLU.

**Lemma 4.4 (2-layer estimator on binary data).** One hidden channel per sample
``b_j`` of the (decomposed) dataset ``D = {b_1..b_M}``, with the full-size circular
filter ``v_j = 2 b_j - 1`` (``+1`` on the sample's ones, ``-1`` elsewhere) and the
constant bias ``1 - ||b_j||_1``:

    h_j(x)[p] = σ(<T_p v_j, x> + 1 - ||b_j||_1),        f(x)[p] = sum_j h_j(x)[p].

For binary ``x`` (Lemma C.1), ``<T_p v_j, x> = |x ∧ T_p b_j| - |x ∧ ¬T_p b_j|`` is an
integer ``<= ||b_j||_1``, with equality iff ``x = T_p b_j``. So ``h_j(x)[p] = 1`` if
``x = T_p b_j`` and ``0`` otherwise, and ``f(x)[p]`` counts the samples of which ``x`` is
the translate by ``p``. On ``x = b_i``: ``f[0] >= 1`` (``j = i``) and ``f[p] = 0`` for
``p != 0`` because that would be a violation of Definition 4.2. Depth 2, width ``M``.
(Lemma C.2 orders the samples by their norms and uses containment tests, which needs
weights that grow with the number of norm levels; the exact-match filters above need no
order and keep every weight in ``{-1, 0, 1}`` plus integer biases.)

**Theorem 4.5.** Stacking gives depth ``n + 2`` and width ``max(C (n + 1), M)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from equirestore.groups.translation import shift
from equirestore.nn.canonical import CanonicalNetwork, count_parameters
from equirestore.theory.aperiodic import AperiodicReport, check_aperiodic


class NotAperiodicError(ValueError):
    """The dataset violates Definition 4.2; no translation estimator exists for it."""

    def __init__(self, report: AperiodicReport) -> None:
        first = ", ".join(
            f"x[{v.j}] == shift(x[{v.i}], {v.shift}) ({v.kind})" for v in report.violations[:3]
        )
        super().__init__(
            f"the dataset is not aperiodic (Definition 4.2): {len(report.violations)} "
            f"violation(s), e.g. {first}; remove duplicates, translated copies and "
            "periodic (e.g. blank) samples first"
        )
        self.report = report


def quantize(images: Tensor, bits: int, tol: float = 1e-4) -> Tensor:
    """Integer levels ``q = round(x (2^n - 1))`` of values already on that grid.

    Raises:
        ValueError: a value is outside [0, 1] or more than ``tol`` levels off the grid.
    """
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    levels = 2**bits - 1
    scaled = images.to(torch.float64) * levels
    q = scaled.round()
    off = float((scaled - q).abs().max()) if images.numel() else 0.0
    if off > tol or float(q.min()) < 0 or float(q.max()) > levels:
        raise ValueError(
            f"values are not quantized to {2**bits} levels in [0, 1] (largest distance from "
            f"the grid k/{levels}: {off:.3g} levels); quantize them first, e.g. "
            f"(x * {levels}).round() / {levels}"
        )
    return q.long()


def binary_decomposition(q: Tensor, bits: int) -> Tensor:
    """``(M, C, *N)`` levels -> ``(M, C*bits, *N)`` float64 bits; channel ``c*bits + k``
    is bit ``k`` (most significant first) of input channel ``c``."""
    weights = 2 ** torch.arange(bits - 1, -1, -1)
    b = (q.unsqueeze(2) // weights.view(1, 1, -1, *([1] * (q.dim() - 2)))) % 2
    return b.flatten(1, 2).to(torch.float64)


def _bit_layers(bits: int) -> list[tuple[Tensor, Tensor]]:
    """Per-channel affine maps ``(W (out, in), b (out,))`` of Lemma 4.3's layers."""
    s = float(2**bits - 1)
    if bits == 1:
        return [(torch.tensor([[1.0]]), torch.zeros(1))]
    t = [2.0 ** (bits - k) for k in range(1, bits + 1)]  # t[k-1] = T_k
    layers = [(torch.tensor([[s], [s], [s]]), torch.tensor([0.0, 1 - t[0], -t[0]]))]
    for level in range(2, bits + 1):
        n_in = 3 + level - 2  # [r, A, B, b_1 .. b_{level-2}]
        r, a, b_ = (torch.eye(n_in)[i] for i in range(3))
        carried = [torch.eye(n_in)[3 + k] for k in range(level - 2)]
        bit = a - b_  # b_{level-1}
        rem = r - t[level - 2] * bit  # r_{level-1}
        if level < bits:
            rows = [rem, rem, rem, *carried, bit]
            bias = [0.0, 1 - t[level - 1], -t[level - 1]] + [0.0] * (level - 1)
        else:
            rows = [*carried, bit, rem]
            bias = [0.0] * bits
        layers.append((torch.stack(rows), torch.tensor(bias)))
    return layers


@dataclass
class ConstructionReport:
    """What :func:`construct_restorer` built and how it did on every sample.

    ``depth``/``width``/``parameters`` of the built network and the bounds of the
    reconstructed Theorem 4.5 (``depth_bound = n + 2``, ``width_bound =
    max(C (n + 1), M)``); ``strict`` is True iff component 0 is the strict maximum on
    every sample; ``min_margin`` is the smallest ``f(x)[0] - max_{p != 0} f(x)[p]``.
    """

    samples: int
    bits: int
    depth: int
    width: int
    parameters: int
    depth_bound: int
    width_bound: int
    strict: bool
    min_margin: float
    build_seconds: float
    verify_seconds: float
    aperiodic_seconds: float


def _build(q: Tensor, bits: int) -> CanonicalNetwork:
    """The network of Lemmas 4.3 + 4.4 for the quantized samples ``q (M, C, *N)``."""
    m, c = q.shape[:2]
    spatial = tuple(q.shape[2:])
    dims = len(spatial)
    per_channel = _bit_layers(bits)
    widths = [c * w.shape[0] for w, _ in per_channel] + [m, 1]
    if len(set(spatial)) != 1:
        raise ValueError(f"the full-size matched filters need a square/cubic grid, got {spatial}")
    kernels = [1] * len(per_channel) + [spatial[0], 1]
    net = CanonicalNetwork(c, widths, kernel_size=kernels, dims=dims, bias=True).to(torch.float64)
    layers = net.filters()
    with torch.no_grad():
        for layer, (w, b) in zip(layers, per_channel, strict=False):
            out, inn = w.shape
            weight = torch.zeros(c * out, c * inn, dtype=torch.float64)
            for ch in range(c):
                weight[ch * out : (ch + 1) * out, ch * inn : (ch + 1) * inn] = w
            layer.weight.copy_(weight.view(c * out, c * inn, *([1] * dims)))
            assert layer.bias is not None
            layer.bias.copy_(b.repeat(c))
        decomposed = binary_decomposition(q, bits)  # (M, C n, *N)
        match, total = layers[-2], layers[-1]
        anchor = tuple((n - 1) // 2 for n in spatial)
        # y[p] = sum_u w[u] x[p + u - a]; w = T_a v_j makes y[p] = <T_p v_j, x>
        match.weight.copy_(shift(2 * decomposed - 1, torch.tensor(anchor)))
        assert match.bias is not None and total.bias is not None
        match.bias.copy_(1 - decomposed.flatten(1).sum(1))
        total.weight.fill_(1.0)
        total.bias.zero_()
    return net


@torch.inference_mode()
def _smallest_margin(net: CanonicalNetwork, images: Tensor, batch_size: int) -> float:
    """``min_x f(x)_0 - max_{p != 0} f(x)_p`` over ``images`` (float64)."""
    margin = math.inf
    for lo in range(0, len(images), batch_size):
        out = net(images[lo : lo + batch_size].to(torch.float64)).flatten(1)
        margin = min(margin, float((out[:, 0] - out[:, 1:].amax(1)).min()))
    return margin


def construct_restorer(
    images: Tensor, bits: int, verify: bool = True, batch_size: int = 16
) -> tuple[CanonicalNetwork, ConstructionReport]:
    """Build the translation estimator of Theorem 4.5 for ``images (M, C, *N)``.

    Args:
        images: values in [0, 1] on the grid ``k / (2^bits - 1)`` (MNIST: ``bits=8``).
        bits: ``n``, the number of binary digits per value.
        verify: evaluate the network on every sample (float64) and fill the report.
        batch_size: samples per verification batch (the hidden layer has ``M``
            channels per sample).

    Returns:
        ``(network, report)``; ``network`` maps ``(B, C, *N) -> (B, 1, *N)``.

    Raises:
        NotAperiodicError: the dataset violates Definition 4.2 (nothing is built).
        ValueError: values not quantized to ``2^bits`` levels.
    """
    if images.dim() not in (3, 4, 5) or len(images) == 0:
        raise ValueError(f"images must be a non-empty (M, C, *N) tensor, got {tuple(images.shape)}")
    q = quantize(images, bits)
    t0 = time.perf_counter()
    aperiodic = check_aperiodic(q)
    aperiodic_seconds = time.perf_counter() - t0
    if not aperiodic.aperiodic:
        raise NotAperiodicError(aperiodic)
    t0 = time.perf_counter()
    net = _build(q, bits)
    m, c = q.shape[:2]
    widths = net.config()["widths"]
    build_seconds = time.perf_counter() - t0
    strict, margin, verify_seconds = False, float("nan"), 0.0
    if verify:
        t0 = time.perf_counter()
        margin = _smallest_margin(net, images, batch_size)
        strict = margin > 0
        verify_seconds = time.perf_counter() - t0
    report = ConstructionReport(
        samples=m,
        bits=bits,
        depth=len(widths),
        width=max(widths),
        parameters=count_parameters(net),
        depth_bound=bits + 2,
        width_bound=max(c * (bits + 1) if bits > 1 else c, m),
        strict=strict,
        min_margin=margin,
        build_seconds=build_seconds,
        verify_seconds=verify_seconds,
        aperiodic_seconds=aperiodic_seconds,
    )
    return net, report
