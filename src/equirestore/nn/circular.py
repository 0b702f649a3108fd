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
  ``ifftn(fftn(x) * conj(fftn(K)))``, two real samples packed into one complex
  transform. Cheaper for large ("full-size") kernels and few channels; equivariant up
  to floating-point rounding.

``method="auto"`` chooses between them with :func:`prefer_fft`, a cost model fitted to
the timings of ``benchmarks/performance.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Method = Literal["auto", "direct", "fft"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

#: Cost model behind ``method="auto"``, in nanoseconds per output pixel, fitted to the
#: direct/FFT timings of ``benchmarks/performance.py`` (2 CPU cores, float32):
#: direct ~ a * C_in * C_out * taps + b * C_in + c (the circular pad copies every input
#: channel; a 1x1 filter needs no pad); FFT ~ d * (C_in + C_out) + e * C_in * C_out
#: (the transforms, then the channel mixing in the frequency domain), whatever the kernel.
DIRECT_COST = {1: (0.005, 2.0, 8.0), 2: (0.005, 2.0, 8.0), 3: (0.005, 1.5, 2.0)}
FFT_COST = {1: (1.0, 0.2), 2: (1.0, 0.2), 3: (1.5, 0.3)}


def prefer_fft(c_in: int, c_out: int, kernel_size: tuple[int, ...]) -> bool:
    """Whether ``method="auto"`` computes a layer with the FFT (see :data:`DIRECT_COST`)."""
    dims = len(kernel_size)
    a, b, c = DIRECT_COST[dims]
    d, e = FFT_COST[dims]
    taps = math.prod(kernel_size)
    direct = a * c_in * c_out * taps + (b * c_in if taps > 1 else 0.0) + c
    return direct > d * (c_in + c_out) + e * c_in * c_out


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
    spectrum: Callable[[Tensor, tuple[int, ...], tuple[int, ...]], Tensor] | None = None,
) -> Tensor:
    """Multi-channel circular filter ``W * x`` of Equation (3) (no bias).

    Args:
        x: ``(B, C_in, *N)`` with 1 to 3 spatial axes.
        weight: ``(C_out, C_in, *k)``, same number of spatial axes as ``x``.
        dilation: spacing between kernel taps ("sparse" filters, Appendix D).
        method: ``"direct"``, ``"fft"`` or ``"auto"`` (the faster one by :func:`prefer_fft`).
        spectrum: how the FFT path gets the kernel's spectrum (default
            :func:`kernel_spectrum`; :class:`CircularConv` passes a cached one).

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
    fits = all(d * (k - 1) < n for k, d, n in zip(ks, dil, spatial, strict=True))
    if method == "auto":
        method = "fft" if (not fits or prefer_fft(x.shape[1], weight.shape[0], ks)) else "direct"
    if method == "direct" and not fits:
        method = "fft"  # a kernel wider than the grid wraps onto itself: fold it.
    if method == "direct":
        pad: list[int] = []
        for k, d in zip(reversed(ks), reversed(dil), strict=True):
            left = _anchor(k, d)
            pad += [left, d * (k - 1) - left]
        xp = F.pad(x.to(weight.dtype), pad, mode="circular")
        return _CONV[dims](xp, weight, dilation=dil)
    if method != "fft":
        raise ValueError(f"method must be 'auto', 'direct' or 'fft', got {method!r}")
    return _fft_correlate(x, (spectrum or kernel_spectrum)(weight, spatial, dil))


def kernel_spectrum(weight: Tensor, spatial: tuple[int, ...], dilation: tuple[int, ...]) -> Tensor:
    """``conj(fftn(K))`` of the folded kernel ``K`` (:func:`fold_kernel`), ``(C_out, C_in, *N)``."""
    kernel = fold_kernel(weight, spatial, dilation)
    return torch.fft.fftn(kernel, dim=tuple(range(-len(spatial), 0))).conj()


def _pack_pairs(x: Tensor, dtype: torch.dtype) -> Tensor:
    """``(B, C, *N)`` real -> ``(ceil(B/2), C, *N)`` complex ``x[:h] + i x[h:]`` with real
    and imaginary parts in ``dtype`` (converted while packing, no extra copy)."""
    b = x.shape[0]
    h = (b + 1) // 2
    if x.requires_grad or b % 2:
        x = x.to(dtype)
        second = x[h:] if b % 2 == 0 else torch.cat([x[h:], x.new_zeros((1, *x.shape[1:]))])
        return torch.complex(x[:h], second)
    ctype = torch.complex128 if dtype == torch.float64 else torch.complex64
    z = torch.empty((h, *x.shape[1:]), dtype=ctype, device=x.device)
    zr = torch.view_as_real(z)
    zr[..., 0] = x[:h]
    zr[..., 1] = x[h:]
    return z


def _mix(zf: Tensor, kf: Tensor) -> Tensor:
    """``sum_c zf[:, c] * kf[:, c]``: ``(h, C_in, *F) x (C_out, C_in, *F) -> (h, C_out, *F)``."""
    grad = zf.requires_grad or kf.requires_grad
    if zf.shape[1] == 1 and kf.shape[0] == 1 and not grad:
        return zf.mul_(kf[:, 0])  # the common single-filter estimator: no new buffer
    yf = zf[:, 0:1] * kf[:, 0]
    for c in range(1, zf.shape[1]):
        z_c, k_c = zf[:, c : c + 1], kf[:, c]
        yf = yf.addcmul(z_c, k_c) if grad else yf.addcmul_(z_c, k_c)
    return yf


def _fft_correlate(x: Tensor, kf: Tensor) -> Tensor:
    """Circular cross-correlation of real ``x (B, C_in, *N)`` with the full-grid kernel
    whose conjugate spectrum is ``kf (C_out, C_in, *N)`` (:func:`kernel_spectrum`).

    ``W * x = IDFT(DFT(x) · conj(DFT(K)))``. Two real samples share one complex
    transform: with ``z = x_a + i x_b`` the real and imaginary parts of
    ``IDFT(DFT(z) · conj(DFT(K)))`` are the outputs for ``x_a`` and ``x_b`` (the map is
    real-linear). This halves the transforms and avoids the complex-to-real inverse,
    which is slow on the CPU (``results/performance.md``).
    """
    b = x.shape[0]
    spatial = tuple(x.shape[2:])
    fdims = tuple(range(-len(spatial), 0))
    zf = torch.fft.fftn(_pack_pairs(x, kf.real.dtype), dim=fdims)
    y = torch.fft.ifftn(_mix(zf, kf), dim=fdims)
    return torch.cat([y.real, y.imag])[:b]


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
        self._spectra: dict[tuple[object, ...], Tensor] = {}
        fan_in = in_channels * math.prod(ks)
        nn.init.uniform_(self.weight, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def _spectrum(
        self, weight: Tensor, spatial: tuple[int, ...], dilation: tuple[int, ...]
    ) -> Tensor:
        """:func:`kernel_spectrum`, remembered between calls while the weight is unchanged
        (its version counter, storage, dtype and the grid are the key) and no gradient
        is needed; during training it is recomputed so that gradients flow, and so it is
        for weights created under ``torch.inference_mode`` (they have no version)."""
        if (torch.is_grad_enabled() and weight.requires_grad) or weight.is_inference():
            # inference tensors keep no version counter: nothing safe to key a cache on
            return kernel_spectrum(weight, spatial, dilation)
        key = (weight._version, weight.data_ptr(), weight.dtype, weight.device, spatial)
        cached = self._spectra.get(key)
        if cached is None:
            # a normal tensor even under inference_mode, so that it can be reused anywhere
            with torch.inference_mode(False), torch.no_grad():
                cached = kernel_spectrum(weight, spatial, dilation)
            self._spectra = {k: v for k, v in self._spectra.items() if k[1:] != key[1:]}
            self._spectra[key] = cached
        return cached

    def forward(self, x: Tensor) -> Tensor:
        y = circular_conv(x, self.weight, self.dilation, self.method, self._spectrum)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, *([1] * self.dims))
        return y

    def extra_repr(self) -> str:
        c_out, c_in = self.weight.shape[:2]
        return (
            f"{c_in}, {c_out}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"bias={self.bias is not None}, method={self.method!r}"
        )
