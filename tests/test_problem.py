"""The Problem protocol on families written from scratch (SPEC 8).

Polynomial families (tests/polyfamily.py) whose threshold, Morse indices and normal form are known
in closed form, rotated by a random orthogonal Q and shifted to a random critical point so that
nothing is aligned with the axes: pitchfork, transcritical, near-pitchfork (rho), a double
kernel, two separate crossings, a restabilisation, a fold (imperfect bifurcation) and a branch
that moves with lam (the D^3 term of the SPEC 8 softening rate).  Then the finite-difference
fallbacks against exact derivatives and their reported error estimates, and the validation at
the constructor.  Every expected value below is derived in the comment next to it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from polyfamily import PolyFamily, rotation
from scipy.optimize import brentq

import nlpt
from nlpt.analysis import FOLD_NOTE

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(2, 5)


def placed(P: int, seed: int):
    """(Q, x_c): a random rotation and a random critical point of norm <= 2."""
    rng = np.random.default_rng(seed)
    xc = rng.standard_normal(P)
    return rotation(P, seed + 1), xc * min(1.0, 2.0 / np.linalg.norm(xc))


def kernel_sign(fam: PolyFamily, phi: np.ndarray, i: int = 0) -> float:
    """sigma with phi = sigma Q e_i (the critical vector's orientation)."""
    zc = fam.to_z(phi)
    assert np.allclose(np.abs(zc), np.eye(fam.P)[i], atol=1e-8)
    return float(np.sign(zc[i]))


def check_branch_spectrum(fam: PolyFamily, thr, skip_near=()):
    """On the branch x = x_c the Hessian is Q diag(a - s lam + k lam^2) Q^T: its eigenvalues and
    Morse index at every branch point are those of the diagonal."""
    br = thr.branch
    assert np.allclose(br.x, fam.xc, atol=1e-9)
    for lam, eigs, morse in zip(br.lams, br.eigenvalues, br.morse):
        want = np.sort(fam.diag(lam))
        assert eigs == pytest.approx(want[: len(eigs)], abs=1e-9)
        if all(abs(lam - l) > 1e-8 for l in skip_near):
            assert morse == int(np.sum(want < 0))


# -- pitchfork ------------------------------------------------------------------------------------

@SETTINGS
@given(P=sizes, seed=seeds, a0=st.floats(0.2, 1.0), lam_star=st.floats(0.1, 0.9), gap=st.floats(0.5, 2.0),
       c=st.floats(0.5, 2.0), c_sign=st.sampled_from([-1.0, 1.0]), b=st.floats(-1.0, 1.0))
def test_pitchfork_closed_form(P, seed, a0, lam_star, gap, c, c_sign, b):
    # l = (a0 - s0 lam) z0^2/2 + sum_{i>0} a_i z_i^2/2 + c z0^4/24 + b z0^2 z1/2, s0 = a0/lam*.
    # Floor a0 (the z0 mode), rate -s0, so lam*_pred = a0/s0 = lam*, and the z0 eigenvalue
    # a0 - s0 lam crosses there (Morse 0 -> 1).  Even in z0: g_xx = 0.  g_xxx = D^4 - 3 <D^3[e0,e0,.],
    # H^+ D^3[e0,e0,.]> = c - 3 b^2/a1 (D^3[e0,e0,.] = b e1, H = a1 on e1).  g_xmu = -s0.
    Q, xc = placed(P, seed)
    c *= c_sign
    a = np.array([a0] + [a0 + gap + 0.1 * i for i in range(P - 1)])
    g_xxx = c - 3 * b * b / a[1]
    assume(abs(g_xxx) > 0.1)
    fam = PolyFamily(a, [a0 / lam_star] + [0.0] * (P - 1), T={(0, 0, 1): b}, U={(0, 0, 0, 0): c}, Q=Q, xc=xc)
    res = nlpt.analyze(fam.problem())
    thr, nf = res.threshold, res.normal_form
    assert thr.status == "crossing"
    assert thr.alpha == pytest.approx(a0, rel=1e-12)
    assert thr.softening_rate == pytest.approx(-a0 / lam_star, rel=1e-10)
    assert thr.lam_star_pred == pytest.approx(lam_star, rel=1e-10)
    assert thr.lam_star_measured == pytest.approx(lam_star, abs=1e-9)
    assert (thr.multiplicity, thr.morse_before, thr.morse_after) == (1, 0, 1)
    assert thr.eta == pytest.approx(0.0, abs=1e-12)
    kernel_sign(fam, thr.Phi_x[0])
    check_branch_spectrum(fam, thr, skip_near=(lam_star,))
    assert nf.classification == "pitchfork"
    assert abs(nf.g_xx) < 1e-10
    assert nf.g_xxx == pytest.approx(g_xxx, rel=1e-8)
    assert nf.g_xmu == pytest.approx(-a0 / lam_star, rel=1e-8)
    assert nf.criticality == ("supercritical" if g_xxx > 0 else "subcritical")
    # on the bifurcated branches the kernel eigenvalue is -s0 mu + g_xxx xi^2/2 = 2 s0 mu with
    # xi^2 = 6 s0 mu / g_xxx: they live beyond the crossing and are minima (supercritical) or
    # before it and saddles of index 1 (subcritical)
    assert len(res.branches) == 2
    for br in res.branches:
        assert br.converged
        side = np.sign(br.lams - lam_star)
        assert np.all(side == (1 if g_xxx > 0 else -1))
        assert br.morse == [0 if g_xxx > 0 else 1] * len(br.morse)


# -- transcritical and rho -----------------------------------------------------------------------

@SETTINGS
@given(P=sizes, seed=seeds, a0=st.floats(0.2, 1.0), lam_star=st.floats(0.1, 0.9), e=st.floats(0.3, 2.0),
       e_sign=st.sampled_from([-1.0, 1.0]), c=st.floats(-2.0, 2.0))
def test_transcritical_closed_form(P, seed, a0, lam_star, e, e_sign, c):
    # l = (a0 - s0 lam) z0^2/2 + e z0^3/6 + c z0^4/24 + (stable, decoupled z_i): g_xx = D^3[phi^3] =
    # sigma e (phi = sigma Q e0), g_xxx = c, rho = |e/c|.  The nontrivial branch solves
    # R = a0 - s0 lam + e z0/2 + c z0^2/6 = 0 (z_i = 0, i > 0), where the z0 eigenvalue is
    # a0 - s0 lam + e z0 + c z0^2/2: its Morse index is 1 where that is negative.
    assume(abs(c) > 0.05)
    Q, xc = placed(P, seed)
    e *= e_sign
    s0 = a0 / lam_star
    a = np.array([a0] + [a0 + 1.0 + 0.2 * i for i in range(P - 1)])
    fam = PolyFamily(a, [s0] + [0.0] * (P - 1), T={(0, 0, 0): e}, U={(0, 0, 0, 0): c}, Q=Q, xc=xc)
    res = nlpt.analyze(fam.problem())
    thr, nf = res.threshold, res.normal_form
    assert thr.status == "crossing"
    assert thr.lam_star_measured == pytest.approx(lam_star, abs=1e-9)
    sigma = kernel_sign(fam, nf.Phi_x[0])
    assert nf.classification == "transcritical" and nf.criticality is None
    assert nf.g_xx == pytest.approx(sigma * e, rel=1e-8)
    assert nf.g_xxx == pytest.approx(c, rel=1e-8, abs=1e-10)
    assert nf.rho == pytest.approx(abs(e / c), rel=1e-8)
    assert not nf.near_pitchfork
    sides = set()
    for br in res.branches:
        assert br.converged
        sides.add(br.side)
        for x, lam, morse in zip(br.x, br.lams, br.morse):
            z = fam.z(x)
            assert np.abs(z[1:]).max() < 1e-9
            assert abs(z[0]) > 1e-6
            assert a0 - s0 * lam + e * z[0] / 2 + c * z[0] ** 2 / 6 == pytest.approx(0.0, abs=1e-7)
            assert morse == int(a0 - s0 * lam + e * z[0] + c * z[0] ** 2 / 2 < 0)
    assert sides == {"mu>0", "mu<0"}  # a transcritical branch passes through on both sides


@SETTINGS
@given(P=sizes, seed=seeds, rho=st.floats(2e-3, 8e-3), c=st.floats(0.5, 2.0), b=st.floats(-0.5, 0.5))
def test_near_pitchfork_rho(P, seed, rho, c, b):
    # A small quadratic term eps z0^3/6 next to the quartic c z0^4/24 and the coupling b z0^2 z1/2:
    # g_xx = sigma eps, g_xxx = c - 3 b^2/a1, rho = |eps / g_xxx|, with eps chosen for the rho drawn.
    # rho >= 2e-3 is above the resolution of the kernel coordinate (about 1e-4 here), so the point
    # is transcritical, and below near_pitchfork_tol = 1e-2: flagged as a near-pitchfork.
    Q, xc = placed(P, seed)
    a = np.array([0.5] + [1.5 + 0.2 * i for i in range(P - 1)])
    g_xxx = c - 3 * b * b / a[1]
    assume(g_xxx > 0.1)
    fam = PolyFamily(a, [1.0] + [0.0] * (P - 1), T={(0, 0, 0): rho * g_xxx, (0, 0, 1): b},
                     U={(0, 0, 0, 0): c}, Q=Q, xc=xc)
    nf = nlpt.analyze(fam.problem(), switch=False).normal_form
    assert nf.classification == "transcritical"
    assert nf.near_pitchfork and nf.near_pitchfork_tol == 1e-2
    assert nf.rho == pytest.approx(rho, rel=1e-8)
    assert nf.g_xxx == pytest.approx(g_xxx, rel=1e-8)


@pytest.mark.parametrize("rho", [1e-9, 1e-6])
def test_quadratic_term_below_the_resolution_is_a_pitchfork_with_its_rho(rho):
    # eps = rho g_xxx with rho far below the kernel-coordinate resolution (>= 1e-4 max(1, |x_c|)):
    # the classification is pitchfork, and rho is still reported as |g_xx / g_xxx|.
    Q, xc = placed(3, 7)
    fam = PolyFamily([0.5, 1.5, 2.0], [1.0, 0, 0], T={(0, 0, 0): rho * 1.5}, U={(0, 0, 0, 0): 1.5}, Q=Q, xc=xc)
    nf = nlpt.analyze(fam.problem(), switch=False).normal_form
    assert nf.classification == "pitchfork"
    assert nf.criticality == "supercritical"  # g_xmu = -1 < 0, g_xxx = 1.5 > 0
    assert nf.rho == pytest.approx(rho, rel=1e-5)
    assert nf.directions[0].xi_resolution >= 1e-4 * np.linalg.norm(xc)


# -- more than one near-zero eigenvalue ----------------------------------------------------------

@SETTINGS
@given(P=st.integers(3, 5), seed=seeds, lam_star=st.floats(0.1, 0.9), q0=st.floats(-1, 1), q1=st.floats(-1, 1),
       c0=st.floats(0.5, 2), c1=st.floats(0.5, 2), c01=st.floats(-0.5, 0.5), b0=st.floats(-1, 1), b1=st.floats(-1, 1))
def test_double_kernel_tensors(P, seed, lam_star, q0, q1, c0, c1, c01, b0, b1):
    # z0 and z1 soften at the same rate: a0 = a1 = 0.5, s0 = s1 = 0.5/lam*.  Softening multiplicity 2,
    # a 2-fold kernel at lam*, Morse 0 -> 2, slope matrix -s0 I.  With the kernel basis Phi the
    # engine chose, R = Phi Q restricted to z0, z1 (2 x 2 orthogonal), the reduced tensors are
    #   Q'_ijk  = T_abc R_ia R_jb R_kc                     (a, b, c in {0, 1})
    #   C'_ijkl = (U_abcd - G(ab,cd) - G(ac,bd) - G(ad,bc)) R_ia R_jb R_kc R_ld,
    #   G(ab,cd) = sum_{i >= 2} T_abi T_cdi / a_i           (H^+ on the stable coordinates).
    Q, xc = placed(P, seed)
    s = 0.5 / lam_star
    a = np.array([0.5, 0.5] + [1.5 + 0.3 * i for i in range(P - 2)])
    T = {(0, 0, 0): q0, (0, 1, 1): q1, (0, 0, 2): b0, (1, 1, 2): b1}
    U = {(0, 0, 0, 0): c0, (1, 1, 1, 1): c1, (0, 0, 1, 1): c01}
    fam = PolyFamily(a, [s, s] + [0.0] * (P - 2), T=T, U=U, Q=Q, xc=xc)
    res = nlpt.analyze(fam.problem(), switch=False)
    thr, nf = res.threshold, res.normal_form
    assert thr.softening_multiplicity == 2
    assert thr.lam_star_pred == pytest.approx(lam_star, rel=1e-10)
    assert thr.lam_star_measured == pytest.approx(lam_star, abs=1e-9)
    assert (thr.multiplicity, thr.morse_before, thr.morse_after) == (2, 0, 2)
    h = res.handle()
    assert h["index_change"] == 2 and h["transversal"] is True
    assert nf.multiplicity == 2
    assert nf.slope_eigenvalues == pytest.approx([-s, -s], rel=1e-8)
    Z = fam.to_z(nf.Phi_x)
    assert np.abs(Z[:, 2:]).max() < 1e-8
    R = Z[:, :2]
    assert R @ R.T == pytest.approx(np.eye(2), abs=1e-8)
    Tz, Uz = fam.T, fam.U
    G = np.einsum("abi,cdi->abcd", Tz[:2, :2, 2:], Tz[:2, :2, 2:] / a[2:])
    Cz = Uz[:2, :2, :2, :2] - (G + G.transpose(0, 2, 1, 3) + G.transpose(0, 3, 2, 1))
    want_Q = np.einsum("abc,ia,jb,kc->ijk", Tz[:2, :2, :2], R, R, R)
    want_C = np.einsum("abcd,ia,jb,kc,ld->ijkl", Cz, R, R, R, R)
    assert nf.quadratic_tensor == pytest.approx(want_Q, abs=1e-9)
    assert nf.cubic_tensor == pytest.approx(want_C, abs=1e-8)


@SETTINGS
@given(P=st.integers(3, 5), seed=seeds, lam0=st.floats(0.1, 0.6), dlam=st.floats(0.1, 0.3),
       floor_first=st.booleans())
def test_two_rates_cross_in_order(P, seed, lam0, dlam, floor_first):
    # z0 crosses at lam0 = a0/s0, z1 at lam1 = a1/s1 > lam0: two crossings, Morse 0 -> 1 -> 2, the
    # threshold is the first.  The first-order prediction follows the floor eigenspace only
    # (SPEC 8): floor_first (a0 < a1): lam*_pred = lam0; otherwise (a1 < a0) lam*_pred = lam1 while
    # the measured threshold is still lam0 (ratio lam0/lam1).
    Q, xc = placed(P, seed)
    lam1 = lam0 + dlam
    a0, a1 = (0.4, 0.7) if floor_first else (0.7, 0.4)
    a = np.array([a0, a1] + [1.5 + 0.3 * i for i in range(P - 2)])
    fam = PolyFamily(a, [a0 / lam0, a1 / lam1] + [0.0] * (P - 2), U={(0, 0, 0, 0): 1.0, (1, 1, 1, 1): 1.0},
                     Q=Q, xc=xc)
    res = nlpt.analyze(fam.problem(), switch=False)
    thr = res.threshold
    pts = [(p.type, p.index_before, p.index_after, p.multiplicity) for p in thr.branch.special_points]
    assert pts == [("crossing", 0, 1, 1), ("crossing", 1, 2, 1)]
    assert [p.lam for p in thr.branch.special_points] == pytest.approx([lam0, lam1], abs=1e-9)
    assert thr.lam_star_measured == pytest.approx(lam0, abs=1e-9)
    assert thr.lam_star_pred == pytest.approx(lam0 if floor_first else lam1, rel=1e-10)
    assert thr.ratio == pytest.approx(1.0 if floor_first else lam0 / lam1, rel=1e-8)
    kernel_sign(fam, thr.Phi_x[0], 0)
    check_branch_spectrum(fam, thr, skip_near=(lam0, lam1))


@SETTINGS
@given(P=sizes, seed=seeds, r1=st.floats(0.1, 0.5), dr=st.floats(0.1, 0.4), k0=st.floats(1.0, 4.0))
def test_restabilisation(P, seed, r1, dr, k0):
    # z0 eigenvalue k0 (lam - r1)(lam - r2) = a0 - s0 lam + k0 lam^2 with a0 = k0 r1 r2 (the floor
    # when below the others), s0 = k0 (r1 + r2): it crosses at r1 (Morse 0 -> 1) and comes back at
    # r2 (1 -> 0).  lam*_pred = a0/s0 = r1 r2/(r1 + r2); g_xmu = -s0 + 2 k0 r1 = k0 (r1 - r2).
    Q, xc = placed(P, seed)
    r2 = r1 + dr
    a0, s0 = k0 * r1 * r2, k0 * (r1 + r2)
    a = np.array([a0] + [a0 + 1.0 + 0.2 * i for i in range(P - 1)])
    k = np.array([k0] + [0.0] * (P - 1))
    fam = PolyFamily(a, [s0] + [0.0] * (P - 1), k=k, U={(0, 0, 0, 0): 1.0}, Q=Q, xc=xc)
    res = nlpt.analyze(fam.problem(), switch=False)
    thr = res.threshold
    pts = [(p.type, p.index_before, p.index_after) for p in thr.branch.special_points]
    assert pts == [("crossing", 0, 1), ("restabilisation", 1, 0)]
    assert [p.lam for p in thr.branch.special_points] == pytest.approx([r1, r2], abs=1e-9)
    assert thr.lam_star_pred == pytest.approx(r1 * r2 / (r1 + r2), rel=1e-10)
    assert res.normal_form.g_xmu == pytest.approx(k0 * (r1 - r2), rel=1e-8)
    check_branch_spectrum(fam, thr, skip_near=(r1, r2))


# -- a fold (imperfect bifurcation) ---------------------------------------------------------------

@SETTINGS
@given(P=sizes, seed=seeds, a0=st.floats(0.5, 1.5), s0=st.floats(1.0, 3.0), e=st.floats(0.5, 3.0),
       eta=st.floats(0.01, 0.1), flip=st.sampled_from([-1.0, 1.0]))
def test_fold_closed_form(P, seed, a0, s0, e, eta, flip):
    # l = (a0 - s0 lam) z0^2/2 + e' z0^3/6 - lam eta' z0 with e' eta' < 0 (e' = -flip e,
    # eta' = flip eta).  Branch: (a0 - s0 lam) z + e' z^2/2 = lam eta'; the z0 eigenvalue
    # a0 - s0 lam + e' z vanishes with grad = 0 at the fold
    #   z_f = -eta'/s0 + flip sqrt(eta^2/s0^2 - 2 eta' a0/(e' s0)),  lam_f = (a0 + e' z_f)/s0.
    # SPEC 8 rate at (x_c, 0): -s0 + D^3[e0,e0,du/dlam] = -s0 + e' eta'/a0, so
    # lam*_pred = a0/(s0 - e' eta'/a0); the imperfection eta = |Phi^T d/dlam grad| = eta.
    # At the fold g_mu = sigma (-s0 z_f - eta'), g_xx = sigma e': g_mu g_xx > 0 (the branch turns
    # back, "lam < lam_fold") and the curvature -g_xx/(2 g_mu) = e'/(2 (s0 z_f + eta')).
    Q, xc = placed(P, seed)
    e1, eta1 = -flip * e, flip * eta
    z_f = -eta1 / s0 + flip * np.sqrt(eta ** 2 / s0 ** 2 - 2 * eta1 * a0 / (e1 * s0))
    lam_f = (a0 + e1 * z_f) / s0
    assume(0.05 < lam_f < 0.95)
    a = np.array([a0] + [a0 + 1.0 + 0.2 * i for i in range(P - 1)])
    fam = PolyFamily(a, [s0] + [0.0] * (P - 1), T={(0, 0, 0): e1}, eta=[eta1] + [0.0] * (P - 1), Q=Q, xc=xc)
    res = nlpt.analyze(fam.problem())
    thr = res.threshold
    assert thr.status == "fold"
    assert thr.lam_star_measured == pytest.approx(lam_f, abs=1e-8)
    assert fam.z(thr.x_c)[0] == pytest.approx(z_f, abs=1e-6)
    assert thr.lam_star_pred == pytest.approx(a0 / (s0 - e1 * eta1 / a0), rel=1e-10)
    assert thr.eta == pytest.approx(eta, rel=1e-10)
    assert (thr.morse_before, thr.morse_after) == (0, 1)
    assert res.normal_form is None and res.normal_form_error == FOLD_NOTE
    sn = res.saddle_node
    assert sn["nondegenerate"] and sn["branch_side"] == "lam < lam_fold"
    assert sn["curvature"] == pytest.approx(e1 / (2 * (s0 * z_f + eta1)), rel=1e-6)
    assert abs(sn["g_xx"]) == pytest.approx(e, rel=1e-6)


# -- a branch that moves: the D^3 term of the softening rate ------------------------------------

@SETTINGS
@given(P=st.integers(3, 5), seed=seeds, b=st.floats(-1.5, -0.5), eta2=st.floats(0.5, 1.5), u=st.floats(0.0, 3.0),
       c=st.floats(0.5, 2.0))
def test_moving_branch(P, seed, b, eta2, u, c):
    # l = (a0 - s0 lam) z0^2/2 + a2 z2^2/2 + b z0^2 z2/2 + u z2^4/24 + c z0^4/24 - lam eta2 z2
    # (+ stable z_i).  z0 = 0 stays critical; z2(lam) solves a2 z2 + u z2^3/6 = lam eta2, so the
    # z0 eigenvalue is a0 - s0 lam + b z2(lam): lam* is its root (a scalar equation).  At lam = 0,
    # du/dlam = (eta2/a2) e2, and SPEC 8's rate is -s0 + D^3[e0,e0,du/dlam] = -s0 + b eta2/a2:
    # lam*_pred = a0/(s0 - b eta2/a2) (exact when u = 0, the branch then linear in lam).  At lam*,
    # with h22 = a2 + u z2^2/2: g_xxx = c - 3 b^2/h22, g_xmu = -s0 + b z2'(lam*) = -s0 + b eta2/h22.
    Q, xc = placed(P, seed)
    a0, s0, a2 = 0.5, 0.6, 2.0
    a = np.array([a0, 1.5, a2] + [2.5] * (P - 3))
    eta = np.zeros(P)
    eta[2] = eta2
    fam = PolyFamily(a, [s0] + [0.0] * (P - 1), T={(0, 0, 2): b}, U={(2, 2, 2, 2): u, (0, 0, 0, 0): c},
                     eta=eta, Q=Q, xc=xc)

    def z2(lam):
        return brentq(lambda z: a2 * z + u * z ** 3 / 6 - lam * eta2, -10, 10, xtol=1e-15)

    lam_star = brentq(lambda lam: a0 - s0 * lam + b * z2(lam), 0.0, 1.0, xtol=1e-15)
    h22 = a2 + u * z2(lam_star) ** 2 / 2
    res = nlpt.analyze(fam.problem(), switch=False)
    thr, nf = res.threshold, res.normal_form
    assert thr.softening_rate == pytest.approx(-s0 + b * eta2 / a2, rel=1e-10)
    assert thr.lam_star_pred == pytest.approx(a0 / (s0 - b * eta2 / a2), rel=1e-10)
    assert thr.eta == pytest.approx(0.0, abs=1e-12)
    assert thr.lam_star_measured == pytest.approx(lam_star, abs=1e-9)
    assert nf.classification == "pitchfork"
    assert nf.g_xxx == pytest.approx(c - 3 * b * b / h22, rel=1e-7)
    assert nf.g_xmu == pytest.approx(-s0 + b * eta2 / h22, rel=1e-7)


def test_saddle_start():
    # x0 a saddle: z0 has eigenvalue -0.5 + lam (restabilises at 0.5), z1 0.5 - 1.25 lam (crosses at
    # 0.4): Morse index 1 -> 2 at 0.4, 2 -> 1 at 0.5.  The floor -0.5 is not positive, so there is no
    # prediction (mu_0/|rate| would be negative when the floor mode softens), and the messages
    # say which eigenvalue crosses and that x0 is a saddle.
    Q, xc = placed(3, 9)
    U = {(0, 0, 0, 0): 1.0, (1, 1, 1, 1): 1.0}
    res = nlpt.analyze(PolyFamily([-0.5, 0.5, 2.0], [-1.0, 1.25, 0.0], U=U, Q=Q, xc=xc).problem(), switch=False)
    t = res.threshold
    assert t.alpha == pytest.approx(-0.5)
    assert t.lam_star_pred is None
    assert (t.status, t.morse_before, t.morse_after) == ("crossing", 1, 2)
    assert t.lam_star_measured == pytest.approx(0.4, abs=1e-9)
    assert [(p.type, p.index_before, p.index_after) for p in t.branch.special_points] == [
        ("crossing", 1, 2), ("restabilisation", 2, 1)]
    assert t.branch.special_points[1].lam == pytest.approx(0.5, abs=1e-9)
    assert "eigenvalue 2 from the bottom changes sign" in t.message and "mu_0 = -5.0000e-01 is not positive" in t.message
    # the floor mode softening further (rate -1): still no (negative) prediction, and no crossing
    res = nlpt.analyze(PolyFamily([-0.5, 0.5, 2.0], [1.0, 0.0, 0.0], U=U, Q=Q, xc=xc).problem(), switch=False)
    t = res.threshold
    assert t.softening_rate == pytest.approx(-1.0, rel=1e-10)
    assert t.lam_star_pred is None and t.status == "no softening"
    assert t.message.startswith("no crossing: the Morse index never grows above its value 1 at x0 (a saddle")


def test_done_when_polynomial_family():
    # The acceptance case, spelled out: L = (1 - 2 lam) x^2/2 + eps x^3/6 + x^4/24 + y^2
    # (numpy callables, nothing else supplied): lam* = 1/2 (predicted and measured), transcritical
    # with rho = |g_xx/g_xxx| = eps / 1 = 0.05.
    eps = 0.05

    def loss(p, lam):
        x, y = p
        return float((1 - 2 * lam) * x * x / 2 + eps * x ** 3 / 6 + x ** 4 / 24 + y * y)

    def grad(p, lam):
        x, y = p
        return np.array([(1 - 2 * lam) * x + eps * x * x / 2 + x ** 3 / 6, 2 * y])

    def hvp(p, lam, v):
        x = p[0]
        return np.array([(1 - 2 * lam + eps * x + x * x / 2) * v[0], 2 * v[1]])

    def grad_lam(p, lam):
        return np.array([-2 * p[0], 0.0])

    res = nlpt.analyze(nlpt.Problem(np.zeros(2), loss=loss, grad=grad, hvp=hvp, grad_lam=grad_lam, name="done"))
    d = json.loads(json.dumps(res.to_dict()))
    assert d["engine"] == "problem" and d["family"]["name"] == "done" and d["m"] is None
    assert d["lam_star_pred"] == pytest.approx(0.5, rel=1e-8)
    assert d["lam_star_measured"] == pytest.approx(0.5, abs=1e-9)
    assert d["normal_form"]["classification"] == "transcritical"
    assert d["normal_form"]["rho"] == pytest.approx(eps, rel=1e-6)
    assert (d["morse_before"], d["morse_after"]) == (0, 1)


# -- finite-difference fallbacks ------------------------------------------------------------------

class Smooth:
    """L = x^T A x/2 + lam w . cos(x) + sum exp(0.3 x_i): not polynomial, so every finite
    difference has a truncation error as well as rounding."""

    def __init__(self, P=4, seed=0):
        rng = np.random.default_rng(seed)
        B = rng.standard_normal((P, P))
        self.A = B @ B.T + P * np.eye(P)
        self.w = rng.standard_normal(P)
        x = np.zeros(P)
        for _ in range(50):  # Newton on the strictly convex L(., 0)
            x = x - np.linalg.solve(self.A + np.diag(0.09 * np.exp(0.3 * x)), self.grad(x, 0.0))
        self.x0 = x

    def loss(self, x, lam):
        return float(0.5 * x @ self.A @ x + lam * self.w @ np.cos(x) + np.sum(np.exp(0.3 * x)))

    def grad(self, x, lam):
        return self.A @ x - lam * self.w * np.sin(x) + 0.3 * np.exp(0.3 * x)

    def hvp(self, x, lam, v):
        return self.A @ v + (-lam * self.w * np.cos(x) + 0.09 * np.exp(0.3 * x)) * v

    def grad_lam(self, x, lam):
        return -self.w * np.sin(x)

    def hvp_lam(self, x, lam, v):
        return -self.w * np.cos(x) * v

    def d3_vec(self, x, lam, u, v):
        return (lam * self.w * np.sin(x) + 0.027 * np.exp(0.3 * x)) * u * v

    def d4(self, x, lam, u):
        return float(np.sum((lam * self.w * np.cos(x) + 0.0081 * np.exp(0.3 * x)) * u ** 4))

    def problem(self):
        return nlpt.Problem(self.x0, loss=self.loss, grad=self.grad, hvp=self.hvp, grad_lam=self.grad_lam)


SMOOTH = Smooth()


@settings(max_examples=60, deadline=None)
@given(seed=seeds, lam=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0])), spread=st.floats(0.1, 3.0))
def test_fallbacks_within_their_error_estimates(seed, lam, spread):
    # At a random point and direction, every fallback (central differences, one-sided at lam = 0
    # and 1) differs from the exact derivative by no more than the error estimate it reports for
    # that one call, and that estimate is small against the quantity's scale.
    rng = np.random.default_rng(seed)
    P = SMOOTH.x0.size
    x, u, v = spread * rng.standard_normal(P), rng.standard_normal(P), rng.standard_normal(P)
    cases = {"hvp_lam": (lambda pt: pt.hvp_lam(v), SMOOTH.hvp_lam(x, lam, v)),
             "d3_vec": (lambda pt: pt.d3_vec(u, v), SMOOTH.d3_vec(x, lam, u, v)),
             "d4": (lambda pt: pt.d4(u), SMOOTH.d4(x, lam, u))}
    scale = {"hvp_lam": np.linalg.norm(SMOOTH.hvp(x, lam, v)),
             "d3_vec": np.linalg.norm(SMOOTH.hvp(x, lam, v)) / max(1.0, np.linalg.norm(x)) * np.linalg.norm(u),
             "d4": np.linalg.norm(u) * np.linalg.norm(SMOOTH.hvp(x, lam, u)) * (np.linalg.norm(u)
                                                                                / max(1.0, np.linalg.norm(x))) ** 2}
    for key, (fd, exact) in cases.items():
        pb = SMOOTH.problem()  # a fresh family: its report holds this one call
        got = fd(pb.at(x, lam))
        rep = pb.derivative_report()[key]
        err = float(np.linalg.norm(np.atleast_1d(got - exact)))
        assert rep["calls"] == 1
        assert err <= rep["max_error_estimate"], (key, err, rep)
        assert rep["max_error_estimate"] <= 1e-6 * scale[key], (key, rep, scale[key])


