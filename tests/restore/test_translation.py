import io
import itertools
import pickle

import pytest
import torch

from equirestore import load_restorer, shift
from equirestore.checkpoint import CheckpointError
from equirestore.groups.translation import signed
from equirestore.nn import CanonicalNetwork
from equirestore.restore import TranslationRestorer, save_restorer
from tests.restore.helpers import centred_blobs


@pytest.fixture(scope="module")
def mnist_restorer() -> TranslationRestorer:
    return load_restorer("mnist")


def test_every_shift_is_estimated_and_undone(mnist_restorer):
    x = centred_blobs(4)
    assert mnist_restorer.peaks(x).unique.all()
    assert (mnist_restorer.estimate(x) == 0).all()
    for s in itertools.product(range(32), repeat=2):
        st = torch.tensor(s).expand(4, 2)
        xs = shift(x, st)
        est = mnist_restorer.estimate(xs)
        assert torch.equal(est, signed(st, (32, 32)))
        assert torch.equal(mnist_restorer(xs), x)


def test_estimate_convention(mnist_restorer):
    x = centred_blobs(3, seed=1)
    s = torch.tensor([[3, -5], [-16, 15], [0, 1]])
    xs = shift(x, s)
    est = mnist_restorer.estimate(xs)
    restored = mnist_restorer(xs)
    assert est.dtype == torch.long and est.shape == (3, 2)
    assert torch.equal(est, s)
    assert torch.equal(restored, mnist_restorer.undo(xs, est))
    assert torch.equal(shift(restored, est), xs)  # x == shift(restorer(x), estimate(x))


def test_restore_keeps_dtype_and_shape(mnist_restorer):
    x = centred_blobs(2).double()
    y = mnist_restorer(x)
    assert y.dtype == torch.float64 and y.shape == x.shape


@pytest.mark.parametrize(
    ("x", "err", "match"),
    [
        (torch.rand(1, 32, 32), ValueError, "batch axis"),
        (torch.rand(2, 3, 32, 32), ValueError, "3 channels but 1"),
        (torch.zeros(2, 1, 32, 32, dtype=torch.uint8), TypeError, "floating-point"),
        (torch.full((2, 1, 32, 32), float("nan")), ValueError, "NaN"),
        (torch.full((2, 1, 32, 32), float("inf")), ValueError, "infinite"),
        (torch.rand(0, 1, 32, 32), ValueError, "empty batch"),
        (torch.rand(2, 1, 28, 28), ValueError, "trained on"),
        ([[0.0]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_input_is_explained(mnist_restorer, x, err, match):
    with pytest.raises(err, match=match):
        mnist_restorer(x)


def test_checkpoint_round_trip(tmp_path):
    net = CanonicalNetwork(2, [3, 1], kernel_size=3, dims=3)
    r = TranslationRestorer(net, (2, 6, 6, 6), name="vol")
    path = tmp_path / "r.pt"
    save_restorer(r, path, meta={"note": "test"})
    r2 = load_restorer(path)
    x = torch.rand(2, 2, 6, 6, 6)
    assert torch.equal(r.scores(x), r2.scores(x))
    assert r2.name == "vol" and r2.dims == 3
    s = torch.tensor([[1, 2, 3], [-1, 0, 2]])
    assert torch.equal(r2.estimate(shift(x, s)), signed(r2.peaks(x).position + s, (6, 6, 6)))


def test_bad_checkpoints(tmp_path):
    good = tmp_path / "good.pt"
    save_restorer(load_restorer("mnist"), good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable"):
        load_restorer(truncated)

    ckpt = torch.load(good, weights_only=True)
    ckpt["network"]["hidden"] = 4  # declares another architecture: a learned branch
    other = tmp_path / "other.pt"
    torch.save(ckpt, other)
    with pytest.raises(CheckpointError, match="different architecture"):
        load_restorer(other)

    wrong_kind = tmp_path / "kind.pt"
    torch.save({"format": "equirestore.classifier"}, wrong_kind)
    with pytest.raises(CheckpointError, match=r"not a 'equirestore\.translation_restorer'"):
        load_restorer(wrong_kind)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    buf = io.BytesIO()
    torch.save(
        {"format": "equirestore.translation_restorer", "x": Evil()},
        buf,
        pickle_protocol=pickle.DEFAULT_PROTOCOL,
    )
    evil.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError):
        load_restorer(evil)

    with pytest.raises(FileNotFoundError, match="neither a shipped restorer"):
        load_restorer(tmp_path / "missing.pt")


def test_estimator_must_end_in_one_channel():
    with pytest.raises(ValueError, match="one channel"):
        TranslationRestorer(CanonicalNetwork(1, [2]), (1, 8, 8))
    with pytest.raises(ValueError, match="does not match"):
        TranslationRestorer(CanonicalNetwork(1, [1]), (3, 8, 8))
