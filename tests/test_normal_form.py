"""Normal form and branch switching (SPEC 5) against hand expansions, an independent
Lyapunov–Schmidt solve, finite differences, symmetry theorems and numpy.roots."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import nlpt
from conftest import problems, random_point
from nlpt.linear import critical_point
from nlpt.newton import newton
from nlpt.normal_form import (
    normal_form,
    pitchfork_roots,
    reduced_tensors,
    switch_branches,
    transcritical_root,
)

ALPHA = 1e-5
ODD = ["tanh", "sin", "erf"]


# -- an independent crossing finder: natural continuation + bisection on the lowest eigenvalue ---

@functools.lru_cache(maxsize=None)
def symmetric_crossing(activation: str, m: int):
    """(model, W_c, lam_c, Phi) at the first crossing of the S_m-symmetric branch (uniform a).

    W_c is re-symmetrised (rows replaced by their mean): Newton at a nearly singular Hessian
    drifts along the kernel, and the symmetric point is the exact one.
    """
    X, y = nlpt.default_data()
    model = nlpt.Model(X, y, m, alpha=ALPHA, activation=activation)
    _, W = critical_point(model)
    prev = None
    for lam in np.linspace(0.0, 0.1, 41):
        W = newton(model, W, lam, tol=1e-12).W
        W = np.repeat(W.mean(axis=0, keepdims=True), m, axis=0)
        low = np.linalg.eigvalsh(model.hessian(W, lam))[0]
        if prev is not None and prev[1] > 0 >= low:
            Wa = prev[2]

            def f(l):
                Wl = newton(model, Wa, l, tol=1e-13).W
                Wl = np.repeat(Wl.mean(axis=0, keepdims=True), m, axis=0)
                return np.linalg.eigvalsh(model.hessian(Wl, l))[0]

            lam_c = brentq(f, prev[0], lam, xtol=1e-15)
            Wc = newton(model, Wa, lam_c, tol=1e-13).W
            Wc = np.repeat(Wc.mean(axis=0, keepdims=True), m, axis=0)
            e, V = np.linalg.eigh(model.hessian(Wc, lam_c))
            k = m - 1
            assert abs(e[k - 1]) < 1e-9 < e[k]  # an (m-1)-fold cluster, by S_m symmetry
            return model, Wc, lam_c, V[:, :k].T.reshape(k, m, model.d)
        prev = (lam, low, W)
    raise AssertionError("no crossing found")


def ls_reduced(model, W_c, lam_c, Phi, u, xi):
    """Independent Lyapunov–Schmidt: solve Pi grad L(W_c + xi u + w) = 0 for w orthogonal to
    span(Phi) by Newton on the complement, return <u, grad L> there."""
    k = Phi.shape[0]
    F = Phi.reshape(k, -1).T
    Qc = np.linalg.qr(F, mode="complete")[0][:, k:]
    base = W_c + xi * u
    y = np.zeros(Qc.shape[1])
    for _ in range(30):
        W = base + (Qc @ y).reshape(W_c.shape)
        ev = model.at(W, lam_c)
        r = Qc.T @ ev.grad().ravel()
        if np.linalg.norm(r) < 1e-15:
            break
        y -= np.linalg.solve(Qc.T @ ev.hessian() @ Qc, r)
    W = base + (Qc @ y).reshape(W_c.shape)
    return float(np.sum(u * model.grad(W, lam_c)))


# -- the SPEC 6 named properties ----------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.integers(1, 4),
    d=st.integers(1, 3),
    k=st.integers(1, 3),
    lam=st.floats(0.0, 1.0),
    act=st.sampled_from(ODD),
)
def test_odd_activation_zero_quadratic(seed, m, d, k, lam, act):
    """Odd sigma and data closed under x -> -x (same y): f(-x; W) = -f(x; W) = f(x; -W), so L_lam
    is even in W and W = 0 is critical for every lam; every odd derivative vanishes there, so the
    normal form's quadratic coefficients (g_xx and the tensor Q) are zero for any kernel basis."""
    k = min(k, m * d)
    rng = np.random.default_rng(seed)
    X0 = rng.standard_normal((6, d))
    y0 = rng.standard_normal(6)
    X, y = np.vstack([X0, -X0]), np.concatenate([y0, y0])
    a = rng.uniform(0.3, 2.0, m) * rng.choice([-1.0, 1.0], m)
    model = nlpt.Model(X, y, m, a=a, alpha=0.1, activation=act)
    W0 = np.zeros((m, d))
    Phi = np.linalg.qr(rng.standard_normal((m * d, k)))[0].T.reshape(k, m, d)
    # the theorem's premise, checked independently: L(t phi) = L(-t phi)
    t = 0.37
    assert model.loss(t * Phi[0], lam) == pytest.approx(model.loss(-t * Phi[0], lam), rel=1e-13, abs=1e-15)
    assert np.linalg.norm(model.grad(W0, lam)) < 1e-14
    nf = normal_form(model, W0, lam, Phi, n_directions=2)
    for red in nf.directions:
        assert abs(red.g_xx) <= 1e-14 * max(1.0, abs(red.g_xxx))
    Q, _ = reduced_tensors(model, W0, lam, Phi, cubic=False)
    assert np.max(np.abs(Q)) <= 1e-14


