from paper.moment_centre import markdown, measure
from tests.restore.helpers import blobs_between_pixels, centred_blobs


def test_the_clustered_centre_restores_what_the_rounded_one_splits():
    row = measure("between", blobs_between_pixels(200), blobs_between_pixels(100, seed=1))
    assert row["rounded"]["train"] < 0.5 and row["rounded"]["test"] < 0.5
    assert row["clustered"]["train"] == 1.0 and row["clustered"]["test"] == 1.0
    assert all(abs(c - 7.5) < 0.1 for c in row["clustered"]["centre"])


def test_on_a_rounded_dataset_both_centres_are_the_pixel():
    row = measure("pixel", centred_blobs(200, size=16), centred_blobs(100, size=16, seed=1))
    assert row["rounded"] == row["clustered"]
    assert row["clustered"]["test"] == 1.0
    res = {
        "rows": [row],
        "missing": [("folder", "artifacts/x")],
        "command": "python -m paper.moment_centre",
        "hardware": {"cores": 2, "cpu": "cpu", "torch": "2"},
        "date": "2026-11-24",
        "seconds": 1.0,
    }
    text = markdown(res)
    assert "| pixel | (8.0, 8.0) | 100.00% | 100.00% |" in text and "artifacts/x" in text
