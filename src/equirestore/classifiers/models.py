"""Classifiers the restorer is placed in front of (it never looks inside them).

Registry ``CLASSIFIERS``: name -> constructor ``(in_channels, num_classes) -> nn.Module``.

* ``small-cnn``: two conv blocks with max-pooling and a linear head, for MNIST;
  ``small-cnn3d`` the same for volumes (3D-MNIST).
* ``resnet18``: torchvision's ResNet-18 adapted to 32-40 px inputs: the 7x7/2 stem is
  replaced by a 3x3/1 convolution; the stem max-pool is kept so that the residual
  stages run at 20x20 on 40x40 CIFAR-10 inputs, which keeps training affordable on
  2 CPU cores.
* ``vgg16``: torchvision's VGG-16 with batch norm; its five max-pools take 40x40 to
  1x1, so the 7x7 average pool and the 4096-wide head become a global average pool and
  one linear layer (the usual CIFAR VGG).
* ``densenet121``: torchvision's DenseNet-121 with the same 3x3/1 stem as ``resnet18``
  (dense blocks at 20, 10, 5 and 2 px).
* ``mobilenet_v2``: torchvision's MobileNetV2 with a stride-1 first convolution
  (blocks at 40, 20, 10, 5 and 3 px).
* ``<name>-blurpool``: the same network with the BlurPool replacement rules
  (:func:`equirestore.nn.blurpool.antialias`, binomial filter of size 3, reflect padding);
  ``<name>-blurpool<k>`` with filter size ``k`` in 1..7.

* ``z2cnn``, ``p4cnn``, ``p4mcnn``: the rotated-MNIST networks of Cohen & Welling
  (:mod:`equirestore.gcnn`): planar, p4 (10 G-maps per layer) and p4m (7 G-maps).

Table 2 of the paper uses the four torchvision networks.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from torch import Tensor, nn


def _conv_blocks(
    dims: int, widths: tuple[int, int, int], batch_norm: bool = False
) -> nn.Sequential:
    """Two blocks ``Conv(3, padding 1)-[BatchNorm]-ReLU-MaxPool(2)`` from ``widths[0]``
    channels."""
    conv, pool = (nn.Conv2d, nn.MaxPool2d) if dims == 2 else (nn.Conv3d, nn.MaxPool3d)
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    layers: list[nn.Module] = []
    for c_in, c_out in pairwise(widths):
        layers.append(conv(c_in, c_out, 3, padding=1))
        if batch_norm:
            layers.append(norm(c_out))
        layers += [nn.ReLU(inplace=True), pool(2)]
    return nn.Sequential(*layers)


def _linear_head(
    dims: int, channels: int, side: int, classes: int, dropout: float
) -> nn.Sequential:
    """Adaptive average pool to ``side`` per axis, FC(128)-ReLU-[Dropout]-FC(classes)."""
    pool = nn.AdaptiveAvgPool2d if dims == 2 else nn.AdaptiveAvgPool3d
    layers: list[nn.Module] = [
        pool(side),
        nn.Flatten(),
        nn.Linear(channels * side**dims, 128),
        nn.ReLU(inplace=True),
    ]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(128, classes))


class SmallCNN(nn.Module):
    """Conv(32)-ReLU-MaxPool-Conv(64)-ReLU-MaxPool-FC(128)-FC(classes).

    Shapes: ``(B, C, H, W) -> (B, num_classes)`` for any ``H, W`` divisible by 4.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.features = _conv_blocks(2, (in_channels, 32, 64))
        self.head = _linear_head(2, 64, 4, num_classes, dropout=0.25)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class SmallCNN3d(nn.Module):
    """:class:`SmallCNN` for volumes, with batch norm:
    Conv3d(16)-BN-ReLU-MaxPool-Conv3d(32)-BN-ReLU-MaxPool, global average pool to 2x2x2,
    FC(128)-FC(classes). Batch norm because 3D-MNIST volumes are ~99% empty: without
    it the network stayed at chance through 4 epochs of 10,000 volumes.

    Shapes: ``(B, C, D, H, W) -> (B, num_classes)``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.features = _conv_blocks(3, (in_channels, 16, 32), batch_norm=True)
        self.head = _linear_head(3, 32, 2, num_classes, dropout=0.0)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def resnet18_small(in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """torchvision ResNet-18 with a 3x3/1 stem for small inputs (see module docstring)."""
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
    return model


def vgg16_small(in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """torchvision VGG-16-BN with a global-average-pool + linear head (module docstring)."""
    from torchvision.models import vgg16_bn

    model = vgg16_bn(weights=None)
    model.features[0] = nn.Conv2d(in_channels, 64, 3, padding=1)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.classifier = nn.Linear(512, num_classes)
    return model


def densenet121_small(in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """torchvision DenseNet-121 with a 3x3/1 stem (module docstring)."""
    from torchvision.models import densenet121

    model = densenet121(weights=None, num_classes=num_classes)
    model.features.conv0 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
    return model


def mobilenet_v2_small(in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """torchvision MobileNetV2 with a stride-1 first convolution (module docstring)."""
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights=None, num_classes=num_classes)
    model.features[0][0] = nn.Conv2d(in_channels, 32, 3, stride=1, padding=1, bias=False)
    return model


def _blurpooled(
    build: Callable[[int, int], nn.Module], filter_size: int = 3
) -> Callable[[int, int], nn.Module]:
    def make(in_channels: int, num_classes: int) -> nn.Module:
        from equirestore.nn.blurpool import antialias

        return antialias(build(in_channels, num_classes), filter_size=filter_size)

    return make


_PLAIN: dict[str, Callable[[int, int], nn.Module]] = {
    "small-cnn": SmallCNN,
    "resnet18": resnet18_small,
    "vgg16": vgg16_small,
    "densenet121": densenet121_small,
    "mobilenet_v2": mobilenet_v2_small,
}


def _gcnn(kind: str) -> Callable[[int, int], nn.Module]:
    def make(in_channels: int, num_classes: int) -> nn.Module:
        from equirestore.classifiers.gcnn import P4CNN, Z2CNN

        if kind == "z2":
            return Z2CNN(in_channels, num_classes)
        if kind == "p4m":
            return P4CNN(in_channels, num_classes, width=7, mirror=True)
        return P4CNN(in_channels, num_classes)

    return make


CLASSIFIERS: dict[str, Callable[[int, int], nn.Module]] = {
    **_PLAIN,
    "small-cnn3d": SmallCNN3d,
    **{f"{name}-blurpool": _blurpooled(build) for name, build in _PLAIN.items()},
    "z2cnn": _gcnn("z2"),
    "p4cnn": _gcnn("p4"),
    "p4mcnn": _gcnn("p4m"),
}


def _constructor(name: str) -> Callable[[int, int], nn.Module] | None:
    if name in CLASSIFIERS:
        return CLASSIFIERS[name]
    base, sep, size = name.partition("-blurpool")
    if sep and base in _PLAIN and size in {str(k) for k in range(1, 8)}:
        return _blurpooled(_PLAIN[base], int(size))
    return None


def is_classifier(name: str) -> bool:
    """Whether ``name`` is registered, or ``<name>-blurpool<k>`` (BlurPool filter size k)."""
    return _constructor(name) is not None


def build_classifier(name: str, in_channels: int, num_classes: int) -> nn.Module:
    """Construct a registered classifier by name (or ``<name>-blurpool<k>``, ``k`` in 1..7)."""
    make = _constructor(name)
    if make is None:
        raise ValueError(
            f"unknown classifier {name!r}; choose from {sorted(CLASSIFIERS)} "
            "or <name>-blurpool<k> with k in 1..7"
        )
    return make(in_channels, num_classes)
