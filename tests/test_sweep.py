"""The sweep: its plan (grid, validation), its records, rows, summary, outputs and plots."""

from __future__ import annotations

import csv
import io
import json
import statistics

import numpy as np
import pytest

import nlpt
from nlpt.analysis import analyze
from nlpt.report import alpha_label, csv_text, format_table, jsonable, write_csv, write_json
from nlpt.sweep import (DefaultData, ROW_KEYS, blas_limit, plan_sweep, run_sweep, width_sweep)

WIDTHS = (3, 5)
ALPHAS = (1e-5, 1e-4)


@pytest.fixture(scope="module")
def data():
    return nlpt.default_data(n=200, d=3, seed=0)


@pytest.fixture(scope="module")
def sweep(data):
    return width_sweep(*data, WIDTHS, ALPHAS)


def test_rows_agree_with_independent_analyses(data, sweep):
    """Each row is the analysis of its own (m, alpha) case, in (alpha, m) order, computed under the
    same BLAS policy (one thread in the dense regime), so the numbers are the same bits."""
    assert [(r["alpha"], r["m"]) for r in sweep.rows()] == [(al, m) for al in ALPHAS for m in WIDTHS]
    X, y = data
    for row in sweep.rows():
        with blas_limit(1):
            ref = analyze(nlpt.Model(X, y, row["m"], alpha=row["alpha"])).to_dict()
        assert row["softening_rate"] == ref["softening_rate"]
        assert row["m_times_rate"] == pytest.approx(row["m"] * ref["softening_rate"], rel=1e-15)
        assert row["lam_star_pred"] == ref["lam_star_pred"]
        assert row["lam_star_measured"] == ref["lam_star_measured"]
        assert row["status"] == ref["status"]
        assert row["multiplicity"] == ref["multiplicity"]


def test_prediction_is_alpha_over_rate(sweep):
    """lam*_pred = alpha / |lambda_1'(0)| in every softening row (SPEC 4)."""
    for row in sweep.rows():
        if row["softening_rate"] < 0:
            assert row["lam_star_pred"] == pytest.approx(row["alpha"] / abs(row["softening_rate"]), rel=1e-12)
        else:
            assert row["lam_star_pred"] is None


def test_parallel_sweep_gives_the_same_rows(data, sweep):
    """Reproducible: two worker processes give the rows of one process, in the same order."""
    par = width_sweep(*data, WIDTHS, ALPHAS, jobs=2)
    assert par.rows() == sweep.rows()


def test_records_carry_branch_curves_and_provenance(sweep):
    for case in sweep.cases:
        rec = case.record
        b = rec["branch"]
        n = rec["result"]["branch_points"]
        assert len(b["lams"]) == len(b["morse"]) == len(b["lowest_eigenvalues"]) == len(b["s"]) == n
        assert b["lams"][0] == 0.0
        assert np.all(np.diff(b["s"]) > 0)  # arclength order
        assert rec["config"]["m"] == case.m and rec["config"]["engine"] == rec["result"].get("engine", "full")
        assert rec["provenance"]["versions"]["numpy"] == np.__version__
        assert json.loads(json.dumps(rec)) == rec  # already plain JSON: a resumed record is the same


def test_outputs_round_trip(sweep, tmp_path):
    rows = sweep.rows()
    write_json(sweep.to_dict(), tmp_path / "r.json")
    back = json.loads((tmp_path / "r.json").read_text())
    assert back["config"]["widths"] == list(WIDTHS)
    assert back["rows"] == rows
    write_csv(rows, tmp_path / "r.csv", ROW_KEYS)
    with (tmp_path / "r.csv").open() as f:
        got = list(csv.DictReader(f))
    assert len(got) == len(rows)
    for g, r in zip(got, rows):
        assert int(g["m"]) == r["m"]
        if r["lam_star_measured"] is None:
            assert g["lam_star_measured"] == ""
        else:
            assert float(g["lam_star_measured"]) == r["lam_star_measured"]  # repr round trip
    table = format_table(rows)
    assert len(table.splitlines()) == len(rows) + 2
    md = format_table(rows, markdown=True)
    assert md.splitlines()[0].startswith("| m |")