def coupled_family(seed=3):
    Q, xc = placed(4, seed)
    return PolyFamily([0.5, 1.4, 1.8, 2.1], [1.25, 0, 0, 0], T={(0, 0, 1): 0.6, (0, 0, 0): 0.2},
                      U={(0, 0, 0, 0): 2.0, (0, 0, 1, 1): 0.5}, Q=Q, xc=xc)


def test_required_only_agrees_with_all_supplied_within_the_estimates():
    fam = coupled_family()
    full, req = fam.problem("all"), fam.problem("required")
    r_full, r_req = nlpt.analyze(full), nlpt.analyze(req)
    # exact derivatives: nothing approximated
    assert full.approximated == []
    assert {v["source"] for v in full.derivative_report().values()} == {"supplied"}
    # fallbacks: flagged, with estimates, in the report and in the result's family object
    assert req.approximated == ["hvp_lam", "d3", "d3_vec", "d4"]
    rep = req.derivative_report()
    assert r_req.to_dict()["family"]["derivatives"] == json.loads(json.dumps(rep))
    for key in ("hvp_lam", "d3_vec", "d4"):
        assert rep[key]["source"].startswith(("finite differences", "second differences"))
        assert rep[key]["calls"] >= 1
        assert 0 < rep[key]["max_error_estimate"] and 0 < rep[key]["max_relative_error_estimate"] < 1e-6
    assert rep["hessian"]["source"] == "columns of hvp"
    # the results agree to what the estimates allow
    t_full, t_req = r_full.threshold, r_req.threshold
    assert t_req.lam_star_measured == pytest.approx(t_full.lam_star_measured, abs=1e-9)
    rel = rep["hvp_lam"]["max_relative_error_estimate"] + rep["d3_vec"]["max_relative_error_estimate"]
    assert t_req.softening_rate == pytest.approx(t_full.softening_rate, rel=10 * rel)
    n_full, n_req = r_full.normal_form, r_req.normal_form
    assert n_req.classification == n_full.classification == "transcritical"
    bound = rep["d4"]["max_error_estimate"] + 6 * abs(n_full.directions[0].correction_term) * \
        rep["d3_vec"]["max_relative_error_estimate"]
    assert abs(n_req.g_xxx - n_full.g_xxx) <= bound
    assert n_req.rho == pytest.approx(n_full.rho, rel=1e-6)


