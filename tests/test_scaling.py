"""Width scaling, exactly (SPEC 7): Lambda(beta) and the critical width.

Independent references: the full engine (m d coordinates, no symmetry used) at the widths on
either side of the computed critical width, and the sweep's own rows at beta = alpha m.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import nlpt
from nlpt.cli import main
from nlpt.scaling import _intervals, critical_widths, lambda_at, lambda_curve

X0, Y0 = nlpt.default_data()


@pytest.fixture(scope="module")
def curve():
    # a grid bracketing the edge of the crossing set near beta_c ~ 3.9e-4 (default data, tanh)
    return lambda_curve(X0, Y0, [1e-6, 1e-4, 3e-4, 1e-3, 1e-2], beta_rtol=1e-4)


def test_crossing_set_edge_is_refined(curve):
    """The set is one interval from the grid's lowest beta to beta_c, refined to beta_rtol: a
    crossing just below beta_c, none just above it."""
    assert curve.is_interval and curve.open_below
    lo, hi = curve.crossing_set[0]
    assert lo == 1e-6 and hi == curve.beta_c and 3e-4 < curve.beta_c < 1e-3
    below, above = lambda_at(X0, Y0, curve.beta_c * (1 - 3e-4)), lambda_at(X0, Y0, curve.beta_c * (1 + 3e-4))
    assert below["lam_star"] is not None and above["lam_star"] is None
    # the bisection points are in the curve, sorted, each with its prediction
    b = curve.betas
    assert np.all(np.diff(b) > 0) and len(b) > 5
    for p in curve.points:
        assert p["lam_star_pred"] is None or p["lam_star_pred"] > 0


def test_critical_width_separates_widths_on_the_full_engine(curve):
    """alpha = 1e-5: m_c = beta_c / alpha; the full engine (no reduction) finds a crossing at the
    width just below m_c and none at the width just above it."""
    alpha = 1e-5
    (w,) = critical_widths(curve, [alpha])
    m_c = w["m_c"]
    assert m_c == pytest.approx(curve.beta_c / alpha)
    below, above = math.floor(m_c), math.ceil(m_c)
    if above == m_c:
        above += 1
    r_below = nlpt.find_threshold(nlpt.Model(X0, Y0, below, alpha=alpha), engine="full")
    r_above = nlpt.find_threshold(nlpt.Model(X0, Y0, above, alpha=alpha), engine="full")
    assert r_below.status == "crossing" and r_below.multiplicity == below - 1
    assert r_above.status == "no crossing in [0, lam_max]"
    assert w["crossing_widths"][0][1] == pytest.approx(m_c) and w["crossing_widths"][0][0] == 2.0


def test_intervals_of_a_non_monotone_set():
    """A crossing set of two intervals: both are reported, with the refined edges."""
    pts = [{"beta": b, "lam_star": v} for b, v in ((1.0, 0.1), (2.0, None), (3.0, 0.2), (4.0, 0.3), (5.0, None))]
    edges = [(1.2, 1.3), (2.6, 2.7), (4.4, 4.5)]
    assert _intervals(pts, edges) == [(1.0, 1.2), (2.7, 4.4)]
    assert _intervals(pts[2:4], []) == [(3.0, 4.0)]
    assert _intervals(pts[1:2], []) == []


def test_bad_input_is_named():
    with pytest.raises(nlpt.NLPTInputError, match="betas"):
        lambda_curve(X0, Y0, [0.0])
    with pytest.raises(nlpt.NLPTInputError, match="c: expected a nonzero"):
        lambda_curve(X0, Y0, [1e-5], c=0.0)
    with pytest.raises(nlpt.NLPTInputError, match="beta_rtol"):
        lambda_curve(X0, Y0, [1e-5], beta_rtol=0.0)


def test_reproduce_reports_lambda_on_the_table(tmp_path, capsys):
    """nlpt reproduce writes Lambda(beta) beside the table; at beta = alpha m it equals the
    table's measured lam* (lam* depends on m and alpha only through alpha m) to 1e-10, and every
    alpha gets m_c."""
    out = tmp_path / "o"
    code = main(["reproduce", "--m", "3", "5", "--alphas", "1e-5", "2e-5", "--betas", "3e-5", "5e-5", "6e-5", "1e-4",
                 "--out", str(out), "--quiet", "--no-plots"])
    text = capsys.readouterr().out
    assert code == 0 and "Lambda(beta)" in text and "critical width m_c" in text
    rows = json.loads((out / "results.json").read_text())["rows"]
    lam = json.loads((out / "lambda.json").read_text())["curves"]
    assert len(lam) == 1
    by_beta = {p["beta"]: p for p in lam[0]["points"]}
    for r in rows:
        beta = r["alpha"] * r["m"]
        p = min(by_beta.values(), key=lambda q: abs(q["beta"] - beta))
        if abs(p["beta"] - beta) <= 1e-15:
            assert r["lam_star_measured"] is not None
            assert abs(p["lam_star"] - r["lam_star_measured"]) <= 1e-10
    assert {w["alpha"] for w in lam[0]["critical_widths"]} == {1e-5, 2e-5}
    assert (out / "lambda.csv").read_text().splitlines()[0].startswith("activation,seed,beta,lam_star")