def test_jsonable_drops_non_finite():
    assert jsonable({"a": np.float64("nan"), "b": np.arange(2), "c": np.int64(3)}) == {"a": None, "b": [0, 1], "c": 3}


@pytest.mark.parametrize("values", [(1.5e-5, 2.5e-5, 2e-5), (1e-5, 1.0000001e-5), (3e-4, 0.5)])
def test_alpha_labels_tell_values_apart(values):
    labels = [alpha_label(v) for v in values]
    assert len(set(labels)) == len(values)
    assert [float(lab) for lab in labels] == list(values)


def test_table_shows_the_grid_columns_that_vary():
    base = {k: None for k in ROW_KEYS}
    rows = [dict(base, activation="tanh", a_kind="uniform", seed=s, m=3, alpha=1e-5, status="crossing") for s in (0, 1)]
    header = format_table(rows).splitlines()[0].split()
    assert "seed" in header and "activation" not in header and "a" not in header


def test_plots_are_written(sweep, tmp_path):
    pytest.importorskip("matplotlib")
    from nlpt.plots import plot_case, plot_eigenvalues, plot_threshold_vs_width, sweep_figures

    paths = [plot_eigenvalues(sweep.cases, ALPHAS[0], tmp_path / "e.png"),
             plot_threshold_vs_width(sweep.cases, tmp_path / "t.png"),
             plot_case(sweep.cases[0].record, tmp_path / "c.png")]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    names = [n for n, _ in sweep_figures(sweep.cases)]
    assert names == ["eigenvalues_alpha1e-05.png", "eigenvalues_alpha1e-04.png", "threshold_vs_width.png"]


def test_grid_is_the_product_in_documented_order():
    plan = plan_sweep(DefaultData(40, 2), [3, 4], [1e-4], activations=["tanh", "sin"], a_kinds=["uniform", "random"],
                      seeds=[0, 1])
    coords = [(c.activation, c.a_kind, c.seed, c.alpha, c.m) for c in plan.cases]
    assert coords == [(act, k, s, 1e-4, m) for act in ("tanh", "sin") for k in ("uniform", "random")
                      for s in (0, 1) for m in (3, 4)]
    assert len({c.config_hash for c in plan.cases}) == len(plan.cases)
    # the seed draws the data: two seeds, two data sets
    assert len(plan.data) == 2
    X0, _ = plan.data[plan.cases[0].data_key]
    np.testing.assert_array_equal(X0, nlpt.default_data(n=40, d=2, seed=0)[0])


def test_config_hash_is_stable_and_sensitive():
    a = plan_sweep(DefaultData(40, 2), [3], [1e-4]).cases[0]
    b = plan_sweep(DefaultData(40, 2), [3], [1e-4]).cases[0]
    c = plan_sweep(DefaultData(40, 2), [3], [1e-4], seeds=[1]).cases[0]
    d = plan_sweep(DefaultData(40, 2), [3], [1e-4], lam_max=0.5).cases[0]
    assert a.config_hash == b.config_hash
    assert len({a.config_hash, c.config_hash, d.config_hash}) == 3


def test_summary_across_seeds():
    plan = plan_sweep(DefaultData(60, 2), [3], [1e-3], seeds=[0, 1, 2])
    res = run_sweep(plan)
    (s,) = res.summary()
    rates = [r["m_times_rate"] for r in res.rows()]
    assert s["n_seeds"] == 3
    assert s["m_times_rate_mean"] == pytest.approx(statistics.fmean(rates), rel=1e-12)
    assert s["m_times_rate_std"] == pytest.approx(statistics.stdev(rates), rel=1e-12)
    assert s["m_times_rate_min"] == min(rates) and s["m_times_rate_max"] == max(rates)
    ratios = [r["ratio"] for r in res.rows() if r["ratio"] is not None]
    assert s["n_ratio"] == len(ratios)