# -- validation at the constructor ----------------------------------------------------------------

def callables(fam: PolyFamily):
    return dict(loss=fam.loss, grad=fam.grad, hvp=fam.hvp, grad_lam=fam.grad_lam, hvp_lam=fam.hvp_lam,
                d3=fam.d3, d3_vec=fam.d3_vec, d4=fam.d4, hessian=fam.hessian)


FAM = coupled_family()


@pytest.mark.parametrize("x0, match", [
    (np.zeros((2, 2)), r"x0: expected a flat array of shape \(P,\)"),
    (np.zeros(0), r"x0: expected a flat array of shape \(P,\) with P >= 1"),
    (np.array([0.0, np.nan, 0.0, 0.0]), "x0: expected finite values"),
])
def test_x0_shape_and_finiteness(x0, match):
    with pytest.raises(nlpt.NLPTInputError, match=match):
        nlpt.Problem(x0, **callables(FAM))


def test_x0_not_critical_names_x0_and_the_gradient():
    x = FAM.xc + 1e-3 * FAM.Q[:, 0]  # grad = 0.5e-3 Q e0 + O(1e-6): |grad| ~ 5e-4
    gn = np.linalg.norm(FAM.grad(x, 0.0))
    with pytest.raises(nlpt.NLPTInputError, match=r"x0: expected a critical point .* got \|grad L\(x0, 0\)\| = "
                                                   + f"{gn:.3e}".replace("+", r"\+")):
        nlpt.Problem(x, **callables(FAM))
    assert nlpt.Problem(x, **callables(FAM), x0_tol=2 * gn).size == 4  # accepted with a looser tolerance


