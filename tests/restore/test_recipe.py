import pytest
import torch

from equirestore.groups.translation import shift
from equirestore.restore import recipe
from equirestore.restore.evaluation import restore_rates
from equirestore.restore.recipe import fit_restorer, inspect_images, settings_with
from tests.restore.helpers import bbox_blobs, centred_blobs


def test_inspection_names_what_cannot_be_restored():
    x = centred_blobs(6, size=12)
    stripes = torch.zeros(1, 1, 12, 12)
    stripes[..., ::2] = 1.0  # periodic: equal to its shift by 2 columns
    data = torch.cat(
        [x, torch.zeros(1, 1, 12, 12), stripes, x[2:3], shift(x[3:4], torch.tensor([1, 2]))]
    )
    rep = inspect_images(data)
    assert rep.blank == [6] and rep.periodic == [7]
    assert rep.duplicates == [(2, 8)]
    assert [(i, j) for i, j, _ in rep.translates] == [(3, 9)]
    assert rep.translates[0][2] == [1, 2]
    assert rep.attainable == pytest.approx(1 - 3 / 10)  # blank, periodic, one of the copies
    assert any("translated copies" in line for line in rep.summary())
    assert inspect_images(x).summary() == []


def test_centre_of_mass_data_choose_the_closed_form_estimator():
    x = centred_blobs(200, size=16)
    _, record = fit_restorer(x, "blobs", progress=False)
    assert record["chosen"] == "moment" and len(record["candidates"]) == 1
    assert record["train_rates"]["exact"] == 1.0 and record["holdout_rates"]["n"] == 20


def test_the_linear_candidate_starts_from_zero_and_the_features_from_the_better_one():
    x = bbox_blobs(100, seed=4)
    settings = settings_with(epochs=0, candidates=("moment", "linear", "features"), target=1.0)
    _, record = fit_restorer(x, "boxes", settings, progress=False)
    moment, linear, features = record["candidates"]
    assert moment["fit"]["exact"] > 0  # the centre-of-mass filter restores some boxes
    assert linear["fit"]["ties"] == 1.0  # untrained from zero: all scores tie
    assert features["fit"] == moment["fit"]  # untrained, warm-started from the moment


def test_bounding_box_data_need_the_features_and_get_them():
    x, held = bbox_blobs(300, seed=0), bbox_blobs(200, seed=1)
    settings = settings_with(epochs=40, candidates=("linear", "features"))
    restorer, record = fit_restorer(x, "boxes", settings, progress=False)
    linear, chosen = record["candidates"][0], record["candidates"][-1]
    assert record["chosen"] == "features"
    assert chosen["fit"]["exact"] >= 0.99 > linear["fit"]["exact"]
    # unseen blobs (0.94-0.95 measured, depending on the thread count)
    assert restore_rates(restorer.estimator, held).exact >= 0.9


@pytest.mark.parametrize("changes", [{}, {"mining": 4}, {"objective": "hinge"}])
def test_training_is_deterministic_and_resumes_bitwise(tmp_path, monkeypatch, changes):
    x = bbox_blobs(120, seed=2)
    settings = settings_with(epochs=6, candidates=("linear", "features"), target=1.0, **changes)
    a, _ = fit_restorer(x, "a", settings, progress=False)
    b, _ = fit_restorer(x, "b", settings, progress=False)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k

    real_save, calls = recipe._save_run, {"n": 0}

    def crash_after_a_few_saves(path, run):
        real_save(path, run)
        calls["n"] += 1
        if calls["n"] == 4:  # the linear candidate done, features two epochs in
            raise KeyboardInterrupt

    state = tmp_path / "r.pt.state"
    monkeypatch.setattr(recipe, "_save_run", crash_after_a_few_saves)
    with pytest.raises(KeyboardInterrupt):
        fit_restorer(x, "c", settings, progress=False, state_path=state)
    assert state.exists()
    monkeypatch.setattr(recipe, "_save_run", real_save)
    c, _ = fit_restorer(x, "c", settings, progress=False, state_path=state)
    assert not state.exists()
    for (k, va), vc in zip(a.state_dict().items(), c.state_dict().values(), strict=True):
        assert torch.equal(va, vc), k


def test_mining_and_the_hinge_change_the_training():
    # each is a different run from the default one, not a flag that is ignored
    x = bbox_blobs(120, seed=2)
    weights = []
    for changes in ({}, {"mining": 4}, {"objective": "hinge"}):
        settings = settings_with(epochs=6, candidates=("linear",), target=1.0, **changes)
        restorer, _ = fit_restorer(x, "m", settings, progress=False)
        weights.append(restorer.estimator.map_kernel.detach().clone())
    assert not torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2])


def test_a_state_of_other_settings_is_refused(tmp_path, monkeypatch):
    x = bbox_blobs(60, seed=3)
    state = tmp_path / "s.state"

    def stop(path, run):
        recipe.save_checkpoint(
            {"format": recipe.STATE_FORMAT, **recipe.asdict(run)}
            | {"settings": {**run.settings, "candidates": list(run.settings["candidates"])}},
            path,
        )
        raise KeyboardInterrupt

    monkeypatch.setattr(recipe, "_save_run", stop)
    with pytest.raises(KeyboardInterrupt):
        fit_restorer(x, "s", settings_with(epochs=3, candidates=("linear",)), False, state)
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"other settings \['epochs'\].*--restart"):
        fit_restorer(x, "s", settings_with(epochs=4, candidates=("linear",)), False, state)
    with pytest.raises(ValueError, match="other images"):
        fit_restorer(x[1:], "s", settings_with(epochs=3, candidates=("linear",)), False, state)


def test_bad_settings_and_data():
    with pytest.raises(ValueError, match="candidates"):
        settings_with(candidates=("magic",))
    with pytest.raises(ValueError, match="holdout"):
        settings_with(holdout=1.5)
    with pytest.raises(ValueError, match="mining must be >= 0"):
        settings_with(mining=-1)
    with pytest.raises(ValueError, match="objective one of"):
        settings_with(objective="magic")
    with pytest.raises(ValueError, match="too small"):
        fit_restorer(torch.rand(5, 1, 1, 8))
    with pytest.raises(ValueError, match="at least 2 images"):
        fit_restorer(torch.rand(1, 1, 8, 8))