def test_resume_reuses_finished_records(monkeypatch):
    """Cases already done (same hash) are not run again and give the same rows."""
    import nlpt.sweep as sw

    plan = plan_sweep(DefaultData(60, 2), [3, 4], [1e-3])
    full = run_sweep(plan)
    done = {c.record["config_hash"]: json.loads(json.dumps(c.record)) for c in full.cases[:1]}
    ran = []
    real = sw.run_case
    monkeypatch.setattr(sw, "run_case", lambda task, data: ran.append(task["m"]) or real(task, data))
    again = run_sweep(plan, done=done)
    assert ran == [4]
    assert again.rows() == full.rows()
    assert [c.resumed for c in again.cases] == [True, False]


def test_failed_records_are_run_again(monkeypatch):
    import nlpt.sweep as sw

    plan = plan_sweep(DefaultData(60, 2), [3], [1e-3])
    failed = sw.failure_record(plan.cases[0], "worker died", "killed")
    ran = []
    real = sw.run_case
    monkeypatch.setattr(sw, "run_case", lambda task, data: ran.append(task["m"]) or real(task, data))
    res = run_sweep(plan, done={failed["config_hash"]: failed})
    assert ran == [3] and res.cases[0].status != "worker died"


def test_an_exception_in_a_case_is_that_case_failure(monkeypatch):
    import nlpt.sweep as sw

    plan = plan_sweep(DefaultData(60, 2), [3, 4], [1e-3])
    real = sw.run_case

    def flaky(task, data):
        if task["m"] == 3:
            raise FloatingPointError("boom")
        return real(task, data)

    monkeypatch.setattr(sw, "run_case", flaky)
    seen = []
    res = run_sweep(plan, on_case=seen.append)
    assert [c.status for c in res.cases][0] == "error"
    assert res.cases[0].result["message"] == "FloatingPointError: boom"
    assert res.cases[1].status not in ("error", "worker died")
    assert len(seen) == 2 and [c.m for c in res.failed()] == [3]


def test_a_weight_file_fits_one_width(tmp_path, data):
    np.savetxt(tmp_path / "a.txt", [1.0, 0.5, 2.0])
    with pytest.raises(nlpt.NLPTInputError, match=r"^a: a file of weights fits one width, m = 3"):
        plan_sweep(data, [3, 5], [1e-5], a_kinds=[tmp_path / "a.txt"])
    with pytest.raises(nlpt.NLPTInputError, match=r"it fits m = 3"):
        plan_sweep(data, [4], [1e-5], a_kinds=[tmp_path / "a.txt"])
    plan = plan_sweep(data, [3], [1e-5], a_kinds=[tmp_path / "a.txt"])
    assert plan.cases[0].config["a"]["values"] == [1.0, 0.5, 2.0]


@pytest.mark.parametrize(
    "kwargs, argname",
    [
        (dict(widths=[0]), "widths"),
        (dict(widths=[]), "widths"),
        (dict(widths=[3, 3]), "widths"),
        (dict(alphas=[-1.0]), "alphas"),
        (dict(alphas=[0.0]), "alphas"),
        (dict(alphas=[float("nan")]), "alphas"),
        (dict(alphas=[1e-5, 1e-5]), "alphas"),
        (dict(lam_max=0.0), "lam_max"),
        (dict(jobs=0), "jobs"),
        (dict(activation="relu"), "activation"),
    ],
)
def test_bad_sweep_arguments(data, kwargs, argname):
    args = dict(widths=[3], alphas=[1e-5])
    args.update(kwargs)
    with pytest.raises(nlpt.NLPTInputError, match=f"^{argname}:"):
        width_sweep(*data, **args)


def test_seeds_need_something_to_seed(data):
    with pytest.raises(nlpt.NLPTInputError, match="^seeds:"):
        plan_sweep(data, [3], [1e-5], seeds=[0, 1])
    assert len(plan_sweep(data, [3], [1e-5], seeds=[0, 1], a_kinds=["random"]).cases) == 2


def test_csv_text_is_plain():
    text = csv_text([{"a": 1, "b": None, "c": np.float64(0.1)}])
    assert list(csv.reader(io.StringIO(text))) == [["a", "b", "c"], ["1", "", "0.1"]]
