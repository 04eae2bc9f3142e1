"""Predicted against measured threshold lam* of any family (SPEC 4, 5, 7, 8).

1. The softening prediction ``lam*_pred = mu_0 / |lambda_1'(0)|`` and the imperfection eta at
   ``(x0, 0)`` (:meth:`nlpt.Problem.softening`: for the model the closed form / secular solve of
   SPEC 4, in general the slope matrix of SPEC 8); a rate below the round-off floor is no
   softening.
2. The critical branch from ``(x0, 0)`` (:func:`nlpt.continue_branch`, first steps capped by a
   fraction of ``lam*_pred``) with its special points refined (:mod:`nlpt.events`).
3. The threshold is the first special point where the Morse index grows from its value at the
   start: a ``"crossing"`` (status ``"crossing"``) or a fold (status ``"fold"``: the branch turns
   back where the eigenvalue passes zero -- an imperfect bifurcation, SPEC 5).  Without one the
   status is ``"no softening"``, ``"no crossing in [0, lam_max]"`` (with the refined minimum of the
   lowest eigenvalue) or ``"continuation failed"``.
4. At the threshold: the near-zero cluster (its multiplicity and where it lives: the family's
   own coordinates or a transverse sector), the critical vectors, and the branch tangent
   ``dx/dlam`` on the cluster's complement (at a fold, the x-direction of the arclength tangent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import as_float, as_lam_max
from .continuation import Branch, SpecialPoint, continue_branch
from .corrector import default_newton_tol, tangent as arc_tangent
from .engine import select_problem
from .events import refine_minimum
from .params import ContinuationPar, continuation_par
from .problem import Problem, orient, sector_kernel

__all__ = ["ThresholdResult", "find_threshold", "critical_space"]


@dataclass
class ThresholdResult:
    """Predicted and measured threshold lam* of one family (SPEC 4, 5).

    Attributes
    ----------
    softening_rate, softening_multiplicity : float, int
        ``lambda_1'(0)`` and its multiplicity.
    lam_star_pred : float or None
        ``mu_0 / |lambda_1'(0)|`` (``mu_0 = alpha`` for the model); None when there is no softening.
    lam_star_measured : float or None
        The first point of the branch where the Hessian gets a negative eigenvalue, refined to
        ``tol`` in lam (``lam_star_error`` estimates the error); None when there is none.
    ratio : float or None
        ``lam_star_measured / lam_star_pred``.
    multiplicity : int or None
        The near-zero cluster at the threshold (with multiplicity).
    morse_before, morse_after : int or None
        Morse index at the branch points bracketing the threshold.
    eta : float
        Imperfection ``|P_K d/dlam grad L(x0, 0)|`` (SPEC 5).
    lam_c : float or None
        ``= lam_star_measured``.
    x_c, tangent_x : arrays or None
        The point and ``dx/dlam`` in the family's own coordinates; ``W_c``, ``tangent`` (properties)
        in the model's full shape (m, d).
    critical_vectors : (multiplicity, m, d) array or None (property)
        Orthonormal eigenvectors of the near-zero cluster in full coordinates (for a reduced
        family: an orthonormal basis of the within-group kernel it lives on; an error if that
        is too large to hold).
    critical_sector : str or None
        Where the cluster lives: ``"own"`` or a transverse sector (``"group h"``).
    engine : str
        ``"full"``, ``"reduced"`` or ``"problem"``.
    branch : Branch
    status, message : str
    minimum : SpecialPoint or None
        Without a crossing: the refined minimum of the lowest eigenvalue on the branch.
    tol, zero_tol, lam_max, alpha : float
        ``alpha`` is the floor mu_0 (the model's alpha).
    m : int or None
    """

    softening_rate: float
    softening_multiplicity: int
    lam_star_pred: float | None
    lam_star_measured: float | None
    ratio: float | None
    multiplicity: int | None
    morse_before: int | None
    morse_after: int | None
    eta: float
    lam_c: float | None
    branch: Branch = field(repr=False)
    status: str
    message: str
    tol: float
    zero_tol: float | None
    lam_max: float
    alpha: float
    m: int | None
    engine: str = "full"
    x_c: np.ndarray | None = field(default=None, repr=False)
    tangent_x: np.ndarray | None = field(default=None, repr=False)
    Phi_x: np.ndarray | None = field(default=None, repr=False)
    critical_sector: str | None = None
    critical_eigvecs: np.ndarray | None = field(default=None, repr=False)
    lam_star_error: float | None = None
    minimum: SpecialPoint | None = field(default=None, repr=False)
    softening_note: str = ""
    problem: Problem | None = field(default=None, repr=False)
    special_point: SpecialPoint | None = field(default=None, repr=False)
    newton_tol: float | None = None
    morse_tol: float | None = None

    @property
    def W_c(self):
        return None if self.x_c is None else self.problem.full_vector(self.x_c)

    @property
    def tangent(self):
        return None if self.tangent_x is None else self.problem.full_vector(self.tangent_x)

    @property
    def critical_vectors(self):
        if self.x_c is None:
            return None
        pb = self.problem
        if self.critical_sector not in (None, "own") and hasattr(pb, "kernel_basis_full"):
            h = int(self.critical_sector.split()[-1])
            return pb.kernel_basis_full(h, self.critical_eigvecs)
        return np.stack([pb.full_vector(v) for v in self.Phi_x])

    def to_dict(self, include_branch: bool = False) -> dict:
        f = lambda x: None if x is None else float(x)  # noqa: E731
        i = lambda x: None if x is None else int(x)  # noqa: E731
        out = {
            "engine": self.engine,
            "m": i(self.m),
            "alpha": float(self.alpha),
            "lam_max": float(self.lam_max),
            "softening_rate": float(self.softening_rate),
            "m_times_rate": None if self.m is None else float(self.m * self.softening_rate),
            "softening_multiplicity": int(self.softening_multiplicity),
            "softening_note": self.softening_note,
            "lam_star_pred": f(self.lam_star_pred),
            "lam_star_measured": f(self.lam_star_measured),
            "lam_star_error": f(self.lam_star_error),
            "ratio": f(self.ratio),
            "multiplicity": i(self.multiplicity),
            "critical_sector": self.critical_sector,
            "morse_before": i(self.morse_before),
            "morse_after": i(self.morse_after),
            "eta": float(self.eta),
            "lam_c": f(self.lam_c),
            "tol": float(self.tol),
            "newton_tol": f(self.newton_tol),
            "morse_tol": f(self.morse_tol),
            "zero_tol": f(self.zero_tol),
            "status": self.status,
            "message": self.message,
            "branch_status": self.branch.status,
            "branch_points": len(self.branch),
            "eigensolves": int(self.branch.eigensolves),
            "special_points": [p.to_dict() for p in self.branch.special_points],
            "minimum": None if self.minimum is None else self.minimum.to_dict(),
        }
        if include_branch:
            out["branch"] = self.branch.to_dict()
        return out


def critical_space(problem: Problem, x, lam: float, zero_tol: float, k: int):
    """(point, own critical vectors (r, P), sector label or "own" or "mixed", sector eigvecs or None)
    of the near-zero cluster at (x, lam)."""
    pt = problem.at(x, lam)
    spec = problem.spectrum(pt, k, 0.0, vectors=True)
    vals, vecs = spec.values, spec.vectors
    own = np.flatnonzero(np.abs(vals) <= zero_tol)
    secs = [(label, ev) for label, ev, _ in spec.sectors if np.any(np.abs(ev) <= zero_tol)]
    if secs and own.size:
        where = "mixed"
    elif secs:
        where = secs[0][0] if len(secs) == 1 else "mixed"
    else:
        where = "own"
        if not own.size:
            own = np.array([int(np.argmin(np.abs(vals)))])
    Phi = orient(vecs[:, own]).T if own.size else np.zeros((0, problem.size))  # a deterministic sign
    E = None
    if where not in ("own", "mixed"):
        E = sector_kernel(problem, pt, where, zero_tol)
    return pt, Phi, where, E


def _deflated_tangent(problem: Problem, pt, Phi: np.ndarray) -> np.ndarray:
    """dx/dlam on the complement of the rows of Phi: ``(H + s Phi^T Phi) x = -(I - Phi^T Phi) gl``."""
    g = pt.grad_lam()
    if Phi.shape[0] == 0:
        return problem.newton_step(pt, g, rtol=1e-12)
    g = g - Phi.T @ (Phi @ g)
    H = pt.hessian()
    s = max(1.0, abs(problem.floor))
    if H is not None:
        x = np.linalg.lstsq(H + s * Phi.T @ Phi, -g, rcond=1e-14)[0]
    else:
        from scipy.sparse.linalg import LinearOperator, minres

        op = LinearOperator((problem.size, problem.size), matvec=lambda v: pt.hvp(v) + s * Phi.T @ (Phi @ v),
                            dtype=float)
        x = minres(op, -g, rtol=1e-12, maxiter=10 * problem.size)[0]
    return x - Phi.T @ (Phi @ x)


def _texts(soft, lam_max):
    pred = soft.lam_star_pred
    if pred is not None:
        pred_text = f"predicted lam* = {pred:.6g} (lambda_1'(0) = {soft.rate:.4e})"
    elif not soft.floor > 0:
        pred_text = f"no predicted lam*: lambda_1'(0) = {soft.rate:.4e}, but {soft.note}"
    elif soft.note:
        pred_text = f"no softening: lambda_1'(0) = {soft.rate:.4e} ({soft.note}), so no predicted lam*"
    else:
        pred_text = f"no softening: lambda_1'(0) = {soft.rate:.4e} >= 0, so no predicted lam*"
    eta_text = f"; imperfection eta = {soft.eta:.2e}" if soft.eta > 1e-12 else ""
    return pred_text, eta_text


def _threshold_point(branch: Branch):
    start = int(branch.morse[0]) if len(branch) else 0
    for p in branch.special_points:
        if p.type in ("crossing", "fold") and p.index_before == start and p.index_after > p.index_before:
            return p
    return None


def find_threshold(problem, lam_max=1.0, *, tol=1e-10, zero_rtol=1e-3, n_eigs=None, engine: str = "auto",
                   W0=None, par: ContinuationPar | None = None, progress=None, **continuation_options) -> ThresholdResult:
    """Predicted vs measured threshold lam* (module docstring) of a Model or Problem.

    ``engine`` (``"auto"``, ``"reduced"``, ``"full"``) chooses the implementation of a Model
    (:func:`nlpt.engine.select_problem`); ``tol`` is the tolerance in lam of the refined special
    points; ``zero_rtol`` defines the near-zero cluster (``|lambda| <= zero_rtol * floor +
    |lambda_c|``); ``continuation_options`` are :class:`nlpt.ContinuationPar` fields.  Numerical
    failure is reported in ``status`` and ``message``; bad input raises :class:`nlpt.NLPTInputError`.
    """
    problem = select_problem(problem, engine, W0=W0)
    lam_max = as_lam_max(lam_max)
    tol = as_float("tol", tol, minimum=0.0, strict=True)
    zero_rtol = as_float("zero_rtol", zero_rtol, minimum=0.0)
    par = continuation_par(par, tol=tol, zero_rtol=zero_rtol, n_eigs=n_eigs, **continuation_options)
    soft = problem.softening()
    branch = continue_branch(problem, lam_max, par=par, lam_hint=soft.lam_star_pred, progress=progress)
    m = getattr(getattr(problem, "model", None), "m", None)
    base = dict(softening_rate=soft.rate, softening_multiplicity=soft.multiplicity, lam_star_pred=soft.lam_star_pred,
                eta=soft.eta, branch=branch, tol=tol, lam_max=lam_max, alpha=problem.floor, m=m,
                engine=problem.engine, softening_note=soft.note, problem=problem,
                newton_tol=par.newton_tol if par.newton_tol is not None else default_newton_tol(problem),
                morse_tol=branch.morse_tol)
    pred_text, eta_text = _texts(soft, lam_max)
    sp = _threshold_point(branch)
    if sp is None or sp.x is None:
        return _no_threshold(problem, branch, par, base, soft, pred_text, eta_text, sp)
    return _at_threshold(problem, branch, par, sp, base, soft, pred_text, eta_text)


def _none(base, status, message, **extra) -> ThresholdResult:
    return ThresholdResult(lam_star_measured=None, ratio=None, multiplicity=None, morse_before=None, morse_after=None,
                           lam_c=None, status=status, message=message, zero_tol=None, **base, **extra)


def _no_threshold(problem, branch, par, base, soft, pred_text, eta_text, sp):
    lam_max = base["lam_max"]
    if len(branch) == 0:
        return _none(base, "continuation failed", f"continuation failed: {branch.message}; {pred_text}{eta_text}")
    if sp is not None:  # a threshold special point that could not be refined
        return _none(base, "continuation failed", f"continuation failed while refining the {sp.type} near lam = "
                     f"{sp.lam:.6g}: {sp.note}; {pred_text}{eta_text}")
    tol_newton = par.newton_tol if par.newton_tol is not None else default_newton_tol(problem)
    mn = refine_minimum(problem, branch, par, tol_newton)
    where = f"min {mn.value:.4e} at lam = {mn.lam:.8g}" if mn is not None else "no minimum"
    if mn is not None:
        branch.special_points.append(mn)
    if not branch.completed:
        return _none(base, "continuation failed",
                     f"continuation failed before lam_max = {lam_max:g}, no crossing up to lam = {branch.lams[-1]:.6g} "
                     f"(lowest eigenvalue {where}); {branch.message}; {pred_text}{eta_text}", minimum=mn)
    status = "no softening" if soft.lam_star_pred is None else "no crossing in [0, lam_max]"
    start = int(branch.morse[0])
    what = (f"lowest eigenvalue stays above 0 on [0, {lam_max:g}] ({where})" if start == 0 else
            f"the Morse index never grows above its value {start} at x0 (a saddle of L(., 0)) on [0, {lam_max:g}] "
            f"(lowest eigenvalue {where})")
    return _none(base, status, f"no crossing: {what}; {pred_text}{eta_text}", minimum=mn)


def _at_threshold(problem, branch, par, sp, base, soft, pred_text, eta_text):
    lam_c = float(sp.lam)
    k = branch.spectra[0].values.size if branch.spectra else problem.default_n_eigs()
    zero_tol = par.zero_rtol * abs(problem.floor) + abs(sp.value if sp.value is not None else 0.0)
    pt, Phi, where, E = critical_space(problem, sp.x, lam_c, zero_tol, max(k, 1))
    mult = sp.multiplicity
    if sp.type == "fold":
        i = int(np.searchsorted(branch.s, sp.s)) - 1
        t_i = branch.tangents[max(i, 0)]
        t_f = arc_tangent(problem, pt, t_i if t_i[-1] > 0 else -t_i)
        tx = t_f[:-1] / np.linalg.norm(t_f[:-1])
    else:
        tx = _deflated_tangent(problem, pt, Phi if where == "own" else Phi[:0])
    ratio = lam_c / soft.lam_star_pred if soft.lam_star_pred is not None else None
    mb, ma = int(sp.index_before), int(sp.index_after)
    err = sp.lam_error
    msg = _message(sp, lam_c, mult, mb, ma, ratio, soft, pred_text, eta_text, base["tol"], err, where)
    return ThresholdResult(
        lam_star_measured=lam_c, ratio=ratio, multiplicity=int(mult), morse_before=mb, morse_after=ma, lam_c=lam_c,
        status="fold" if sp.type == "fold" else "crossing", message=msg, zero_tol=zero_tol, x_c=sp.x.copy(),
        tangent_x=tx, Phi_x=Phi, critical_sector=where, critical_eigvecs=E, lam_star_error=err, special_point=sp,
        **base)


def _message(sp, lam_c, mult, mb, ma, ratio, soft, pred_text, eta_text, tol, err, where) -> str:
    err_text = f", error estimate {err:.1e}" if err is not None else ""
    sector = "" if where in ("own", None) else f" in {where}"
    note = f"; note: {sp.note}" if sp.note else ""
    if sp.type == "fold":
        pred = soft.lam_star_pred
        cmp = (f"the linear prediction lam* = {pred:.6g} (lambda_1'(0) = {soft.rate:.4e}) is "
               f"{'below' if ratio > 1 else 'above'} it, ratio measured/predicted = {ratio:.4g}"
               if ratio is not None else pred_text)
        return (f"fold at lam* = {lam_c:.10g}: the bifurcation is imperfect (eta = {soft.eta:.2e} nonzero), so the "
                f"critical branch does not cross the softening but turns back at lam_fold = {lam_c:.10g} "
                f"(a saddle-node: one Hessian eigenvalue{'' if sp.value is None else f', lowest {sp.value:.2e},'} "
                f"passes through 0 there, "
                f"near-zero multiplicity {mult}, Morse index {mb} -> {ma} across the fold); {cmp}{note}")
    cmp = f"{pred_text}, ratio measured/predicted = {ratio:.4g}" if ratio is not None else pred_text
    which = "the lowest eigenvalue" if mb == 0 else f"eigenvalue {mb + 1} from the bottom"
    return (f"crossing at lam* = {lam_c:.10g} (tol {tol:.0e}{err_text}): {which} changes sign with "
            f"near-zero multiplicity {mult}{sector}, Morse index {mb} -> {ma}; {cmp}{eta_text}{note}")
