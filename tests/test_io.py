import os
import signal
import subprocess
import sys
import textwrap

from equirestore.io import atomic_path, remove_stale_temporaries


def test_a_write_killed_midway_leaves_a_hidden_temporary_that_the_next_run_removes(tmp_path):
    target = tmp_path / "c.pt.state"
    script = textwrap.dedent(
        f"""
        import os, signal
        from equirestore.io import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir()]
    assert not target.exists() and len(left) == 1 and left[0].startswith(".c.pt.state.")
    assert [p.name for p in remove_stale_temporaries(target)] == left
    assert not any(tmp_path.iterdir())


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    try:
        with atomic_path(target) as tmp:
            tmp.write_text("new, half")
            raise RuntimeError("disk full")
    except RuntimeError:
        pass
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["r.json"]
