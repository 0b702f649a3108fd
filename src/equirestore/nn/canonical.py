"""The canonical strictly translation-equivariant network of Equations (2)-(3).

    f = f_L o ... o f_1,                                                   (Eq. 2)
    f_l(x)_{c'} = sigma( sum_c W^l_{c',c} * x_c + b^l_{c'} 1 ),  c' = 1..C_l  (Eq. 3)

with circular filters ``W^l_{c',c}`` (Definition 3.5) and constant biases ``b^l 1``.
The last layer has no activation: its single output channel is the estimator output
whose largest component marks the translation (Definition 4.1), and a final ReLU would
only create ties at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from equirestore._checks import tracing
from equirestore.nn.circular import CircularConv, Method

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


def _per_layer(value: int | Sequence[int], n: int, name: str) -> list[int]:
    values = [int(value)] * n if isinstance(value, int) else [int(v) for v in value]
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries for {n} layers")
    return values


class CanonicalNetwork(nn.Module):
    """Equation (2): a stack of circular filters, constant biases and activations.

    Args:
        in_channels: ``C_0`` (image channels; radii for the rotation restorer).
        widths: ``(C_1, ..., C_L)``; ``C_L`` is usually 1 for an estimator.
        kernel_size: per layer (``int`` for all); an ``int`` kernel is square/cubic.
        dilation: per layer (``int`` for all); the "sparse" filters of Appendix D.
        dims: number of spatial axes (1, 2 or 3).
        bias: learn constant biases ``b^l``.
        activation: name of ``sigma`` (``"relu"``, ``"leaky_relu"``, ``"tanh"``,
            ``"identity"``); not applied after the last layer.
        method: convolution method for every layer (see ``circular_conv``).

    Shapes: ``(B, C_0, *N) -> (B, C_L, *N)``.
    """

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        kernel_size: int | Sequence[int] = 3,
        dilation: int | Sequence[int] = 1,
        dims: int = 2,
        bias: bool = True,
        activation: str = "relu",
        method: Method = "auto",
    ) -> None:
        super().__init__()
        if not widths:
            raise ValueError("widths must name at least one layer")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        n = len(widths)
        ks = _per_layer(kernel_size, n, "kernel_size")
        ds = _per_layer(dilation, n, "dilation")
        self._config: dict[str, Any] = {
            "in_channels": int(in_channels),
            "widths": [int(w) for w in widths],
            "kernel_size": ks,
            "dilation": ds,
            "dims": int(dims),
            "bias": bool(bias),
            "activation": activation,
            "method": method,
        }
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, (c_out, k, d) in enumerate(zip(widths, ks, ds, strict=True)):
            layers.append(CircularConv(c_in, c_out, k, dims, d, bias, method))
            if i < n - 1:
                layers.append(_ACTIVATIONS[activation]())
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.dims = dims

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable (stored in checkpoints)."""
        return dict(self._config)

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() or tracing():
            return self.layers(x)
        for layer in self.layers:  # nothing records it: the ReLUs in place, the same values
            x = torch.relu_(x) if type(layer) is nn.ReLU else layer(x)
        return x

    def filters(self) -> list[CircularConv]:
        """The circular-filter layers ``f_1 .. f_L`` in order."""
        return [m for m in self.layers if isinstance(m, CircularConv)]


def network_from_config(config: dict[str, Any]) -> CanonicalNetwork:
    """Rebuild a :class:`CanonicalNetwork` from :meth:`CanonicalNetwork.config`."""
    allowed = {
        "in_channels",
        "widths",
        "kernel_size",
        "dilation",
        "dims",
        "bias",
        "activation",
        "method",
    }
    unknown = set(config) - allowed
    if unknown:
        raise ValueError(f"unknown network settings {sorted(unknown)}")
    return CanonicalNetwork(**config)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
