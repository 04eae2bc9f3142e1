"""Progress of a long threshold run: the engine's hook and the terminal reporter."""

from __future__ import annotations

import io
import subprocess
import sys

import nlpt
from nlpt.progress import Reporter


def test_engine_calls_the_hook_once_per_branch_point():
    X, y = nlpt.default_data(n=60, d=2, seed=0)
    calls = []
    res = nlpt.analyze(nlpt.Model(X, y, 3, alpha=1e-4), progress=calls.append)
    assert len(calls) == res.to_dict()["branch_points"]
    assert [c["points"] for c in calls] == list(range(1, len(calls) + 1))
    assert all(c["stage"] == "continuation" for c in calls)
    assert [c["lam"] for c in calls] == [float(x) for x in res.threshold.branch.lams]
    solves = [c["eigensolves"] for c in calls]
    assert solves == sorted(solves) and all(s >= p for s, p in zip(solves, range(1, len(calls) + 1)))


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_reporter_writes_only_to_a_terminal():
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        r = Reporter("nlpt threshold", stream=stream, interval=0.0)
        r.continuation({"stage": "continuation", "lam": 0.25, "points": 7, "eigensolves": 9})
        r.close()
    assert "lam 0.25, 7 points, 9 eigen-solves" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[K")  # the line is erased at the end
    assert pipe.getvalue() == ""
    quiet = _Tty()
    Reporter("x", stream=quiet, enabled=False).update("text", force=True)
    assert quiet.getvalue() == ""


def test_threshold_is_silent_when_stderr_is_not_a_terminal():
    out = subprocess.run([sys.executable, "-m", "nlpt", "threshold", "--m", "3", "--n", "60", "--d", "2"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr == ""


def test_threshold_reports_progress_on_a_terminal_unless_quiet():
    import os
    import pty

    def run(*extra):
        master, slave = pty.openpty()
        try:
            p = subprocess.run([sys.executable, "-m", "nlpt", "threshold", "--m", "3", "--n", "60", "--d", "2", *extra],
                               stdout=subprocess.PIPE, stderr=slave, timeout=120)
        finally:
            os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        return p.returncode, b"".join(chunks).decode()

    code, err = run()
    assert code == 0 and "nlpt threshold: continuation: lam 0, 1 points" in err and "eigen-solves" in err
    code, err = run("--quiet")
    assert code == 0 and err == ""
