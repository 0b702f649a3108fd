"""Anti-aliased downsampling: BlurPool (seed 001; Zhang, "Making Convolutional Networks
Shift-Invariant Again", ICML 2019).

Subsampling with stride ``s`` aliases: a one-pixel shift of the input changes the
subsampled map by more than a shift. BlurPool low-pass filters before subsampling:
``BlurPool_s = Subsample_s o Blur``, with the binomial filter of size ``k`` (the outer
product of the ``(k-1)``-th row of Pascal's triangle with itself, normalised to sum 1;
``k = 1`` is no blur). The three replacement rules of the paper:

* ``MaxPool(k, stride s)``  -> ``MaxBlurPool = BlurPool_s o MaxPool(k, stride 1)``;
* ``Conv(stride s)``        -> ``BlurPool_s o Conv(stride 1)``. :func:`antialias` computes
  this as ``Conv(stride s) o Blur``: both filters are linear and shift-equivariant, so
  they commute, and the result is the same map (exactly so with circular padding,
  up to the image border otherwise) at a quarter of the cost. Zhang places the blur
  after the conv's ReLU; a generic rewrite of a model cannot move it past the
  nonlinearity, so the blur sits before it here.
* ``AvgPool(k, stride s)``  -> ``BlurPool_s`` (the box filter becomes the binomial one).

Padding. ``padding_mode="reflect"`` is Zhang's default; ``"circular"`` makes every
layer commute exactly with circular shifts by multiples of the stride, which is what the
exact-shift analysis of this project needs; ``"zeros"`` is also accepted.

Alignment. The filter covers ``left = (k - 1) // 2`` pixels before and
``k - 1 - left`` after the output pixel; output pixel ``i`` sits over input ``s i``.
"""

from __future__ import annotations

import copy
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PaddingMode = Literal["reflect", "circular", "zeros"]
FILTER_SIZES = range(1, 8)


def binomial_filter(size: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The 2-D binomial low-pass filter ``(size, size)``, summing to 1 (``size`` in 1..7)."""
    if size not in FILTER_SIZES:
        raise ValueError(f"filter_size must be in 1..7, got {size}")
    row = torch.tensor([math.comb(size - 1, i) for i in range(size)], dtype=dtype)
    f = row[:, None] * row[None, :]
    return f / f.sum()


def _pad(x: Tensor, size: int, mode: PaddingMode) -> Tensor:
    left = (size - 1) // 2
    right = size - 1 - left
    if left == right == 0:
        return x
    pads = (left, right, left, right)
    if mode == "zeros":
        return F.pad(x, pads)
    if mode not in ("reflect", "circular"):
        raise ValueError(f"padding_mode must be 'reflect', 'circular' or 'zeros', got {mode!r}")
    # reflection needs more pixels than the pad (a 1x1 map at the end of VGG): replicate
    how = "replicate" if mode == "reflect" and min(x.shape[-2:]) <= right else mode
    return F.pad(x, pads, mode=how)


def blur(
    x: Tensor, filter_size: int = 3, stride: int = 1, padding: PaddingMode = "reflect"
) -> Tensor:
    """Blur every channel with :func:`binomial_filter`, then keep every ``stride``-th pixel.

    Shapes: ``(B, C, H, W) -> (B, C, ceil(H / stride), ceil(W / stride))``.
    """
    if x.dim() != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    if filter_size == 1:
        return x[:, :, ::stride, ::stride]
    c = x.shape[1]
    f = binomial_filter(filter_size, x.dtype).to(x.device).expand(c, 1, filter_size, filter_size)
    return F.conv2d(_pad(x, filter_size, padding), f, stride=stride, groups=c)


class BlurPool(nn.Module):
    """``BlurPool_s``: binomial blur of size ``filter_size``, then subsampling by ``stride``.

    Works for any number of channels (the filter is shared); no parameters.
    Shapes: ``(B, C, H, W) -> (B, C, ceil(H / s), ceil(W / s))``.
    """

    def __init__(self, filter_size: int = 3, stride: int = 2, padding: PaddingMode = "reflect"):
        super().__init__()
        binomial_filter(filter_size)  # validates the size
        self.filter_size, self.stride, self.padding = filter_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return blur(x, self.filter_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"filter_size={self.filter_size}, stride={self.stride}, padding={self.padding!r}"


class MaxBlurPool(nn.Module):
    """``MaxBlurPool = BlurPool_s o MaxPool(kernel_size, stride 1)``.

    The dense max pool covers ``kernel_size`` pixels from the output pixel onwards, like
    torchvision's ``MaxPool2d`` at stride 1; with ``padding="circular"`` it wraps around.
    """

    def __init__(
        self,
        kernel_size: int = 2,
        stride: int = 2,
        filter_size: int = 3,
        padding: PaddingMode = "reflect",
        max_padding: int = 0,
    ) -> None:
        super().__init__()
        self.kernel_size, self.max_padding = kernel_size, max_padding
        self.blurpool = BlurPool(filter_size, stride, padding)

    def forward(self, x: Tensor) -> Tensor:
        if self.blurpool.padding == "circular":
            k, p = self.kernel_size, self.max_padding
            x = F.pad(x, (p, k - 1 - p, p, k - 1 - p), mode="circular")
            x = F.max_pool2d(x, self.kernel_size, stride=1)
        else:
            x = F.max_pool2d(x, self.kernel_size, stride=1, padding=self.max_padding)
        return self.blurpool(x)


def _pair(v: int | tuple[int, ...]) -> int:
    t = (v, v) if isinstance(v, int) else tuple(v)
    if t[0] != t[-1]:
        raise ValueError(f"antialias handles square strides/kernels only, got {t}")
    return int(t[0])


def antialias(
    model: nn.Module, filter_size: int = 3, padding: PaddingMode = "reflect"
) -> nn.Module:
    """A copy of ``model`` with the three BlurPool replacement rules applied (module doc).

    Every ``nn.MaxPool2d`` / ``nn.Conv2d`` / ``nn.AvgPool2d`` with stride > 1 is
    rewritten; stride-1 layers and all weights are kept, so a torchvision model (or a
    trained one) can be converted. With ``filter_size = 1`` max-pools and strided convs
    compute what they did before, and ``AvgPool`` becomes plain subsampling;
    ``AvgPool(2, stride 2)`` with ``filter_size = 2`` is unchanged.
    """
    binomial_filter(filter_size)
    model = copy.deepcopy(model)

    def rewrite(m: nn.Module) -> nn.Module | None:
        if isinstance(m, nn.MaxPool2d):
            s = _pair(m.stride)
            if s > 1:
                return MaxBlurPool(_pair(m.kernel_size), s, filter_size, padding, _pair(m.padding))
        elif isinstance(m, nn.Conv2d):
            s = _pair(m.stride)
            if s > 1:
                return nn.Sequential(BlurPool(filter_size, 1, padding), m)
        elif isinstance(m, nn.AvgPool2d):
            s = _pair(m.stride)
            if s > 1:
                return BlurPool(filter_size, s, padding)
        return None

    def visit(parent: nn.Module) -> None:
        for name, child in list(parent.named_children()):
            new = rewrite(child)
            if new is None:
                visit(child)
            else:
                setattr(parent, name, new)

    root = rewrite(model)
    if root is not None:
        return root
    visit(model)
    return model
