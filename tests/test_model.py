"""Model: loss and exact derivatives against finite differences and an independent naive loss."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpt
from conftest import problems, random_point

lams = st.floats(0.0, 1.0)
seeds = st.integers(0, 2**31 - 1)
H = 1e-5


def naive_loss(model, W, lam):
    """SPEC 1 written as loops, independent of the vectorised code."""
    act = model.activation
    total = 0.0
    for i in range(model.n):
        f = 0.0
        for j in range(model.m):
            z = float(W[j] @ model.X[i])
            f += model.a[j] / model.m * ((1 - lam) * z + lam * float(act(np.array(z))))
        total += (f - model.y[i]) ** 2
    return total / (2 * model.n) + model.alpha / 2 * float(np.sum(W * W))


def _clamp(lam):
    # central differences in lam need room on both sides
    return min(max(lam, 2 * H), 1 - 2 * H)


@settings(max_examples=25, deadline=None)
@given(model=problems(max_m=4, max_d=3, max_n=8), seed=seeds, lam=lams)
def test_loss_matches_naive_formula(model, seed, lam):
    W = random_point(model, seed)
    assert model.loss(W, lam) == pytest.approx(naive_loss(model, W, lam), rel=1e-12, abs=1e-14)


@settings(max_examples=60, deadline=None)
@given(model=problems(), seed=seeds, lam=lams)
def test_gradient_matches_finite_differences(model, seed, lam):
    W = random_point(model, seed)
    V = random_point(model, seed + 1, 1.0)
    fd = (model.loss(W + H * V, lam) - model.loss(W - H * V, lam)) / (2 * H)
    assert float(np.sum(model.grad(W, lam) * V)) == pytest.approx(fd, rel=1e-6, abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(model=problems(), seed=seeds, lam=lams)
def test_hvp_matches_gradient_differences_and_dense(model, seed, lam):
    W = random_point(model, seed)
    V = random_point(model, seed + 1, 1.0)
    ev = model.at(W, lam)
    hv = ev.hvp(V)
    fd = (model.grad(W + H * V, lam) - model.grad(W - H * V, lam)) / (2 * H)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)
    Hd = ev.hessian()
    np.testing.assert_allclose(Hd, Hd.T, rtol=0, atol=1e-13 * max(1.0, np.abs(Hd).max()))
    np.testing.assert_allclose(Hd @ V.ravel(), hv.ravel(), rtol=1e-10, atol=1e-12)
    # the LinearOperator, single and batched
    op = ev.operator()
    np.testing.assert_allclose(op @ V.ravel(), hv.ravel(), rtol=1e-12, atol=1e-14)
    B = np.stack([V.ravel(), W.ravel()], axis=1)
    np.testing.assert_allclose(op.matmat(B), Hd @ B, rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(model=problems(max_m=6, max_d=4), seed=seeds, lam=lams)
def test_third_and_fourth_derivatives_match_finite_differences(model, seed, lam):
    """D^3L and D^4L (multilinear) against differences of the next-lower order."""
    W = random_point(model, seed)
    U, V, Z, T = (random_point(model, seed + k, 1.0) for k in range(1, 5))
    ev = model.at(W, lam)
    # D^3L[U,V,Z] = d/dt <Z, H(W + tU) V>
    fd3 = (np.sum(Z * model.hvp(W + H * U, lam, V)) - np.sum(Z * model.hvp(W - H * U, lam, V))) / (2 * H)
    assert ev.d3(U, V, Z) == pytest.approx(fd3, rel=1e-5, abs=1e-7)
    assert float(np.sum(ev.d3_vec(U, V) * Z)) == pytest.approx(ev.d3(U, V, Z), rel=1e-10, abs=1e-12)
    # symmetry of the multilinear forms
    assert ev.d3(U, V, Z) == pytest.approx(ev.d3(Z, U, V), rel=1e-10, abs=1e-12)
    # D^4L[U,V,Z,T] = d/dt D^3L(W + tT)[U,V,Z]
    fd4 = (model.d3(W + H * T, lam, U, V, Z) - model.d3(W - H * T, lam, U, V, Z)) / (2 * H)
    assert ev.d4(U, V, Z, T) == pytest.approx(fd4, rel=1e-5, abs=1e-7)
    assert ev.d4(U, V, Z, T) == pytest.approx(ev.d4(T, Z, V, U), rel=1e-10, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(model=problems(max_m=6, max_d=4), seed=seeds, lam=lams)
def test_directional_derivatives_chain(model, seed, lam):
    """[L, L', L'', L''', L''''] along V: each the finite difference of the previous order."""
    W = random_point(model, seed)
    V = random_point(model, seed + 1, 1.0)
    dd = model.directional(W, lam, V)
    lo = model.directional(W - H * V, lam, V)
    hi = model.directional(W + H * V, lam, V)
    for k in range(4):
        assert dd[k + 1] == pytest.approx((hi[k] - lo[k]) / (2 * H), rel=1e-5, abs=1e-7)
    ev = model.at(W, lam)
    assert dd[2] == pytest.approx(float(np.sum(V * ev.hvp(V))), rel=1e-10, abs=1e-12)
    assert dd[3] == pytest.approx(ev.d3(V, V, V), rel=1e-10, abs=1e-12)
    assert dd[4] == pytest.approx(ev.d4(V, V, V, V), rel=1e-10, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(model=problems(max_m=6, max_d=4), seed=seeds, lam=lams)
def test_lam_derivatives_match_finite_differences(model, seed, lam):
    """d/dlam grad and V^T (d/dlam H) V at fixed W."""
    lam = _clamp(lam)
    W = random_point(model, seed)
    V = random_point(model, seed + 1, 1.0)
    ev = model.at(W, lam)
    fd = (model.grad(W, lam + H) - model.grad(W, lam - H)) / (2 * H)
    np.testing.assert_allclose(ev.grad_lam(), fd, rtol=1e-5, atol=1e-7)
    q = lambda t: float(np.sum(V * model.hvp(W, t, V)))  # noqa: E731
    assert ev.hessian_lam_quadratic(V) == pytest.approx((q(lam + H) - q(lam - H)) / (2 * H), rel=1e-5, abs=1e-7)


@settings(max_examples=30, deadline=None)
@given(model=problems(max_m=5, max_d=3), seed=seeds)
def test_linear_endpoint_is_activation_free(model, seed):
    """At lam = 0 the loss is that of the linear network v . x with v = W^T a / m."""
    W = random_point(model, seed)
    v = W.T @ model.a / model.m
    r = model.X @ v - model.y
    expected = r @ r / (2 * model.n) + model.alpha / 2 * np.sum(W * W)
    assert model.loss(W, 0.0) == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_flat_parameters_accepted():
    X, y = nlpt.default_data(n=10, d=2)
    model = nlpt.Model(X, y, 3)
    W = np.arange(6.0) / 10
    assert model.loss(W, 0.5) == pytest.approx(model.loss(W.reshape(3, 2), 0.5))


# -- bad input -------------------------------------------------------------------------------

@pytest.fixture
def data():
    return nlpt.default_data(n=12, d=3, seed=1)


@pytest.mark.parametrize(
    "kwargs, argname",
    [
        (dict(m=0), "m"),
        (dict(m=2.5), "m"),
        (dict(m=True), "m"),
        (dict(m=3, alpha=-1e-3), "alpha"),
        (dict(m=3, alpha=float("nan")), "alpha"),
        (dict(m=3, a=[1.0, 2.0]), "a"),
        (dict(m=3, a=[1.0, np.inf, 2.0]), "a"),
        (dict(m=3, activation="relu"), "activation"),
    ],
)
def test_bad_model_arguments(data, kwargs, argname):
    X, y = data
    with pytest.raises(nlpt.NLPTInputError) as err:
        nlpt.Model(X, y, **kwargs)
    assert str(err.value).startswith(argname + ":")
    assert "expected" in str(err.value) and "got" in str(err.value)


@pytest.mark.parametrize(
    "X, y, argname",
    [
        (np.ones(5), np.ones(5), "X"),
        (np.ones((5, 2)), np.ones(4), "y"),
        (np.ones((5, 2)), np.ones((5, 1)), "y"),
        (np.full((5, 2), np.nan), np.ones(5), "X"),
        (np.ones((5, 2)), np.array([1, 2, np.inf, 4, 5.0]), "y"),
        (np.ones((0, 2)), np.ones(0), "X"),
        ([["a", "b"]], [1.0], "X"),
    ],
)
def test_bad_data(X, y, argname):
    with pytest.raises(nlpt.NLPTInputError) as err:
        nlpt.Model(X, y, 2)
    assert str(err.value).startswith(argname + ":")


@pytest.mark.parametrize("lam", [-0.1, 1.5, float("nan"), "half"])
def test_lam_outside_unit_interval(data, lam):
    model = nlpt.Model(*data, 2)
    with pytest.raises(nlpt.NLPTInputError, match=r"^lam: expected"):
        model.loss(np.zeros((2, 3)), lam)


@pytest.mark.parametrize("W", [np.zeros((3, 3)), np.zeros(5), np.full((2, 3), np.nan)])
def test_bad_parameters(data, W):
    model = nlpt.Model(*data, 2)
    with pytest.raises(nlpt.NLPTInputError, match=r"^W: expected"):
        model.grad(W, 0.5)


def test_bad_direction(data):
    model = nlpt.Model(*data, 2)
    with pytest.raises(nlpt.NLPTInputError, match=r"^V: expected"):
        model.hvp(np.zeros((2, 3)), 0.5, np.zeros((3, 2)))
