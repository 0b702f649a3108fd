"""The restorer contract: estimate, undo, forward; no hidden state; composition."""

import pytest
import torch
from torch import nn

from equirestore.groups.translation import shift
from equirestore.nn.features import FeatureEstimator
from equirestore.restore import (
    ComposedRestorer,
    IdentityRestorer,
    RestoredClassifier,
    TranslationRestorer,
    load_restorer,
)
from tests.restore.helpers import centred_blobs


def _snapshot(module: nn.Module) -> dict[str, object]:
    """Every attribute of every submodule, tensors cloned."""
    out: dict[str, object] = {}
    for name, m in module.named_modules():
        for k, v in vars(m).items():
            if k in ("_parameters", "_buffers"):
                for pk, pv in v.items():
                    out[f"{name}.{k}.{pk}"] = None if pv is None else pv.detach().clone()
            elif k != "_modules" and not k.startswith("_forward") and not k.startswith("_backward"):
                out[f"{name}.{k}"] = v
    return out


def _same(a: dict[str, object], b: dict[str, object]) -> bool:
    if a.keys() != b.keys():
        return False
    return all(
        torch.equal(v, b[k]) if isinstance(v, torch.Tensor) else v is b[k] or v == b[k]
        for k, v in a.items()
    )


@pytest.mark.parametrize("name", ["mnist", "mnist-rotation"])
def test_no_state_is_kept_between_calls(name):
    r = load_restorer(name)
    x = shift(centred_blobs(3), torch.tensor([2, -1]))
    before = _snapshot(r)
    r.estimate(x)
    r(x)
    if isinstance(r, TranslationRestorer):
        r.peaks(x)
        r.scores(x)
    assert _same(before, _snapshot(r))


def test_constructors_do_not_touch_the_estimator_they_are_given():
    est = FeatureEstimator((1, 8, 8))
    before = _snapshot(est)
    r = TranslationRestorer(est, (1, 8, 8))
    assert r.estimator is not est and r.estimator.map_kernel.dtype == torch.float64
    assert _same(before, _snapshot(est)) and est.map_kernel.dtype == torch.float32


def test_identity_and_composition():
    x = centred_blobs(2)
    ident = IdentityRestorer((1, 32, 32))
    assert ident.estimate(x).shape == (2, 0) and torch.equal(ident(x), x)
    mnist = load_restorer("mnist")
    both = ComposedRestorer(ident, mnist)
    xs = shift(x, torch.tensor([[4, 1], [0, -3]]))
    g1, g2 = both.estimate(xs)
    assert g1.shape == (2, 0) and g2.tolist() == [[4, 1], [0, -3]]
    assert torch.equal(both(xs), x)
    assert torch.equal(both(xs), both.undo(xs, (g1, g2)))
    with pytest.raises(ValueError, match="canvases"):
        ComposedRestorer(ident, IdentityRestorer((1, 28, 28)))


def test_sequential_and_restored_classifier_shapes():
    mnist = load_restorer("mnist")
    head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10))
    x = shift(centred_blobs(3), torch.tensor([5, 5]))
    assert nn.Sequential(mnist, head)(x).shape == (3, 10)
    protected = RestoredClassifier(mnist, head)
    torch.testing.assert_close(protected(x), head(centred_blobs(3)))
    small = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    digits = centred_blobs(3)[:, :, 2:30, 2:30]  # 28x28 digits: padded to the canvas
    torch.testing.assert_close(RestoredClassifier(mnist, small)(digits), small(digits))
    # a 32x32 canvas input for a 28x28 classifier: restored, then the centre cropped
    crop = RestoredClassifier(mnist, small, input_size=(28, 28))
    torch.testing.assert_close(crop(x), small(digits))
    with pytest.raises(ValueError, match="does not fit the restorer's canvas"):
        protected(torch.rand(1, 1, 36, 36))
