import pytest

from paper import blurpool, compare
from tests.conftest import real_dataset


@pytest.fixture
def tiny_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real MNIST digits, 400 train / 200 test, and one-epoch recipes."""
    data = {
        "train": [t[:400] for t in real_dataset("mnist", "train")],
        "test": [t[:200] for t in real_dataset("mnist", "test")],
    }
    for module in (compare, blurpool):
        monkeypatch.setattr(module, "load_dataset", lambda name, split: tuple(data[split]))
    recipes = {k: {**v, "epochs": 1} for k, v in compare.CLASSIFIER_RECIPES["mnist"].items()}
    monkeypatch.setitem(compare.CLASSIFIER_RECIPES, "mnist", recipes)
