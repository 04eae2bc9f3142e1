"""Newton corrector: matrix-free (preconditioned MINRES) against dense solves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpt
from nlpt.linear import critical_point
from nlpt.newton import NewtonResult, minres_step, newton, newton_step
from nlpt.spectral import DENSE_MAX

from conftest import problems, random_point


def _minres_against_dense(model, lam, seed, **kw):
    """MINRES step vs the dense solve of H dW = -g at a random point, to the accuracy cond(H)
    allows; returns (ev, g, exact, cond), or None where H is too ill-conditioned to compare."""
    ev = model.at(random_point(model, seed), lam)
    H = ev.hessian()
    eig = np.linalg.eigvalsh(H)
    cond = np.max(np.abs(eig)) / np.min(np.abs(eig))
    if cond > 1e6:
        return None
    g = ev.grad()
    exact = np.linalg.solve(H, -g.ravel()).reshape(model.m, model.d)
    step, info, _ = minres_step(ev, g, rtol=1e-13, **kw)
    assert np.linalg.norm(H @ step.ravel() + g.ravel()) <= 1e-9 * max(1.0, cond) * np.linalg.norm(g)
    assert np.linalg.norm(step - exact) <= 1e-8 * cond * max(np.linalg.norm(exact), 1e-300)
    return ev, g, exact, cond


@settings(max_examples=40, deadline=None)
@given(problems(max_m=10, max_d=5, max_n=30, allow_zero_a=True), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_minres_step_equals_dense_solve(model, lam, seed):
    """Away from singular H, the MINRES step solves H dW = -g to the accuracy cond(H) allows."""
    out = _minres_against_dense(model, lam, seed)
    if out is None:
        return
    ev, g, exact, cond = out
    dense = newton_step(ev, g, solver="dense")
    np.testing.assert_allclose(dense, exact, atol=1e-10 * cond * np.linalg.norm(exact))


@settings(max_examples=20, deadline=None)
@given(
    m=st.integers(1, 8),
    d=st.integers(1, 4),
    lam=st.floats(0.0, 1.0),
    alpha=st.floats(0.02, 0.5),
    seed=st.integers(0, 10**6),
    uniform=st.booleans(),
    act=st.sampled_from(["tanh", "sin", "erf", "silu2"]),
)
def test_newton_minres_and_dense_reach_the_same_point(m, d, lam, alpha, seed, uniform, act):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, d))
    y = rng.standard_normal(30)
    a = None if uniform else rng.uniform(0.5, 1.5, m)
    model = nlpt.Model(X, y, m, a=a, alpha=alpha, activation=act)
    W0 = critical_point(model)[1]
    r1 = newton(model, W0, lam, tol=1e-11, solver="dense")
    r2 = newton(model, W0, lam, tol=1e-11, solver="minres")
    if not r1.converged:  # the dense iteration itself failed: nothing to compare
        return
    assert r2.converged, r2.message
    # Independent check: the gradient really vanishes at both points.
    assert np.linalg.norm(model.grad(r2.W, lam)) <= 1e-11
    H = model.hessian(r1.W, lam)
    mu = np.min(np.abs(np.linalg.eigvalsh(H)))
    if mu > 1e-3:  # isolated critical point: both must have found the same one
        np.testing.assert_allclose(r2.W, r1.W, atol=1e-9 / mu)


def test_newton_alpha_zero_matrix_free():
    """alpha = 0 (no floor): the preconditioner stays SPD and MINRES-Newton still converges."""
    X, y = nlpt.default_data(80, 3)
    model = nlpt.Model(X, y, 20, alpha=0.0)  # uniform a: the symmetric branch stays isolated
    W0 = critical_point(model.with_alpha(1e-3))[1]
    res = newton(model, W0, 0.3, solver="minres", tol=1e-10)
    assert res.converged, res.message
    assert np.linalg.norm(model.grad(res.W, 0.3)) <= 1e-10
    assert res.linear_iterations > 0


def test_newton_at_linear_endpoint_hits_closed_form():
    """At lam = 0 the critical point is W* of SPEC 3 (closed form); MINRES-Newton finds it."""
    X, y = nlpt.default_data(100, 4)
    model = nlpt.Model(X, y, 30, a=np.linspace(-1, 2, 30), alpha=1e-2)
    W_star = critical_point(model)[1]
    res = newton(model, W_star + 0.01 * random_point(model, 3), 0.0, solver="minres", tol=1e-12)
    assert res.converged
    # Newton from a perturbation also moves inside K (flat at lam=0 up to alpha); the limit
    # is the unique minimiser since H_0 >= alpha I > 0.
    np.testing.assert_allclose(res.W, W_star, atol=1e-9)


def test_auto_above_dense_max_never_forms_H(no_dense_hessian):
    m = DENSE_MAX // 3 + 5
    X, y = nlpt.default_data(40, 3)
    model = nlpt.Model(X, y, m, a=np.linspace(0.5, 1.5, m), alpha=1e-2)

    res = newton(model, critical_point(model)[1], 0.2)
    assert res.converged and res.linear_iterations > 0
    assert np.linalg.norm(model.grad(res.W, 0.2)) <= 1e-10


def test_non_convergence_is_reported():
    X, y = nlpt.default_data(40, 3)
    model = nlpt.Model(X, y, 5, alpha=1e-3)
    res = newton(model, 3.0 * random_point(model, 0), 1.0, maxiter=1, solver="minres")
    assert isinstance(res, NewtonResult)
    assert not res.converged and "no convergence" in res.message


def test_bad_input():
    X, y = nlpt.default_data(20, 3)
    model = nlpt.Model(X, y, 4)
    with pytest.raises(nlpt.NLPTInputError, match="^solver:"):
        newton(model, np.zeros((4, 3)), 0.5, solver="cg")
    with pytest.raises(nlpt.NLPTInputError, match="^lam:"):
        newton(model, np.zeros((4, 3)), 1.5)
    with pytest.raises(nlpt.NLPTInputError, match="^g:"):
        newton_step(model.at(np.zeros((4, 3)), 0.5), np.zeros((3, 4)))
    with pytest.raises(nlpt.NLPTInputError, match="^ev:"):
        newton_step(np.eye(3), np.zeros(3))


@settings(max_examples=30, deadline=None)
@given(problems(max_m=9, max_d=4, max_n=30), st.floats(0.0, 1.0), st.integers(0, 10**6), st.sampled_from(["block", "auto"]))
def test_minres_step_block_preconditioner_equals_dense_solve(model, lam, seed, pre):
    """The per-neuron preconditioner (and 'auto', which may switch to it) solves H dW = -g."""
    _minres_against_dense(model, lam, seed, preconditioner=pre)


def test_minres_auto_switches_to_block_on_clustered_spectrum():
    """Random a near a crossing (clustered small eigenvalues of both signs): 40 iterations with
    the lam = 0 preconditioner do not suffice; 'auto' continues with the block operator and still
    solves H dW = -g (checked against the dense solve)."""
    X, y = nlpt.default_data(60, 3)
    m = 80
    a = np.random.default_rng(1).uniform(0.5, 1.5, m)
    model = nlpt.Model(X, y, m, a=a, alpha=1e-5)
    ev = model.at(critical_point(model)[1] + random_point(model, 2, scale=0.01), 0.6)
    g = ev.grad()
    _, info_h0, its_h0 = minres_step(ev, g, rtol=1e-10, maxiter=40, preconditioner="h0")
    assert info_h0 != 0 and its_h0 == 40  # the lam = 0 operator alone stalls here
    step, info, its = minres_step(ev, g, rtol=1e-10)
    assert info == 0 and its > 40
    H = ev.hessian()
    exact = np.linalg.solve(H, -g.ravel())
    cond = np.linalg.cond(H)
    assert np.linalg.norm(step.ravel() - exact) <= 1e-8 * cond * np.linalg.norm(exact)


def test_minres_bad_preconditioner():
    X, y = nlpt.default_data(20, 3)
    model = nlpt.Model(X, y, 4)
    ev = model.at(np.zeros((4, 3)), 0.5)
    with pytest.raises(nlpt.NLPTInputError, match="^preconditioner:"):
        minres_step(ev, ev.grad(), preconditioner="ilu")
