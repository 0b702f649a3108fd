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
  ``irfftn(X * conj(K))``. Cheaper for large ("full-size") kernels; equivariant up to
  floating-point rounding.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Method = Literal["auto", "direct", "fft"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

#: ``method="auto"`` uses the FFT when the kernel has at least this many taps or
#: does not fit in the input (its dilated extent exceeds the spatial size).
FFT_MIN_TAPS = 64


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
        method: ``"direct"``, ``"fft"`` or ``"auto"`` (FFT for large kernels).

    Returns:
        ``(B, C_out, *N)``.

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
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight expects {weight.shape[1]} input channels but x has {x.shape[1]}")
    dil = (dilation,) * dims if isinstance(dilation, int) else tuple(dilation)
    spatial = tuple(x.shape[2:])
    ks = tuple(weight.shape[2:])
    fits = all(d * (k - 1) < n for k, d, n in zip(ks, dil, spatial, strict=True))
    if method == "auto":
        method = "fft" if (math.prod(ks) >= FFT_MIN_TAPS or not fits) else "direct"
    if method == "direct" and not fits:
        method = "fft"  # a kernel wider than the grid wraps onto itself: fold it.
    if method == "direct":
        pad: list[int] = []
        for k, d in zip(reversed(ks), reversed(dil), strict=True):
            left = _anchor(k, d)
            pad += [left, d * (k - 1) - left]
        xp = F.pad(x, pad, mode="circular")
        return _CONV[dims](xp, weight, dilation=dil)
    if method != "fft":
        raise ValueError(f"method must be 'auto', 'direct' or 'fft', got {method!r}")
    fdims = tuple(range(-dims, 0))
    kernel = fold_kernel(weight, spatial, dil)
    xf = torch.fft.rfftn(x, dim=fdims)
    kf = torch.fft.rfftn(kernel, dim=fdims).conj()
    # (B, 1, C_in, *F) * (1, C_out, C_in, *F) summed over C_in
    yf = (xf.unsqueeze(1) * kf.unsqueeze(0)).sum(2)
    return torch.fft.irfftn(yf, s=spatial, dim=fdims)


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
            y = y + self.bias.view(1, -1, *([1] * self.dims))
        return y

    def extra_repr(self) -> str:
        c_out, c_in = self.weight.shape[:2]
        return (
            f"{c_in}, {c_out}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"bias={self.bias is not None}, method={self.method!r}"
        )
