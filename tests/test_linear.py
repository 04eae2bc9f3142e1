"""The linear endpoint (SPEC 3): every closed form held against its numerical counterpart.

These are the numerical halves of the formal layer's theorems (see lean/manifest.json).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpt
from nlpt.linear import closed_form_spectrum, critical_point, kernel_basis, sigma_matrix
from conftest import problems, random_point

seeds = st.integers(0, 2**31 - 1)
EXAMPLES = dict(max_examples=80, deadline=None)


def _sigma_pd(model) -> bool:
    mu = np.linalg.eigvalsh(sigma_matrix(model))
    return mu[0] > 1e-6 * mu[-1]


def T(model, V):
    """T_a V = sum_j a_j v_j (SPEC 6.1)."""
    return model.a @ V


@settings(**EXAMPLES)
@given(model=problems(allow_zero_a=True))
def test_kernel_dim_matches_formula(model):
    """Numeric kernel dimension of the unregularized Hessian = m d - rank(Sigma) (a != 0), m d (a = 0);
    = (m-1) d exactly when Sigma is positive definite (KernelDim)."""
    le = nlpt.linear_endpoint(model)
    assert le.kernel_dim == le.kernel_dim_theory
    if not np.any(model.a):
        assert le.kernel_dim == model.m * model.d
    else:
        rank = np.linalg.matrix_rank(model.X)
        assert le.kernel_dim == model.m * model.d - rank
        if _sigma_pd(model):
            assert le.kernel_dim == (model.m - 1) * model.d


@settings(**EXAMPLES)
@given(model=problems())
def test_kernel_basis_in_ker_T(model):
    """The basis of K is orthonormal, lies in ker T_a, has (m-1) d elements; T_a is onto R^d."""
    B = kernel_basis(model)
    q = B.shape[0]
    assert q == (model.m - 1) * model.d
    flat = B.reshape(q, model.size)
    np.testing.assert_allclose(flat @ flat.T, np.eye(q), atol=1e-12)
    np.testing.assert_allclose(np.einsum("j,qjk->qk", model.a, B), 0.0, atol=1e-12)
    # surjectivity with any pivot p (a_p != 0): V = e_p e_k^T / a_p maps to e_k
    for p in np.flatnonzero(model.a):
        for k in range(model.d):
            V = np.zeros((model.m, model.d))
            V[p, k] = 1.0 / model.a[p]
            np.testing.assert_allclose(T(model, V), np.eye(model.d)[k], atol=1e-12)


@settings(**EXAMPLES)
@given(model=problems(), seed=seeds)
def test_gauss_newton_kernel_equals_ker_T(model, seed):
    """At lam = 0 the data Hessian is (1/m^2)(a a^T) (x) Sigma for every W, so its quadratic form is
    (T_a V)^T Sigma (T_a V) / m^2: zero on ker T_a, positive off it when Sigma is PD (GaussNewton)."""
    W = random_point(model, seed)
    Hd = model.at(W, 0.0).data_hessian()
    S = sigma_matrix(model)
    np.testing.assert_allclose(Hd, np.kron(np.outer(model.a, model.a), S) / model.m**2, atol=1e-12)
    B = kernel_basis(model).reshape((model.m - 1) * model.d, model.size)
    np.testing.assert_allclose(Hd @ B.T, 0.0, atol=1e-12)
    V = random_point(model, seed + 1, 1.0)
    tv = T(model, V)
    form = V.ravel() @ Hd @ V.ravel()
    assert form == pytest.approx(tv @ S @ tv / model.m**2, rel=1e-9, abs=1e-12)
    if _sigma_pd(model) and np.linalg.norm(tv) > 1e-6:
        assert form > 0


@settings(**EXAMPLES)
@given(model=problems())
def test_lambda_min_equals_alpha(model):
    """lambda_min(H_0) = alpha whenever the kernel is nontrivial (Floor)."""
    le = nlpt.linear_endpoint(model)
    if le.kernel_dim_theory > 0:
        assert le.lambda_min == pytest.approx(model.alpha, rel=1e-9, abs=1e-12)
    assert le.lambda_min >= model.alpha - 1e-12


@settings(**EXAMPLES)
@given(model=problems(), seed=seeds)
def test_quadratic_form_floor(model, seed):
    """v^T H_0 v >= alpha |v|^2 for all v, with equality on the kernel K (Floor)."""
    W = random_point(model, seed)
    H0 = model.hessian(W, 0.0)
    rng = np.random.default_rng(seed)
    for v in rng.standard_normal((5, model.size)):
        assert v @ H0 @ v >= model.alpha * (v @ v) * (1 - 1e-12) - 1e-14
    for V in kernel_basis(model):
        assert V.ravel() @ H0 @ V.ravel() == pytest.approx(model.alpha, rel=1e-10, abs=1e-13)


@settings(**EXAMPLES)
@given(model=problems(allow_zero_a=True))
def test_spectrum_matches_closed_form(model):
    """Full spectrum of H_0: alpha ((m-1)d + d - rank times) and alpha + |a|^2/m^2 mu_k(Sigma)."""
    le = nlpt.linear_endpoint(model)
    scale = max(1.0, float(np.max(np.abs(le.eigenvalues))))
    np.testing.assert_allclose(le.eigenvalues, closed_form_spectrum(model), rtol=0, atol=1e-11 * scale)
    n_alpha = int(np.sum(np.isclose(le.eigenvalues, model.alpha, rtol=1e-9, atol=1e-12 * scale)))
    assert n_alpha >= le.kernel_dim_theory


@settings(**EXAMPLES)
@given(model=problems(allow_zero_a=True))
def test_critical_point_has_zero_gradient(model):
    """W* = (m/|a|^2) a v*^T is a critical point of L_0, and W*^T a / m = v*."""
    v, W = critical_point(model)
    g = model.grad(W, 0.0)
    scale = max(1.0, float(np.abs(model.X.T @ model.y).max()) / model.n)
    assert np.linalg.norm(g) <= 1e-10 * scale
    if np.any(model.a):
        np.testing.assert_allclose(W.T @ model.a / model.m, v, rtol=1e-10, atol=1e-12)
        # v* solves the ridge normal equations of the linear endpoint
        S = sigma_matrix(model)
        lhs = (S + model.alpha * model.m**2 / (model.a @ model.a) * np.eye(model.d)) @ v
        np.testing.assert_allclose(lhs, model.X.T @ model.y / model.n, rtol=1e-9, atol=1e-10 * scale)


def test_default_spectrum_example():
    """The README's example: m = 4, d = 3 gives kernel dimension 9 and lambda_min = alpha."""
    X, y = nlpt.default_data(n=200, d=3, seed=0)
    le = nlpt.linear_endpoint(nlpt.Model(X, y, 4, alpha=1e-3))
    assert (le.kernel_dim, le.kernel_dim_theory) == (9, 9)
    assert le.lambda_min == pytest.approx(1e-3, rel=1e-9)
