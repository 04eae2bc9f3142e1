"""The command line: output agrees with the library, bad input is one line and exit status 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import nlpt
from nlpt.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_spectrum_json_reports_proven_values(capsys):
    code, out, _ = run(capsys, "spectrum", "--m", "4", "--d", "3", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["kernel_dim"] == 9 == obj["kernel_dim_theory"] == (4 - 1) * 3
    assert obj["lambda_min"] == pytest.approx(obj["alpha"], rel=1e-9)
    assert obj["alpha"] == 1e-3


def test_spectrum_text_mentions_both_sides(capsys):
    code, out, _ = run(capsys, "spectrum", "--m", "5", "--d", "2", "--alpha", "0.01")
    assert code == 0
    assert "kernel dimension" in out and "8" in out
    assert "alpha = 1.000000e-02" in out


def test_spectrum_reads_data_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    y = rng.standard_normal(30)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    code, out, _ = run(capsys, "spectrum", "--m", "3", "--data", str(tmp_path / "d.npz"), "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["d"] == 2 and obj["n"] == 30 and obj["kernel_dim"] == 4


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["spectrum", "--m", "0"], "m: expected an integer >= 1, got 0"),
        (["spectrum", "--d", "0"], "d: expected an integer >= 1"),
        (["spectrum", "--alpha", "-1"], "alpha: expected"),
        (["spectrum", "--alpha", "nan"], "alpha: expected"),
        (["spectrum", "--data", "/no/such/file.npz"], "data: expected a readable"),
        (["spectrum", "--a", "/no/such/weights.txt"], "a: expected"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_unknown_activation_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["spectrum", "--activation", "relu"])
    assert exc.value.code == 2
    assert "relu" in capsys.readouterr().err


def test_console_script_installed():
    """The installed ``nlpt`` entry point runs and fails cleanly on bad input."""
    exe = shutil.which("nlpt")
    cmd = [exe] if exe else [sys.executable, "-m", "nlpt.cli"]
    ok = subprocess.run(cmd + ["spectrum", "--m", "3", "--d", "2", "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["kernel_dim"] == 4
    bad = subprocess.run(cmd + ["spectrum", "--m", "-2"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and "m: expected" in bad.stderr
