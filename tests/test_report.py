import subprocess
import time
from pathlib import Path

import pytest

from equirestore import report
from equirestore.report import source_revision


def _git(path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, cwd=path, capture_output=True, text=True, check=True).stdout


def test_source_revision_names_the_commit_and_says_when_tracked_files_changed(
    tmp_path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert source_revision(tmp_path) is None  # not a checkout
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "--short", "HEAD").strip()
    assert source_revision(tmp_path) == head
    (tmp_path / "untracked.txt").write_text("not part of the source\n")
    assert source_revision(tmp_path) == head
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.md").write_text("one\n")
    _git(tmp_path, "add", "results/r.md")
    _git(tmp_path, "commit", "-q", "-m", "a report")
    head = _git(tmp_path, "rev-parse", "--short", "HEAD").strip()
    (tmp_path / "results" / "r.md").write_text("re-run\n")  # an output, not source
    assert source_revision(tmp_path) == head
    assert source_revision(tmp_path / "results") == head  # from inside it too
    (tmp_path / "a.txt").write_text("two\n")
    assert source_revision(tmp_path) == f"{head} + changes"


def test_write_report_records_the_commit_and_provenance_names_it(tmp_path):
    res = {"command": "python -m paper.example"}
    report.write_report(
        str(tmp_path / "r"), res, lambda r: report.provenance(r, 3), time.perf_counter()
    )
    revision = source_revision(Path(report.__file__).parent)
    assert res["revision"] == revision
    text = (tmp_path / "r.md").read_text()
    assert text.startswith("Command: `python -m paper.example`; seed 3; wall time ")
    assert text.rstrip().endswith(f"; commit {revision}." if revision else f"; {res['date']}.")
    assert (tmp_path / "r.json").exists()
