"""Special points of a continued branch: detection, refinement, subdivision (SPEC 4, 5).

Between two consecutive branch points ``u_a, u_b`` the branch is parametrised in the frame of
the left point: ``u(sigma)`` solves ``grad L(u) = 0``, ``t_a . (u - u_a) = sigma`` for
``sigma`` in ``[0, t_a . (u_b - u_a)]`` (the pseudo-arclength corrector, regular at simple folds
and at crossings in transverse sectors), Newton-polished at every evaluation
(:func:`nlpt.corrector.arc_correct` with ``polish=True``).

* **Fold**: ``dlam/ds`` changes sign; the zero of ``sigma -> t_lam(u(sigma))`` by Brent's method.
* **Crossing / re-stabilisation**: the Morse index changes by ``dm``.  The eigenvalues known at a
  point are ordered ascending as *modes* (own eigenvalues, and transverse-sector eigenvalues
  with their multiplicity); with ``p`` modes negative at ``u_a``, the mode at position ``p``
  (``dm > 0``) or ``p - 1`` (``dm < 0``) changes sign first -- an order statistic of continuous
  functions, hence continuous -- and Brent's method on its value finds where, to ``tol`` in
  sigma (|d lam| <= |d sigma| |t_lam| / (t_a . t), about ``tol`` and never more than a few times
  it on one step).  At the refined point the near-zero cluster (modes with
  ``|lambda| <= zero_rtol * floor + |lambda_c|``) must carry the whole Morse change ``|dm|``:
  if it carries less (crossings merged in one step), a point is inserted half way between the
  refined crossing and ``u_b`` and both halves are examined again, up to ``max_subdivisions``
  times; a disagreement that survives, or a cluster larger than ``|dm|`` (another eigenvalue
  near zero that does not cross here), is reported in the special point's ``note``.
* **Minimum** (:func:`refine_minimum`): the lowest eigenvalue's minimum over the branch, refined by
  Brent's method on its slope in sigma around the lowest branch point (for the "no crossing"
  report).

``lam_error`` of a refined point estimates its error in lam: at a crossing the bracket width in
sigma times ``|dlam/dsigma|``, plus the residual eigenvalue over its slope; at a fold, where lam
is stationary in sigma, half the curvature times the bracket width squared.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .corrector import arc_correct, tangent
from .problem import Problem

__all__ = ["attach_special_points", "refine_minimum", "mode_value", "cluster"]

#: Gradient tolerance of the refinement points, relative to the branch tolerance.
REFINE_FACTOR = 1e-3


class _Failed(Exception):
    pass


def mode_value(spec, position: int) -> float:
    """Value of the mode at ``position`` of the ascending mode list (+inf beyond its end)."""
    modes = spec.modes()
    return modes[position][0] if position < len(modes) else np.inf


def n_negative_modes(spec) -> int:
    return sum(1 for v, _, _ in spec.modes() if v < -spec.tol)


def cluster(spec, floor: float, zero_rtol: float, center: float):
    """(multiplicity, where-labels, tolerance) of the modes with ``|v| <= zero_rtol floor + |center|``."""
    tol = zero_rtol * abs(floor) + abs(center)
    near = [(mult, where) for v, mult, where in spec.modes() if abs(v) <= tol]
    labels = sorted({w[0] for _, w in near})
    return sum(m for m, _ in near), labels, tol


class _Interval:
    """The branch between two recorded points, in the frame of the left one."""

    def __init__(self, problem: Problem, ua, ta, ub, tol: float, maxiter: int, polish: bool = True, deflate=None):
        self.pb, self.ua, self.ta, self.ub = problem, ua, ta, ub
        self.tol, self.maxiter, self.polish, self.deflate = tol, maxiter, polish, deflate
        self.s_b = float(ta @ (ub - ua))
        self.cache = {}

    def point(self, sigma: float):
        if sigma in self.cache:
            return self.cache[sigma]
        frac = sigma / self.s_b if self.s_b != 0 else 0.0
        pred = self.ua + frac * (self.ub - self.ua)
        c = arc_correct(self.pb, self.ua, self.ta, sigma, pred, self.tol * REFINE_FACTOR, self.maxiter + 10,
                        polish=self.polish, deflate=self.deflate)
        if not c.converged:
            c = arc_correct(self.pb, self.ua, self.ta, sigma, pred, self.tol, self.maxiter, polish=self.polish,
                            deflate=self.deflate)
        if not c.converged:
            raise _Failed(f"the corrector failed at arclength {sigma:.6g} inside the bracket: {c.message}")
        self.cache[sigma] = c
        return c


def _refine_fold(iv: _Interval):
    """Brent on ``t_lam(sigma)``; (sigma, point, lam_error).

    Near a fold ``lam(sigma) = lam_f - kappa (sigma - sigma_f)^2 / 2``, so a point within ``xtol``
    of the fold in sigma is within ``kappa xtol^2 / 2`` of it in lam, the error reported, with the
    curvature ``kappa ~ |d t_lam / d sigma|`` of the bracket or of the last evaluations on either
    side of the zero, whichever is larger."""
    vals = {}

    def t_lam(sigma):
        if sigma not in vals:
            c = iv.point(sigma)
            vals[sigma] = float(tangent(iv.pb, c.pt, iv.ta)[-1])
        return vals[sigma]

    f0, f1 = t_lam(0.0), t_lam(iv.s_b)
    if f0 * f1 > 0:
        raise _Failed("dlam/ds does not change sign between the bracketing points")
    kappa = abs(f1 - f0) / max(abs(iv.s_b), 1e-300)
    # to round-off in sigma, not only to tol in lam: the point itself (where the Hessian is
    # singular, and the saddle-node coefficients are taken) is first order in the sigma error
    xtol = 1e-14 * max(1.0, abs(iv.s_b))
    sigma = brentq(t_lam, 0.0, iv.s_b, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=100)
    c = iv.point(sigma)
    left = [s for s, v in vals.items() if v * f0 > 0]
    right = [s for s, v in vals.items() if v * f0 <= 0]
    sa = min(left, key=lambda s: abs(s - sigma))
    sb = min(right, key=lambda s: abs(s - sigma))
    if sa != sb:
        kappa = max(kappa, abs(vals[sb] - vals[sa]) / abs(sb - sa))
    lam_error = 0.5 * kappa * min(xtol, abs(sb - sa)) ** 2
    return sigma, c, lam_error


def _fold_residual_error(c, spec) -> float:
    """lam's error at a fold from the corrector's residual r: ``|r| / |<phi, d/dlam grad>|`` (the
    residual moves the fold along phi, which the saddle-node coefficient g_mu turns into lam)."""
    if spec.vectors is None or spec.vectors.shape[1] == 0:
        return 0.0
    g_mu = abs(float(spec.vectors[:, 0] @ c.pt.grad_lam()))
    return float(c.grad_norm) / g_mu if g_mu > 0 else 0.0


def _refine_crossing(iv: _Interval, spec_of, position: int, xtol: float):
    """Brent on the value of the mode at ``position``; (sigma, point, spectrum, value, lam_error)."""
    specs = {}

    def f(sigma):
        c = iv.point(sigma)
        if sigma not in specs:
            specs[sigma] = spec_of(c.pt)
        return mode_value(specs[sigma], position)

    f0, f1 = f(0.0), f(iv.s_b)
    if f0 * f1 > 0:
        raise _Failed("the crossing eigenvalue does not change sign between the bracketing points")
    sigma = 0.0 if f0 == 0 else (iv.s_b if f1 == 0 else brentq(f, 0.0, iv.s_b, xtol=xtol, maxiter=200))
    c = iv.point(sigma)
    val = f(sigma)
    # slope of the crossing eigenvalue in lam, from the bracket ends, for the error estimate
    lam_a, lam_b = iv.point(0.0).lam, iv.point(iv.s_b).lam
    slope = (f1 - f0) / (lam_b - lam_a) if lam_b != lam_a else np.inf
    dlam_ds = abs(lam_b - lam_a) / abs(iv.s_b) if iv.s_b else 1.0
    resid = abs(val) + iv.pb.eig_accuracy()
    err = xtol * dlam_ds + (resid / abs(slope) if np.isfinite(slope) and slope != 0 else 0.0)
    return sigma, c, specs[sigma], val, err


class _Scan:
    """Walks the recorded points, refining every event and inserting points where needed."""

    def __init__(self, problem, br, par, newton_tol):
        self.pb, self.par, self.tol = problem, par, newton_tol
        P = problem.size
        self.us = [np.append(x, lam) for x, lam in zip(br.x.reshape(len(br), P), br.lams)]
        self.ts = list(br.tangents) if br.tangents is not None else []
        self.specs = list(br.spectra)
        self.ss = list(br.s)
        self.gns = list(br.grad_norms)
        self.morse_tol = br.morse_tol
        self.k = br.spectra[0].values.size if br.spectra else 1
        self.points = []

    def spec_of(self, pt, X0=None):
        return self.pb.spectrum(pt, max(self.k, 1), self.morse_tol, X0=X0)

    def interval(self, i, polish=True, deflate=None):
        # Polishing pays where eigenvalues are exact (dense spectra); on matrix-free families the
        # eigensolver's own accuracy (Problem.eig_accuracy) bounds the refinement instead.
        polish = polish and self.pb.eig_accuracy() == 0.0
        return _Interval(self.pb, self.us[i], self.ts[i], self.us[i + 1], self.tol, self.par.newton_maxiter, polish,
                         deflate)

    def crossing_modes(self, i, dm):
        """Own eigenvectors (rows) of the modes that change sign between points i and i+1, taken at
        the end where they are nearer zero; None when they are not own modes or not available."""
        j = i + 1 if abs(self.specs[i + 1].min) < abs(self.specs[i].min) else i
        u = self.us[j]
        pt = self.pb.at(u[:-1], u[-1])
        if pt.hessian() is None:
            return None
        p = n_negative_modes(self.specs[i])
        lo = p if dm > 0 else p + dm
        modes = self.specs[j].modes()[lo:lo + abs(dm)]
        if not modes or any(w[0] != "own" for _, _, w in modes):
            return None
        vals, vecs, _ = self.pb.eig(pt, self.k, None, True)
        return vecs[:, [w[1] for _, _, w in modes]].T

    def insert(self, i, sigma, c, spec):
        t = tangent(self.pb, c.pt, self.ts[i])
        self.us.insert(i + 1, c.u)
        self.ts.insert(i + 1, t)
        self.specs.insert(i + 1, spec)
        self.ss.insert(i + 1, self.ss[i] + sigma)
        self.gns.insert(i + 1, c.grad_norm)

    def run(self):
        i, splits = 0, 0
        while i < len(self.us) - 1:
            tl_a, tl_b = self.ts[i][-1], self.ts[i + 1][-1]
            if tl_a * tl_b < 0 or tl_b == 0.0:
                self.points.append(self.fold(i))
                i += 1
                continue
            dm = self.specs[i + 1].morse - self.specs[i].morse
            if dm == 0:
                i += 1
                continue
            sp, inserted = self.crossing(i, dm, splits < self.par.max_subdivisions)
            if inserted:
                splits += 1
                continue
            self.points.append(sp)
            i += 1
        return self.points

    def fold(self, i):
        from .continuation import SpecialPoint

        ma, mb = self.specs[i].morse, self.specs[i + 1].morse
        iv = self.interval(i, polish=False)  # lam at a fold is off by |residual| / |<phi, d/dlam grad>|
        try:
            sigma, c, lam_err = _refine_fold(iv)
        except _Failed as exc:  # keep the fold at the bracketing point nearer to it
            j = i if abs(self.ts[i][-1]) < abs(self.ts[i + 1][-1]) else i + 1
            u = self.us[j]
            return SpecialPoint("fold", float(u[-1]), ma, mb, abs(mb - ma), float(self.ss[j]), u[:-1].copy(),
                                note=f"not refined: {exc}", problem=self.pb)
        spec = self.spec_of(c.pt)
        mult, labels, _ = cluster(spec, self.pb.floor, self.par.zero_rtol, spec.min)
        lam_err += _fold_residual_error(c, spec)
        return SpecialPoint("fold", c.lam, ma, mb, mult, float(self.ss[i] + sigma), c.x.copy(), value=spec.min,
                            lam_error=lam_err, where=",".join(labels), problem=self.pb)

    def crossing(self, i, dm, may_split):
        """(SpecialPoint, False) or (None, True) when a point was inserted instead."""
        from .continuation import SpecialPoint

        ma, mb = self.specs[i].morse, self.specs[i + 1].morse
        p = n_negative_modes(self.specs[i])
        position = p if dm > 0 else p - 1
        kind = "crossing" if dm > 0 else "restabilisation"
        iv = self.interval(i, deflate=self.crossing_modes(i, dm))
        xtol = 0.5 * self.par.tol
        warm = self.specs[i].vectors  # matrix-free spectra start from the bracket's eigenvectors
        try:
            sigma, c, spec, val, err = _refine_crossing(iv, lambda pt: self.spec_of(pt, warm), position, xtol)
        except _Failed as exc:
            lam = 0.5 * (self.us[i][-1] + self.us[i + 1][-1])
            return SpecialPoint(kind, float(lam), ma, mb, abs(mb - ma), float(0.5 * (self.ss[i] + self.ss[i + 1])),
                                note=f"not refined: {exc}", problem=self.pb), False
        mult, labels, _ = cluster(spec, self.pb.floor, self.par.zero_rtol, val)
        # Fewer near-zero modes than the Morse change: several crossings merged in one step, which
        # an inserted point separates.  More: another eigenvalue sits near zero without crossing
        # here, which no subdivision changes (reported in the note).
        if mult < abs(dm) and may_split and iv.s_b - sigma > 4 * xtol:
            s_ins = sigma + 0.5 * (iv.s_b - sigma)
            try:
                c_ins = iv.point(s_ins)
            except _Failed:
                c_ins = None
            if c_ins is not None:
                self.insert(i, s_ins, c_ins, self.spec_of(c_ins.pt))
                return None, True
        if mult == abs(dm):
            note = ""
        elif mult > abs(dm):
            note = (f"near-zero cluster of multiplicity {mult} at the refined point for a Morse change {ma}->{mb}: "
                    f"{mult - abs(dm)} more eigenvalue(s) within {self.par.zero_rtol:g} x floor of zero do not cross here")
        else:
            note = (f"Morse change {ma}->{mb} but near-zero cluster of multiplicity {mult} at the refined point "
                    "(not separated by subdivision)")
        return SpecialPoint(kind, c.lam, ma, mb, mult, float(self.ss[i] + sigma), c.x.copy(), value=val,
                            lam_error=err, where=",".join(labels), note=note, problem=self.pb), False


def attach_special_points(problem: Problem, br, par, newton_tol: float):
    """The branch with its special points refined (module docstring), points inserted where a
    Morse change had to be split."""
    if len(br) < 2:
        return br
    sc = _Scan(problem, br, par, newton_tol)
    pts = sc.run()
    if len(sc.us) != len(br):
        from .continuation import branch_from

        new = branch_from(problem, sc.us, sc.gns, sc.specs, sc.ts, sc.ss, br.status, br.message, br.lam_max,
                          br.morse_tol, br.eigensolves)
        br = new
    br.special_points = pts
    return br


def refine_minimum(problem: Problem, br, par, newton_tol: float):
    """The minimum of the lowest eigenvalue along the branch, refined (a SpecialPoint of type
    ``"minimum"``), or None for a branch of fewer than two points.

    Around the lowest branch point j the slope ``d lambda_min / ds`` (Hellmann-Feynman,
    :func:`nlpt.corrector.lowest_slope`) changes sign; its zero is found by Brent's method in the
    frame of point j - 1 to ``tol`` (superlinear: about ten corrected points).  Where it does not
    change sign (the minimum is an end of the branch) the end point is the minimum."""
    from .continuation import SpecialPoint
    from .corrector import lowest_slope

    if len(br) < 2:
        return None
    low = np.array([sp.min for sp in br.spectra])
    j = int(np.argmin(low))
    a, b = max(j - 1, 0), min(j + 1, len(br) - 1)
    ua = np.append(br.x[a], br.lams[a])
    ub = np.append(br.x[b], br.lams[b])
    iv = _Interval(problem, ua, br.tangents[a], ub, newton_tol, par.newton_maxiter, polish=False)
    k = max(br.spectra[0].values.size, 1)
    specs = {}

    def slope(sigma):
        c = iv.point(sigma)
        specs[sigma] = problem.spectrum(c.pt, k, br.morse_tol, vectors=True)
        return lowest_slope(problem, c.pt, specs[sigma], tangent(problem, c.pt, iv.ta))

    def at_point(i):
        return SpecialPoint("minimum", float(br.lams[i]), int(br.morse[i]), int(br.morse[i]), 0, float(br.s[i]),
                            br.x[i].copy(), value=float(low[i]), lam_error=0.0, problem=problem)

    try:
        f0, f1 = slope(0.0), slope(iv.s_b)
        if not (f0 < 0 < f1):
            return at_point(j)
        sigma = brentq(slope, 0.0, iv.s_b, xtol=par.tol, maxiter=100)
        c = iv.point(sigma)
        if sigma not in specs:
            slope(sigma)
    except _Failed as exc:
        pt = at_point(j)
        pt.note = f"not refined: {exc}"
        return pt
    val = float(specs[sigma].min)
    if val > low[j]:  # rounding in a flat minimum: the branch point itself is lower
        return at_point(j)
    return SpecialPoint("minimum", c.lam, int(br.morse[j]), int(br.morse[j]), 0, float(br.s[a] + sigma),
                        c.x.copy(), value=val, lam_error=par.tol, problem=problem)