def test_quadratic_coefficient_nonzero_without_the_symmetry():
    """The contrast: tanh on data *not* closed under x -> -x.  At W = 0: r = -y, D2f = 0
    (s''(0) = 0) and D3f = lam sigma'''(0) sum_j c_j (phi_j.x)^3 with sigma'''(0) = -2, so
    D^3L(0)[phi^3] = 2 lam mean_i(y_i sum_j c_j (phi_j.x_i)^3), written out here by hand and not
    zero: the zero of the previous test comes from the symmetry, not from the code path."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 2))
    y = rng.standard_normal(12)
    model = nlpt.Model(X, y, 2, alpha=0.1, activation="tanh")
    Phi = np.linalg.qr(rng.standard_normal((4, 2)))[0].T.reshape(2, 2, 2)
    lam = 0.6
    Q, _ = reduced_tensors(model, np.zeros((2, 2)), lam, Phi, cubic=False)
    P = X @ Phi[0].T  # (n, m): phi_j . x_i
    by_hand = 2 * lam * np.mean(y * np.sum(P**3 / 2, axis=1))
    assert Q[0, 0, 0] == pytest.approx(by_hand, rel=1e-10)
    assert abs(Q[0, 0, 0]) > 1e-3


@settings(max_examples=200, deadline=None)
@given(
    g_xmu=st.floats(-10, 10).filter(lambda x: abs(x) > 1e-3),
    g_xxx=st.floats(-10, 10).filter(lambda x: abs(x) > 1e-3),
    mu=st.floats(-1, 1).filter(lambda x: abs(x) > 1e-3),
)
def test_truncated_pitchfork_roots(g_xmu, g_xxx, mu):
    """Nonzero roots of g_xmu mu xi + g_xxx xi^3/6 are xi^2 = -6 g_xmu mu / g_xxx (SPEC 6)."""
    roots = np.roots([g_xxx / 6.0, 0.0, g_xmu * mu, 0.0])
    nonzero_real = sorted(r.real for r in roots if abs(r) > 1e-9 and abs(r.imag) <= 1e-9 * max(1, abs(r)))
    ours = sorted(pitchfork_roots(g_xmu, g_xxx, mu))
    assert len(ours) == len(nonzero_real)
    np.testing.assert_allclose(ours, nonzero_real, rtol=1e-8)
    for x in ours:
        assert x * x == pytest.approx(-6 * g_xmu * mu / g_xxx, rel=1e-12)


def test_switch_branches_uses_pitchfork_roots():
    """Branch switching starts a pitchfork at xi^2 = -6 g_xmu mu / g_xxx on the side where it is
    real, and the Newton-corrected branch lies where the truncated form says (m = 2, tanh)."""
    model, Wc, lc, Phi = symmetric_crossing("tanh", 2)
    nf = normal_form(model, Wc, lc, Phi)
    assert nf.classification == "pitchfork"
    mu = 0.01 * lc * (-1 if nf.g_xmu * nf.g_xxx > 0 else 1)
    brs = switch_branches(model, Wc, lc, Phi, nf, dlam=abs(mu), n_steps=2)
    assert len(brs) == 2
    for b in brs:
        mu0 = b.predicted_lams[0] - lc
        assert mu0 == pytest.approx(mu, rel=1e-12)
        assert b.predicted_xi[0] ** 2 == pytest.approx(-6 * nf.g_xmu * mu0 / nf.g_xxx, rel=1e-12)
        assert b.converged
        # corrected lam at that xi: the truncated form is accurate to O(xi) relative
        assert b.lams[0] - lc == pytest.approx(mu0, rel=0.05)
    assert {np.sign(b.xi[0]) for b in brs} == {1.0, -1.0}


@settings(max_examples=200, deadline=None)
@given(
    g_xmu=st.floats(-10, 10).filter(lambda x: abs(x) > 1e-3),
    g_xx=st.floats(-10, 10).filter(lambda x: abs(x) > 1e-3),
    mu=st.floats(-1, 1).filter(lambda x: abs(x) > 1e-3),
)
def test_truncated_transcritical_root(g_xmu, g_xx, mu):
    """The second root of g_xmu mu xi + g_xx xi^2 / 2 is xi = -2 g_xmu mu / g_xx (SPEC 6)."""
    roots = np.roots([g_xx / 2.0, g_xmu * mu, 0.0])
    other = [r.real for r in roots if abs(r) > 1e-12]
    assert len(other) == 1
    assert transcritical_root(g_xmu, g_xx, mu) == pytest.approx(other[0], rel=1e-10)
    assert transcritical_root(g_xmu, g_xx, mu) == pytest.approx(-2 * g_xmu * mu / g_xx, rel=1e-14)


def test_switch_branches_uses_transcritical_root():
    model, Wc, lc, Phi = symmetric_crossing("tanh", 3)
    nf = normal_form(model, Wc, lc, Phi)
    assert nf.classification == "transcritical"
    dl = 0.02 * lc
    brs = switch_branches(model, Wc, lc, Phi, nf, dlam=dl, n_steps=2)
    assert {b.side for b in brs} == {"mu>0", "mu<0"}
    for b in brs:
        mu0 = b.predicted_lams[0] - lc
        assert abs(mu0) == pytest.approx(dl, rel=1e-12)
        assert b.predicted_xi[0] == pytest.approx(-2 * nf.g_xmu * mu0 / nf.g_xx, rel=1e-12)
        assert b.converged
        assert b.lams[0] - lc == pytest.approx(mu0, rel=0.1)


# -- coefficients against independent computations ------------------------------------------

def _sigma_derivs_by_hand(act, z):
    """sigma^(0..4) written out independently of nlpt.activations."""
    if act == "tanh":
        t = np.tanh(z)
        return [t, 1 - t**2, -2 * t * (1 - t**2), -2 * (1 - t**2) * (1 - 3 * t**2), 8 * t * (1 - t**2) * (2 - 3 * t**2)]
    if act == "sin":
        return [np.sin(z), np.cos(z), -np.sin(z), -np.cos(z), np.sin(z)]
    raise ValueError(act)


@pytest.mark.parametrize("act", ["tanh", "sin"])
@pytest.mark.parametrize("w,x,yv,lam", [(0.8, 1.3, 0.4, 0.6), (-0.5, 0.9, -1.2, 1.0), (1.7, -0.6, 0.2, 0.25)])
def test_hand_expansion_one_parameter(act, w, x, yv, lam):
    """m = d = n = 1: L(w) = (s(wx) - y)^2/2 + alpha w^2/2, no complement, phi = 1:
    g_xx = L''' = x^3 (3 s' s'' + r s'''), g_xxx = L'''' = x^4 (3 s''^2 + 4 s' s''' + r s'''')."""
    model = nlpt.Model(np.array([[x]]), np.array([yv]), 1, alpha=0.3, activation=act)
    sd = _sigma_derivs_by_hand(act, w * x)
    z = w * x
    s = [(1 - lam) * z + lam * sd[0], (1 - lam) + lam * sd[1]] + [lam * v for v in sd[2:]]
    r = s[0] - yv
    nf = normal_form(model, np.array([[w]]), lam, np.ones((1, 1, 1)))
    assert nf.g_xx == pytest.approx(x**3 * (3 * s[1] * s[2] + r * s[3]), rel=1e-12, abs=1e-14)
    assert nf.g_xxx == pytest.approx(x**4 * (3 * s[2] ** 2 + 4 * s[1] * s[3] + r * s[4]), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("act,m", [("tanh", 2), ("silu2", 2), ("tanh", 3), ("erf", 3)])
def test_coefficients_match_lyapunov_schmidt_solve(act, m):
    """g_xx and g_xxx against finite differences in xi of the reduced function computed by an
    independent Lyapunov–Schmidt solve (Newton on the complement at fixed xi)."""
    model, Wc, lc, Phi = symmetric_crossing(act, m)
    nf = normal_form(model, Wc, lc, Phi)
    red = nf.directions[0]
    u = red.vector
    h = 5e-3
    g = {j: ls_reduced(model, Wc, lc, Phi, u, j * h) for j in (-2, -1, 0, 1, 2)}
    d2 = (g[1] - 2 * g[0] + g[-1]) / h**2
    d3 = (g[2] - 2 * g[1] + 2 * g[-1] - g[-2]) / (2 * h**3)
    scale = abs(red.g_xxx)
    assert d2 == pytest.approx(red.g_xx, abs=2e-3 * scale)
    assert d3 == pytest.approx(red.g_xxx, rel=1e-3)
    if m == 2:  # swap symmetry: phi -> -phi, so the reduced function is odd
        assert abs(d2) < 1e-6 * scale


@pytest.mark.parametrize("act", ["tanh", "sin", "erf", "silu2"])
def test_swap_symmetry_forces_pitchfork(act):
    """m = 2, uniform a: swapping the rows fixes W_c and maps the kernel vector phi to -phi, so
    g_xx = D^3L[phi^3] = 0 for every activation, odd or not: a pitchfork by symmetry."""
    model, Wc, lc, Phi = symmetric_crossing(act, 2)
    np.testing.assert_allclose(Phi[0, 0], -Phi[0, 1], atol=1e-10)
    nf = normal_form(model, Wc, lc, Phi)
    assert nf.multiplicity == 1
    assert nf.classification == "pitchfork"
    assert abs(nf.g_xx) < 1e-10 * abs(nf.g_xxx)
    assert nf.criticality == ("supercritical" if nf.g_xmu * nf.g_xxx < 0 else "subcritical")


@pytest.mark.parametrize("act,m", [("tanh", 3), ("sin", 4), ("silu2", 4)])
def test_sm_symmetric_quadratic_tensor(act, m):
    """Uniform a: on K the kernel is {q (x) u : sum q = 0} and, since Df[phi] = 0 there,
    Q_abc = kappa sum_j q_aj q_bj q_cj (the S_m-invariant cubic); along the row direction
    (e_j - 1/m) (x) u it is kappa (m - 2)/sqrt(m (m - 1)).  Checked by fitting kappa."""
    model, Wc, lc, Phi = symmetric_crossing(act, m)
    k = m - 1
    U, s, Vt = np.linalg.svd(Phi.reshape(k * m, -1))
    u = Vt[0]
    assert s[1] < 1e-8 * s[0]  # every kernel vector's rows are multiples of one u
    q = Phi @ u  # (k, m)
    np.testing.assert_allclose(q.sum(axis=1), 0, atol=1e-10)
    T = np.einsum("aj,bj,cj->abc", q, q, q)
    nf = normal_form(model, Wc, lc, Phi, n_directions=m)
    Q = nf.quadratic_tensor
    kappa = float(np.sum(Q * T) / np.sum(T * T))
    np.testing.assert_allclose(Q, kappa * T, atol=1e-8 * np.max(np.abs(Q)))
    for red in nf.directions:
        # sign of u fixed by the direction's row; compare magnitudes
        assert abs(red.g_xx) == pytest.approx(abs(kappa) * (m - 2) / np.sqrt(m * (m - 1)), rel=1e-6)
    # all row directions are S_m-equivalent: identical reductions
    vals = np.array([[d.g_xx, d.g_xxx, d.g_xmu] for d in nf.directions])
    np.testing.assert_allclose(vals, np.broadcast_to(vals[0], vals.shape), rtol=1e-5)
    # Schur: the slope matrix on the irreducible kernel is a multiple of the identity
    np.testing.assert_allclose(nf.slope_matrix, nf.slope_eigenvalues.mean() * np.eye(k), atol=1e-6 * abs(nf.slope_eigenvalues.mean()))
    assert nf.classification == "transcritical"


@pytest.mark.parametrize("act,m", [("tanh", 2), ("tanh", 3), ("silu2", 3)])
def test_slope_matches_eigenvalue_derivative(act, m):
    """g_xmu (slope matrix eigenvalues) = d/dlam of the critical eigenvalue along the branch,
    by central differences of the lowest eigenvalue at Newton solutions at lam_c +- h."""
    model, Wc, lc, Phi = symmetric_crossing(act, m)
    nf = normal_form(model, Wc, lc, Phi)
    h = 1e-3 * lc
    e = []
    for lam in (lc - h, lc + h):
        W = newton(model, Wc + (lam - lc) * nf.tangent, lam, tol=1e-13).W
        W = np.repeat(W.mean(axis=0, keepdims=True), m, axis=0)
        e.append(np.linalg.eigvalsh(model.hessian(W, lam))[: m - 1])
    fd = (e[1] - e[0]) / (2 * h)
    np.testing.assert_allclose(np.sort(nf.slope_eigenvalues), np.sort(fd), rtol=1e-4)
    assert nf.g_xmu == pytest.approx(float(np.mean(fd)), rel=1e-4)


@settings(max_examples=15, deadline=None)
@given(model=problems(max_m=3, max_d=2, max_n=8), seed=st.integers(0, 2**31 - 1), lam=st.floats(0.0, 1.0),
       k=st.integers(1, 3))
def test_tensors_match_model_multilinear_forms(model, seed, lam, k):
    """The vectorised Q and C against the model's own d3 / d4 / d3_vec and a pseudo-inverse of the
    projected dense Hessian, at any point and any orthonormal Phi (the formulas are formal)."""
    k = min(k, model.size)
    W = random_point(model, seed)
    rng = np.random.default_rng(seed)
    F = np.linalg.qr(rng.standard_normal((model.size, k)))[0]
    Phi = F.T.reshape(k, model.m, model.d)
    ev = model.at(W, lam)
    # H^+ by its definition: the inverse of H compressed to the complement of span(Phi)
    Qc = np.linalg.qr(F, mode="complete")[0][:, k:]
    Hc = Qc.T @ ev.hessian() @ Qc
    if Hc.size and np.linalg.cond(Hc) > 1e8:
        return  # H singular on the complement: H^+ is not defined
    Hp = Qc @ np.linalg.inv(Hc) @ Qc.T if Hc.size else np.zeros((model.size, model.size))
    Q, C = reduced_tensors(model, W, lam, Phi)
    D3 = {(a, b): ev.d3_vec(Phi[a], Phi[b]).ravel() for a in range(k) for b in range(k)}
    for a in range(k):
        for b in range(k):
            for c in range(k):
                assert Q[a, b, c] == pytest.approx(ev.d3(Phi[a], Phi[b], Phi[c]), rel=1e-9, abs=1e-12)
                for d in range(k):
                    corr = sum(D3[p] @ Hp @ D3[q] for p, q in (((a, b), (c, d)), ((a, c), (b, d)), ((a, d), (b, c))))
                    ref = ev.d4(Phi[a], Phi[b], Phi[c], Phi[d]) - corr
                    assert C[a, b, c, d] == pytest.approx(ref, rel=1e-7, abs=1e-10 * (1 + abs(corr)))


@settings(max_examples=20, deadline=None)
@given(model=problems(max_m=4, max_d=3, max_n=10), seed=st.integers(0, 2**31 - 1), lam=st.floats(0.0, 1.0))
def test_third_and_fourth_derivatives_match_hvp_differences(model, seed, lam):
    """D^3L[u,v,.] = d/dt H(W + t u) v and D^4L[u,u,v,v] = d/dt D^3L[v,v,u](W + t u), by central
    differences of the model's Hessian-vector product and d3 — the quantities the normal form uses."""
    W = random_point(model, seed)
    U = random_point(model, seed + 1, 1.0)
    V = random_point(model, seed + 2, 1.0)
    h = 1e-5
    ev = model.at(W, lam)
    fd3 = (model.hvp(W + h * U, lam, V) - model.hvp(W - h * U, lam, V)) / (2 * h)
    np.testing.assert_allclose(ev.d3_vec(U, V), fd3, rtol=1e-5, atol=1e-7)
    fd4 = (model.d3(W + h * U, lam, V, V, U) - model.d3(W - h * U, lam, V, V, U)) / (2 * h)
    assert ev.d4(U, U, V, V) == pytest.approx(fd4, rel=1e-5, abs=1e-7)


def test_dH_dlam_is_exact():
    """The slope matrix's Phi^T (dH/dlam) Phi part agrees with the model's hessian_lam_quadratic
    (an independent closed form), for a lam near each end of [0, 1] and inside."""
    from nlpt.normal_form import _dH_dlam_apply

    X, y = nlpt.default_data(n=30, d=2, seed=4)
    model = nlpt.Model(X, y, 3, a=np.array([1.0, -0.5, 2.0]), alpha=0.01, activation="erf")
    W = random_point(model, 8)
    V = random_point(model, 9, 1.0)
    for lam in (0.0, 0.05, 0.5, 0.97, 1.0):
        q = float(np.sum(V * _dH_dlam_apply(model, W, lam, V[None])[0]))
        assert q == pytest.approx(model.at(W, lam).hessian_lam_quadratic(V), rel=1e-10, abs=1e-13)


# -- branch switching: Morse indices from the reduced equation ----------------------------------

@pytest.mark.parametrize("act", ["sin", "tanh"])
def test_bifurcated_pitchfork_morse_index(act):
    """On a pitchfork branch the reduced derivative dg/dxi = g_xmu mu + g_xxx xi^2/2 = -2 g_xmu mu;
    the other eigenvalues keep the sign they have on the followed branch (index 0 before, m = 2).
    So the bifurcated index is morse_before + 1 if -2 g_xmu mu < 0, else morse_before."""
    model, Wc, lc, Phi = symmetric_crossing(act, 2)
    nf = normal_form(model, Wc, lc, Phi)
    brs = switch_branches(model, Wc, lc, Phi, nf, dlam=0.01 * lc, n_steps=1)
    assert len(brs) == 2
    for b in brs:
        assert b.converged and b.grad_norms[0] <= 1e-10
        assert float(np.sum((b.W[0] - Wc) * b.vector)) == pytest.approx(b.xi[0], rel=1e-10)
        mu = b.lams[0] - lc
        expected = 1 if -2 * nf.g_xmu * mu < 0 else 0
        assert b.morse[0] == expected
    if act == "sin":  # measured: supercritical, branches of minima after the crossing
        assert nf.criticality == "supercritical" and all(b.morse[0] == 0 for b in brs)


def test_bad_input_is_named():
    model, Wc, lc, Phi = symmetric_crossing("tanh", 2)
    with pytest.raises(nlpt.NLPTInputError, match="Phi"):
        normal_form(model, Wc, lc, np.ones((1, 2, 3)))  # not normalised
    with pytest.raises(nlpt.NLPTInputError, match="Phi"):
        normal_form(model, Wc, lc, np.ones((2, 3)))
    with pytest.raises(nlpt.NLPTInputError, match="lam"):
        normal_form(model, Wc, 1.5, Phi)
    nf = normal_form(model, Wc, lc, Phi)
    with pytest.raises(nlpt.NLPTInputError, match="dlam"):
        switch_branches(model, Wc, lc, Phi, nf, dlam=-1.0)


def test_failure_is_reported_not_raised():
    """A branch that would leave [0, 1] is stopped and says so."""
    model, Wc, lc, Phi = symmetric_crossing("tanh", 3)
    nf = normal_form(model, Wc, lc, Phi)
    brs = switch_branches(model, Wc, lc, Phi, nf, dlam=2 * lc, n_steps=2)
    failed = [b for b in brs if not b.converged]
    assert failed and all(b.message for b in failed)
    assert any("left [0, 1]" in b.message or "no convergence" in b.message for b in failed)


def test_to_dict_is_json():
    import json

    model, Wc, lc, Phi = symmetric_crossing("tanh", 3)
    nf = normal_form(model, Wc, lc, Phi)
    d = nf.to_dict()
    json.dumps(d)
    assert d["multiplicity"] == 2 and len(d["quadratic_tensor"]) == 2
    brs = switch_branches(model, Wc, lc, Phi, nf, n_steps=1)
    json.dumps([b.to_dict(include_W=True) for b in brs])


@pytest.mark.parametrize("act,m", [("tanh", 2), ("erf", 4)])
def test_matrix_free_complement_solve_matches_dense(act, m):
    """H^+ by MINRES on the projected operator gives the same g_xxx and cubic tensor as the dense
    compression to the complement."""
    model, Wc, lc, Phi = symmetric_crossing(act, m)
    dense = normal_form(model, Wc, lc, Phi, solver="dense")
    free = normal_form(model, Wc, lc, Phi, solver="minres")
    assert free.g_xxx == pytest.approx(dense.g_xxx, rel=1e-7)
    if m > 2:
        np.testing.assert_allclose(free.cubic_tensor, dense.cubic_tensor, rtol=1e-6, atol=1e-9 * np.max(np.abs(dense.cubic_tensor)))
