"""A rotation estimator that sees the polar image as an image: local filters over
(radius, angle), then full-size circular filters over the angle.

On the polar grid a rotation is a circular shift of the angle axis
(:mod:`equirestore.groups.rotation`). The 1-D estimator of Section 5.2 folds the radii into
channels, so its first filters mix every radius with every other; :class:`PolarNetwork`
first applies small 2-D filters over ``(radius, angle)`` shared by all radii - circular
along the angle, zero-padded along the radius, which is not a symmetry - with constant
biases and ReLUs, then folds the radii into channels and ends in full-size circular
filters over the angle (Equation (2) in 1-D, :class:`~equirestore.nn.CanonicalNetwork`).
Every layer commutes with circular shifts of the angle axis, so the network is strictly
equivariant to rolling the polar grid by whole bins. Why 2-D local filters:
``results/rotation_ablation.md``.

Precision: the local layers compute in float32 whatever the module's dtype. Their
equivariance needs no float64: each output is the same sum of the same products in the
same order wherever it sits on the angle axis (tested bitwise over every roll), and
float32 convolution is several times faster on the CPU. Without gradients two things
make them faster to the same bits (tested): the angle axis is wrapped once, by as many
bins as all the layers read past it, each layer leaving out the bins it cannot compute
(one copy of the input, not one of every layer's input), and the layers after the first
read their input channels last. With gradients neither is done, because the backward
would then round differently and training would no longer reproduce the shipped
weights. The full-size layers run in the module's dtype (by FFT or, without gradients,
by the circulant matrix where that is faster, :func:`~equirestore.nn.circular.auto_method`:
either rounds depending on the position; the rotation restorer keeps them in float64).

Batches: the CPU's convolution (oneDNN) rounds a batch of one image differently from the
same image in a larger batch (by up to 1e-7; batches of 2 to 599 images, 14 sizes drawn
at random from 600 MNIST digits, all gave each image the same bits as the whole 600), so
a single image is computed as a batch of two copies of it, and an image's scores do not
depend on what it is batched with (tested), as for the translation estimators.

Shapes: ``(B, C * N_r, N_θ) -> (B, 1, N_θ)`` (channel ``c * N_r + i`` is radius ``i`` of
image channel ``c``, as :func:`~equirestore.groups.rotation.to_polar` folds them).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore._checks import tracing
from equirestore.nn.canonical import CanonicalNetwork


class PolarNetwork(nn.Module):
    """Local 2-D filters over ``(radius, angle)``, then full-size circular filters over
    the angle (module docstring).

    Args:
        in_channels: ``C * N_r``.
        n_radius: ``N_r``; must divide ``in_channels``.
        n_angle: ``N_θ``, the length of the angle axis (the full-size filters' size).
        local: widths of the local 2-D layers (ReLU after each); the last times ``N_r``
            is the number of channels the full-size layers receive.
        kernel: side of the local ``kernel x kernel`` filters (odd).
        hidden: channels of the full-size hidden layer; the output has one channel.
    """

    dims = 1

    def __init__(
        self,
        in_channels: int,
        n_radius: int,
        n_angle: int,
        local: Sequence[int],
        kernel: int = 3,
        hidden: int = 128,
    ) -> None:
        super().__init__()
        if n_radius < 1 or in_channels % n_radius:
            raise ValueError(f"n_radius={n_radius} must divide in_channels={in_channels}")
        if not local or min(local) < 1 or hidden < 1:
            raise ValueError(f"need at least one local layer and widths >= 1, got {local}")
        if kernel < 1 or kernel % 2 == 0 or kernel > n_angle:
            raise ValueError(f"kernel must be odd and at most n_angle={n_angle}, got {kernel}")
        self.in_channels, self.n_radius, self.n_angle = in_channels, n_radius, n_angle
        self.kernel = kernel
        widths = [in_channels // n_radius, *(int(w) for w in local)]
        self.local = nn.ModuleList(nn.Conv2d(a, b, kernel) for a, b in itertools.pairwise(widths))
        self.full = CanonicalNetwork(
            widths[-1] * n_radius, [hidden, 1], kernel_size=n_angle, dims=1
        )
        self._config: dict[str, Any] = {
            "kind": "polar",
            "in_channels": in_channels,
            "n_radius": n_radius,
            "n_angle": n_angle,
            "local": widths[1:],
            "kernel": kernel,
            "hidden": hidden,
        }

    def config(self) -> dict[str, Any]:
        """The constructor arguments and ``kind: "polar"`` (stored in checkpoints)."""
        return {**self._config, "local": list(self._config["local"])}

    def local_features(self, x: Tensor) -> Tensor:
        """The local layers' output, float32: ``(B, C * N_r, N_θ) -> (B, local[-1], N_r,
        N_θ)``."""
        b, _, a = x.shape
        if a != self.n_angle:
            raise ValueError(f"expected {self.n_angle} angular bins, got {a}")
        if b == 1 and not tracing():  # module docstring: a batch of one rounds differently
            return self.local_features(x.expand(2, *x.shape[1:]))[:1]
        h = x.float().reshape(b, -1, self.n_radius, a)
        p = self.kernel // 2
        grad = torch.is_grad_enabled()
        channels_last = not grad and not tracing()
        if not grad:  # around the angle axis, once for all layers (module docstring)
            q = p * len(self.local)
            h = h[..., torch.arange(-q, a + q, device=h.device) % a]
        for conv in self.local:
            conv = cast(nn.Conv2d, conv)
            if grad:  # around the angle axis
                h = F.pad(h, (p, p, 0, 0), mode="circular")
            if channels_last and h.shape[1] > 1:  # module docstring
                h = h.contiguous(memory_format=torch.channels_last)
            w, bias = conv.weight.float(), cast(Tensor, conv.bias).float()
            # p bins fewer on either side of the angle axis than read; zeros past the radii
            h = torch.relu_(F.conv2d(h, w, bias, padding=(p, 0)))
        return h.contiguous()

    def forward(self, x: Tensor) -> Tensor:
        h = self.local_features(x)
        return self.full(h.flatten(1, 2).to(x.dtype))
