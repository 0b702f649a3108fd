"""Circular filters (Definition 3.5) on 1-, 2- and 3-D tensors.

A circular filter is a matrix ``A`` that commutes with every translation,
``A T_s = T_s A`` (Definition 3.5); by Theorem 3.4 / Corollary 3.6 these, plus
constant biases, are the *only* translation-equivariant affine maps. On a tensor
``x`` of shape ``(C_in, *N)`` a multi-channel circular filter is the periodic
cross-correlation

    y[c', p] = sum_c sum_u w[c', c, u] * x[c, (p + d*u - a) mod N]        (Eq. 3, W * x)

where ``u`` runs over the kernel grid, ``d`` is the dilation and ``a`` the anchor
(``a = d*(k-1)//2`` centres the kernel). Every affine map of this form satisfies
``f(roll(x, s)) == roll(f(x), s)`` exactly.

Two numerically different but mathematically identical implementations:

* ``"direct"``: circular padding + ``conv{1,2,3}d``. Each output value is computed
  from the same products in the same order whatever the shift, so the result is
  bit-for-bit equivariant.
* ``"fft"``: the kernel is folded onto the full periodic grid and the correlation is
  ``irfftn(rfftn(x) * conj(rfftn(K)))``. Cheaper for large ("full-size") kernels and few
  channels; equivariant up to floating-point rounding.

``method="auto"`` chooses between them with :func:`prefer_fft`, a cost model fitted to
the timings of ``benchmarks/performance.py``. A third, ``"matmul"``, multiplies by the
circulant matrix (what an exported layer computes); without gradients ``auto`` takes it
for small grids where it is faster than the FFT (:func:`prefer_matmul`). Like the FFT it
is equivariant up to rounding, and without gradients a sample's bits never depend on the
rest of the batch.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore._checks import tracing

Method = Literal["auto", "direct", "fft", "matmul"]

#: An exported layer multiplies by its circulant matrix when it has more than this many
#: taps or when that matrix has at most :data:`EXPORT_MATRIX` entries; otherwise (a small
#: kernel on a large grid) it gathers the input at every tap's offset (see
#: :func:`circular_conv`).
EXPORT_TAPS = 64
EXPORT_MATRIX = 2**24

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

#: Cost model behind ``method="auto"``, in nanoseconds per output pixel, fitted to the
#: direct/FFT timings of ``benchmarks/performance.py`` (2 CPU cores, float32):
#: direct ~ a * C_in * C_out * taps + b * C_in + c (the circular pad copies every input
#: channel; a 1x1 filter needs no pad); FFT ~ d * (C_in + C_out) + e * C_in * C_out
#: (the transforms, then the channel mixing in the frequency domain), whatever the kernel.
DIRECT_COST = {1: (0.005, 2.0, 8.0), 2: (0.005, 2.0, 8.0), 3: (0.005, 1.5, 2.0)}
FFT_COST = {1: (1.0, 0.2), 2: (1.0, 0.2), 3: (1.5, 0.3)}
#: In float64 the direct convolution's products cost ~10x their float32 time on this CPU
#: (measured 6-30x for the multiply-heavy layers of the float64 section of
#: ``benchmarks/performance.py``), its copies and the FFT ~2x: these scale the costs above.
FLOAT64_SCALE = {"products": 10.0, "other": 2.0}


def prefer_fft(
    c_in: int, c_out: int, kernel_size: tuple[int, ...], dtype: torch.dtype = torch.float32
) -> bool:
    """Whether ``method="auto"`` computes a layer with the FFT (see :data:`DIRECT_COST`
    and, for ``float64``, :data:`FLOAT64_SCALE`)."""
    dims = len(kernel_size)
    a, b, c = DIRECT_COST[dims]
    products, other = (
        (FLOAT64_SCALE["products"], FLOAT64_SCALE["other"]) if dtype == torch.float64 else (1, 1)
    )
    taps = math.prod(kernel_size)
    direct = products * a * c_in * c_out * taps + other * ((b * c_in if taps > 1 else 0.0) + c)
    return direct > _fft_cost(c_in, c_out, dims, dtype)


def _fft_cost(c_in: int, c_out: int, dims: int, dtype: torch.dtype) -> float:
    """The FFT's cost per output position (:data:`FFT_COST`, :data:`FLOAT64_SCALE`)."""
    d, e = FFT_COST[dims]
    other = FLOAT64_SCALE["other"] if dtype == torch.float64 else 1.0
    mix = e * c_in * c_out * (MATMUL_MIX_SCALE if min(c_in, c_out) >= MIX_MATMUL else 1.0)
    return other * (d * (c_in + c_out) + mix)


