"""The group-reduced family (SPEC 7) against the full model and independent computations.

Independent references: the full model's dense Hessian (numpy ``eigvalsh``) and its closed-form
derivatives at the embedded point; the one-neuron loss with regularization alpha m written out
here from SPEC 7; an independent threshold for uniform a (the one-neuron branch by
``scipy.optimize.fsolve`` and ``brentq`` on ``mu_min(A) + alpha m``, the formulas of SPEC 7 typed
in here); the full engine (:class:`nlpt.ModelProblem`) as a second implementation of the whole
analysis for small m.
"""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, fsolve

import nlpt
from conftest import assert_json_consistent
from nlpt.reduced import ReducedProblem, group_structure, helmert_basis

X0, Y0 = nlpt.default_data()  # n = 200, d = 3, seed 0
ACTS = sorted(nlpt.ACTIVATIONS)


@st.composite
def grouped_models(draw, max_m=6, max_d=3, max_n=25):
    """A small model whose a has repeated values: k distinct values, random group sizes."""
    m = draw(st.integers(2, max_m))
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(2, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    k = draw(st.integers(1, m - 1))
    vals = rng.choice([-1.3, -0.4, 0.5, 1.0, 1.7], size=k, replace=False)
    labels = np.concatenate([np.arange(k), rng.integers(0, k, m - k)])
    rng.shuffle(labels)
    a = vals[labels]
    alpha = draw(st.floats(1e-4, 0.5))
    act = draw(st.sampled_from(ACTS))
    return nlpt.Model(X, y, m, a=a, alpha=alpha, activation=act), rng


def _embedded_point(model, rng, scale=0.8):
    groups, _ = group_structure(model.a)
    W = np.zeros((model.m, model.d))
    for g in groups:
        W[g] = scale * rng.standard_normal(model.d)
    return W


def _reduced_x(pb: ReducedProblem, W):
    return (np.sqrt(pb.sizes)[:, None] * np.array([W[g[0]] for g in pb.groups])).ravel()


# -- the reduction's algebra (Lean: NLPT.Symmetry) ------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(case=grouped_models(), lam=st.floats(0.0, 1.0))
def test_reduced_spectrum_equals_full(case, lam):
    """At a point with rows equal within groups: the reduced gradient is the full one compressed
    (orthonormal embedding), the full Hessian maps the fixed space to itself as the reduced
    Hessian says, maps q (x) e (q zero-sum on group h) to q (x) T_h e, and its whole spectrum is
    the reduced Hessian's plus every eigenvalue of T_h with multiplicity g_h - 1 (SPEC 7)."""
    model, rng = case
    pb = ReducedProblem(model)
    W = _embedded_point(model, rng)
    x = _reduced_x(pb, W)
    pt = pb.at(x, lam)
    ev = model.at(W, lam)
    # gradient and Hessian-vector products through the isometric embedding
    assert pt.loss() == pytest.approx(ev.loss(), rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(pb.full_vector(pt.grad()), ev.grad(), rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(pb.size)
    np.testing.assert_allclose(pb.full_vector(pt.hvp(v)), ev.hvp(pb.full_vector(v)), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(pb.full_vector(pt.grad_lam()), ev.grad_lam(), rtol=1e-9, atol=1e-11)
    w = rng.standard_normal(pb.size)
    assert pt.d3(v, w, v) == pytest.approx(ev.d3(*(pb.full_vector(z) for z in (v, w, v))), rel=1e-9, abs=1e-11)
    assert pt.d4(v) == pytest.approx(ev.d4(*(pb.full_vector(v),) * 4), rel=1e-9, abs=1e-11)
    # within-group kernels: H (q (x) e) = q (x) (T_h e)
    sectors = {s.label: s for s in pb.sectors(pt)}
    for h, g in enumerate(pb.groups):
        if len(g) < 2:
            continue
        q = np.zeros(model.m)
        q[g] = helmert_basis(len(g))[0]
        e = rng.standard_normal(model.d)
        np.testing.assert_allclose(ev.hvp(np.outer(q, e)), np.outer(q, sectors[f"group {h}"].matrix @ e),
                                   rtol=1e-9, atol=1e-11)
    full = np.linalg.eigvalsh(ev.hessian())
    spec = pb.spectrum(pt, pb.size, 0.0)
    scale = max(1.0, float(np.max(np.abs(full))))
    np.testing.assert_allclose(np.sort(spec.lowest(None)), full, atol=1e-10 * scale)
    assert spec.morse == int(np.sum(full < 0)) or np.min(np.abs(full)) < 1e-10 * scale


@settings(max_examples=30, deadline=None)
@given(m=st.sampled_from([1, 2, 3, 7, 50, 1000, 10**6]), c=st.floats(-2.0, 2.0).filter(lambda v: abs(v) > 0.05),
       alpha=st.floats(1e-8, 1.0), lam=st.floats(0.0, 1.0), act=st.sampled_from(ACTS),
       seed=st.integers(0, 2**31 - 1))
def test_width_identity_loss(m, c, alpha, lam, act, seed):
    """L_{m,alpha}(1 u^T) = 1/(2n) sum_i (c s_lam(u.x_i) - y_i)^2 + (alpha m / 2) |u|^2 = L_{1, alpha m}(u),
    for any activation (SPEC 7), with the one-neuron loss typed in here."""
    rng = np.random.default_rng(seed)
    n, d = 5, 2
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    u = rng.standard_normal(d)
    sig = nlpt.get_activation(act)
    z = X @ u
    by_hand = 0.5 * np.mean((c * ((1 - lam) * z + lam * sig(z)) - y) ** 2) + 0.5 * alpha * m * float(u @ u)
    one = nlpt.Model(X, y, 1, a=[c], alpha=alpha * m, activation=act).loss(u[None], lam)
    assert one == pytest.approx(by_hand, rel=1e-12, abs=1e-14)
    pb = ReducedProblem(nlpt.Model(X, y, m, a=np.full(m, c), alpha=alpha, activation=act))
    assert pb.at(np.sqrt(m) * u, lam).loss() == pytest.approx(by_hand, rel=1e-11, abs=1e-13)
    if m <= 1000:
        full = nlpt.Model(X, y, m, a=np.full(m, c), alpha=alpha, activation=act).loss(np.tile(u, (m, 1)), lam)
        assert full == pytest.approx(by_hand, rel=1e-11, abs=1e-13)


# -- the threshold as a function of alpha m -------------------------------------------------------

@functools.lru_cache(maxsize=None)
def lam_star(m, alpha, activation="tanh", engine="auto"):
    r = nlpt.find_threshold(nlpt.Model(X0, Y0, m, alpha=alpha, activation=activation), engine=engine)
    assert r.status == "crossing", r.message
    return r


@settings(max_examples=8, deadline=None)
@given(m=st.sampled_from([3, 5, 8, 40, 1000, 10**6]), m2=st.sampled_from([2, 5, 17, 300, 10**5]),
       beta=st.sampled_from([1.5e-5, 5e-5, 2e-4]))
def test_lam_star_depends_on_alpha_m(m, m2, beta):
    """lam*(m, alpha) = Lambda(alpha m): the same crossing for every (m, alpha) with alpha m = beta,
    to 1e-10, widths up to 10^6 (SPEC 7)."""
    a, b = lam_star(m, beta / m), lam_star(m2, beta / m2)
    assert abs(a.lam_star_measured - b.lam_star_measured) <= 1e-10
    assert a.multiplicity == m - 1 and b.multiplicity == m2 - 1
    assert a.morse_after - a.morse_before == m - 1


def _independent_lam_star(beta, activation="tanh"):
    """The first zero of mu_min(A(u(lam), lam)) + beta on the one-neuron branch (SPEC 7), with
    A = (1/n) sum_i r_i s''_lam(z_i) x_i x_i^T, r_i = s_lam(z_i) - y_i, grad = (1/n) sum r s' x + beta u."""
    sig = nlpt.get_activation(activation)

    def parts(u, lam):
        z = X0 @ u
        s0, s1, s2 = sig.derivs(z, 2)
        sl = (1 - lam) * z + lam * s0
        return z, sl - Y0, (1 - lam) + lam * s1, lam * s2

    def grad(u, lam):
        _, r, s1, _ = parts(u, lam)
        return X0.T @ (r * s1) / len(Y0) + beta * u

    def lowest(lam, u_start):
        with warnings.catch_warnings():  # fsolve warns when it cannot improve on 1e-15 any more
            warnings.simplefilter("ignore", RuntimeWarning)
            u = fsolve(grad, u_start, args=(lam,), xtol=1e-15)
        _, r, _, s2 = parts(u, lam)
        A = (X0 * (r * s2)[:, None]).T @ X0 / len(Y0)
        return np.linalg.eigvalsh(A)[0] + beta, u

    u = np.linalg.solve(X0.T @ X0 / len(Y0) + beta * np.eye(3), X0.T @ Y0 / len(Y0))
    prev = (0.0, beta, u)
    for lam in np.linspace(0.0, 0.2, 201)[1:]:
        val, u = lowest(lam, prev[2])
        if val < 0 < prev[1]:
            lo_u = prev[2]
            return brentq(lambda l: lowest(l, lo_u)[0], prev[0], lam, xtol=1e-15, rtol=1e-15)
        prev = (lam, val, u)
    raise AssertionError("no crossing")


def test_lam_star_m5_matches_independent_solution_to_tolerance():
    """m = 5, alpha = 1e-5 (beta = 5e-5) and m = 10^6, alpha = 5e-11: lam* within the stated
    1e-10 of an independent one-neuron computation."""
    exact = _independent_lam_star(5e-5)
    for m, alpha in ((5, 1e-5), (10**6, 5e-11)):
        r = lam_star(m, alpha)
        assert abs(r.lam_star_measured - exact) <= 1e-10, (m, r.lam_star_measured, exact)
        assert r.lam_star_error is not None and r.lam_star_error <= 1e-10


# -- reduced engine == full engine ----------------------------------------------------------------

def _events(r):
    return [(p.type, p.index_before, p.index_after) for p in r.branch.special_points if p.type != "minimum"]


@settings(max_examples=12, deadline=None)
@given(case=grouped_models(max_m=5, max_d=2, max_n=20), lam_max=st.sampled_from([0.5, 1.0]))
def test_reduced_threshold_equals_full(case, lam_max):
    """lam*, multiplicity, Morse indices and the sequence of Morse changes of the reduced engine
    equal the full engine's on the same model (hypothesis-drawn data, activations, groups)."""
    model, _ = case
    red = nlpt.find_threshold(model, lam_max=lam_max, engine="reduced")
    full = nlpt.find_threshold(model, lam_max=lam_max, engine="full")
    assert red.engine == "reduced" and full.engine == "full"
    assert red.softening_rate == pytest.approx(full.softening_rate, rel=1e-8, abs=1e-13)
    assert red.softening_multiplicity == full.softening_multiplicity
    assert red.eta == pytest.approx(full.eta, rel=1e-6, abs=1e-12)
    if "failed" in red.status or "failed" in full.status:
        return  # a numerical failure of either engine is reported, not compared
    assert red.status == full.status
    if red.lam_star_measured is not None:
        assert red.lam_star_measured == pytest.approx(full.lam_star_measured, rel=1e-6, abs=1e-9)
        assert (red.multiplicity, red.morse_before, red.morse_after) == (full.multiplicity, full.morse_before,
                                                                           full.morse_after)
    n = min(len(_events(red)), len(_events(full)))
    assert _events(red)[:max(n, 1)] == _events(full)[:max(n, 1)] or n == 0


@pytest.mark.parametrize("act,m", [("tanh", 3), ("tanh", 5), ("sin", 4), ("silu2", 3), ("erf", 4)])
def test_reduced_normal_form_equals_full(act, m):
    """Uniform a: the axial scalars (g_xx, g_xxx, g_xmu, rho, classification) of the reduced
    engine -- from the split family and from the closed-form S_m-equivariant coefficients -- equal
    the full engine's along its row direction, and the reduced quadratic and cubic tensors equal
    the full engine's after the change of kernel basis."""
    full = nlpt.analyze(nlpt.Model(X0, Y0, m, alpha=1e-5, activation=act), engine="full", switch=False)
    red = nlpt.analyze(nlpt.Model(X0, Y0, m, alpha=1e-5, activation=act), engine="reduced", switch=False)
    for res in (full, red):
        assert_json_consistent(json.loads(json.dumps(res.to_dict())))
    nf_f, nf_r = full.normal_form, red.normal_form
    assert nf_r.engine == "reduced" and nf_r.multiplicity == nf_f.multiplicity == m - 1
    d_f = nf_f.directions[0]
    for key in ("g_xx", "g_xxx", "g_xmu"):
        assert getattr(nf_r, key) == pytest.approx(getattr(d_f, key), rel=2e-5), key
    assert nf_r.classification == d_f.classification
    eq = nf_r.equivariant
    assert eq["g_xx_closed_form"] == pytest.approx(nf_r.g_xx, rel=1e-9)
    assert eq["g_xxx_closed_form"] == pytest.approx(nf_r.g_xxx, rel=1e-8)
    # tensors: rotate the full engine's kernel basis onto the reduced one's
    pb = red.threshold.problem
    B = pb.kernel_basis_full(0, red.threshold.critical_eigvecs).reshape(m - 1, -1)
    R = B @ nf_f.Phi.reshape(m - 1, -1).T  # coordinates of the full basis in the reduced one
    np.testing.assert_allclose(R @ R.T, np.eye(m - 1), atol=1e-5)
    Qf = np.einsum("ai,bj,ck,ijk->abc", R, R, R, nf_f.quadratic_tensor)
    np.testing.assert_allclose(nf_r.quadratic_tensor, Qf, atol=1e-4 * np.max(np.abs(Qf)))
    Cf = np.einsum("ai,bj,ck,dl,ijkl->abcd", R, R, R, R, nf_f.cubic_tensor)
    np.testing.assert_allclose(nf_r.cubic_tensor, Cf, atol=1e-4 * np.max(np.abs(Cf)))


@pytest.mark.parametrize("m", [3, 5])
def test_reduced_bifurcated_branches_equal_full(m):
    """Branch switching on the split family gives the full engine's bifurcated branches: the same
    parameter values and Morse indices (of the full Hessian) point by point."""
    full = nlpt.analyze(nlpt.Model(X0, Y0, m, alpha=1e-5), engine="full", n_steps=2)
    red = nlpt.analyze(nlpt.Model(X0, Y0, m, alpha=1e-5), engine="reduced", n_steps=2)
    for res in (full, red):
        assert_json_consistent(json.loads(json.dumps(res.to_dict())))
    assert len(full.branches) == len(red.branches) == 2
    for bf, br in zip(full.branches, red.branches):
        assert br.converged and bf.converged
        assert br.side == bf.side and br.kind == bf.kind
        np.testing.assert_allclose(br.lams, bf.lams, rtol=1e-5)
        assert br.morse == bf.morse
        np.testing.assert_allclose(br.W[-1], bf.W[-1], atol=1e-5 * max(1.0, np.abs(bf.W[-1]).max()))


def test_crossings_are_never_merged_silu2_m4():
    """silu2, m = 4, alpha = 1e-5: two distinct 3-fold crossings, 0 -> 3 near lam = 7.1e-4 and
    3 -> 6 near 2.0e-3 (two eigenvalues of A_h crossing, each with multiplicity m - 1), on both
    engines, each with a near-zero cluster equal to its Morse change."""
    for engine in ("reduced", "full"):
        r = nlpt.find_threshold(nlpt.Model(X0, Y0, 4, alpha=1e-5, activation="silu2"), engine=engine)
        sp = [p for p in r.branch.special_points if p.type == "crossing"]
        assert [(p.index_before, p.index_after) for p in sp[:2]] == [(0, 3), (3, 6)], engine
        assert all(p.multiplicity == abs(p.index_after - p.index_before) and not p.note for p in sp)
        assert 6.5e-4 < sp[0].lam < 7.5e-4 and 1.9e-3 < sp[1].lam < 2.1e-3
        assert (r.multiplicity, r.morse_before, r.morse_after) == (3, 0, 3)


def test_engine_selection_and_labels():
    """auto: reduced for repeated values, full for distinct ones and for a start off the subspace;
    every result says which engine produced it."""
    uni = nlpt.Model(X0, Y0, 4, alpha=1e-3)
    rnd = nlpt.Model(X0, Y0, 4, a=nlpt.make_a("random", 4, seed=3), alpha=1e-3)
    assert nlpt.select_problem(uni).engine == "reduced"
    assert nlpt.select_problem(rnd).engine == "full"
    W0 = np.random.default_rng(0).standard_normal((4, 3))
    assert nlpt.select_problem(uni, W0=W0).engine == "full"
    with pytest.raises(nlpt.NLPTInputError, match="W0"):
        nlpt.select_problem(uni, "reduced", W0=W0)
    with pytest.raises(nlpt.NLPTInputError, match="engine"):
        nlpt.select_problem(uni, "fast")
    d = nlpt.analyze(uni, lam_max=0.01).to_dict()
    assert d["engine"] == "reduced" and d["family"]["engine"] == "reduced" and d["family"]["m"] == 4


def test_memory_refused_up_front(monkeypatch):
    """A full-engine case whose estimate exceeds the memory available is refused before any work,
    with a message naming m and the reduced engine when a has repeated values."""
    import nlpt.engine as eng

    monkeypatch.setattr(eng, "memory_available", lambda: 1e6)
    with pytest.raises(nlpt.NLPTInputError, match=r"m: the full engine needs about .* GiB.*engine reduced"):
        nlpt.find_threshold(nlpt.Model(X0, Y0, 50, alpha=1e-5), engine="full")
    with pytest.raises(nlpt.NLPTInputError, match=r"m: the full engine needs"):
        nlpt.find_threshold(nlpt.Model(X0, Y0, 50, a=nlpt.make_a("random", 50), alpha=1e-5))


def test_roundoff_softening_is_no_softening():
    """Data closed under x -> -x with the same y, odd tanh: X^T y = 0, so W* and with it
    sigma''(z*) and M vanish up to round-off; the computed rate is about -1e-33, far below the
    round-off floor, and must be "no softening" -- not a prediction of lam* ~ 1e29."""
    rng = np.random.default_rng(5)
    Xh = rng.standard_normal((50, 3))
    yh = rng.standard_normal(50)
    X, y = np.vstack([Xh, -Xh]), np.concatenate([yh, yh])
    for engine in ("reduced", "full"):
        r = nlpt.find_threshold(nlpt.Model(X, y, 3, alpha=1e-3), engine=engine, lam_max=0.5)
        assert r.lam_star_pred is None, (engine, r.softening_rate)
        assert r.status in ("no softening", "crossing")
        assert r.status == "no softening" or r.lam_star_measured is not None
