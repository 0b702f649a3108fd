import torch

from equirestore.groups.translation import shift
from equirestore.nn.features import FeatureEstimator


def randomised_features(est: FeatureEstimator) -> FeatureEstimator:
    """``est`` with seeded random weights and scales fitted to random images (a trained
    estimator's stand-in, for exactness tests)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in est.parameters():
            p.normal_()
    est.set_scales(torch.rand(4, *est.input_shape))
    return est


def centred_blobs(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random blobs whose rounded centre of mass is (size//2, size//2), like MNIST digits.

    Blobs whose centre of mass lies within 0.05 px of a rounding boundary are dropped:
    their canonical position is ambiguous.
    """
    g = torch.Generator().manual_seed(seed)
    m = 2 * n
    x = torch.zeros(m, 1, size, size, dtype=torch.float64)
    q = size // 4
    x[:, :, q : 3 * q, q : 3 * q] = (torch.rand(m, 1, 2 * q, 2 * q, generator=g) > 0.6).double()
    pos = torch.arange(size, dtype=torch.float64)
    mass = x.sum((1, 2, 3))
    com = torch.stack(
        [(x.sum((1, 3)) * pos).sum(-1) / mass, (x.sum((1, 2)) * pos).sum(-1) / mass], 1
    )
    clear = ((com - com.floor() - 0.5).abs() > 0.05).all(1)
    x, com = x[clear][:n], com[clear][:n]
    assert len(x) == n
    return shift(x, size // 2 - torch.round(com).long()).float()


def framed_noise(n: int, size: int = 12, border: int = 2, seed: int = 0) -> torch.Tensor:
    """Random RGB content inside a zero frame, like padded CIFAR-10."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, size, size)
    x[:, :, border:-border, border:-border] = 0.05 + 0.95 * torch.rand(
        n, 3, size - 2 * border, size - 2 * border, generator=g
    )
    return x


def bbox_blobs(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Random grey blobs centred by their bounding box at integer offsets, like fonts or
    Fashion-MNIST: a blob of h x w pixels starts at ((size - h) // 2, (size - w) // 2)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, size, size)
    for i in range(n):
        h, w = (int(v) for v in torch.randint(3, size - 5, (2,), generator=g))
        blob = torch.rand(h, w, generator=g) * (torch.rand(h, w, generator=g) > 0.4)
        blob[0, int(torch.randint(0, w, (1,), generator=g))] = 1.0  # the box is tight
        blob[-1, int(torch.randint(0, w, (1,), generator=g))] = 1.0
        blob[int(torch.randint(0, h, (1,), generator=g)), 0] = 1.0
        blob[int(torch.randint(0, h, (1,), generator=g)), -1] = 1.0
        top, left = (size - h) // 2, (size - w) // 2
        x[i, 0, top : top + h, left : left + w] = (blob * 255).round() / 255
    return x


def blobs_between_pixels(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Random elongated Gaussian blobs whose centre of mass lies within 0.2 px of the point
    ``(size / 2 - 1/2, size / 2 - 1/2)`` between four pixels, like a square about the
    centre of mass resampled into a fixed box (NIST-derived datasets)."""
    g = torch.Generator().manual_seed(seed)
    pos = torch.arange(size, dtype=torch.float64)
    centre = size / 2 - 0.5 + 0.4 * (torch.rand(n, 2, 1, generator=g, dtype=torch.float64) - 0.5)
    width = 1.0 + 1.5 * torch.rand(n, 2, 1, generator=g, dtype=torch.float64)
    profile = torch.exp(-(((pos - centre) / width) ** 2) / 2)  # (n, 2, size)
    return (profile[:, 0, :, None] * profile[:, 1, None, :]).unsqueeze(1).float()
