"""A restorer and its classifier as one ONNX model, checked with onnxruntime.

While exporting, circular filters are computed with real matrix products and shifts only
(:func:`equirestore.nn.circular.circular_conv`), in the restorer's float64: onnxruntime
has neither complex tensors nor a float64 convolution, and float32 scores would decide
near-ties differently from eager PyTorch. Input checks that look at the values (NaN, inf)
run in eager mode only; shape checks stay.

Needs the ``export`` extra (``onnx``, ``onnxscript``; ``onnxruntime`` for the check).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from equirestore.io import atomic_path


@dataclass(frozen=True)
class OnnxCheck:
    """How the ONNX model compares with eager PyTorch on the same inputs."""

    n: int
    max_logit_difference: float
    same_labels: bool


def export_onnx(model: nn.Module, example: Tensor, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` (e.g. a :class:`~equirestore.RestoredClassifier`) as ONNX with the
    dynamo exporter, the batch axis dynamic, atomically; ``example (B, *shape)`` fixes the
    other axes."""
    try:
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "ONNX export needs the 'export' extra: pip install 'equirestore[export]'"
        ) from e
    model = model.eval()
    batch = torch.export.Dim("batch", min=1)
    target = Path(path)
    with atomic_path(target) as tmp, torch.no_grad():
        program = torch.onnx.export(
            model, (example,), dynamo=True, dynamic_shapes={"x": {0: batch}}, verbose=False
        )
        assert program is not None
        program.save(str(tmp))
    return target


def check_onnx(
    path: str | os.PathLike[str], model: nn.Module, inputs: Tensor, batch_size: int = 256
) -> OnnxCheck:
    """Run the ONNX model with onnxruntime on ``inputs`` and compare with ``model``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    worst, same = 0.0, True
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            x = inputs[i : i + batch_size]
            ours = torch.from_numpy(session.run(None, {name: x.numpy()})[0])
            eager = model(x)
            worst = max(worst, float((ours - eager).abs().max()))
            same = same and bool(torch.equal(ours.argmax(1), eager.argmax(1)))
    return OnnxCheck(len(inputs), worst, same)
