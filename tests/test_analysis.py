"""analyze(): one JSON object per case, consistent with its parts (SPEC 4-5)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpt
from nlpt.analysis import analyze
from conftest import assert_json_consistent, problems
from nlpt.newton import newton

REQUIRED = ("softening_rate", "lam_star_pred", "lam_star_measured", "ratio", "multiplicity", "morse_before",
            "morse_after", "eta", "status", "message", "normal_form", "bifurcated_branches")


@functools.lru_cache(maxsize=None)
def crossing_case(activation="tanh", m=3, alpha=1e-5):
    X, y = nlpt.default_data()
    model = nlpt.Model(X, y, m, alpha=alpha, activation=activation)
    return model, analyze(model)


@pytest.mark.parametrize("activation,m", [("tanh", 3), ("silu2", 2)])
def test_crossing_json_has_required_keys_and_matches_parts(activation, m):
    model, res = crossing_case(activation, m)
    d = json.loads(json.dumps(res.to_dict()))
    for key in REQUIRED:
        assert key in d
    assert d["status"] == "crossing"
    thr, nf = res.threshold, res.normal_form
    assert d["lam_star_measured"] == pytest.approx(thr.lam_c)
    assert d["normal_form"]["lam_c"] == pytest.approx(thr.lam_c)
    assert d["multiplicity"] == nf.multiplicity == thr.critical_vectors.shape[0]
    assert d["ratio"] == pytest.approx(d["lam_star_measured"] / d["lam_star_pred"])
    assert d["normal_form"]["classification"] in ("transcritical", "pitchfork", "degenerate")
    assert len(d["bifurcated_branches"]) == len(res.branches) >= 1
    for b in d["bifurcated_branches"]:
        assert len(b["morse"]) == len(b["lams"]) == len(b["grad_norms"])


@pytest.mark.parametrize("activation,m", [("tanh", 3), ("tanh", 5), ("silu2", 2), ("sin", 4)])
def test_handle_equals_multiplicity_for_a_transversal_crossing(activation, m):
    """Uniform a: by Schur's lemma the slope matrix on the irreducible (m-1)-fold kernel is s I with
    s = d/dlam of the critical eigenvalue < 0, so the whole cluster crosses transversally and, by
    continuity of the spectrum, the Morse index right after the crossing exceeds the index right
    before by exactly the multiplicity.  Checked against an independent dense count here."""
    model, res = crossing_case(activation, m)
    h = res.to_dict()["handle"]
    nf = res.normal_form
    assert h["transversal"] and np.all(nf.slope_eigenvalues < 0)
    assert h["multiplicity"] == m - 1
    assert h["index_change_local"] == h["multiplicity"]
    # independent count at lam_c -+ delta from Newton solutions on the branch
    lc, delta = res.threshold.lam_c, h["delta"]
    counts = []
    for sgn in (-1, 1):
        W = newton(model, res.threshold.W_c + sgn * delta * nf.tangent, lc + sgn * delta, tol=1e-12).W
        e = np.linalg.eigvalsh(model.hessian(W, lc + sgn * delta))
        gap = 0.5 * delta * abs(nf.g_xmu)
        assert np.sum(np.abs(e) < 0.1 * gap) == 0  # nothing else sits at zero
        counts.append(int(np.sum(e < 0)))
    assert counts[1] - counts[0] == m - 1


def test_no_crossing_gives_nulls_and_a_plain_message():
    X, y = nlpt.default_data()
    model = nlpt.Model(X, y, 3, alpha=1e-5)
    res = analyze(model, lam_max=1e-3)  # the crossing is at lam ~ 5.8e-3
    d = json.loads(json.dumps(res.to_dict()))
    for key in REQUIRED:
        assert key in d
    assert d["status"] == "no crossing in [0, lam_max]"
    assert d["lam_star_measured"] is None and d["ratio"] is None and d["multiplicity"] is None
    assert d["normal_form"] is None and d["bifurcated_branches"] == [] and d["handle"] is None
    assert "no crossing" in d["message"]
    assert d["lam_star_pred"] is not None and d["lam_star_pred"] > 1e-3


def test_switch_false_skips_branches():
    X, y = nlpt.default_data()
    res = analyze(nlpt.Model(X, y, 2, alpha=1e-5, activation="sin"), switch=False)
    assert res.normal_form is not None and res.branches == []
    assert res.to_dict()["bifurcated_branches"] == []


def test_bad_input_is_named():
    X, y = nlpt.default_data()
    model = nlpt.Model(X, y, 3, alpha=1e-5)
    with pytest.raises(nlpt.NLPTInputError, match="n_steps"):
        analyze(model, n_steps=0)
    with pytest.raises(nlpt.NLPTInputError, match="normal_form_options"):
        analyze(model, normal_form_options=[1])
    with pytest.raises(nlpt.NLPTInputError, match="lam_max"):
        analyze(model, lam_max=2.0)


def test_fold_gives_saddle_node_coefficients_not_a_crossing_normal_form():
    """Random a, m = 5, alpha = 1e-5: the threshold is a fold.  The crossing normal form is not
    computed (plain reason instead), and the saddle-node coefficients agree with the branch:
    g_mu g_xx > 0 says critical points live at lam < lam_fold, which is where the continued branch
    goes on both sides of the fold; and lam - lam_fold ~ curvature xi^2 (xi = <phi, W - W_c>) for
    the two critical points found by Newton at lam_fold - delta, within 20 %."""
    X, y = nlpt.default_data()
    model = nlpt.Model(X, y, 5, a=nlpt.make_a("random", 5, seed=0), alpha=1e-5)
    res = analyze(model)
    d = json.loads(json.dumps(res.to_dict()))
    for key in REQUIRED:
        assert key in d
    assert d["status"] == "fold" and d["normal_form"] is None and d["bifurcated_branches"] == []
    assert d["normal_form_error"] == "fold (saddle-node): normal form of a crossing not applicable"
    sn = d["saddle_node"]
    assert sn["nondegenerate"] and sn["lam_fold"] == d["lam_star_measured"]
    assert d["handle"]["index_change"] == 1 == d["multiplicity"]
    thr = res.threshold
    br, lam_f, W_c = thr.branch, thr.lam_c, thr.W_c
    phi = thr.critical_vectors[0]
    h = 1e-6 * lam_f
    g_mu_fd = float(np.sum(phi * (model.grad(W_c, lam_f + h) - model.grad(W_c, lam_f - h)) / (2 * h)))
    # phi is oriented so that g_mu > 0 (an eigensolver's sign is arbitrary; g_mu and g_xx are odd in phi)
    assert sn["g_mu"] > 0 and sn["g_mu"] == pytest.approx(abs(g_mu_fd), rel=1e-5)
    assert sn["g_mu"] * sn["g_xx"] > 0 and sn["branch_side"] == "lam < lam_fold"
    assert np.all(br.lams <= lam_f + 1e-12)
    # two critical points at lam_f - delta, Newton-solved at fixed lam from W_c -+ a small kick
    delta = 1e-5 * lam_f
    kick = np.sqrt(delta / abs(sn["curvature"]))
    xis = []
    for sgn in (-1, 1):
        r = newton(model, W_c + sgn * kick * phi, lam_f - delta, tol=1e-13, maxiter=50)
        assert r.converged
        xis.append(float(np.sum(phi * (r.W - W_c))))
    assert xis[0] < 0 < xis[1]
    for xi in xis:
        assert -delta / xi**2 == pytest.approx(sn["curvature"], rel=0.2)


@pytest.mark.parametrize("case", ["tanh-3", "silu2-2", "tanh-5", "sin-4", "no-crossing", "fold"])
def test_json_fields_agree_on_the_cases_above(case):
    """The handle, multiplicity, Morse and special-point fields agree (conftest.assert_json_consistent)
    on every case this file analyses."""
    X, y = nlpt.default_data()
    if case == "no-crossing":
        res = analyze(nlpt.Model(X, y, 3, alpha=1e-5), lam_max=1e-3)
    elif case == "fold":
        res = analyze(nlpt.Model(X, y, 5, a=nlpt.make_a("random", 5, seed=0), alpha=1e-5))
    else:
        act, m = case.split("-")
        res = crossing_case(act, int(m))[1]
    assert_json_consistent(json.loads(json.dumps(res.to_dict())))


@settings(max_examples=10, deadline=None)
@given(model=problems(max_m=5, max_d=2, max_n=20), lam_max=st.sampled_from([0.3, 1.0]))
def test_json_fields_agree_on_random_cases(model, lam_max):
    """On hypothesis-drawn models (any a, activation, data), both engines where they apply: the
    JSON's handle, multiplicity, Morse and special-point fields agree (conftest.assert_json_consistent)."""
    if model.m < 2 or not np.any(model.a):
        return
    engines = ["full"] + (["reduced"] if len(set(model.a)) < model.m else [])
    for engine in engines:
        d = json.loads(json.dumps(analyze(model, lam_max=lam_max, engine=engine, n_steps=1).to_dict()))
        assert d["engine"] == engine
        assert_json_consistent(d)
