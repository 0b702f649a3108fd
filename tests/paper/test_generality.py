import copy
import json
from pathlib import Path

from paper import generality

REPORT = Path(__file__).parents[2] / "results" / "generality.json"


def test_the_report_says_where_each_row_was_measured():
    res = json.loads(REPORT.read_text())
    rows = copy.deepcopy(res["rows"][:2])
    rows[0]["measured"] = {
        "revision": "abc1234",
        "date": "2026-01-02",
        "seconds": 61.4,
        "torch_threads": 2,
    }
    rows[1].pop("measured", None)
    text = generality.markdown({**res, "rows": rows})
    assert f"- {rows[0]['label']}: abc1234, 2026-01-02, 61 s wall, 2 torch threads" in text
    assert f"- {rows[1]['label']}: before rows recorded where" in text
    assert text.count("**") // 2 == 2  # one bold strict-test rate per row