def _fits(
    kernel_size: tuple[int, ...], dilation: tuple[int, ...], spatial: tuple[int, ...]
) -> bool:
    """Whether the dilated kernel spans less than the grid along every axis."""
    return all(d * (k - 1) < n for k, d, n in zip(kernel_size, dilation, spatial, strict=True))


#: Without gradients ``method="auto"`` multiplies by the circulant matrix where that
#: costs less than the FFT (:data:`FFT_COST`): per output position on a grid of ``P``
#: positions, about the first number of nanoseconds per multiply-add of the product
#: (``C_in * C_out * P`` of them) plus the second (the pieces and copies), fitted like
#: :data:`DIRECT_COST` (float64, float32), for matrices of at most :data:`EXPORT_MATRIX`
#: entries. Only small grids with few output channels gain: the rotation estimators' last
#: layer over the angle axis (128 -> 1 channels on 36 bins, float64: ~3x faster than its
#: FFT). With gradients ``auto`` keeps the FFT, so that training rounds as it did.
MATMUL_COST = {torch.float64: (0.035, 8.0), torch.float32: (0.02, 8.0)}


def prefer_matmul(
    c_in: int, c_out: int, spatial: tuple[int, ...], dtype: torch.dtype = torch.float32
) -> bool:
    """Whether ``method="auto"``, where :func:`prefer_fft` chose the FFT and no gradient is
    recorded, multiplies by the circulant matrix instead (:data:`MATMUL_COST`)."""
    positions = math.prod(spatial)
    if c_in * c_out * positions**2 > EXPORT_MATRIX:
        return False
    per_product, fixed = MATMUL_COST.get(dtype, MATMUL_COST[torch.float32])
    return per_product * c_in * c_out * positions + fixed < _fft_cost(
        c_in, c_out, len(spatial), dtype
    )


def auto_method(
    c_in: int,
    c_out: int,
    kernel_size: tuple[int, ...],
    spatial: tuple[int, ...],
    dilation: tuple[int, ...],
    dtype: torch.dtype,
    recorded: bool,
) -> Method:
    """What ``method="auto"`` computes a layer with: the FFT where the (dilated) kernel
    does not fit the grid or :func:`prefer_fft` says so, else ``"direct"``; where that is
    the FFT and no gradient is ``recorded``, ``"matmul"`` if :func:`prefer_matmul` says
    so."""
    if _fits(kernel_size, dilation, spatial) and not prefer_fft(c_in, c_out, kernel_size, dtype):
        return "direct"
    return "matmul" if not recorded and prefer_matmul(c_in, c_out, spatial, dtype) else "fft"


def _anchor(kernel_size: int, dilation: int) -> int:
    return dilation * (kernel_size - 1) // 2


def fold_kernel(weight: Tensor, spatial: tuple[int, ...], dilation: tuple[int, ...]) -> Tensor:
    """Place a (dilated) kernel on the periodic grid ``spatial``.

    Args:
        weight: ``(C_out, C_in, *k)``.
        spatial: the periodic grid ``N`` (one entry per spatial axis).
        dilation: one entry per spatial axis.

    Returns:
        ``(C_out, C_in, *N)`` tensor ``K`` with ``K[..., (d*u - a) mod N] += w[..., u]``,
        so that the correlation with ``K`` on the grid equals the dilated circular filter.
    """
    out = weight.new_zeros((*weight.shape[:2], *spatial))
    ks = weight.shape[2:]
    index = []
    for k, d, n in zip(ks, dilation, spatial, strict=True):
        offsets = (torch.arange(k, device=weight.device) * d - _anchor(k, d)) % n
        index.append(offsets)
    grids = torch.meshgrid(*index, indexing="ij")
    flat = torch.zeros((), dtype=torch.long, device=weight.device)
    for g, n in zip(grids, spatial, strict=True):
        flat = flat * n + g
    out = out.flatten(2)
    out.index_add_(2, flat.flatten(), weight.flatten(2))
    return out.view(*weight.shape[:2], *spatial)


