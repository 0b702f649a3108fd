"""Shipped restorers and restorer checkpoints.

A restorer checkpoint is a plain dict of tensors, strings and numbers (see
:meth:`TranslationRestorer.checkpoint` and :meth:`RotationRestorer.checkpoint`; its
``format`` says which), loaded with ``torch.load(weights_only=True)`` so that no pickled
code runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from equirestore.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state_strict,
    save_checkpoint,
)
from equirestore.nn.background import BackgroundEstimator
from equirestore.nn.box import BoxEstimator
from equirestore.nn.canonical import CanonicalNetwork, network_from_config
from equirestore.nn.circular import CircularConv
from equirestore.nn.features import FeatureConfig, FeatureEstimator
from equirestore.nn.gated import GatedEstimator
from equirestore.nn.polar import PolarNetwork
from equirestore.restore.rotation import FORMAT as ROTATION_FORMAT
from equirestore.restore.rotation import RotationRestorer
from equirestore.restore.se2 import FORMAT as SE2_FORMAT
from equirestore.restore.se2 import SE2Restorer
from equirestore.restore.training import TEMPERATURE
from equirestore.restore.translation import TranslationRestorer

FORMAT = "equirestore.translation_restorer"

_R = TypeVar("_R", TranslationRestorer, RotationRestorer)

#: Restorers whose weights ship inside the package, by name.
SHIPPED: dict[str, str] = {
    "mnist": "mnist.pt",
    "cifar10": "cifar10.pt",
    "mnist3d": "mnist3d.pt",
    "mnist-rotation": "mnist_rotation.pt",
    "mnist-se2": "mnist_se2.pt",
}

#: Every restorer checkpoint format :func:`load_restorer` reads.
FORMATS = (FORMAT, ROTATION_FORMAT, SE2_FORMAT)


def shipped_path(name: str) -> Path:
    """Path of a shipped restorer's weights file."""
    return Path(str(resources.files("equirestore") / "weights" / SHIPPED[name]))


def save_restorer(
    restorer: TranslationRestorer | RotationRestorer | SE2Restorer,
    path: str | os.PathLike[str],
    meta: dict[str, Any] | None = None,
) -> None:
    """Save a restorer atomically; ``meta`` (JSON-like) records how it was made."""
    save_checkpoint(restorer.checkpoint(meta), path)


