"""Activations: closed-form derivatives against finite differences, symmetry, normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpt
from nlpt.activations import homotopy_derivatives, lam_derivatives

NAMES = sorted(nlpt.ACTIVATIONS)
zs = st.floats(-4.0, 4.0, allow_nan=False)


@pytest.mark.parametrize("name", NAMES)
def test_normalisation(name):
    """SPEC 1: sigma(0) = 0 and sigma'(0) = 1; sigma''(0) as declared."""
    act = nlpt.get_activation(name)
    d = act.derivs(np.array(0.0), 2)
    assert d[0] == pytest.approx(0.0, abs=1e-15)
    assert d[1] == pytest.approx(1.0, abs=1e-15)
    assert d[2] == pytest.approx(act.sigma2_at_0, abs=1e-15)


def test_silu2_second_derivative_is_one():
    """SPEC 1: 2 silu has sigma''(0) = 1 (the transcritical case)."""
    assert nlpt.get_activation("silu2").derivs(np.array(0.0), 2)[2] == pytest.approx(1.0, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(NAMES), z=zs)
def test_derivatives_match_finite_differences(name, z):
    """sigma^(k+1) equals the central difference of sigma^(k), k = 0..3."""
    act = nlpt.get_activation(name)
    h = 1e-5
    lo = act.derivs(np.array(z - h), 4)
    hi = act.derivs(np.array(z + h), 4)
    mid = act.derivs(np.array(z), 4)
    for k in range(4):
        fd = (hi[k] - lo[k]) / (2 * h)
        assert fd == pytest.approx(mid[k + 1], rel=1e-6, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from([n for n in NAMES if nlpt.ACTIVATIONS[n].odd]), z=zs)
def test_odd_activations_are_odd(name, z):
    """Odd sigma: sigma^(k)(-z) = (-1)^(k+1) sigma^(k)(z)."""
    act = nlpt.get_activation(name)
    p, q = act.derivs(np.array(z), 4), act.derivs(np.array(-z), 4)
    for k in range(5):
        assert q[k] == pytest.approx((-1) ** (k + 1) * p[k], rel=1e-12, abs=1e-14)


def test_silu2_is_not_odd():
    act = nlpt.get_activation("silu2")
    assert not act.odd
    assert act(np.array(1.0)) != pytest.approx(-act(np.array(-1.0)))


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(NAMES), z=zs, lam=st.floats(0.0, 1.0))
def test_homotopy_interpolates(name, z, lam):
    """s_lam = (1-lam) id + lam sigma; its lam-derivative is sigma - id (finite differences in lam)."""
    act = nlpt.get_activation(name)
    zz = np.array(z)
    sd = act.derivs(zz, 4)
    s = homotopy_derivatives(sd, zz, lam)
    assert s[0] == pytest.approx((1 - lam) * z + lam * sd[0], abs=1e-14)
    assert s[1] == pytest.approx((1 - lam) + lam * sd[1], abs=1e-14)
    for k in (2, 3, 4):
        assert s[k] == pytest.approx(lam * sd[k], abs=1e-14)
    h = 1e-6
    lo = homotopy_derivatives(sd, zz, lam - h)
    hi = homotopy_derivatives(sd, zz, lam + h)
    dl = lam_derivatives(sd, zz)
    for k in range(5):
        assert (hi[k] - lo[k]) / (2 * h) == pytest.approx(dl[k], rel=1e-6, abs=1e-8)


def test_unknown_activation_lists_known_names():
    with pytest.raises(nlpt.NLPTInputError) as err:
        nlpt.get_activation("relu")
    msg = str(err.value)
    assert "activation" in msg and "relu" in msg
    for name in NAMES:
        assert name in msg


def test_derivative_order_is_checked():
    with pytest.raises(nlpt.NLPTInputError, match="order"):
        nlpt.get_activation("tanh").derivs(np.zeros(2), 5)
