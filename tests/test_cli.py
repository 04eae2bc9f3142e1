"""The command line: output agrees with the library, bad input is one line and exit status 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

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


# -- hygiene: every bad input is one line, exit 2, before anything is computed or written -----

def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["threshold", "--alpha", "-1e-3"], "alpha: expected a finite real number"),
        (["spectrum", "--alpha", "-inf"], "alpha: expected a finite real number"),
        (["reproduce", "--alphas", "-1e-5", "1e-4"], "alphas: expected a finite real number > 0.0, got -1e-05"),
        (["reproduce", "--alpha", "1e-4", "--alphas", "1e-5"], "alpha: --alpha and --alphas conflict"),
        (["reproduce", "--activation", "sin", "--activations", "tanh"], "activation: --activation and --activations conflict"),
        (["reproduce", "--seed", "1", "--seeds", "2", "3"], "seed: --seed and --seeds conflict"),
        (["reproduce", "--a", "random", "--a-kinds", "uniform"], "a: --a and --a-kinds conflict"),
        (["reproduce", "--m", "3", "3"], "widths: expected distinct values, got 3 more than once"),
        (["reproduce", "--m", "3", "--alphas", "nan"], "alphas: expected a finite real number"),
        (["reproduce", "--m", "3", "--jobs", "0"], "jobs: expected an integer >= 1, got 0"),
        (["reproduce", "--m", "3", "--out", ""], "out: expected a folder path, got an empty string"),
        (["reproduce", "--m", "3", "--out", "/sys/kernel"], "out: expected a writable folder, got '/sys/kernel'"),
        (["reproduce", "--m", "3", "--executor", "local", "--scheduler", "tcp://x:1"], "scheduler: --scheduler names"),
        (["reproduce", "--m", "3", "--scheduler", "tcp://x:1", "--jobs", "2"], "jobs: --jobs sets local processes"),
        (["threshold", "--data", "x.npz", "--n", "50"], "n: --n describe the default data and conflict with --data"),
        (["threshold", "--plot", "out.pdf"], "plot: expected a file name ending in .png"),
    ],
)
def test_bad_input_is_one_clean_line(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert fragment in _one_line(err)
    assert list(tmp_path.iterdir()) == []  # no output folder, no plot file


def test_unwritable_out_fails_before_computing(capsys, monkeypatch, tmp_path):
    """An output folder that cannot be written exits 2 before any case is analysed."""
    import nlpt.sweep as sw

    monkeypatch.setattr(sw, "run_case", lambda *a: pytest.fail("computed before checking --out"))
    (tmp_path / "file").write_text("x")
    for out in ("/sys/kernel", str(tmp_path / "file"), str(tmp_path / "file" / "below")):
        code, _, err = run(capsys, "reproduce", "--no-lambda", "--m", "3", "--alphas", "1e-5", "--out", out)
        assert code == 2 and _one_line(err).startswith("nlpt reproduce: error: out: expected")
    if os.geteuid() != 0:  # root writes through permission bits
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        code, _, err = run(capsys, "reproduce", "--no-lambda", "--m", "3", "--alphas", "1e-5", "--out", str(ro / "o"))
        assert code == 2 and "writable" in err


def test_argparse_errors_are_one_line_with_a_hint():
    exe = [sys.executable, "-m", "nlpt"]
    for argv, fragment in ((["threshold", "--m", "x"], "argument --m: invalid int value: 'x'"),
                           (["threshold", "--alpha"], "argument --alpha: expected one argument"),
                           (["reproduce", "--bogus"], "unrecognized arguments: --bogus")):
        p = subprocess.run(exe + argv, capture_output=True, text=True, timeout=120)
        assert p.returncode == 2
        line = _one_line(p.stderr)
        assert fragment in line and "--help" in line


def test_data_conflicts_and_file_problems(capsys, tmp_path):
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("x1,x2,y\n")
    np.savetxt(tmp_path / "real.csv", np.ones((5, 3)), delimiter=",")
    (tmp_path / "fake.npz").write_bytes((tmp_path / "real.csv").read_bytes())
    np.savez(tmp_path / "cplx.npz", X=np.ones((5, 2)) * (1 + 1j), y=np.ones(5))
    np.savetxt(tmp_path / "a3.txt", [1.0, 2.0, 3.0])
    cases = [
        (["--data", str(tmp_path / "dir.csv")], "(a directory)"),
        (["--data", str(tmp_path / "empty.csv")], "the empty file"),
        (["--data", str(tmp_path / "header.csv")], "at least one row of data"),
        (["--data", str(tmp_path / "fake.npz")], "which is not one (it looks like text"),
        (["--data", str(tmp_path / "cplx.npz")], "X: expected real numbers, got complex values"),
        (["--m", "4", "--a", str(tmp_path / "a3.txt")], "got 3 weights"),
        (["--data", str(tmp_path / "real.csv"), "--d", "3"], "d: --d describe the default data"),
    ]
    for extra, fragment in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no numpy warning may leak
            code, _, err = run(capsys, "spectrum", *extra)
        assert code == 2
        line = _one_line(err)
        assert fragment in line, line
        assert "np.float64" not in line and "allow_pickle" not in line
    code, _, err = run(capsys, "spectrum", "--m", "4", "--a", str(tmp_path / "a3.txt"))
    assert "it fits m = 3" in err


def test_nan_in_data_is_a_plain_number(capsys, tmp_path):
    (tmp_path / "nan.csv").write_text("1,2\nnan,3\n")
    code, _, err = run(capsys, "spectrum", "--data", str(tmp_path / "nan.csv"))
    assert code == 2 and "got nan at index (1, 0)" in err and "np.float64" not in err


def test_alpha_labels_in_the_table_tell_close_alphas_apart(capsys, tmp_path):
    code, out, _ = run(capsys, "reproduce", "--no-lambda", "--m", "3", "--alphas", "1.5e-5", "2.5e-5", "2e-5", "--n", "60", "--d", "2",
                       "--no-plots", "--quiet", "--out", str(tmp_path / "o"))
    assert code == 0
    labels = [line.split()[1] for line in (tmp_path / "o" / "table.txt").read_text().splitlines()[2:]]
    assert labels == ["1.5e-05", "2.5e-05", "2e-05"]


# -- provenance --------------------------------------------------------------------------------

PROVENANCE_KEYS = {"versions", "platform", "command_line", "timestamp_utc"}


def _check_provenance(obj, argv):
    import datetime
    import shlex

    import scipy

    p = obj["provenance"]
    assert set(p) == PROVENANCE_KEYS
    assert p["versions"] == {"nlpt": nlpt.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
                             "python": ".".join(map(str, sys.version_info[:3]))}
    assert shlex.split(p["command_line"]) == ["nlpt", *argv]
    t = datetime.datetime.strptime(p["timestamp_utc"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) < 600


def test_every_json_carries_config_and_provenance(capsys, tmp_path):
    import hashlib

    X, y = nlpt.default_data(n=40, d=2, seed=3)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    digest = hashlib.sha256((tmp_path / "d.npz").read_bytes()).hexdigest()
    argv = ["spectrum", "--m", "3", "--data", str(tmp_path / "d.npz"), "--json"]
    code, out, _ = run(capsys, *argv)
    obj = json.loads(out)
    _check_provenance(obj, argv)
    assert obj["config"]["data"]["source"] == "file" and obj["config"]["data"]["file_sha256"] == digest
    assert obj["config"]["data"]["path"] == str((tmp_path / "d.npz").resolve())

    argv = ["threshold", "--m", "3", "--n", "60", "--d", "2", "--seed", "5", "--a", "random", "--json"]
    code, out, _ = run(capsys, *argv)
    obj = json.loads(out)
    _check_provenance(obj, argv)
    cfg = obj["config"]
    assert cfg["data"] == {**cfg["data"], "source": "default", "seed": 5, "n": 60, "d": 2, "path": None}
    assert cfg["a"]["kind"] == "random" and cfg["a"]["values"] == list(nlpt.make_a("random", 3, seed=5))
    assert cfg["activation"] == "tanh" and cfg["alpha"] == 1e-3 and cfg["lam_max"] == 1.0
    assert cfg["tolerances"]["tol"] == 1e-10 and cfg["engine"] == obj.get("engine", "full")
    assert len(obj["branch"]["lams"]) == obj["branch_points"]

    argv = ["reproduce", "--no-lambda", "--m", "3", "--alphas", "1e-4", "--n", "60", "--d", "2", "--no-plots", "--quiet",
            "--out", str(tmp_path / "o")]
    assert run(capsys, *argv)[0] == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    _check_provenance(res, argv)
    for line in (tmp_path / "o" / "cases.jsonl").read_text().splitlines():
        _check_provenance(json.loads(line), argv)
    _check_provenance(json.loads((tmp_path / "o" / "manifest.json").read_text()), argv)


# -- the output folder -------------------------------------------------------------------------

def test_a_new_run_replaces_the_previous_one(capsys, tmp_path):
    """Plots of an earlier run that this run does not write do not survive beside its results, and
    the manifest lists exactly the files of the folder (with their sizes and hashes)."""
    import hashlib

    out = tmp_path / "o"
    base = ["reproduce", "--no-lambda", "--m", "3", "--n", "60", "--d", "2", "--quiet", "--out", str(out)]
    assert run(capsys, *base, "--alphas", "1e-4", "2e-4")[0] == 0
    (out / "mine.txt").write_text("a file of the user")
    assert run(capsys, *base, "--alphas", "1e-4", "--no-plots")[0] == 0
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.endswith(".png")]
    man = json.loads((out / "manifest.json").read_text())
    listed = sorted(f["name"] for f in man["files"])
    assert sorted(set(names) - {"manifest.json", "mine.txt"}) == listed
    for f in man["files"]:
        data = (out / f["name"]).read_bytes()
        assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert (out / "mine.txt").read_text() == "a file of the user"
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["alpha"] for r in rows] == [1e-4]


def test_plot_redraws_without_computing(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    out = tmp_path / "o"
    assert run(capsys, "reproduce", "--no-lambda", "--m", "3", "4", "--alphas", "1e-4", "--n", "60", "--d", "2", "--quiet",
               "--out", str(out))[0] == 0
    drawn = sorted(p.name for p in out.glob("*.png"))
    for p in out.glob("*.png"):
        p.unlink()
    import nlpt.analysis
    import nlpt.sweep

    monkeypatch.setattr(nlpt.analysis, "analyze", lambda *a, **k: pytest.fail("recomputed"))
    monkeypatch.setattr(nlpt.sweep, "run_case", lambda *a, **k: pytest.fail("recomputed"))
    code, text, _ = run(capsys, "plot", str(out))
    assert code == 0
    assert sorted(p.name for p in out.glob("*.png")) == drawn
    code, text, _ = run(capsys, "plot", str(out / "cases.jsonl"), "--out", str(tmp_path / "again"))
    assert code == 0 and sorted(p.name for p in (tmp_path / "again").glob("*.png")) == drawn


def test_threshold_plot_and_its_redraw(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "case.png"
    code, out, _ = run(capsys, "threshold", "--m", "3", "--n", "60", "--d", "2", "--alpha", "1e-4",
                       "--plot", str(png), "--json")
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "t.json").write_text(out)
    code, text, _ = run(capsys, "plot", str(tmp_path / "t.json"))
    assert code == 0 and (tmp_path / "branch_m3_alpha1e-04.png").read_bytes()[:4] == b"\x89PNG"


def test_grid_over_seeds_prints_a_summary(capsys, tmp_path):
    code, out, _ = run(capsys, "reproduce", "--no-lambda", "--m", "3", "--alphas", "1e-3", "--seeds", "0", "1", "--n", "60",
                       "--d", "2", "--no-plots", "--quiet", "--out", str(tmp_path / "o"))
    assert code == 0 and "summary across seeds" in out
    with (tmp_path / "o" / "summary.csv").open() as f:
        (row,) = list(__import__("csv").DictReader(f))
    assert row["n_seeds"] == "2"
