"""Classifiers the restorer is placed in front of (it never looks inside them).

Registry ``CLASSIFIERS``: name -> constructor ``(in_channels, num_classes) -> nn.Module``.

* ``small-cnn``: two conv blocks with max-pooling and a linear head, for MNIST.
* ``resnet18``: torchvision's ResNet-18 adapted to 32-40 px inputs: the 7x7/2 stem is
  replaced by a 3x3/1 convolution; the stem max-pool is kept so that the residual
  stages run at 20x20 on 40x40 CIFAR-10 inputs, which keeps training affordable on
  2 CPU cores.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


class SmallCNN(nn.Module):
    """Conv(32)-ReLU-MaxPool-Conv(64)-ReLU-MaxPool-FC(128)-FC(classes).

    Shapes: ``(B, C, H, W) -> (B, num_classes)`` for any ``H, W`` divisible by 4.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(64 * 16, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.25),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def resnet18_small(in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """torchvision ResNet-18 with a 3x3/1 stem for small inputs (see module docstring)."""
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
    return model


CLASSIFIERS: dict[str, Callable[[int, int], nn.Module]] = {
    "small-cnn": SmallCNN,
    "resnet18": resnet18_small,
}

#: The classifier used for each dataset in the experiments.
DEFAULT_CLASSIFIER = {"mnist": "small-cnn", "mnist-sample": "small-cnn", "cifar10": "resnet18"}


def build_classifier(name: str, in_channels: int, num_classes: int) -> nn.Module:
    """Construct a registered classifier by name."""
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; choose from {sorted(CLASSIFIERS)}")
    return CLASSIFIERS[name](in_channels, num_classes)