@SETTINGS
@given(key=st.sampled_from(["grad", "hvp", "grad_lam", "hvp_lam", "d3_vec"]), extra=st.integers(-3, 3))
def test_vector_callable_with_the_wrong_shape_is_named(key, extra):
    assume(extra != 0)
    fns = callables(FAM)
    good = fns[key]
    fns[key] = lambda *args: np.resize(good(*args), 4 + extra) if 4 + extra > 0 else np.zeros((2, 2))
    with pytest.raises(nlpt.NLPTInputError, match=rf"^{key}: expected an array of shape \(4,\), got shape"):
        nlpt.Problem(FAM.xc, **fns)


@pytest.mark.parametrize("key, bad, match", [
    ("loss", lambda x, l: np.ones(2), r"^loss: expected a finite real number"),
    ("loss", lambda x, l: float("nan"), r"^loss: expected a finite real number, got nan"),
    ("d3", lambda x, l, u, v, w: np.ones(4), r"^d3: expected a finite real number"),
    ("d4", lambda x, l, u: "1.0", r"^d4: expected a finite real number"),
    ("hessian", lambda x, l: np.eye(3), r"^hessian: expected an array of shape \(4, 4\), got shape \(3, 3\)"),
    ("grad", lambda x, l: np.full(4, np.inf), r"^grad: expected finite values"),
    ("hvp", lambda x, l, v: 1 / 0, r"^hvp: the callable raised ZeroDivisionError"),
    ("grad_lam", 3.0, r"^grad_lam: expected a callable, got float"),
    ("hvp_lam", "f", r"^hvp_lam: expected a callable, got str"),
])
def test_bad_callables_are_named(key, bad, match):
    fns = callables(FAM)
    fns[key] = bad
    with pytest.raises(nlpt.NLPTInputError, match=match):
        nlpt.Problem(FAM.xc, **fns)


