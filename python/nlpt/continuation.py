"""Continuation of the critical branch of any family (SPEC 4, 8): the stepper and the branch.

Starting from the critical point ``(x0, 0)`` the branch of solutions of ``grad L(x, lam) = 0`` is
followed by **pseudo-arclength continuation** (Keller) in ``u = (x, lam)``, so that it can pass
folds (turning points in lam) where the natural parameter cannot:

* **tangent** ``t = (t_x, t_lam)``, ``|t| = 1``, oriented like the previous one (the start uses
  ``(0, 1)``: lam increasing from 0) -- :func:`nlpt.corrector.tangent`;
* **predictor** ``u + h t``; **corrector** Newton on the bordered system
  (:func:`nlpt.corrector.arc_correct`), regular at a simple fold;
* **step control** (:class:`nlpt.ContinuationPar`): the arclength step h is capped so that the
  displacement in x stays below ``dW_rtol max(|x|, 1)``, the step in lam below ``ds_max``, and,
  while lam is below twice the predicted threshold ``lam_hint``, below
  ``first_step_fraction * lam_hint`` -- so a crossing near the prediction is never inside the
  first step; it is halved when Newton fails, when the corrected point lies farther than
  ``jump_rtol h`` from the prediction, when the lowest eigenvalue misses its secant prediction
  by more than ``eig_rtol |predicted change| + eig_atol floor`` (a jump to a neighbouring
  branch), or when the fold-pair guard sees the lowest eigenvalue dip below zero inside the step
  (cubic Hermite interpolant of its values and slopes); it grows by ``grow`` after an easy
  convergence; below ``ds_min`` the branch ends with status ``"step collapse at lam=..."``.  A
  point whose lowest eigenvalue is below ``SINGULAR_RTOL`` times the last point's in magnitude is
  not accepted (the tangent is ill-determined next to a singular point); the step is retried at
  0.6 h.

At every point the stability spectrum is recorded (:class:`nlpt.problem.Spectrum`: the lowest
own eigenvalues and, for reduced families, the transverse sectors with their multiplicities),
with the Morse index.  Special points -- crossings, re-stabilisations, folds -- are found and
refined afterwards by :mod:`nlpt.events`, which may insert points where a Morse change and the
near-zero cluster at its refined location disagree.

**Where the branch ends**: at ``lam_max`` (``"completed"``; the last point is solved at
``lam = lam_max`` exactly), back at ``lam = 0`` after a fold (``"returned to lam=0"``),
``after_fold`` points past the ``max_folds``-th fold (``"stopped after fold at lam=..."``), or
on failure (step collapse, ``max_steps``, ``"start failed"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import NLPTInputError, as_lam_max
from .corrector import arc_correct, default_newton_tol, lowest_slope, newton_at_lam, tangent
from .engine import select_problem
from .params import ContinuationPar, continuation_par
from .problem import Problem
from .twolayer import MORSE_TOL

__all__ = ["SpecialPoint", "Branch", "continue_branch", "default_n_eigs", "MORSE_TOL"]

#: A corrected point whose lowest eigenvalue is below SINGULAR_RTOL times the last point's in
#: magnitude is not accepted (see _Stepper.guards); events are refined between points instead.
SINGULAR_RTOL = 1e-3


def default_n_eigs(problem) -> int:
    """Own eigenvalues tracked per branch point by default (the family's choice)."""
    return select_problem(problem).default_n_eigs()


@dataclass
class SpecialPoint:
    """A refined point of the branch where the Morse index changes or lam turns back (SPEC 5).

    ``type``: ``"crossing"`` (the Morse index grows on a stretch monotone in lam),
    ``"restabilisation"`` (it shrinks), ``"fold"`` (``dlam/ds`` changes sign) or ``"minimum"``
    (the refined minimum of the lowest eigenvalue on a branch without a crossing).  ``lam``, ``s``
    and the point ``x`` are refined to the stated tolerance (:mod:`nlpt.events`);
    ``multiplicity`` is that of the near-zero cluster there, which equals
    ``|index_after - index_before|`` unless ``note`` says otherwise; ``value`` is the crossing
    eigenvalue (about 0; the minimum for type ``"minimum"``); ``lam_error`` an estimate of the
    error in lam.
    """

    type: str
    lam: float
    index_before: int
    index_after: int
    multiplicity: int
    s: float | None = None
    x: np.ndarray | None = field(default=None, repr=False)
    value: float | None = None
    lam_error: float | None = None
    where: str = ""
    note: str = ""
    problem: Problem | None = field(default=None, repr=False)

    @property
    def W(self):
        """The point in the model's full shape (m, d) (reduced families are expanded)."""
        if self.x is None:
            return None
        return self.problem.full_vector(self.x) if self.problem is not None else self.x

    def to_dict(self) -> dict:
        f = lambda v: None if v is None else float(v)  # noqa: E731
        return {"type": self.type, "lam": float(self.lam), "index_before": int(self.index_before),
                "index_after": int(self.index_after), "multiplicity": int(self.multiplicity),
                "s": f(self.s), "value": f(self.value), "lam_error": f(self.lam_error),
                "where": self.where, "note": self.note}


@dataclass
class Branch:
    """A continued branch of critical points (BifurcationKit-style).

    Attributes
    ----------
    x : (N, P) array
        The critical points in the family's own coordinates.
    lams, s, dlam_ds : (N,) arrays
        Parameter, arclength from the start, lam component of the unit tangent (its sign
        changes mark the folds).
    eigenvalues : (N, k) array
        The k lowest eigenvalues of the full Hessian (with multiplicity) at each point.
    morse : (N,) int array
        Morse index of the full Hessian (eigenvalues below ``-morse_tol``).
    grad_norms : (N,) array
        ``|grad L|`` after correction.
    status, message : str
    special_points : list of SpecialPoint
    lam_max, morse_tol : float
    engine : str
        Which implementation of the family produced it (``"full"``, ``"reduced"``, ``"problem"``).
    W : (N, m, d) array (property)
        For the model: the points in full coordinates (reduced branches are expanded).
    """

    x: np.ndarray = field(repr=False)
    lams: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    morse: np.ndarray = field(repr=False)
    grad_norms: np.ndarray = field(repr=False)
    status: str
    message: str
    special_points: list
    lam_max: float
    morse_tol: float
    s: np.ndarray | None = field(default=None, repr=False)
    dlam_ds: np.ndarray | None = field(default=None, repr=False)
    engine: str = "full"
    problem: Problem | None = field(default=None, repr=False)
    tangents: np.ndarray | None = field(default=None, repr=False)
    spectra: list = field(default_factory=list, repr=False)
    eigensolves: int = 0

    @property
    def W(self) -> np.ndarray:
        return self.problem.full_points(self.x) if self.problem is not None else self.x

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def folds(self) -> list:
        return [p for p in self.special_points if p.type == "fold"]

    @property
    def lowest(self) -> np.ndarray:
        """The lowest eigenvalue of the full Hessian along the branch."""
        return self.eigenvalues[:, 0] if self.eigenvalues.size else np.zeros(0)

    def __len__(self) -> int:
        return len(self.lams)

    def __repr__(self) -> str:
        if len(self.lams) == 0:
            return f"Branch(0 points, status={self.status!r})"
        sp = ", ".join(f"{p.type} at lam={p.lam:.6g} (index {p.index_before}->{p.index_after})"
                       for p in self.special_points)
        return (f"Branch({len(self.lams)} points, engine={self.engine!r}, lam in [{self.lams.min():.6g}, "
                f"{self.lams.max():.6g}], status={self.status!r}, Morse index {int(self.morse[0])} -> "
                f"{int(self.morse[-1])}, lowest eigenvalue {self.lowest[0]:.3e} -> {self.lowest[-1]:.3e}, "
                f"max |grad| {float(np.max(self.grad_norms)):.1e}, special points: [{sp}])")

    def to_dict(self, include_points: bool = True) -> dict:
        out = {"status": self.status, "message": self.message, "engine": self.engine,
               "n_points": len(self.lams), "lam_max": float(self.lam_max), "morse_tol": float(self.morse_tol),
               "eigensolves": int(self.eigensolves),
               "special_points": [p.to_dict() for p in self.special_points]}
        if include_points:
            out["lams"] = [float(v) for v in self.lams]
            out["lowest_eigenvalues"] = [[float(v) for v in row] for row in self.eigenvalues]
            out["morse"] = [int(v) for v in self.morse]
            out["grad_norms"] = [float(v) for v in self.grad_norms]
            if self.s is not None:
                out["s"] = [float(v) for v in self.s]
                out["dlam_ds"] = [float(v) for v in self.dlam_ds]
        return out


class _Stepper:
    """The state of one continuation: accepted points and the step in progress."""

    def __init__(self, problem: Problem, lam_max: float, par: ContinuationPar, lam_hint, progress):
        self.pb, self.lam_max, self.par, self.progress = problem, lam_max, par, progress
        self.lam_hint = lam_hint if lam_hint is not None and lam_hint > 0 else None
        self.k = par.n_eigs if par.n_eigs is not None else problem.default_n_eigs()
        if self.k > problem.size:
            raise NLPTInputError(f"n_eigs: expected at most the number of unknowns {problem.size}, got {self.k}")
        self.tol = par.newton_tol if par.newton_tol is not None else default_newton_tol(problem)
        self.morse_tol = par.morse_tol if par.morse_tol is not None else problem.morse_tol()
        self.floor = problem.floor
        self.us, self.gns, self.specs, self.ts, self.ss = [], [], [], [], []
        self.eigensolves = 0
        self.slopes = {}
        self.folds, self.since_fold, self.force_end = 0, None, False

    # -- bookkeeping -------------------------------------------------------------------------
    def spectrum(self, pt):
        self.eigensolves += 1
        X0 = self.specs[-1].vectors if self.specs else None
        return self.pb.spectrum(pt, self.k, self.morse_tol, X0=X0)

    def record(self, c, spec, t, s):
        self.us.append(c.u)
        self.gns.append(c.grad_norm)
        self.specs.append(spec)
        self.ts.append(t)
        self.ss.append(s)
        if self.progress is not None:
            self.progress({"stage": "continuation", "lam": c.lam, "points": len(self.us),
                           "eigensolves": self.eigensolves})

    def slope_at(self, i: int, t) -> float:
        if i not in self.slopes:
            u = self.us[i]
            self.slopes[i] = lowest_slope(self.pb, self.pb.at(u[:-1], u[-1]), self.specs[i], t)
        return self.slopes[i]

    def build(self, status: str, message: str) -> Branch:
        from .events import attach_special_points

        br = branch_from(self.pb, self.us, self.gns, self.specs, self.ts, self.ss, status, message,
                         self.lam_max, self.morse_tol, self.eigensolves)
        return attach_special_points(self.pb, br, self.par, self.tol)

    # -- one step ------------------------------------------------------------------------------
    def step_size(self, h: float) -> float:
        par, u, t = self.par, self.us[-1], self.ts[-1]
        tx = float(np.linalg.norm(t[:-1]))
        cap = par.dW_rtol * max(float(np.linalg.norm(u[:-1])), 1.0)
        hh = min(h, cap / tx if tx > 0 else np.inf, par.ds_max / abs(t[-1]) if t[-1] != 0 else np.inf)
        if self.lam_hint is not None and u[-1] < 2.0 * self.lam_hint and t[-1] != 0:
            hh = min(hh, max(par.first_step_fraction * self.lam_hint / abs(t[-1]), 4 * par.ds_min))
        e = float(self.specs[-1].min)
        if self.morse_tol < e < par.dip_rtol * self.floor:
            # Near a small lowest eigenvalue, step at most twice the distance to its predicted
            # zero: a simple fold ahead is stepped across to about the mirror value -e (refined
            # later; the mirror is as far from zero as the last point, so the singular-point
            # guard accepts it); a fold pair narrower than a step is caught by the Hermite check.
            sl = self.slope_at(len(self.us) - 1, t)
            if sl < 0:
                hh = min(hh, max(2.0 * e / -sl, 64 * par.ds_min))
        return hh

    def end_target(self, hh: float):
        lam, tl = float(self.us[-1][-1]), float(self.ts[-1][-1])
        if tl > 0 and (lam + hh * tl > self.lam_max - self.par.ds_min or self.force_end):
            return self.lam_max
        if tl < 0 and lam + hh * tl < self.par.ds_min:
            return 0.0
        return None

    def correct(self, hh: float, end):
        u, t = self.us[-1], self.ts[-1]
        if end is None:
            return arc_correct(self.pb, u, t, hh, u + hh * t, self.tol, self.par.newton_maxiter), hh
        hh = (end - u[-1]) / t[-1]
        return newton_at_lam(self.pb, u[:-1] + hh * t[:-1], end, self.tol, self.par.newton_maxiter), hh

    def guards(self, c, hh: float, end):
        """(reason for rejection or None, spectrum, tangent, end-next flag)."""
        u, t = self.us[-1], self.ts[-1]
        if not c.converged:
            return c.message, None, None, False
        dist = float(np.linalg.norm(c.u - (u + hh * t)))
        if dist > self.par.jump_rtol * hh:
            return f"the corrector moved {dist:.2e} from the prediction (allowed {self.par.jump_rtol * hh:.2e})", None, None, False
        if end is None and c.lam > self.lam_max:
            return f"the corrected point passed lam_max (lam = {c.lam:.6g})", None, None, True
        spec = self.spectrum(c.pt)
        e_last = float(self.specs[-1].min)
        if abs(spec.min) < SINGULAR_RTOL * abs(e_last) and hh > 64 * self.par.ds_min and end is None:
            # Landing next to an isolated singular point (the first steps are fractions of the
            # prediction, which can be accurate to 1e-6): the tangent there is ill-determined in
            # the near-kernel, so land elsewhere (the retry uses 0.6 h, not 0.5 h, so as not to
            # hit the same point of the cadence again).  Relative to the last point's eigenvalue,
            # so that a stretch along which the eigenvalue stays small (a neck) is still followed.
            return (f"the point lies next to a singular point (lowest eigenvalue {spec.min:.2e}, below "
                    f"{SINGULAR_RTOL:g} x the last point's {e_last:.2e})"), None, None, False
        why = self._continuity(spec, hh)
        if why is not None:
            return why, None, None, False
        t_new = tangent(self.pb, c.pt, t)
        why = self._fold_pair(c, spec, t_new, hh)
        return why, spec, t_new, False

    def _continuity(self, spec, hh):
        if len(self.us) < 2:
            return None
        e_prev, e_last = self.specs[-2].min, self.specs[-1].min
        slope = (e_last - e_prev) / (self.ss[-1] - self.ss[-2])
        pred = e_last + hh * slope
        err = abs(spec.min - pred)
        bound = self.par.eig_rtol * abs(hh * slope) + self.par.eig_atol * abs(self.floor)
        if err > bound:
            return (f"the lowest eigenvalue jumped to {spec.min:.3e}, {err:.2e} from its secant prediction "
                    f"{pred:.3e} (allowed {bound:.2e})")
        return None

    def _fold_pair(self, c, spec, t_new, hh):
        e_a, e_b = float(self.specs[-1].min), float(spec.min)
        par = self.par
        if not (min(e_a, e_b) < par.dip_rtol * self.floor and e_a > self.morse_tol and e_b > self.morse_tol):
            return None
        # A pair of folds closer together than one step leaves the Morse index and the sign of
        # dlam/ds unchanged at both ends; the cubic Hermite interpolant of the lowest eigenvalue
        # in s (values and slopes at both ends) shows the dip in between.
        i = len(self.us) - 1
        sl_a = self.slope_at(i, self.ts[-1])
        sl_b = lowest_slope(self.pb, c.pt, spec, t_new)
        dip = _hermite_min(e_a, sl_a, e_b, sl_b, hh)
        if dip < 0 and hh > 64 * par.ds_min:
            return (f"the lowest eigenvalue may dip below zero inside the step (cubic Hermite minimum {dip:.2e} "
                    f"between {e_a:.2e} and {e_b:.2e}): a fold pair may lie inside")
        self.slopes[i + 1] = sl_b
        return None

    def accept(self, c, spec, t_new, hh, end):
        s = self.ss[-1] + (float(np.linalg.norm(c.u - self.us[-1])) if end is not None else hh)
        t_old = self.ts[-1]
        self.record(c, spec, t_new, s)
        if self.since_fold is not None:
            self.since_fold += 1
        if t_new[-1] * t_old[-1] < 0:
            self.folds += 1
            if self.par.max_folds is not None and self.folds == self.par.max_folds:
                self.since_fold = 0


def _hermite_min(e0: float, d0: float, e1: float, d1: float, h: float) -> float:
    """Minimum over [0, h] of the cubic Hermite interpolant with values e0, e1 and slopes d0, d1."""
    tau = np.linspace(0.0, 1.0, 65)
    t2, t3 = tau * tau, tau * tau * tau
    p = (2 * t3 - 3 * t2 + 1) * e0 + (t3 - 2 * t2 + tau) * h * d0 + (-2 * t3 + 3 * t2) * e1 + (t3 - t2) * h * d1
    return float(p.min())


def branch_from(problem, us, gns, specs, ts, ss, status, message, lam_max, morse_tol, eigensolves) -> Branch:
    """A :class:`Branch` from the stepper's records (points sorted as given)."""
    N = len(us)
    P = problem.size
    k_exp = problem.expanded_n_eigs()
    eig_rows = [sp.lowest(k_exp) for sp in specs]
    k = min((len(r) for r in eig_rows), default=0)
    return Branch(
        x=np.array([u[:-1] for u in us], dtype=float).reshape(N, P),
        lams=np.array([u[-1] for u in us], dtype=float),
        eigenvalues=np.array([r[:k] for r in eig_rows], dtype=float).reshape(N, k),
        morse=np.array([sp.morse for sp in specs], dtype=int),
        grad_norms=np.array(gns, dtype=float),
        status=status, message=message, special_points=[], lam_max=lam_max, morse_tol=morse_tol,
        s=np.array(ss, dtype=float), dlam_ds=np.array([t[-1] for t in ts], dtype=float),
        engine=problem.engine, problem=problem, tangents=np.array(ts, dtype=float).reshape(N, P + 1),
        spectra=list(specs), eigensolves=eigensolves)


def _run(st: _Stepper) -> Branch:
    par = st.par
    h = par.ds0 / max(abs(st.ts[-1][-1]), 1e-300)
    for _ in range(par.max_steps):
        lam = float(st.us[-1][-1])
        hh = st.step_size(h)
        end = st.end_target(hh)
        c, hh = st.correct(hh, end)
        why, spec, t_new, end_next = st.guards(c, hh, end)
        st.force_end = end_next
        if why is not None:
            h = hh if end_next else (0.6 if why.startswith("the point lies next to") else 0.5) * hh
            if h < par.ds_min:
                return st.build(f"step collapse at lam={lam:.6g}",
                                f"the branch ends at lam = {lam:.6g}: lowest eigenvalue {st.specs[-1].min:.3e}, "
                                f"dlam/ds = {st.ts[-1][-1]:.3e} (arclength step below ds_min = {par.ds_min:g}; "
                                f"last rejection: {why})")
            continue
        st.accept(c, spec, t_new, hh, end)
        done = _finished(st, end)
        if done is not None:
            return done
        h = min(par.grow * hh, 1e300) if c.iterations <= 3 else hh
    lam = float(st.us[-1][-1])
    return st.build(f"max steps reached at lam={lam:.6g}",
                    f"stopped after {par.max_steps} steps at lam = {lam:.6g} before lam_max = {st.lam_max:g}")


def _finished(st: _Stepper, end):
    n = len(st.us)
    if end is not None:
        if end == st.lam_max:
            return st.build("completed", f"branch followed from lam = 0 to lam = {st.lam_max:g} in {n} points"
                            + (f" through {st.folds} fold(s)" if st.folds else ""))
        return st.build("returned to lam=0", f"the branch turned back at {st.folds} fold(s) and returned to "
                        f"lam = 0 (another critical point of L_0) after {n} points")
    if st.since_fold is not None and st.since_fold >= st.par.after_fold:
        br = st.build("stopped after fold", "")
        lam_fold = br.folds[st.par.max_folds - 1].lam if len(br.folds) >= st.par.max_folds else float(st.us[-1][-1])
        br.status = f"stopped after fold at lam={lam_fold:.6g}"
        br.message = (f"the branch turns back in lam at a fold (turning point) at lam = {lam_fold:.6g}; followed "
                      f"{st.par.after_fold} points past fold {st.par.max_folds} (max_folds = {st.par.max_folds}) "
                      f"and stopped at lam = {st.us[-1][-1]:.6g}")
        return br
    return None


def continue_branch(problem, lam_max=1.0, *, par: ContinuationPar | None = None, W0=None, engine: str = "auto",
                    lam_hint=None, progress=None, **options) -> Branch:
    """Follow the critical branch from ``(x0, 0)`` by pseudo-arclength (module docstring).

    Parameters
    ----------
    problem : Problem or Model
        The family; a :class:`nlpt.Model` is turned into one by ``engine`` (``"auto"``: the
        group-reduced family where a has repeated values, else the full model; ``"reduced"``,
        ``"full"``; :func:`nlpt.engine.select_problem`).
    lam_max : float in (0, 1]
    par : ContinuationPar, optional
        Steps, tolerances and limits; keyword ``options`` with its field names override it.
    W0 : (m, d) array, optional
        Model only: the starting point at lam = 0 (default W* of SPEC 3), Newton-corrected.
    lam_hint : float, optional
        The predicted threshold; steps before ``2 lam_hint`` are capped by
        ``first_step_fraction * lam_hint``.
    progress : callable, optional
        Called with ``{"stage", "lam", "points", "eigensolves"}`` after every accepted point.

    Returns
    -------
    Branch
        Numerical failure (step collapse, no start) is reported in ``status``/``message``.
    """
    problem = select_problem(problem, engine, W0=W0)
    lam_max = as_lam_max(lam_max)
    par = continuation_par(par, **options)
    st = _Stepper(problem, lam_max, par, lam_hint, progress)
    c = newton_at_lam(problem, problem.x0, 0.0, st.tol, par.newton_maxiter)
    if not c.converged:
        return st.build("start failed", f"Newton at lam = 0 from the starting point failed: {c.message}")
    e_start = np.zeros(problem.size + 1)
    e_start[-1] = 1.0
    st.record(c, st.spectrum(c.pt), tangent(problem, c.pt, e_start), 0.0)
    return _run(st)


# -- model-level helpers kept for callers that hold an Evaluation --------------------------------

def _arc_tangent(ev, t_prev):
    """Unit tangent at a model :class:`nlpt.Evaluation` (see :func:`nlpt.corrector.tangent`)."""
    from .twolayer import ModelProblem

    pb = ModelProblem(ev.model, ev.W)
    return tangent(pb, pb.at(ev.W.ravel(), ev.lam), np.asarray(t_prev, dtype=float))


def _lowest_slope(ev, t) -> float:
    """``d lambda_min / ds`` at a model :class:`nlpt.Evaluation` along t (Hellmann-Feynman)."""
    from .twolayer import ModelProblem

    pb = ModelProblem(ev.model, ev.W)
    pt = pb.at(ev.W.ravel(), ev.lam)
    return lowest_slope(pb, pt, pb.spectrum(pt, 1, 0.0, vectors=True), np.asarray(t, dtype=float))


def __getattr__(name):
    # find_threshold and ThresholdResult live in nlpt.threshold (which imports this module);
    # they stay importable from here, where earlier versions defined them.
    if name in ("find_threshold", "ThresholdResult"):
        from . import threshold

        return getattr(threshold, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
