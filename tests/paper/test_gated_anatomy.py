import torch

from equirestore.groups.translation import shift
from equirestore.nn.box import BoxEstimator
from equirestore.nn.features import FeatureEstimator
from equirestore.nn.gated import GatedEstimator
from paper import gated_anatomy


def test_anatomy_splits_the_failures_by_the_gate_and_counts_agreeing_estimators():
    torch.manual_seed(0)
    x = torch.zeros(4, 1, 12, 12, dtype=torch.float64)
    x[:, 0, 2:10, 4:8] = torch.rand(4, 8, 4, dtype=torch.float64) + 0.1  # spans 8 rows
    x[2:, 0, 2] = 0  # a row short: the gate is off for the last two
    x[1] = shift(x[1:2], torch.tensor([[0, 1]]))[0]  # not at the box's canonical place
    box = BoxEstimator((1, 12, 12), 0.0, (5.5, 5.5))
    est = GatedEstimator(box, FeatureEstimator((1, 12, 12)), (8, 5))  # no image 5 wide
    res = gated_anatomy.anatomy(est, x)
    assert res["n"] == 4 and res["gate_on"] == 0.5
    shipped = res["weights"][f"{gated_anatomy.TIE_WEIGHT:g}"]
    assert shipped["fail_gate_on"] == 1  # the moved image; the box alone fails on it too
    assert shipped["fail_gate_on"] + shipped["fail_gate_off"] == round(4 * (1 - shipped["strict"]))
    assert len(res["weights"]) == len(gated_anatomy.WEIGHTS)


def test_box_edges_follow_the_longest_empty_run_and_move_with_a_shift():
    occ = torch.tensor([[1.0, 1, 0, 0, 0, 1, 1, 1], [1, 0, 0, 1, 0, 0, 1, 1]])
    for s in range(8):
        first, last, unique = gated_anatomy.box_edges(occ.roll(s, 1))
        assert unique.tolist() == [True, False]  # the second has two longest runs
        assert (first[0].item(), last[0].item()) == ((5 + s) % 8, (1 + s) % 8)


def test_putting_the_lost_slice_back_beside_the_right_edge_restores_it():
    torch.manual_seed(0)
    x = torch.zeros(4, 1, 12, 12, dtype=torch.float64)
    x[:, 0, 2:10, 4:8] = torch.rand(4, 8, 4, dtype=torch.float64) * 0.5 + 0.1
    x[2:, 0, 2] = 0  # the top row lost: rows 3..9, one short of the 8-row frame
    x[2:, 0, 3] = 0.05  # the edge beside the lost row is the lighter one
    x[2:, 0, 9] = 0.9
    box = BoxEstimator((1, 12, 12), 0.0, (5.5, 5.5))
    est = GatedEstimator(box, FeatureEstimator((1, 12, 12)), (8, 5))  # constant: ties
    res = gated_anatomy.put_back(est, x)
    assert res["n"] == 4 and res["mended"] == 2
    rows = res["rows"]
    assert rows["shipped (the other estimator)"]["strict_mended"] == 0
    assert rows["beside the lighter edge"]["strict_mended"] == 2
    assert rows["beside the heavier edge"]["strict_mended"] == 0
    assert rows["beside the lighter edge"]["strict"] == 1.0
