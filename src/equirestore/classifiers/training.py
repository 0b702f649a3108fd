"""Training and evaluating classifiers, with checkpoints that resume.

A run writes ``<out>`` (the final classifier) and ``<out>.state`` after every epoch
(model, optimiser, schedule, epoch and the run's settings); running the same command
again after an interruption continues from the last finished epoch with the same data
order. A state written with other settings is refused (the message names them) unless
``restart=True`` starts afresh.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore.checkpoint import load_checkpoint, load_state_strict, save_checkpoint
from equirestore.classifiers.models import build_classifier
from equirestore.groups.rotation import rotate as rotate_images
from equirestore.groups.translation import random_shifts, shift
from equirestore.io import remove_stale_temporaries
from equirestore.restore.subpixel import fractional_shift

FORMAT = "equirestore.classifier"
STATE_FORMAT = "equirestore.classifier_state"


@dataclass(frozen=True)
class TrainSettings:
    """How a classifier is trained (stored with the resumable state and the weights).

    ``optimizer``: ``"sgd"`` (Nesterov momentum 0.9, weight decay) or ``"adam"``; both
    with a one-cycle schedule peaking at ``lr``. ``hflip``, ``shift_scope``, ``rotate``
    and ``subpixel`` are the augmentations (random horizontal flips; circular shifts of at
    most ``shift_scope`` pixels; rotations by a uniform angle in ``[-rotate, rotate]``
    degrees about the image centre; circular shifts by a uniform sub-pixel offset in
    ``[-1/2, 1/2)`` per axis, bilinear). ``subpixel`` moves no object by a whole pixel
    and turns none: it shows the classifier the interpolation blur that a resampling
    restorer (rotation, SE(2)) leaves (``results/rotated_mnist.md``).
    """

    arch: str
    epochs: int
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 5e-4
    optimizer: str = "sgd"
    hflip: bool = False
    shift_scope: int = 0
    rotate: float = 0.0
    subpixel: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.shift_scope < 0 or self.rotate < 0:
            raise ValueError("shift_scope and rotate must be >= 0")


def save_classifier(
    model: nn.Module,
    path: str | os.PathLike[str],
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    meta: dict[str, Any] | None = None,
) -> None:
    """Save a classifier's weights with its architecture name (atomically)."""
    save_checkpoint(
        {
            "format": FORMAT,
            "arch": arch,
            "input_shape": list(input_shape),
            "num_classes": num_classes,
            "state_dict": model.state_dict(),
            "meta": dict(meta or {}),
        },
        path,
    )


def load_classifier(path: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """Load a classifier saved by :func:`save_classifier`; returns ``(model, checkpoint)``
    with the model in eval mode. ``checkpoint["input_shape"]`` is ``(C, H, W)``."""
    ckpt = load_checkpoint(path, FORMAT)
    model = build_classifier(
        str(ckpt["arch"]), int(ckpt["input_shape"][0]), int(ckpt["num_classes"])
    )
    load_state_strict(model, ckpt["state_dict"], str(path))
    return model.eval(), ckpt


@torch.inference_mode()
def predict(model: nn.Module, images: Tensor, batch_size: int = 500) -> Tensor:
    """Predicted labels ``LongTensor (N,)`` of ``images (N, C, *S)``, in batches (put a
    restorer in front with :class:`~equirestore.RestoredClassifier`)."""
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        out.append(model(images[i : i + batch_size].float()).argmax(1))
    return torch.cat(out)


def augment(x: Tensor, settings: TrainSettings, gen: torch.Generator) -> Tensor:
    """The training augmentations of ``settings`` on a batch ``(B, C, H, W)``."""
    if settings.hflip:
        flip = torch.rand(len(x), generator=gen) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    if settings.shift_scope:
        x = shift(x, random_shifts(len(x), settings.shift_scope, 2, gen))
    if settings.rotate:
        u = torch.rand(len(x), generator=gen, dtype=torch.float64)
        x = rotate_images(x, (2 * u - 1) * settings.rotate)
    if settings.subpixel:
        off = torch.rand(len(x), 2, generator=gen, dtype=torch.float64) - 0.5
        x = fractional_shift(x, off, "linear")
    return x


def _optimiser(
    model: nn.Module, s: TrainSettings, steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    if s.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    else:
        opt = torch.optim.SGD(
            model.parameters(), lr=s.lr, momentum=0.9, nesterov=True, weight_decay=s.weight_decay
        )
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=s.lr, total_steps=s.epochs * steps, pct_start=0.2
    )
    return opt, sched


def _resume(
    state_path: Path,
    settings: TrainSettings,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
) -> int:
    """Load the state of an interrupted run with the same settings; returns its epoch."""
    st = load_checkpoint(state_path, STATE_FORMAT)
    saved = dict(st.get("settings", {}))
    saved.setdefault("subpixel", False)  # states written before the option
    differ = sorted(k for k, v in asdict(settings).items() if saved.get(k) != v)
    if differ:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {getattr(settings, k)!r}" for k in differ)
        raise ValueError(
            f"{state_path} is the state of another run ({changes}); run again with the "
            "original settings to resume it, or pass --restart (restart=True) to start afresh"
        )
    load_state_strict(model, st["model"], str(state_path))
    opt.load_state_dict(st["optimizer"])
    sched.load_state_dict(st["scheduler"])
    torch.set_rng_state(st["rng"])
    return int(st["epoch"])


def _epoch(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    settings: TrainSettings,
    epoch: int,
    optimiser: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler],
    progress: bool,
) -> None:
    """One pass over the data in the epoch's seeded order."""
    from tqdm.auto import tqdm

    opt, sched = optimiser
    gen = torch.Generator().manual_seed(settings.seed * 1000 + epoch)
    perm = torch.randperm(len(images), generator=gen)
    model.train()
    bar = tqdm(
        range(0, len(images), settings.batch_size),
        desc=f"{settings.arch} epoch {epoch + 1}/{settings.epochs}",
        disable=not progress,
    )
    correct = seen = 0
    for i in bar:
        idx = perm[i : i + settings.batch_size]
        x = augment(images[idx].float(), settings, gen)
        y = labels[idx]
        logits = model(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}", acc=f"{correct / seen:.3f}")


