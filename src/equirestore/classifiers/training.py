"""Training and evaluating classifiers, with checkpoints that resume.

A run writes ``<out>`` (the final classifier) and ``<out>.state`` after every epoch
(model, optimiser, schedule, epoch); running the same command again after an
interruption continues from the last finished epoch with the same data order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from equirestore.checkpoint import load_checkpoint, load_state_strict, save_checkpoint
from equirestore.classifiers.models import build_classifier
from equirestore.polar import rotate as rotate_images
from equirestore.shifts import random_shifts, shift

FORMAT = "equirestore.classifier"
STATE_FORMAT = "equirestore.classifier_state"


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
    """Load a classifier saved by :func:`save_classifier`; returns ``(model, checkpoint)``."""
    ckpt = load_checkpoint(path, FORMAT)
    model = build_classifier(
        str(ckpt["arch"]), int(ckpt["input_shape"][0]), int(ckpt["num_classes"])
    )
    load_state_strict(model, ckpt["state_dict"], str(path))
    return model.eval(), ckpt


@torch.inference_mode()
def predict(
    model: nn.Module,
    images: Tensor,
    batch_size: int = 500,
    transform: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """Predicted labels ``LongTensor (N,)``; ``transform`` (e.g. a restorer) runs per batch."""
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size]
        if transform is not None:
            x = transform(x)
        out.append(model(x.float()).argmax(1))
    return torch.cat(out)


def train_classifier(
    arch: str,
    images: Tensor,
    labels: Tensor,
    out: str | os.PathLike[str],
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 0.05,
    weight_decay: float = 5e-4,
    hflip: bool = False,
    shift_scope: int = 0,
    rotate: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
) -> nn.Module:
    """Train a registered classifier with SGD + one-cycle schedule, resuming if possible.

    Args:
        arch: registry name (``"small-cnn"``, ``"resnet18"``).
        images, labels: ``(N, C, H, W)`` float in [0, 1] and ``(N,)``.
        out: where the final weights go; ``<out>.state`` holds the resumable state.
        hflip: random horizontal flips (for CIFAR-10).
        shift_scope: random circular translation augmentation of at most this many pixels
            (0 = none, as in Table 1).
        rotate: rotation augmentation: every image turned by a uniform random angle in
            ``[-rotate, rotate]`` degrees (:func:`equirestore.polar.rotate`, about the
            image centre); 0 = none, 180 = any angle.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    state_path = Path(str(out) + ".state")
    num_classes = int(labels.max()) + 1
    torch.manual_seed(seed)
    model = build_classifier(arch, images.shape[1], num_classes)
    if all(p.dim() != 5 for p in model.parameters()):  # G-CNN filters are 5-D
        model = model.to(memory_format=torch.channels_last)  # measured ~20% faster on CPU
    opt = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
    )
    steps = (len(images) + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * steps, pct_start=0.2
    )
    start_epoch = 0
    if state_path.exists():
        st = load_checkpoint(state_path, STATE_FORMAT)
        if st["arch"] != arch or st["epochs"] != epochs:
            raise ValueError(
                f"{state_path} is from another run (arch={st['arch']}, epochs={st['epochs']}); "
                "delete it or choose another output path"
            )
        load_state_strict(model, st["model"], str(state_path))
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        start_epoch = int(st["epoch"])
        torch.set_rng_state(st["rng"])
    t0 = time.perf_counter()
    for epoch in range(start_epoch, epochs):
        gen = torch.Generator().manual_seed(seed * 1000 + epoch)
        perm = torch.randperm(len(images), generator=gen)
        model.train()
        bar = tqdm(
            range(0, len(images), batch_size),
            desc=f"{arch} epoch {epoch + 1}/{epochs}",
            disable=not progress,
        )
        correct = seen = 0
        for i in bar:
            idx = perm[i : i + batch_size]
            x, y = images[idx].float(), labels[idx]
            if hflip:
                flip = torch.rand(len(x), generator=gen) < 0.5
                x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            if shift_scope:
                x = shift(x, random_shifts(len(x), shift_scope, 2, gen))
            if rotate:
                u = torch.rand(len(x), generator=gen, dtype=torch.float64)
                x = rotate_images(x, (2 * u - 1) * rotate)
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}", acc=f"{correct / seen:.3f}")
        save_checkpoint(
            {
                "format": STATE_FORMAT,
                "arch": arch,
                "epochs": epochs,
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "rng": torch.get_rng_state(),
            },
            state_path,
        )
    info = dict(meta or {})
    info.update(
        epochs=epochs,
        seed=seed,
        train_seconds_this_run=round(time.perf_counter() - t0, 1),
        shift_scope=shift_scope,
        rotate=rotate,
        hflip=hflip,
        lr=lr,
        batch_size=batch_size,
    )
    save_classifier(model, out, arch, tuple(images.shape[1:]), num_classes, info)
    state_path.unlink(missing_ok=True)
    return model.eval()
