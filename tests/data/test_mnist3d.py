import numpy as np
import torch

from equirestore.data.mnist3d import make_mnist3d
from equirestore.restore.training import centres_of_mass
from equirestore.theory import check_aperiodic


def _digits(n: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    d = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    for i in range(n):
        r, c = torch.randint(6, 16, (2,), generator=g).tolist()
        d[i, 0, r : r + 8 + i, c : c + 3] = 200  # a stroke of a different length each
        d[i, 0, r : r + 3, c : c + 6 + i] = 120
    return d


def test_generation_is_deterministic_centred_and_padded():
    a = make_mnist3d(_digits(), seed=0)
    b = make_mnist3d(_digits(), seed=0)
    assert a.shape == (6, 1, 32, 32, 32) and a.dtype == torch.uint8
    assert torch.equal(a, b)
    assert not torch.equal(a, make_mnist3d(_digits(), seed=1))
    assert (torch.round(centres_of_mass(a.float())) == 16).all()
    assert a.flatten(1).amax(1).eq(255).all()  # normalised by the largest count
    assert check_aperiodic(a).aperiodic


def test_make_mnist3d_command(tmp_path):
    from equirestore.cli import main
    from tests.conftest import real_dataset

    real_dataset("mnist", "test")
    out = tmp_path / "m3d.npz"
    assert main(["make-mnist3d", "--out", str(out)]) == 0
    with np.load(out) as z:
        assert z["train_volumes"].shape == (10000, 1, 32, 32, 32)
        assert z["test_volumes"].shape == (2000, 1, 32, 32, 32)
        assert z["test_labels"].shape == (2000,)