def restorer_meta(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``meta`` dict stored with a restorer (how it was trained, its measured rates)."""
    path = _resolve(name_or_path)
    return dict(load_checkpoint(path, FORMATS).get("meta", {}))


def _resolve(name_or_path: str | os.PathLike[str]) -> Path:
    key = os.fspath(name_or_path)
    if key in SHIPPED:
        return shipped_path(key)
    path = Path(key)
    if not path.exists():
        raise FileNotFoundError(
            f"{key!r} is neither a shipped restorer ({', '.join(sorted(SHIPPED))}) nor an "
            "existing checkpoint file"
        )
    return path


def load_restorer(
    name_or_path: str | os.PathLike[str],
) -> TranslationRestorer | RotationRestorer | SE2Restorer:
    """Load a restorer by shipped name or checkpoint path, whichever kind it is.

    Shipped: ``"mnist"``, ``"cifar10"``, ``"mnist3d"`` (translation),
    ``"mnist-rotation"`` (rotation) and ``"mnist-se2"`` (translation, then rotation).
    Use :func:`load_translation_restorer` or :func:`load_rotation_restorer` to insist on
    one kind.

    Raises:
        FileNotFoundError: unknown name and no such file.
        CheckpointError: the file is corrupted, of another kind, or its weights do not
            fit the architecture it declares.
    """
    path = _resolve(name_or_path)
    ckpt = load_checkpoint(path, FORMATS)
    if ckpt["format"] == ROTATION_FORMAT:
        return _rotation_from(ckpt, path)
    if ckpt["format"] == SE2_FORMAT:
        return _se2_from(ckpt, path)
    return _translation_from(ckpt, path)


def load_translation_restorer(name_or_path: str | os.PathLike[str]) -> TranslationRestorer:
    """Like :func:`load_restorer`, for translation restorers only."""
    path = _resolve(name_or_path)
    return _translation_from(load_checkpoint(path, FORMAT), path)


def load_rotation_restorer(name_or_path: str | os.PathLike[str]) -> RotationRestorer:
    """Like :func:`load_restorer`, for rotation restorers only."""
    path = _resolve(name_or_path)
    return _rotation_from(load_checkpoint(path, ROTATION_FORMAT), path)


def _with_weights(restorer: _R, ckpt: dict[str, Any], path: Path) -> _R:
    """Load the checkpoint's weights in the restorer's score dtype."""
    state = ckpt.get("state_dict")
    if isinstance(state, dict):
        state = {
            k: v.to(restorer.score_dtype) if torch.is_tensor(v) else v for k, v in state.items()
        }
    load_state_strict(restorer, state, str(path))
    return restorer.eval()


def estimator_from_config(config: dict[str, Any]) -> nn.Module:
    """Rebuild an estimator from its ``config()``: a :class:`FeatureEstimator`
    (``kind == "features"``), a :class:`~equirestore.nn.box.BoxEstimator` (``"box"``), a
    :class:`~equirestore.nn.gated.GatedEstimator` (``"gated"``), a
    :class:`~equirestore.nn.background.BackgroundEstimator` (``"background"``), a
    :class:`~equirestore.nn.polar.PolarNetwork` (``"polar"``, rotation) or a
    :class:`~equirestore.nn.CanonicalNetwork`."""
    config = dict(config)
    kind = config.pop("kind", "canonical")
    if kind == "box":
        return BoxEstimator(
            config["input_shape"],
            float(config["threshold"]),
            list(config["centre"]),
            tie_break=bool(config.get("tie_break", False)),  # absent before the term
            levels=int(config.get("levels", 0)),  # absent before the 8-bit ramps
        )
    if kind == "background":
        return BackgroundEstimator(
            [float(v) for v in config["background"]], estimator_from_config(config["inner"])
        )
    if kind == "gated":
        box = estimator_from_config(config["box"])
        if not isinstance(box, BoxEstimator):
            raise ValueError(
                f"a gated estimator's box is a 'box', got {config['box'].get('kind')!r}"
            )
        return GatedEstimator(box, estimator_from_config(config["other"]), list(config["frame"]))
    if kind == "polar":
        return PolarNetwork(
            int(config["in_channels"]),
            int(config["n_radius"]),
            int(config["n_angle"]),
            [int(w) for w in config["local"]],
            int(config["kernel"]),
            int(config["hidden"]),
        )
    if kind == "features":
        return FeatureEstimator(
            config["input_shape"],
            FeatureConfig.from_dict(dict(config["features"])),
            hidden=int(config["hidden"]),
            kernel=int(config["kernel"]),
            width=int(config.get("width", 0)),
        )
    return network_from_config(config)


def _check_kernels_fit(network: nn.Module, input_shape: tuple[int, ...]) -> None:
    """A kernel wider than the grid it is declared for: the checkpoint was made for
    another image size."""
    grid = input_shape[1:]
    for layer in network.modules():
        if isinstance(layer, CircularConv):
            for k, d, n in zip(layer.kernel_size, layer.dilation, grid, strict=False):
                if d * (k - 1) >= n:
                    raise ValueError(
                        f"a {layer.kernel_size} filter does not fit the declared input grid "
                        f"{grid}: the checkpoint was made for another image size"
                    )


@contextmanager
def _declared(path: Path) -> Iterator[None]:
    """Turn a missing entry or an invalid architecture while rebuilding a restorer from
    its checkpoint into a :class:`CheckpointError` naming the file."""
    try:
        yield
    except KeyError as e:
        raise CheckpointError(f"{path} lacks the entry {e} of a restorer checkpoint") from e
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path} declares an invalid restorer architecture: {e}") from e


def _translation_from(ckpt: dict[str, Any], path: Path) -> TranslationRestorer:
    with _declared(path):
        config = dict(ckpt["network"])
        if config.get("kind") == "polar":
            raise ValueError("a polar estimator is a rotation estimator, not a translation one")
        network = estimator_from_config(config)
        input_shape = tuple(int(v) for v in ckpt["input_shape"])
        _check_kernels_fit(network, input_shape)
        restorer = TranslationRestorer(network, input_shape, name=str(ckpt.get("name", path.stem)))
    return _with_weights(restorer, ckpt, path)


def _rotation_from(ckpt: dict[str, Any], path: Path) -> RotationRestorer:
    with _declared(path):
        config = dict(ckpt["network"])
        if config.get("kind", "canonical") not in ("canonical", "polar"):
            raise ValueError(f"a {config['kind']!r} estimator is not a rotation estimator")
        network = estimator_from_config(config)
        assert isinstance(network, PolarNetwork | CanonicalNetwork)
        c, h, w = (int(v) for v in ckpt["image_shape"])
        polar = dict(ckpt["polar"])
        restorer = RotationRestorer(
            network,
            (c, h, w),
            int(polar["n_radius"]),
            int(polar["n_angle"]),
            float(polar["r_max"]),
            int(polar["upsample"]),
            # version 1 checkpoints: about the image's middle, the default temperature
            centre=str(polar.get("centre", "image")),
            # checkpoints before the bicubic undo: bilinear
            interpolation=str(polar.get("interpolation", "bilinear")),
            temperature=float(polar.get("temperature", TEMPERATURE)),
            name=str(ckpt.get("name", path.stem)),
            # checkpoints before the canvas colour: black
            background=_floats(polar.get("background")),
        )
    return _with_weights(restorer, ckpt, path)


def _floats(values: Any) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def _se2_from(ckpt: dict[str, Any], path: Path) -> SE2Restorer:
    translation, rotation = ckpt.get("translation"), ckpt.get("rotation")
    for key, part, kind in (
        ("translation", translation, FORMAT),
        ("rotation", rotation, ROTATION_FORMAT),
    ):
        if not isinstance(part, dict) or part.get("format") != kind:
            raise CheckpointError(f"{path} lacks the {key} part of an SE(2) restorer checkpoint")
    assert isinstance(translation, dict) and isinstance(rotation, dict)
    try:
        return SE2Restorer(
            _translation_from(translation, path), _rotation_from(rotation, path)
        ).eval()
    except ValueError as e:
        raise CheckpointError(f"{path}: its two parts do not fit together: {e}") from e