def circular_conv(
    x: Tensor,
    weight: Tensor,
    dilation: int | tuple[int, ...] = 1,
    method: Method = "auto",
) -> Tensor:
    """Multi-channel circular filter ``W * x`` of Equation (3) (no bias).

    Args:
        x: ``(B, C_in, *N)`` with 1 to 3 spatial axes.
        weight: ``(C_out, C_in, *k)``, same number of spatial axes as ``x``.
        dilation: spacing between kernel taps ("sparse" filters, Appendix D).
        method: ``"direct"``, ``"fft"``, ``"auto"`` (the faster of the two by
            :func:`prefer_fft`; without gradients, where that is the FFT, the circulant
            matrix if :func:`prefer_matmul` finds it faster) or ``"matmul"``. While
            exporting (``torch.export``, ONNX, ``torch.jit.trace``) the layer is computed
            with real matrix products and shifts only, which every runtime has in float64
            (ONNX has no complex tensors, and onnxruntime no float64 convolution):
            ``"matmul"`` (the circulant matrix), or for a small kernel on a large grid a
            sum of shifted copies (:data:`EXPORT_TAPS`, :data:`EXPORT_MATRIX`).

    Returns:
        ``(B, C_out, *N)`` in ``weight``'s dtype (``x`` is converted as it is read, so a
        float32 batch meets a float64 network without a separate copy).

    Convention: cross-correlation anchored at the kernel centre,
    ``y[p] = sum_u w[u] x[p + d*u - d*(k-1)//2]`` with indices mod ``N``.
    """
    dims = x.dim() - 2
    if dims not in _CONV or weight.dim() != dims + 2:
        raise ValueError(
            f"circular_conv expects x of shape (B, C, *N) with 1-3 spatial axes and a weight "
            f"with the same number of spatial axes; got x {tuple(x.shape)}, "
            f"weight {tuple(weight.shape)}"
        )
    if not (x.dtype.is_floating_point and weight.dtype.is_floating_point):
        raise TypeError(f"circular_conv needs real floating inputs, got {x.dtype}, {weight.dtype}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight expects {weight.shape[1]} input channels but x has {x.shape[1]}")
    dil = (dilation,) * dims if isinstance(dilation, int) else tuple(dilation)
    spatial = tuple(x.shape[2:])
    ks = tuple(weight.shape[2:])
    fits = _fits(ks, dil, spatial)
    if tracing():
        matrix = math.prod(spatial) ** 2 * weight.shape[0] * weight.shape[1]
        if math.prod(ks) <= EXPORT_TAPS and fits and matrix > EXPORT_MATRIX:
            return _shifted_sum(x.to(weight.dtype), weight, dil)
        method = "matmul"
    if method == "auto":
        recorded = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
        method = auto_method(x.shape[1], weight.shape[0], ks, spatial, dil, x.dtype, recorded)
    if method == "matmul":
        return _circulant_product(x.to(weight.dtype), fold_kernel(weight, spatial, dil))
    if method == "direct" and not fits:
        # a kernel wider than the grid wraps onto itself: fold it onto the grid (indexed by
        # offset), then roll it so that the centred anchor of a full-size kernel reads it
        anchors = tuple((n - 1) // 2 for n in spatial)
        weight = torch.roll(fold_kernel(weight, spatial, dil), anchors, tuple(range(2, 2 + dims)))
        dil, ks = (1,) * dims, spatial
    if method == "direct":
        pad: list[int] = []
        for k, d in zip(reversed(ks), reversed(dil), strict=True):
            left = _anchor(k, d)
            pad += [left, d * (k - 1) - left]
        xp = F.pad(x.to(weight.dtype), pad, mode="circular")
        return _CONV[dims](xp, weight, dilation=dil)
    if method != "fft":
        raise ValueError(f"method must be 'auto', 'direct', 'fft' or 'matmul', got {method!r}")
    return _fft_correlate(x, kernel_spectrum(weight, spatial, dil))


def _shifted_sum(x: Tensor, weight: Tensor, dilation: tuple[int, ...]) -> Tensor:
    """``sum_u W[:, :, u] x[p + d*u - a]``: the copies of ``x`` read at every tap's offset
    (one gather), stacked as channels, times the weight matrix ``(C_out, C_in * taps)``
    (one real matrix product; a float64 ``Einsum`` per tap took 1.8 of the 2.4 s that
    onnxruntime spent on a batch of 256 through the SE(2) restorer)."""
    spatial = tuple(x.shape[2:])
    ks = tuple(weight.shape[2:])
    grids = torch.meshgrid(*(torch.arange(n, device=x.device) for n in spatial), indexing="ij")
    index = []
    for u in itertools.product(*(range(k) for k in ks)):  # row-major, as weight's taps
        flat = torch.zeros((), dtype=torch.long, device=x.device)
        for g, t, k, d, n in zip(grids, u, ks, dilation, spatial, strict=True):
            flat = flat * n + (g.reshape(-1) + d * t - _anchor(k, d)) % n
        index.append(flat)
    # shape[0], not len(): a dynamic batch exports
    flat_x = x.reshape(x.shape[0], x.shape[1], -1)
    columns = torch.index_select(flat_x, 2, torch.cat(index))  # (B, C, taps * P)
    y = weight.reshape(weight.shape[0], -1) @ columns.reshape(x.shape[0], -1, flat_x.shape[2])
    return y.view(x.shape[0], weight.shape[0], *spatial)


def _circulant_product(x: Tensor, kernel: Tensor) -> Tensor:
    """``y[b, o, p] = sum_{c, u} x[b, c, u] M[c, u, o, p]`` with the circulant matrix
    ``M[c, u, o, p] = K[o, c, (u - p) mod N]`` of the folded kernel ``K (C_out, C_in, *N)``.

    Without gradients the samples are multiplied in pieces of exactly :data:`MIX_PIECE`
    (the last padded with zeros), as :func:`_mix` does: a product of a single row rounds
    differently from the same row among others (tested)."""
    c_out, c_in, *spatial = kernel.shape
    grids = torch.meshgrid(*(torch.arange(n, device=x.device) for n in spatial), indexing="ij")
    flat_u = [g.reshape(-1) for g in grids]  # coordinates of every position, row-major
    diff = torch.zeros((), dtype=torch.long, device=x.device)
    for axis, n in enumerate(spatial):  # (u - p) mod N per axis, combined row-major
        d = (flat_u[axis].view(-1, 1) - flat_u[axis].view(1, -1)) % n
        diff = diff * n + d
    k = kernel.reshape(c_out, c_in, -1)[:, :, diff]  # (C_out, C_in, P, P): [o, c, u, p]
    matrix = k.permute(1, 2, 0, 3).reshape(c_in * diff.shape[0], c_out * diff.shape[0])
    rows = x.reshape(x.shape[0], -1)  # shape[0], not len(): a dynamic batch exports
    if tracing() or (torch.is_grad_enabled() and (x.requires_grad or kernel.requires_grad)):
        y = rows @ matrix
    else:  # a sample's bits never depend on the batch (docstring)
        y = rows.new_empty(rows.shape[0], matrix.shape[1])
        for piece, out in zip(rows.split(MIX_PIECE), y.split(MIX_PIECE), strict=True):
            count = len(piece)
            if count < MIX_PIECE:
                piece = torch.cat([piece, piece.new_zeros(MIX_PIECE - count, piece.shape[1])])
            out.copy_((piece @ matrix)[:count])
    return y.view(x.shape[0], c_out, *spatial)


def kernel_spectrum(weight: Tensor, spatial: tuple[int, ...], dilation: tuple[int, ...]) -> Tensor:
    """``conj(rfftn(K))`` of the folded kernel ``K`` (:func:`fold_kernel`):
    ``(C_out, C_in, *N[:-1], N[-1] // 2 + 1)``."""
    kernel = fold_kernel(weight, spatial, dilation)
    return torch.fft.rfftn(kernel, dim=tuple(range(-len(spatial), 0))).conj()


#: Bytes of output spectrum :func:`_mix` accumulates elementwise at once without
#: gradients: the batch is mixed in pieces of samples whose accumulator stays in the CPU
#: cache.
MIX_BYTES = 2**21

#: From this many input and output channels :func:`_mix` mixes by matrix products, one
#: per frequency: without gradients on pieces of exactly :data:`MIX_PIECE` samples, with
#: gradients on the whole batch (the float64 SE(2) estimator's 64 -> 128 layer: about 3x
#: faster than elementwise; with fewer channels the products are too small to gain,
#: section 2 of ``benchmarks/performance.py``).
MIX_MATMUL = 64
MIX_PIECE = 64
#: The mixing term of :data:`FFT_COST` is scaled by this where :func:`_mix` multiplies
#: matrices.
MATMUL_MIX_SCALE = 0.4


def _mix(zf: Tensor, kf: Tensor) -> Tensor:
    """``sum_c zf[:, c] * kf[:, c]``: ``(B, C_in, *F) x (C_out, C_in, *F) -> (B, C_out, *F)``.

    Without gradients a sample's bits never depend on the rest of the batch, nor on how
    it is split. For few channels the products are accumulated elementwise over ``c`` in
    order, sample by sample. With at least :data:`MIX_MATMUL` channels in and out, by
    matrix products, one per frequency: without gradients on pieces of exactly
    :data:`MIX_PIECE` samples (the last padded with zeros), so that every product has the
    same shape and each of its rows is summed the same way wherever it sits (tested); with
    gradients (training, where only the run's determinism matters) on the whole batch.
    """
    grad = zf.requires_grad or kf.requires_grad
    c_out, c_in = kf.shape[:2]
    if min(c_in, c_out) >= MIX_MATMUL:
        b = zf.shape[0]
        k = kf.reshape(c_out, c_in, -1).permute(2, 1, 0)  # (F, C_in, C_out)
        if grad:
            z = zf.reshape(b, c_in, -1).permute(2, 0, 1)  # (F, B, C_in)
            y = torch.matmul(z, k).permute(1, 2, 0)  # (B, C_out, F)
        else:
            y = _mix_pieces(zf.reshape(b, c_in, -1), k)
        return y.reshape(b, c_out, *zf.shape[2:])
    if grad:
        return _accumulate(zf, kf, grad)
    if c_in == 1 and c_out == 1:
        return zf.mul_(kf[:, 0])  # the common single-filter estimator: no new buffer
    step = max(1, MIX_BYTES // (kf[:, 0].numel() * kf.element_size()))
    if zf.shape[0] <= step:
        return _accumulate(zf, kf, grad)
    return torch.cat([_accumulate(z, kf, grad) for z in zf.split(step)])


def _mix_pieces(z: Tensor, k: Tensor) -> Tensor:
    """``(B, C_in, F) x (F, C_in, C_out) -> (B, C_out, F)`` by matrix products of exactly
    :data:`MIX_PIECE` samples, one per frequency (:func:`_mix` without gradients).

    Piece by piece: the samples laid out ``(F, MIX_PIECE, C_in)`` (the last piece padded
    with zeros), multiplied by the kernel whose conjugate is resolved once, and written
    back; every product sees the same shapes and layout, and no full-size intermediate
    is made."""
    b, c_in, n_f = z.shape
    k = k.resolve_conj().contiguous()
    y = z.new_empty(b, k.shape[-1], n_f)
    for z_piece, y_piece in zip(z.split(MIX_PIECE), y.split(MIX_PIECE), strict=True):
        n = z_piece.shape[0]
        piece = z.new_zeros(n_f, MIX_PIECE, c_in)
        piece[:, :n] = z_piece.permute(2, 0, 1)
        y_piece.copy_(torch.matmul(piece, k)[:, :n].permute(1, 2, 0))
    return y


#: From this many input channels a one-output layer mixes with gradients through
#: :class:`_OneOutputMix` (the SE(2) estimator's 128 -> 1 layer; with a few channels, as
#: in the recipe's features, autograd's per-channel record costs no more).
ONE_OUTPUT_NODE = 32


def _accumulate(zf: Tensor, kf: Tensor, grad: bool) -> Tensor:
    """``sum_c zf[:, c] * kf[:, c]`` accumulated elementwise over ``c`` in order.

    The channels are taken apart by one ``unbind`` each: its backward stacks the
    channels' gradients once, where indexing every channel would have written each into a
    zero tensor of the whole input's size (about half of a training step of the SE(2)
    estimator; the same arithmetic, so the same weights)."""
    if grad and kf.shape[0] == 1 and kf.shape[1] >= ONE_OUTPUT_NODE:
        return cast(Tensor, _OneOutputMix.apply(zf, kf))
    zs, ks = zf.unbind(1), kf.unbind(1)
    yf = zs[0].unsqueeze(1) * ks[0]
    for z_c, k_c in zip(zs[1:], ks[1:], strict=True):
        yf = yf.addcmul(z_c.unsqueeze(1), k_c) if grad else yf.addcmul_(z_c.unsqueeze(1), k_c)
    return yf


class _OneOutputMix(torch.autograd.Function):
    """:func:`_accumulate` with gradients for one output channel (the full-size layers
    that end an estimator), the same numbers in fewer operations: the forward is the
    same sum in the same order, recorded once instead of once per input channel; the
    backward is what autograd computes through that sum, ``dz = dy conj(k)`` for every
    channel in one product and ``dk_c = sum_b dy conj(z_c)`` channel by channel (the same
    reductions; tested bit for bit, and retraining ``mnist-se2`` gives the shipped
    weights). About a tenth of a training step of the SE(2) estimator, measured
    alone; 570 s against 590 s for its whole training."""

    @staticmethod
    def forward(ctx: Any, zf: Tensor, kf: Tensor) -> Tensor:
        ctx.save_for_backward(zf, kf)
        return _accumulate(zf, kf, grad=False)  # nothing is recorded in here

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        zf, kf = ctx.saved_tensors
        gz = gy * kf.conj() if ctx.needs_input_grad[0] else None
        gk = None
        if ctx.needs_input_grad[1]:
            gk = torch.stack([(gy * z_c.unsqueeze(1).conj()).sum(0) for z_c in zf.unbind(1)], 1)
        return gz, gk


def _fft_correlate(x: Tensor, kf: Tensor) -> Tensor:
    """Circular cross-correlation of real ``x (B, C_in, *N)`` with the full-grid kernel
    whose conjugate spectrum is ``kf`` (:func:`kernel_spectrum`):
    ``W * x = IDFT(DFT(x) · conj(DFT(K)))`` with real-input transforms.

    Every sample is transformed on its own (no two images share a complex transform), so
    a sample's rounding never depends on the other samples of the batch: a blank image
    scores exactly zero whatever it is batched with, and a tie stays a tie
    (:mod:`equirestore.restore.estimator`).
    """
    spatial = tuple(x.shape[2:])
    if x.shape[0] == 0:  # an empty shard under torchrun: no transform, but a graph to the
        # kernel, so that every process takes part in the gradient exchange
        return x.new_zeros((0, kf.shape[0], *spatial), dtype=kf.real.dtype) + 0 * kf.real.sum()
    fdims = tuple(range(-len(spatial), 0))
    zf = torch.fft.rfftn(x.to(kf.real.dtype), dim=fdims)
    return torch.fft.irfftn(_mix(zf, kf), s=spatial, dim=fdims)


class CircularConv(nn.Module):
    """A circular filter with an optional constant bias: one affine layer of Eq. (3).

    The bias is one scalar per output channel, i.e. the constant tensor ``b 1``
    required by Corollary 3.6; a per-pixel bias would break equivariance.

    Args:
        in_channels, out_channels: ``C_in`` and ``C_out``.
        kernel_size: taps per spatial axis (``int`` or tuple; pass the input size for a
            full-size filter).
        dims: number of spatial axes (1, 2 or 3).
        dilation: tap spacing.
        bias: learn a constant bias per output channel.
        method: see :func:`circular_conv`.

    Shapes: ``(B, C_in, *N) -> (B, C_out, *N)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        dims: int = 2,
        dilation: int | tuple[int, ...] = 1,
        bias: bool = True,
        method: Method = "auto",
    ) -> None:
        super().__init__()
        if dims not in (1, 2, 3):
            raise ValueError(f"dims must be 1, 2 or 3, got {dims}")
        ks = (kernel_size,) * dims if isinstance(kernel_size, int) else tuple(kernel_size)
        if len(ks) != dims or min(ks) < 1:
            raise ValueError(f"kernel_size {kernel_size!r} does not fit dims={dims}")
        self.dims = dims
        self.kernel_size = ks
        self.dilation = (dilation,) * dims if isinstance(dilation, int) else tuple(dilation)
        self.method: Method = method
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *ks))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        fan_in = in_channels * math.prod(ks)
        nn.init.uniform_(self.weight, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x: Tensor) -> Tensor:
        y = circular_conv(x, self.weight, self.dilation, self.method)
        if self.bias is not None:
            b = self.bias.view(1, -1, *([1] * self.dims))
            # in place where nothing records it (y is a new tensor, the same sum)
            y = y.add_(b) if not torch.is_grad_enabled() and not tracing() else y + b
        return y

    def extra_repr(self) -> str:
        c_out, c_in = self.weight.shape[:2]
        return (
            f"{c_in}, {c_out}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"bias={self.bias is not None}, method={self.method!r}"
        )