def train_classifier(
    arch: str,
    images: Tensor,
    labels: Tensor,
    out: str | os.PathLike[str],
    *,
    epochs: int,
    progress: bool = True,
    restart: bool = False,
    meta: dict[str, Any] | None = None,
    **settings: Any,
) -> nn.Module:
    """Train a registered classifier, resuming an interrupted run of the same settings.

    Args:
        arch: registry name (``"small-cnn"``, ``"resnet18"``, ...).
        images, labels: ``(N, C, H, W)`` float in [0, 1] and ``(N,)``.
        out: where the final weights go; ``<out>.state`` holds the resumable state.
        epochs: passes over the data.
        progress: show tqdm bars.
        restart: discard the state of an earlier run instead of resuming it.
        meta: JSON-like facts stored with the weights (e.g. the command).
        settings: the other fields of :class:`TrainSettings` (``batch_size``, ``lr``,
            ``optimizer``, ``hflip``, ``shift_scope``, ``rotate``, ``subpixel``, ``seed``,
            ...).

    Returns:
        The trained model in eval mode.
    """
    s = TrainSettings(arch, epochs, **settings)
    if (s.hflip or s.shift_scope or s.rotate or s.subpixel) and images.dim() != 4:
        raise ValueError(
            f"the augmentations (hflip, shift_scope, rotate, subpixel) work on 2-D images "
            f"(N, C, H, W), got {tuple(images.shape)}: train without them"
        )
    out = Path(out)
    state_path = Path(str(out) + ".state")
    for p in (out, state_path):
        remove_stale_temporaries(p)
    if restart:
        state_path.unlink(missing_ok=True)
    num_classes = int(labels.max()) + 1
    torch.manual_seed(s.seed)
    model = build_classifier(arch, images.shape[1], num_classes)
    if all(p.dim() != 5 for p in model.parameters()):  # G-CNN and 3-D filters are 5-D
        model = model.to(memory_format=torch.channels_last)  # measured ~20% faster on CPU
    opt, sched = _optimiser(model, s, -(-len(images) // s.batch_size))
    start = _resume(state_path, s, model, opt, sched) if state_path.exists() else 0
    t0 = time.perf_counter()
    epoch = start
    try:
        for epoch in range(start, s.epochs):
            _epoch(model, images, labels, s, epoch, (opt, sched), progress)
            state = {
                "format": STATE_FORMAT,
                "settings": asdict(s),
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "rng": torch.get_rng_state(),
            }
            save_checkpoint(state, state_path)
    except KeyboardInterrupt:
        done = f"after epoch {epoch} of {s.epochs}" if epoch else "before the first epoch ended"
        print(
            f"interrupted {done}; run the same command again to resume ({state_path})",
            file=sys.stderr,
        )
        raise
    info = {**dict(meta or {}), **asdict(s)}
    info["train_seconds_this_run"] = round(time.perf_counter() - t0, 1)
    save_classifier(model, out, arch, tuple(images.shape[1:]), num_classes, info)
    state_path.unlink(missing_ok=True)
    return model.eval()
