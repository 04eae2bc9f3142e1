"""Matrix-free spectra (LOBPCG / Lanczos on the HVP) against dense LAPACK on the same Hessian."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nlpt
from nlpt.linear import critical_point
from nlpt.spectral import (
    DENSE_MAX,
    block_inverse,
    eigensolve,
    h0_inverse,
    h0_preconditioner,
    kernel_block,
    lowest_eigenpairs,
    morse_index,
)

from conftest import problems, random_point


def _dense_matrix(op, P):
    return op.matmat(np.eye(P))


def _check_against_dense(ev, res, k):
    """Eigenvalues equal; vectors lie in the dense eigenspace of the k lowest (cluster-closed)."""
    H = ev.hessian()
    lam, U = np.linalg.eigh(H)
    scale = max(1.0, float(np.max(np.abs(lam))))
    assert res.converged, res.message
    np.testing.assert_allclose(res.values, lam[:k], rtol=0, atol=1e-8 * scale)
    X = res.vectors
    np.testing.assert_allclose(X.T @ X, np.eye(k), atol=1e-8)
    # Span of all dense eigenvectors whose eigenvalue is within 1e-5 of the k-th: a cluster cut
    # by k may be represented by any basis of part of it.
    top = lam[k - 1] + 1e-5 * scale
    Uc = U[:, lam <= top]
    outside = X - Uc @ (Uc.T @ X)
    assert np.linalg.norm(outside) <= 1e-4
    # When the k-th eigenvalue is separated from the (k+1)-th, the projectors coincide.
    if k == len(lam) or lam[k] - lam[k - 1] > 1e-5 * scale:
        Pm, Pd = X @ X.T, U[:, :k] @ U[:, :k].T
        assert np.linalg.norm(Pm - Pd) <= 1e-4


@st.composite
def cases(draw):
    model = draw(problems(max_m=10, max_d=5, max_n=30))
    P = model.size
    k = draw(st.integers(1, max(1, min(4, (P - 1) // 5))))
    lam = draw(st.floats(0.0, 1.0))
    where = draw(st.sampled_from(["random", "critical"]))
    if where == "random":
        W = random_point(model, draw(st.integers(0, 10**6)))
    else:
        W = critical_point(model)[1]
    return model, model.at(W, lam), k


@settings(max_examples=40, deadline=None)
@given(cases(), st.sampled_from(["lobpcg", "lanczos"]))
def test_matrix_free_equals_dense(case, method):
    model, ev, k = case
    if method == "lanczos" and k >= model.size:
        k = model.size - 1
    if k < 1:
        return
    res = eigensolve(ev, k, method)
    _check_against_dense(ev, res, k)


@settings(max_examples=15, deadline=None)
@given(
    m=st.integers(2, 9),
    d=st.integers(1, 4),
    lam=st.floats(0.0, 1.0),
    alpha=st.floats(1e-4, 0.1),
    seed=st.integers(0, 10**6),
    act=st.sampled_from(["tanh", "sin", "erf", "silu2"]),
)
def test_uniform_a_degenerate_cluster(m, d, lam, alpha, seed, act):
    """Uniform a at W* (all rows equal): S_m symmetry makes the lowest eigenvalue (m-1)-fold.

    The matrix-free block of size m - 1 must span the same eigenspace as the dense solver.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((25, d))
    y = rng.standard_normal(25)
    model = nlpt.Model(X, y, m, alpha=alpha, activation=act)
    ev = model.at(critical_point(model)[1], lam)
    k = m - 1
    if model.size < 5 * k + 1:
        k = max(1, (model.size - 1) // 5)
    res = eigensolve(ev, k, "lobpcg")
    _check_against_dense(ev, res, k)


def test_linear_endpoint_floor_and_kernel():
    """At lam = 0: lowest eigenvalue alpha with eigenvectors in K (SPEC 3 floor), matrix-free."""
    X, y = nlpt.default_data(60, 3, seed=1)
    model = nlpt.Model(X, y, 40, a=np.linspace(0.5, 1.5, 40), alpha=1e-3)
    ev = model.at(critical_point(model)[1], 0.0)
    res = eigensolve(ev, 5, "lobpcg")
    assert res.converged
    np.testing.assert_allclose(res.values, 1e-3, rtol=1e-9)
    V = res.vectors.T.reshape(5, 40, 3)
    np.testing.assert_allclose(np.einsum("j,kjd->kd", model.a, V), 0.0, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(problems(max_m=8, max_d=5, max_n=30, allow_zero_a=True), st.floats(-3.0, 3.0))
def test_h0_inverse_is_exact(model, sigma):
    """(H_0 - sigma I)^{-1} from the closed form equals the dense inverse of H_0 - sigma I."""
    P = model.size
    H0 = model.at(np.zeros((model.m, model.d)), 0.0).hessian()
    A = H0 - sigma * np.eye(P)
    ev = np.linalg.eigvalsh(A)
    if np.min(np.abs(ev)) < 1e-6 * max(1.0, np.max(np.abs(ev))):
        with pytest.raises(nlpt.NLPTInputError, match="sigma") if np.min(np.abs(ev)) < 1e-13 else _null():
            h0_inverse(model, sigma)
        return
    Ainv = _dense_matrix(h0_inverse(model, sigma), P)
    np.testing.assert_allclose(Ainv @ A, np.eye(P), atol=1e-8 * np.linalg.cond(A))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_h0_inverse_rejects_eigenvalue():
    X, y = nlpt.default_data(30, 2)
    model = nlpt.Model(X, y, 4, alpha=0.01)
    with pytest.raises(nlpt.NLPTInputError, match="sigma"):
        h0_inverse(model, 0.01)


@settings(max_examples=20, deadline=None)
@given(problems(max_m=8, max_d=4, max_n=30), st.floats(0.0, 1.0), st.integers(0, 10**6), st.booleans())
def test_preconditioner_is_spd(model, lam, seed, zero_alpha):
    """T = (H_0 + (tau - alpha) I)^{-1} is symmetric positive definite, also for alpha = 0;
    with tau = alpha it is exactly H_0^{-1}."""
    if zero_alpha:
        model = model.with_alpha(0.0)
    ev = model.at(random_point(model, seed), lam)
    T = _dense_matrix(h0_preconditioner(ev), model.size)
    np.testing.assert_allclose(T, T.T, atol=1e-10 * np.max(np.abs(T)))
    assert np.all(np.isfinite(T))
    assert np.linalg.eigvalsh(0.5 * (T + T.T))[0] > 0
    if model.alpha > 0:
        H0 = model.at(np.zeros((model.m, model.d)), 0.0).hessian()
        T0 = _dense_matrix(h0_preconditioner(ev, tau=model.alpha), model.size)
        np.testing.assert_allclose(T0 @ H0, np.eye(model.size), atol=1e-8 * np.linalg.cond(H0))


def test_kernel_block_lies_in_K_and_is_seeded():
    X, y = nlpt.default_data(30, 3)
    model = nlpt.Model(X, y, 6, a=np.arange(1.0, 7.0))
    B = kernel_block(model, 4, seed=3, outside=0.0)
    np.testing.assert_allclose(B.T @ B, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(np.einsum("j,kjd->kd", model.a, B.T.reshape(4, 6, 3)), 0.0, atol=1e-12)
    np.testing.assert_array_equal(B, kernel_block(model, 4, seed=3, outside=0.0))


@settings(max_examples=25, deadline=None)
@given(problems(max_m=10, max_d=4, max_n=30), st.floats(0.5, 1.0), st.integers(0, 10**6))
def test_morse_index_matrix_free_equals_dense(model, lam, seed):
    ev = model.at(random_point(model, seed, scale=2.0), lam)
    lam_all = np.linalg.eigvalsh(ev.hessian())
    if np.min(np.abs(lam_all + 1e-9)) < 1e-7:  # an eigenvalue at the threshold: ambiguous
        return
    expected = int(np.sum(lam_all < -1e-9))
    assert morse_index(ev, method="dense") == expected
    assert morse_index(ev, method="matrix-free") == expected


def test_morse_index_grows_block():
    """An index larger than the first block (4) is found by growing the block."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 3))
    y = 3.0 * rng.standard_normal(40)
    model = nlpt.Model(X, y, 12, alpha=1e-4, activation="sin")
    ev = model.at(2.5 * rng.standard_normal((12, 3)), 1.0)
    expected = int(np.sum(np.linalg.eigvalsh(ev.hessian()) < -1e-9))
    assert expected > 4
    assert morse_index(ev, method="matrix-free") == expected


def test_warm_start_from_exact_eigenvectors():
    X, y = nlpt.default_data(50, 3)
    model = nlpt.Model(X, y, 30, a=np.linspace(-1, 2, 30), alpha=1e-3)
    ev = model.at(random_point(model, 1), 0.7)
    vals, U = np.linalg.eigh(ev.hessian())
    res = eigensolve(ev, 2, "lobpcg", X0=U[:, :2])
    assert res.converged
    assert res.products <= 6  # the start block already satisfies the residual test
    np.testing.assert_allclose(res.values, vals[:2], atol=1e-10)


def test_auto_above_dense_max_never_forms_H(no_dense_hessian):
    """Above DENSE_MAX, 'auto' spectra and Morse index use only Hessian-vector products."""
    m = DENSE_MAX // 3 + 5
    X, y = nlpt.default_data(40, 3)
    model = nlpt.Model(X, y, m, alpha=1e-2)
    ev = model.at(critical_point(model)[1], 0.3)

    res = eigensolve(ev, 2)
    assert res.method in ("lobpcg", "lanczos") and res.converged
    assert morse_index(ev) == 0
    # Independent check of the value: on the symmetric branch the lowest eigenvalue is
    # alpha + mu_min(M_lam)/m on K, M_lam = (1/n) sum_i r_i s_lam''(z_i) x_i x_i^T (SPEC 2, 4).
    z = ev.Z[:, 0]
    s2 = ev.S[2][:, 0]
    M = (X.T * (ev.r * s2)) @ X / model.n
    np.testing.assert_allclose(res.values[0], 1e-2 + np.linalg.eigvalsh(M)[0] / m, rtol=1e-8)
    assert z.shape == (40,)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"k": 10**6}, "k"),
        ({"k": 0}, "k"),
        ({"k": 1.5}, "k"),
        ({"method": "qr"}, "method"),
        ({"tol": 0.0}, "tol"),
        ({"X0": np.ones((7, 1))}, "X0"),
        ({"X0": np.full((12, 1), np.nan)}, "X0"),
        ({"preconditioner": "jacobi"}, "preconditioner"),
    ],
)
def test_bad_input(kwargs, name):
    X, y = nlpt.default_data(20, 3)
    model = nlpt.Model(X, y, 4)
    ev = model.at(np.zeros((4, 3)), 0.5)
    with pytest.raises(nlpt.NLPTInputError, match=rf"^{name}:"):
        eigensolve(ev, **kwargs)
    with pytest.raises(nlpt.NLPTInputError, match=rf"^{name}:"):
        lowest_eigenpairs(ev, **kwargs)


def test_bad_input_morse_and_ev():
    X, y = nlpt.default_data(20, 3)
    model = nlpt.Model(X, y, 4)
    with pytest.raises(nlpt.NLPTInputError, match="^method:"):
        morse_index(model.at(np.zeros((4, 3)), 0.5), method="svd")
    with pytest.raises(nlpt.NLPTInputError, match="^ev:"):
        lowest_eigenpairs(np.eye(3))


# -- the per-neuron block operator (non-uniform a) ------------------------------------------


def _gauss_newton(ev):
    """B^T B / n with B[i, (j, :)] = c_j s'_lam(z_ij) x_i^T, from the activation (SPEC 2)."""
    model = ev.model
    sig1 = model.activation.derivs(ev.Z, 1)[1]
    s1 = (1.0 - ev.lam) + ev.lam * sig1  # s_lam' = (1 - lam) + lam sigma'
    B = ((s1 * model.c)[:, :, None] * model.X[:, None, :]).reshape(model.n, model.size)
    return B.T @ B / model.n


@st.composite
def nonuniform_points(draw, max_m=9, max_d=4, max_n=30):
    """Non-uniform a (random, signed, with repeated or nearly repeated entries) at W* or at a
    random W; repeated a_j at W* give exactly degenerate clusters (equal rows of W*)."""
    m = draw(st.integers(2, max_m))
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(2, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["random", "signed", "repeated", "near"]))
    if kind == "random":
        a = rng.uniform(0.5, 1.5, m)
    elif kind == "signed":
        a = rng.uniform(0.2, 2.0, m) * rng.choice([-1.0, 1.0], m)
    elif kind == "repeated":
        a = rng.choice([0.6, 1.4], m)
    else:
        a = rng.choice([0.6, 1.4], m) + 1e-7 * rng.standard_normal(m)
    X = rng.standard_normal((n, d))
    y = np.tanh(2 * X @ rng.standard_normal(d)) + 0.1 * rng.standard_normal(n)
    model = nlpt.Model(X, y, m, a=a, alpha=draw(st.floats(1e-4, 0.05)), activation=draw(st.sampled_from(["tanh", "sin", "erf", "silu2"])))
    lam = draw(st.floats(0.0, 1.0))
    W = critical_point(model)[1] if draw(st.booleans()) else random_point(model, draw(st.integers(0, 10**6)))
    return model, model.at(W, lam)


@settings(max_examples=40, deadline=None)
@given(nonuniform_points())
def test_block_inverse_is_the_exact_shifted_inverse(case):
    """T = (H - sigma I)^{-1} exactly (Woodbury on H = A + B^T B/n); SPD below the lower bound,
    which is a lower bound of the spectrum (B^T B/n is PSD: Weyl)."""
    model, ev = case
    P = model.size
    H = ev.hessian()
    T = block_inverse(ev)
    # The blocks are H's diagonal blocks minus the Gauss-Newton part (SPEC 2), computed here
    # from the activation directly.
    A = H - _gauss_newton(ev)
    A4 = A.reshape(model.m, model.d, model.m, model.d)
    for j in range(model.m):
        np.testing.assert_allclose(T.blocks[j], A4[j, :, j, :], atol=1e-10 * max(1.0, np.abs(H).max()))
        A4[j, :, j, :] = 0.0
    np.testing.assert_allclose(A, 0.0, atol=1e-10 * max(1.0, np.abs(H).max()))  # A is block diagonal
    lam_H = np.linalg.eigvalsh(H)
    assert T.lower <= lam_H[0] + 1e-12 * max(1.0, np.abs(lam_H).max())
    assert T.sigma < T.lower
    S = H - T.sigma * np.eye(P)
    Tm = _dense_matrix(T, P)
    # Woodbury's rounding error grows with ||(A - sigma)^{-1}|| / ||(H - sigma)^{-1}||
    # = (lambda_min(H) - sigma) / (lower - sigma): the shift sits just below lower on purpose.
    amp = (lam_H[0] - T.sigma) / (T.lower - T.sigma)
    cond = np.linalg.cond(S) * amp
    np.testing.assert_allclose(Tm, Tm.T, atol=1e-10 * cond * np.abs(Tm).max())
    np.testing.assert_allclose(Tm @ S, np.eye(P), atol=1e-10 * cond)
    if cond < 1e8:
        assert np.linalg.eigvalsh(0.5 * (Tm + Tm.T))[0] > 0


@settings(max_examples=20, deadline=None)
@given(nonuniform_points(), st.floats(-2.0, 2.0))
def test_block_inverse_at_any_shift(case, sigma):
    """Any sigma outside the spectra of H and of the blocks: still the exact inverse (LU)."""
    model, ev = case
    P = model.size
    H = ev.hessian()
    S = H - sigma * np.eye(P)
    eA = np.linalg.eigvalsh(block_inverse(ev).blocks)
    gap = min(np.min(np.abs(np.linalg.eigvalsh(S))), np.min(np.abs(eA - sigma)))
    if gap < 1e-6 * max(1.0, np.abs(H).max()):
        return
    Tm = _dense_matrix(block_inverse(ev, sigma), P)
    np.testing.assert_allclose(Tm @ S, np.eye(P), atol=1e-8 * np.linalg.cond(S) * max(1.0, np.abs(eA - sigma).max() / gap))


@settings(max_examples=40, deadline=None)
@given(nonuniform_points(), st.integers(1, 4), st.sampled_from(["block", "h0"]))
def test_matrix_free_equals_dense_nonuniform_a(case, k, pre):
    """Non-uniform a, including exactly and nearly degenerate clusters: LOBPCG with either
    preconditioner returns the dense eigenvalues and eigenspace."""
    model, ev = case
    k = min(k, (model.size - 1) // 5)
    assume(k >= 1)
    res = eigensolve(ev, k, "lobpcg", preconditioner=pre)
    _check_against_dense(ev, res, k)


def test_repeated_a_gives_degenerate_cluster_found_by_block():
    """a takes two values, each on 6 neurons; at W* equal a_j give equal rows, so each group's
    lowest eigenvalue is (at least) 5-fold (symmetry of the group).  A block of 5 must span
    exactly that dense eigenspace."""
    X, y = nlpt.default_data(40, 3, seed=2)
    a = np.repeat([0.7, 1.3], 6)
    model = nlpt.Model(X, y, 12, a=a, alpha=1e-3)
    ev = model.at(critical_point(model)[1], 0.8)
    lam = np.linalg.eigvalsh(ev.hessian())
    assert abs(lam[4] - lam[0]) < 1e-10 * np.abs(lam).max() and lam[5] - lam[4] > 1e-8
    res = eigensolve(ev, 5, "lobpcg", preconditioner="block")
    assert res.preconditioner == "block"
    _check_against_dense(ev, res, 5)


def test_block_is_auto_above_dense_max_for_nonuniform_a(no_dense_hessian):
    """Above DENSE_MAX with random a: 'auto' picks the block operator, never forms H, and its
    lambda_min agrees with an independent Lanczos solve (no preconditioner)."""
    m = DENSE_MAX // 3 + 5
    X, y = nlpt.default_data(40, 3)
    a = np.random.default_rng(0).uniform(0.5, 1.5, m)
    model = nlpt.Model(X, y, m, a=a, alpha=1e-3)
    ev = model.at(critical_point(model)[1], 0.5)

    res = eigensolve(ev, 1)
    assert res.method == "lobpcg" and res.preconditioner == "block" and res.converged
    ref = eigensolve(ev, 1, "lanczos", tol=1e-12)
    assert ref.converged
    np.testing.assert_allclose(res.values, ref.values, atol=1e-9 * abs(ref.values[0]) + 1e-14)


def test_block_warm_start():
    """X0 = exact eigenvectors: the block-preconditioned solve stops at once."""
    X, y = nlpt.default_data(50, 3)
    model = nlpt.Model(X, y, 30, a=np.linspace(0.5, 1.5, 30), alpha=1e-3)
    ev = model.at(random_point(model, 1), 0.7)
    vals, U = np.linalg.eigh(ev.hessian())
    res = eigensolve(ev, 2, "lobpcg", X0=U[:, :2], preconditioner="block")
    assert res.converged and res.products <= 6
    np.testing.assert_allclose(res.values, vals[:2], atol=1e-10)
