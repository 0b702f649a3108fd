"""Estimates, restores and tie flags do not depend on what else is in the batch, for the
translation, rotation and SE(2) restorers."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from equirestore.groups.translation import shift
from equirestore.nn.features import FeatureEstimator
from equirestore.restore import TranslationRestorer, load_restorer
from tests.restore.helpers import centred_blobs

_BLOBS = centred_blobs(8)


def _image(kind: str, value: float, period: int, index: int, dx: int) -> torch.Tensor:
    x = torch.zeros(1, 32, 32)
    if kind == "blob":
        x = shift(_BLOBS[index % 8 : index % 8 + 1], torch.tensor([dx, -dx]))[0] * value
    elif kind == "constant":
        x.fill_(value)
    elif kind == "stripes":  # equal to its shift by `period` columns: periodic
        x[..., ::period] = value
    elif kind == "checker":
        x[..., ::2, ::2] = value
        x[..., 1::2, 1::2] = value
    return x


_IMAGES = st.builds(
    _image,
    st.sampled_from(["blob", "blank", "constant", "stripes", "checker"]),
    st.sampled_from([1.0, 0.5, 1e-3, 7.0]),
    st.sampled_from([2, 4, 8, 16]),
    st.integers(0, 7),
    st.integers(-9, 9),
)


def _feature_restorer() -> TranslationRestorer:
    torch.manual_seed(3)
    est = FeatureEstimator((1, 32, 32))
    est.set_scales(_BLOBS)
    with torch.no_grad():
        for p in est.parameters():
            p.normal_()
    return TranslationRestorer(est, (1, 32, 32)).eval()


_RESTORERS = [load_restorer("mnist"), _feature_restorer()]


@settings(max_examples=25, deadline=None)
@given(st.lists(_IMAGES, min_size=1, max_size=9), st.integers(0, 1))
def test_batched_equals_one_by_one(images, which):
    restorer = _RESTORERS[which]
    x = torch.stack(images)
    with torch.inference_mode():
        batched = restorer.peaks(x)
        restored = restorer(x)
        for i in range(len(x)):
            alone = restorer.peaks(x[i : i + 1])
            assert bool(alone.unique[0]) == bool(batched.unique[i])
            assert torch.equal(alone.position[0], batched.position[i])
            assert torch.equal(restorer(x[i : i + 1])[0], restored[i])


_ROTATION = {name: load_restorer(name) for name in ("mnist-rotation", "mnist-se2")}


def _parts(estimate) -> tuple[torch.Tensor, ...]:
    return estimate if isinstance(estimate, tuple) else (estimate,)


@settings(max_examples=15, deadline=None)
@given(st.lists(_IMAGES, min_size=1, max_size=6), st.sampled_from(sorted(_ROTATION)))
def test_rotation_and_se2_restorers_batched_equal_one_by_one(images, name):
    restorer = _ROTATION[name]
    x = torch.stack(images)
    with torch.inference_mode():
        batched, restored = _parts(restorer.estimate(x)), restorer(x)
        for i in range(len(x)):
            alone = _parts(restorer.estimate(x[i : i + 1]))
            for a, b in zip(alone, batched, strict=True):
                assert torch.equal(a[0], b[i])
            assert torch.equal(restorer(x[i : i + 1])[0], restored[i])


def test_blank_constant_and_periodic_images_are_ties_everywhere():
    x = torch.stack(
        [_image("blank", 1, 2, 0, 0), _image("constant", 0.3, 2, 0, 0)]
        + [_image("stripes", 1, p, 0, 0) for p in (2, 4, 8, 16)]
        + [_image("checker", 1, 2, 0, 0), _image("blob", 1, 2, 3, 2)]
    )
    for restorer in _RESTORERS:
        pk = restorer.peaks(x)
        assert pk.unique.tolist() == [False] * 7 + [True]
        assert (pk.position[:7] == 0).all()
