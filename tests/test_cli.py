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


def test_threshold_json_has_the_documented_keys(capsys):
    """`nlpt threshold --json` agrees with the library's analysis of the same case."""
    from nlpt.analysis import analyze

    code, out, _ = run(capsys, "threshold", "--m", "3", "--alpha", "1e-5", "--json")
    assert code == 0
    obj = json.loads(out)
    for key in ("softening_rate", "lam_star_pred", "lam_star_measured", "multiplicity",
                "morse_before", "morse_after", "normal_form", "eta", "status", "message"):
        assert key in obj
    X, y = nlpt.default_data(n=200, d=3, seed=0)
    ref = analyze(nlpt.Model(X, y, 3, alpha=1e-5)).to_dict()
    assert obj["softening_rate"] == pytest.approx(ref["softening_rate"], rel=1e-12)
    assert obj["lam_star_pred"] == pytest.approx(1e-5 / abs(ref["softening_rate"]), rel=1e-12)
    assert obj["status"] == ref["status"]


def test_threshold_reports_no_crossing_plainly(capsys):
    code, out, _ = run(capsys, "threshold", "--m", "20", "--alpha", "1e-3", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["lam_star_measured"] is None
    assert obj["status"] in ("no softening", "no crossing in [0, lam_max]")
    assert obj["message"]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["threshold", "--lam-max", "1.5"], "lam_max: expected"),
        (["reproduce", "--m", "3", "--jobs", "0"], "jobs: expected"),
        (["reproduce", "--m", "3", "--alphas", "-1"], "alphas: expected"),
    ],
)
def test_bad_engine_input(capsys, argv, fragment):
    code, _, err = run(capsys, *argv)
    assert code == 2 and fragment in err and "Traceback" not in err


def test_reproduce_writes_its_files(tmp_path, capsys):
    out = tmp_path / "o"
    code, text, _ = run(capsys, "reproduce", "--m", "3", "5", "--alphas", "1e-5", "--out", str(out), "--quiet")
    assert code == 0
    for name in ("results.json", "results.csv", "table.txt", "table.md"):
        assert (out / name).is_file()
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["m"] for r in rows] == [3, 5]
    assert (out / "table.txt").read_text().strip() in text
    from nlpt.plots import have_matplotlib

    if have_matplotlib():
        assert (out / "threshold_vs_width.png").read_bytes()[:4] == b"\x89PNG"


def test_threshold_json_without_tensors(capsys):
    """--no-tensors drops only the reduced tensors; the scalars are those of the full output."""
    code, full, _ = run(capsys, "threshold", "--m", "4", "--alpha", "1e-5", "--json")
    code2, slim, _ = run(capsys, "threshold", "--m", "4", "--alpha", "1e-5", "--json", "--no-tensors")
    assert code == code2 == 0
    full, slim = json.loads(full), json.loads(slim)
    assert "quadratic_tensor" in full["normal_form"]
    k = full["normal_form"]["multiplicity"]
    assert np.shape(full["normal_form"]["quadratic_tensor"]) == (k, k, k)
    assert "quadratic_tensor" not in slim["normal_form"] and "cubic_tensor" not in slim["normal_form"]
    assert slim["normal_form"]["g_xx"] == full["normal_form"]["g_xx"]
    assert slim["lam_star_measured"] == full["lam_star_measured"]