def test_name_must_be_a_nonempty_string():
    with pytest.raises(nlpt.NLPTInputError, match="name: expected a non-empty string"):
        nlpt.Problem(FAM.xc, **callables(FAM), name="")


def test_tutorial_family_gives_its_closed_forms():
    # examples/polynomial.py (docs/families.md): lam* = 1/2, g_xx = eps = 0.05 (up to the orientation
    # of phi), g_xxx = 1 - 3 b^2/3 = 0.75 with b = 0.5, g_xmu = -2: transcritical, rho = 0.05/0.75
    from pathlib import Path

    from nlpt.families import load_family

    path = Path(__file__).resolve().parents[1] / "examples" / "polynomial.py"
    problem = load_family(f"{path}:family")
    res = nlpt.analyze(problem)
    t, nf = res.threshold, res.normal_form
    assert t.lam_star_measured == pytest.approx(0.5, abs=1e-9)
    assert t.lam_star_pred == pytest.approx(0.5, rel=1e-8)
    assert (t.morse_before, t.morse_after) == (0, 1)
    assert nf.classification == "transcritical"
    assert abs(nf.g_xx) == pytest.approx(0.05, rel=1e-8)
    assert nf.g_xxx == pytest.approx(0.75, rel=1e-6)
    assert nf.g_xmu == pytest.approx(-2.0, rel=1e-8)
    assert nf.rho == pytest.approx(0.05 / 0.75, rel=1e-6)
