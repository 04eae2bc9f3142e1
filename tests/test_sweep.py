"""The width sweep, its table/CSV/JSON outputs and plots."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import nlpt
from nlpt.analysis import analyze
from nlpt.report import format_table, jsonable, write_csv, write_json
from nlpt.sweep import width_sweep

WIDTHS = (3, 5)
ALPHAS = (1e-5, 1e-4)


@pytest.fixture(scope="module")
def data():
    return nlpt.default_data(n=200, d=3, seed=0)


@pytest.fixture(scope="module")
def sweep(data):
    return width_sweep(*data, WIDTHS, ALPHAS)


def test_rows_agree_with_independent_analyses(data, sweep):
    """Each row is the analysis of its own (m, alpha) case, in (alpha, m) order."""
    assert [(r["alpha"], r["m"]) for r in sweep.rows()] == [(al, m) for al in ALPHAS for m in WIDTHS]
    X, y = data
    for row in sweep.rows():
        ref = analyze(nlpt.Model(X, y, row["m"], alpha=row["alpha"])).to_dict()
        assert row["softening_rate"] == pytest.approx(ref["softening_rate"], rel=1e-12)
        assert row["m_softening_rate"] == pytest.approx(row["m"] * ref["softening_rate"], rel=1e-12)
        assert row["lam_star_pred"] == pytest.approx(ref["lam_star_pred"], rel=1e-12)
        assert row["status"] == ref["status"]
        if ref["lam_star_measured"] is None:
            assert row["lam_star_measured"] is None
        else:
            assert row["lam_star_measured"] == pytest.approx(ref["lam_star_measured"], rel=1e-8)


def test_prediction_is_alpha_over_rate(sweep):
    """lam*_pred = alpha / |lambda_1'(0)| in every softening row (SPEC 4)."""
    for row in sweep.rows():
        if row["softening_rate"] < 0:
            assert row["lam_star_pred"] == pytest.approx(row["alpha"] / abs(row["softening_rate"]), rel=1e-12)
        else:
            assert row["lam_star_pred"] is None


def test_parallel_sweep_gives_the_same_numbers(data, sweep):
    """Reproducible: two processes give the rows of one process, in the same order."""
    par = width_sweep(*data, WIDTHS, ALPHAS, jobs=2)
    for a, b in zip(sweep.rows(), par.rows()):
        for key in ("m", "alpha", "softening_rate", "lam_star_pred", "lam_star_measured", "multiplicity", "status"):
            assert a[key] == b[key]


def test_outputs_round_trip(sweep, tmp_path):
    rows = sweep.rows()
    write_json(sweep.to_dict(), tmp_path / "r.json")
    back = json.loads((tmp_path / "r.json").read_text())
    assert back["config"]["widths"] == list(WIDTHS)
    assert [r["lam_star_pred"] for r in back["rows"]] == [r["lam_star_pred"] for r in rows]
    write_csv(rows, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open() as f:
        got = list(csv.DictReader(f))
    assert len(got) == len(rows)
    for g, r in zip(got, rows):
        assert int(g["m"]) == r["m"]
        if r["lam_star_measured"] is None:
            assert g["lam_star_measured"] == ""
        else:
            assert float(g["lam_star_measured"]) == pytest.approx(r["lam_star_measured"], rel=1e-15)
    table = format_table(rows)
    assert len(table.splitlines()) == len(rows) + 2
    md = format_table(rows, markdown=True)
    assert md.splitlines()[0].startswith("| m |")


def test_jsonable_drops_non_finite():
    assert jsonable({"a": np.float64("nan"), "b": np.arange(2), "c": np.int64(3)}) == {"a": None, "b": [0, 1], "c": 3}


def test_plots_are_written(sweep, tmp_path):
    pytest.importorskip("matplotlib")
    from nlpt.plots import plot_eigenvalues, plot_threshold_vs_width

    for path in (plot_eigenvalues(sweep.cases, ALPHAS[0], tmp_path / "e.png"),
                 plot_threshold_vs_width(sweep.cases, tmp_path / "t.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "kwargs, argname",
    [
        (dict(widths=[0]), "widths"),
        (dict(widths=[]), "widths"),
        (dict(alphas=[-1.0]), "alphas"),
        (dict(alphas=[0.0]), "alphas"),
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
