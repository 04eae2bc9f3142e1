"""Softening rate, predicted threshold and imperfection (SPEC 4, 5).

The softening rate is held against four independent routes: the uniform-a closed form
``(c/m) mu(M)`` with M built here from its definition, the dense projected eigenproblem (d/dlam H
at W* obtained from three Hessians -- H(W*, lam) is a quadratic polynomial in lam at fixed W, so
the fit is exact -- compressed to :func:`nlpt.linear.kernel_basis`), the finite-difference slope
of the lowest Hessian eigenvalue along the Newton-corrected branch, and, for the secular solver
itself, a dense solve of the merged-block problem.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nlpt
from conftest import ACTIVATION_NAMES, a_vectors
from nlpt import NLPTInputError
from nlpt.linear import critical_point, kernel_basis
from nlpt.newton import newton
from nlpt.softening import _Secular, imperfection, predicted_threshold, project_K, softening_rate

EXAMPLES = dict(max_examples=40, deadline=None)


@st.composite
def small_models(draw, alpha_min=1e-3, alpha_max=1.0):
    """m 2..8, d 1..4, n 5..40, a with signs and zeros (conftest.a_vectors), any activation."""
    m = draw(st.integers(2, 8))
    d = draw(st.integers(1, 4))
    n = draw(st.integers(5, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    a = draw(a_vectors(m))
    alpha = draw(st.floats(alpha_min, alpha_max))
    act = draw(st.sampled_from(ACTIVATION_NAMES))
    return nlpt.Model(X, y, m, a=a, alpha=alpha, activation=act)


def dH_dlam_projected(model):
    """d/dlam H at (W*, 0), compressed to an orthonormal basis of K (dense, (q, q)).

    H(W, lam) at fixed W is quadratic in lam (s_lam', s_lam'' and r are affine in lam), so
    ``(4 H(1/2) - H(1) - 3 H(0))`` is its exact derivative at 0.  Along the branch the total
    derivative adds D^3L[W', ., .], which vanishes at lam = 0 (s_0'' = s_0''' = 0).
    """
    W = critical_point(model)[1]
    H0, Hh, H1 = (model.hessian(W, lam) for lam in (0.0, 0.5, 1.0))
    B = 4 * Hh - H1 - 3 * H0
    Q = kernel_basis(model).reshape(-1, model.size)
    return Q, Q @ B @ Q.T, B


def M_matrix_uniform(model, c):
    """M = (1/n) sum_i r_i sigma''(x_i . v*/c) x_i x_i^T for a = c 1 (rows of W* are v*/c)."""
    X, y, m = model.X, model.y, model.m
    S = X.T @ X / model.n
    b = X.T @ y / model.n
    v = np.linalg.solve(S + model.alpha * m * m / (m * c * c) * np.eye(model.d), b)
    r = X @ v - y  # f_0 = (1/m) sum_j a_j w_j . x = v . x
    s2 = model.activation.derivs(X @ (v / c), 2)[2]
    return np.einsum("i,ik,il->kl", r * s2, X, X) / model.n


# -- predicted threshold --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    alpha=st.floats(1e-8, 10.0),
    s=st.floats(-10.0, -1e-8),
    c=st.floats(-10.0, -1e-6),
    m=st.integers(1, 1000),
)
def test_predicted_threshold_algebra(alpha, s, c, m):
    """SPEC 6.4 (Threshold): the zero of alpha + s lam is lam* = alpha/|s|; lam* <= 1 iff
    alpha <= |s|; with s = c/m, lam* = alpha m/|c|, strictly increasing in m."""
    lam = predicted_threshold(alpha, s)
    assert lam == pytest.approx(alpha / abs(s), rel=1e-14)
    assert alpha + s * lam == pytest.approx(0.0, abs=1e-12 * max(alpha, 1.0))
    assert (lam <= 1.0) == (alpha <= abs(s)) or np.isclose(alpha, abs(s), rtol=1e-12)
    lm = predicted_threshold(alpha, c / m)
    assert lm == pytest.approx(alpha * m / abs(c), rel=1e-12)
    assert predicted_threshold(alpha, c / (m + 1)) > lm
    # No softening, no prediction.
    assert predicted_threshold(alpha, abs(s)) is None
    assert predicted_threshold(alpha, 0.0) is None


def test_predicted_threshold_rejects_bad_input():
    for bad in [(-1.0, -1.0), (np.nan, -1.0), (1.0, np.inf), ("1", -1.0), (1.0, None)]:
        with pytest.raises(NLPTInputError):
            predicted_threshold(*bad)


# -- the rate against the dense projected problem ---------------------------------------------


@settings(**EXAMPLES)
@given(model=small_models())
def test_rate_matches_dense_projected_problem(model):
    """lambda_1'(0) = lowest eigenvalue of d/dlam H on K; the minimisers are orthonormal, lie in
    K and are eigenvectors of the projected derivative with that eigenvalue."""
    Q, BK, B = dH_dlam_projected(model)
    ev = np.linalg.eigvalsh(BK)
    scale = max(np.abs(ev).max(), 1e-300)
    s = softening_rate(model)
    assert s.rate == pytest.approx(ev[0], abs=1e-9 * scale)
    V = s.directions.reshape(s.multiplicity, -1)
    assert V.shape[0] == s.multiplicity >= 1
    np.testing.assert_allclose(V @ V.T, np.eye(s.multiplicity), atol=1e-9)
    np.testing.assert_allclose(np.einsum("j,kjl->kl", model.a, s.directions), 0.0, atol=1e-9)
    np.testing.assert_allclose(V @ B @ V.T, s.rate * np.eye(s.multiplicity), atol=1e-8 * scale)
    # Multiplicity: where the dense spectrum has a clear gap after its lowest cluster, the counts agree.
    in_cluster = ev <= ev[0] + 1e-8 * scale
    k = int(in_cluster.sum())
    if k == len(ev) or ev[k] - ev[0] > 1e-5 * scale:
        assert s.multiplicity == k
    pred = s.lam_star_pred
    assert (pred is None) == (s.rate >= 0)
    if pred is not None:
        assert pred == pytest.approx(model.alpha / abs(s.rate))


@settings(**EXAMPLES)
@given(
    m=st.integers(2, 9),
    d=st.integers(1, 4),
    c=st.sampled_from([1.0, -0.7, 2.5]),
    seed=st.integers(0, 2**31),
    act=st.sampled_from(ACTIVATION_NAMES),
    alpha=st.floats(1e-4, 1.0),
)
def test_uniform_closed_form(m, d, c, seed, act, alpha):
    """a = c 1: rate = (c/m) mu_min(M) (c > 0) or (c/m) mu_max(M) (c < 0), with M built from its
    definition here; multiplicity (m-1) x multiplicity of that eigenvalue of M."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(max(5, d + 1), 40))
    model = nlpt.Model(rng.standard_normal((n, d)), rng.standard_normal(n), m, a=np.full(m, c), alpha=alpha, activation=act)
    mu = np.linalg.eigvalsh(M_matrix_uniform(model, c))
    s = softening_rate(model)
    assert s.method == "uniform closed form"
    target = (c / m) * (mu[0] if c > 0 else mu[-1])
    sc = abs(c) / m * max(np.abs(mu).max(), 1e-300)
    assert s.rate == pytest.approx(target, abs=1e-10 * sc)
    ext = mu if c > 0 else mu[::-1]
    mult_M = int(np.sum(np.abs(ext - ext[0]) <= 1e-8 * max(np.abs(mu).max(), 1e-300)))
    assert s.multiplicity == (m - 1) * mult_M


@pytest.mark.parametrize("m", [2, 3, 6])
def test_uniform_multiplicity_with_double_eigenvalue_of_M(m):
    """Data invariant under a 90-degree rotation R (orbits x, Rx, R^2x, R^3x with equal y) give
    v* = 0 and, for silu2 (sigma''(0) = 1), M = -(1/n) sum y_i x_i x_i^T commuting with R, i.e.
    M = mu I: the minimum is doubly degenerate in M and the rate has multiplicity 2 (m-1)."""
    rng = np.random.default_rng(3)
    R = np.array([[0.0, -1.0], [1.0, 0.0]])
    base = rng.standard_normal((6, 2))
    yb = rng.standard_normal(6)
    X = np.concatenate([base @ np.linalg.matrix_power(R, k).T for k in range(4)])
    y = np.tile(yb, 4)
    model = nlpt.Model(X, y, m, alpha=1e-3, activation="silu2")
    mu = -np.sum(y * np.einsum("ij,ij->i", X, X)) / (2 * len(y))  # trace(M)/2
    s = softening_rate(model)
    assert s.rate == pytest.approx(mu / m, rel=1e-10)
    assert s.multiplicity == 2 * (m - 1)
    Q, BK, _ = dH_dlam_projected(model)
    assert np.sum(np.abs(np.linalg.eigvalsh(BK) - s.rate) < 1e-10) == 2 * (m - 1)


# -- the secular solver against a dense solve of the same reduced problem -------------------------


@settings(max_examples=60, deadline=None)
@given(q=st.integers(2, 12), d=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_secular_root_and_count_match_dense_reduced(q, d, seed):
    """For random symmetric blocks A_G and weights b_G > 0: the bisection root of the secular
    equation is the lowest eigenvalue of the block-diagonal matrix compressed to
    {sum_G b_G u_G = 0}, and the bordered-matrix inertia count matches the dense count."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((q, d, d))
    A = 0.5 * (G + np.swapaxes(G, 1, 2))
    b = rng.uniform(0.2, 2.0, q)
    sec = _Secular(A, b)
    # Dense compression, built independently of the solver.
    Qb, _ = np.linalg.qr(b.reshape(-1, 1), mode="complete")
    C = np.kron(Qb[:, 1:], np.eye(d))
    Afull = np.zeros((q * d, q * d))
    for g in range(q):
        Afull[g * d:(g + 1) * d, g * d:(g + 1) * d] = A[g]
    dense = np.linalg.eigvalsh(C.T @ Afull @ C)
    assert sec.lowest_root() == pytest.approx(dense[0], abs=1e-9 * max(1.0, np.abs(dense).max()))
    for mu in rng.uniform(dense.min() - 1, dense.max() + 1, 5):
        if np.min(np.abs(dense - mu)) > 1e-8 and np.min(np.abs(sec.theta - mu)) > 1e-8:
            assert sec.count_below(mu) == int(np.sum(dense < mu))


# -- finite-difference slope along the branch -----------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(model=small_models(alpha_min=0.05, alpha_max=1.0))
def test_rate_is_slope_of_lowest_eigenvalue_along_branch(model):
    """(lambda_min(H(W(lam), lam)) - alpha) / lam -> lambda_1'(0), W(lam) Newton-corrected from W*.

    Richardson extrapolation of the forward differences at h and h/2 (error O(h^2)).  The floor
    eigenspace must be isolated (Sigma well conditioned), and the branch must be regular."""
    S = model.X.T @ model.X / model.n
    gap = float(model.a @ model.a) / model.m**2 * np.linalg.eigvalsh(S)[0]
    assume(gap > 1e-2)
    s = softening_rate(model)
    W0 = critical_point(model)[1]
    h = 1e-4

    def slope(lam):
        res = newton(model, W0, lam, tol=1e-13, maxiter=30)
        assume(res.converged)
        return (np.linalg.eigvalsh(model.hessian(res.W, lam))[0] - model.alpha) / lam

    rich = 2 * slope(h / 2) - slope(h)
    A = nlpt.softening.softening_blocks(model)
    scale = max(np.abs(np.linalg.eigvalsh(A)).max(), 1e-12)
    assert rich == pytest.approx(s.rate, abs=1e-5 * scale + 1e-9)


def test_rate_is_slope_on_default_data():
    """The same check on the paper's data (n=200, d=3, seed 0, tanh) with uniform and random a."""
    X, y = nlpt.default_data()
    for a in (np.ones(5), nlpt.make_a("random", 5, seed=1)):
        model = nlpt.Model(X, y, 5, a=a, alpha=0.1)
        s = softening_rate(model)
        W0 = critical_point(model)[1]
        sl = []
        for lam in (1e-4, 5e-5):
            res = newton(model, W0, lam, tol=1e-13)
            sl.append((np.linalg.eigvalsh(model.hessian(res.W, lam))[0] - model.alpha) / lam)
        assert 2 * sl[1] - sl[0] == pytest.approx(s.rate, rel=1e-4)


# -- width scaling ------------------------------------------------------------------------------------


def test_m_times_rate_is_width_independent_for_uniform_a():
    """For uniform a every row of W* is v*, so M depends on m only through
    v* = (Sigma + alpha m I)^{-1} X^T y / n.  At alpha = 0, m lambda_1'(0) = mu_min(M) is exactly
    the same for every width; at alpha = 1e-5 it moves only through the O(alpha m) shift of v*
    (measured: -0.00531 at m = 3, -0.00504 at m = 100, i.e. 5%; we allow 10%)."""
    X, y = nlpt.default_data()
    widths = [2, 3, 5, 10, 20, 50, 100]
    exact = [m * softening_rate(nlpt.Model(X, y, m, alpha=0.0)).rate for m in widths]
    np.testing.assert_allclose(exact, exact[0], rtol=1e-10)
    assert exact[0] < 0
    near = np.array([m * softening_rate(nlpt.Model(X, y, m, alpha=1e-5)).rate for m in widths])
    assert np.all(np.abs(near - exact[0]) <= 0.1 * abs(exact[0]))
    # The deviation grows with alpha m, as the reason says.
    assert np.all(np.diff(np.abs(near - exact[0])) >= 0)


# -- imperfection ---------------------------------------------------------------------------------


def eta_independent(model):
    """|P_K d/dlam grad L(W*, 0)| with d/dlam grad from an exact quadratic fit in lam and P_K from
    the orthonormal kernel basis."""
    W = critical_point(model)[1]
    g0, gh, g1 = (model.grad(W, lam) for lam in (0.0, 0.5, 1.0))
    dg = (4 * gh - g1 - 3 * g0).ravel()
    Q = kernel_basis(model).reshape(-1, model.size)
    return float(np.linalg.norm(Q @ dg))


@settings(**EXAMPLES)
@given(model=small_models())
def test_imperfection_matches_projection(model):
    eta = imperfection(model)
    assert eta == pytest.approx(eta_independent(model), abs=1e-10)
    if np.all(model.a == model.a[0]):
        assert eta <= 1e-12


def test_imperfection_zero_for_uniform_positive_for_random_a():
    X, y = nlpt.default_data()
    for m in (3, 10, 50):
        assert imperfection(nlpt.Model(X, y, m, alpha=1e-4)) <= 1e-14
        eta = imperfection(nlpt.Model(X, y, m, a=nlpt.make_a("random", m, seed=2), alpha=1e-4))
        assert eta > 1e-5
        assert eta == pytest.approx(eta_independent(nlpt.Model(X, y, m, a=nlpt.make_a("random", m, seed=2), alpha=1e-4)), rel=1e-8)


def test_project_K_is_orthogonal_projector():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(5)
    V = rng.standard_normal((4, 5, 3))
    P = project_K(a, V)
    np.testing.assert_allclose(np.einsum("j,kjl->kl", a, P), 0.0, atol=1e-12)
    np.testing.assert_allclose(project_K(a, P), P, atol=1e-12)
    np.testing.assert_allclose(np.sum(P * (V - P)), 0.0, atol=1e-10)


# -- input ---------------------------------------------------------------------------------------


def test_bad_input_raises():
    X, y = nlpt.default_data(n=20)
    model = nlpt.Model(X, y, 3, alpha=1e-3)
    with pytest.raises(NLPTInputError, match="model"):
        softening_rate("not a model")
    with pytest.raises(NLPTInputError, match="m >= 2"):
        softening_rate(nlpt.Model(X, y, 1, alpha=1e-3))
    with pytest.raises(NLPTInputError, match="W_star"):
        softening_rate(model, W_star=np.zeros((2, 3)))
    with pytest.raises(NLPTInputError, match="rtol"):
        softening_rate(model, rtol=-1.0)
    with pytest.raises(NLPTInputError, match="model"):
        imperfection(None)


def test_to_dict_and_determinism():
    import json

    X, y = nlpt.default_data()
    model = nlpt.Model(X, y, 7, a=nlpt.make_a("random", 7, seed=4), alpha=1e-4)
    r1, r2 = softening_rate(model), softening_rate(model)
    assert r1.rate == r2.rate and r1.multiplicity == r2.multiplicity
    d = json.loads(json.dumps(r1.to_dict()))
    assert d["softening_rate"] == r1.rate and d["method"] == "secular"
    assert d["m_times_rate"] == pytest.approx(7 * r1.rate)
