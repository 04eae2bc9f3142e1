"""Shared strategies and helpers for the test suite."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

import nlpt

ACTIVATION_NAMES = sorted(nlpt.ACTIVATIONS)

# Under CI the property tests draw the same examples on every run (reproducible verdicts);
# locally each run explores new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@st.composite
def a_vectors(draw, m: int):
    """Second-layer weights: uniform, signed, with zeros, or with a single nonzero entry."""
    kind = draw(st.sampled_from(["ones", "signed", "zeros", "single"]))
    if kind == "ones":
        return np.ones(m)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "signed":
        a = rng.uniform(0.2, 2.0, m) * rng.choice([-1.0, 1.0], m)
    elif kind == "zeros":
        a = rng.uniform(0.2, 2.0, m) * rng.choice([-1.0, 0.0, 1.0], m)
        a[rng.integers(m)] = rng.choice([-1.5, 0.7])
    else:
        a = np.zeros(m)
        a[rng.integers(m)] = rng.choice([-1.3, 0.5, 2.0])
    return a


@st.composite
def problems(draw, max_m: int = 12, max_d: int = 6, max_n: int = 40, allow_zero_a: bool = False):
    """A random small Model: data from a seeded Gaussian design, any activation, alpha > 0."""
    m = draw(st.integers(1, max_m))
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, d)
    y = rng.standard_normal(n)
    a = np.zeros(m) if (allow_zero_a and draw(st.booleans()) and draw(st.booleans())) else draw(a_vectors(m))
    alpha = draw(st.floats(1e-4, 1.0))
    act = draw(st.sampled_from(ACTIVATION_NAMES))
    return nlpt.Model(X, y, m, a=a, alpha=alpha, activation=act)


def random_point(model: nlpt.Model, seed: int, scale: float = 0.7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return scale * rng.standard_normal((model.m, model.d))


@pytest.fixture
def no_dense_hessian(monkeypatch):
    """Make forming a dense Hessian an error: matrix-free paths must get by with products."""

    def boom(*_):
        raise AssertionError("dense Hessian formed")

    monkeypatch.setattr(nlpt.Evaluation, "hessian", boom)
    monkeypatch.setattr(nlpt.Evaluation, "data_hessian", boom)


def assert_json_consistent(d: dict) -> None:
    """The handle, multiplicity, Morse and special-point fields of one analysis JSON agree.

    A crossing or fold: the handle's indices are ``morse_before``/``morse_after`` and its change
    their difference; for a crossing whose slope matrix is definite (``transversal``) and whose
    local indices are known, the local change equals the multiplicity (continuity of the
    spectrum); the threshold is a special point with the same lam and indices.  Every special
    point's multiplicity (the near-zero cluster at its refined location) equals its Morse change
    unless its note says why not (a minimum has multiplicity 0)."""
    for p in d["special_points"]:
        if p["type"] == "minimum":
            assert p["multiplicity"] == 0 and p["index_before"] == p["index_after"], p
        elif not p["note"]:
            assert p["multiplicity"] == abs(p["index_after"] - p["index_before"]), p
    if d["status"] not in ("crossing", "fold"):
        assert d["handle"] is None and d["multiplicity"] is None and d["morse_before"] is None
        return
    h = d["handle"]
    assert (h["index_before"], h["index_after"]) == (d["morse_before"], d["morse_after"]), (h, d["status"])
    assert h["index_change"] == d["morse_after"] - d["morse_before"]
    assert h["multiplicity"] == d["multiplicity"]
    sp = [p for p in d["special_points"] if p["lam"] == d["lam_star_measured"]]
    assert sp and (sp[0]["index_before"], sp[0]["index_after"]) == (d["morse_before"], d["morse_after"])
    if d["status"] == "crossing" and h.get("transversal") and "index_change_local" in h:
        assert h["index_change_local"] == d["multiplicity"] == h["index_change"], h
