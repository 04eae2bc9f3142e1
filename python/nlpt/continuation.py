"""Continuation of the critical branch and the measured threshold (SPEC 4, 5).

Starting from the linear-endpoint critical point ``(W*, 0)`` the branch of solutions of
``F(W, lam) = grad L_lam(W) = 0`` is followed by **pseudo-arclength continuation** (Keller): the
unknowns are ``u = (W, lam)`` (flat, length ``m d + 1``), the branch is parametrised by its
arclength s in the Euclidean norm of u, so it can pass folds (turning points in lam) where the
natural parameter lam cannot.

* **tangent**: ``t = (t_W, t_lam)``, ``|t| = 1``, from the bordered system
  ``[[H, d/dlam grad], [t_prev^T]] x = [0, 1]``, ``t = x / |x|``: the first block row says that
  t is tangent to the branch (``H t_W + t_lam d/dlam grad = 0``), the border ``t_prev . t > 0``
  keeps the orientation of the previous tangent (sign continuity), and the start uses
  ``t_prev = (0, 1)`` (lam increasing from 0);
* **predictor**: ``u_pred = u + h t``;
* **corrector**: Newton on the bordered system ``grad L_lam(W) = 0``,
  ``t . (u - u_prev) = h`` (arclength constraint), Jacobian ``[[H, d/dlam grad], [t^T]]``.  The
  bordered Jacobian is regular at a simple fold, where H itself is singular (the saddle-node
  condition ``<phi, d/dlam grad> != 0``);
* **step control**: the arclength step h is capped so that the displacement in W stays below
  ``dW_rtol * max(|W|, 1)`` and the step in lam below ``ds_max``; it is halved when Newton fails,
  when the corrected point lies farther than ``jump_rtol * h`` from the prediction, or when the
  lowest eigenvalue misses its secant prediction (in s) from the last two points by more than
  ``eig_rtol * |predicted change| + eig_atol * alpha`` (eigenvalues are continuous along a branch;
  a jump means the corrector landed on a neighbouring branch); it grows by ``grow`` after an
  easy convergence.  Below ``ds_min`` the step collapses and the branch ends with status
  ``"step collapse at lam=..."``.

**Folds.**  ``t_lam = dlam/ds`` changes sign exactly where the branch turns back in lam.  At such a
point one Hessian eigenvalue passes through zero (differentiate ``H t_W + t_lam d/dlam grad = 0``:
with ``t_lam = 0``, ``H t_W = 0``), so the branch's stability changes there.  Every sign change of
``t_lam`` between two branch points is refined by Brent's method on ``s -> t_lam(u(s))``, ``u(s)``
the bordered-Newton point at arclength s from the left point, and recorded as a
:class:`SpecialPoint` of type ``"fold"``; Morse index changes without a fold are ``"crossing"``.
For uniform a the S_m symmetry makes the first softening a pitchfork-like crossing of the
symmetric branch, which keeps going in lam; for non-uniform a (imperfection eta > 0, SPEC 5) it
generically unfolds into a fold.

**Where the branch ends**: at ``lam_max`` (status ``"completed"``; the last point is solved at
``lam = lam_max`` exactly), back at ``lam = 0`` after a fold (``"returned to lam=0"``), or
``after_fold`` points past the ``max_folds``-th fold (``"stopped after fold at lam=..."``;
default: 10 points past the first fold -- enough to see the branch turn back, and the
threshold needs nothing beyond the first fold), besides the failures above and ``max_steps``.

At every point the ``n_eigs`` lowest Hessian eigenvalues and the Morse index (number of
eigenvalues below ``-morse_tol``) are recorded.  Degenerate clusters are never tracked vector by
vector; only eigenvalue *values* (sorted) are used, which are well defined at multiplicity.

:func:`find_threshold` takes the first sign change of the lowest eigenvalue on the branch.  On a
stretch where lam increases (a crossing) it is refined with Brent's method on
``lam -> lambda_min(H(W(lam), lam))``, ``W(lam)`` Newton-corrected at fixed lam from the
interpolation of the bracketing branch points; when the sign change comes with a fold, the
refined fold is the threshold (SPEC 4, "measured threshold").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from scipy.sparse.linalg import LinearOperator, gmres, minres

from ._validate import NLPTInputError, as_float, as_int, as_lam_max
from .linear import critical_point
from .model import Model, check_model
from .newton import newton
from .softening import imperfection, softening_rate
from .spectral import DENSE_MAX, h0_preconditioner, lowest_eigenpairs, morse_index

__all__ = [
    "SpecialPoint",
    "Branch",
    "ThresholdResult",
    "continue_branch",
    "find_threshold",
    "default_n_eigs",
]

#: Eigenvalues below ``-MORSE_TOL`` count toward the Morse index (absolute; well above the
#: rounding level ``eps * ||H||`` of the eigen-solvers for the problem sizes of the package).
MORSE_TOL = 1e-12

#: Gradient tolerance of the bordered-Newton points of the fold refinement (see _refine_fold).
REFINE_TOL = 1e-13

#: At the crossing, eigenvalues with ``|lambda| <= ZERO_RTOL * alpha`` form the near-zero cluster.
ZERO_RTOL = 1e-3


def _check_model(model) -> Model:
    model = check_model(model)
    if model.alpha <= 0:
        raise NLPTInputError(
            f"model.alpha: expected alpha > 0 (at alpha = 0 the Hessian at (W*, 0) is singular and the "
            f"branch is not locally unique), got {model.alpha}"
        )
    return model


def default_n_eigs(model: Model) -> int:
    """Eigenvalues tracked per branch point by default.

    Dense sizes (``m d <= DENSE_MAX``): ``(m-1) d + 1`` capped at ``m d`` -- the whole floor
    cluster of H_0 plus one, so that an (m-1)-fold S_m-symmetric crossing is fully seen.  Above
    that (matrix-free): ``m + 4`` capped at ``m d - 2``, enough for the (m-1)-fold cluster of a
    simple eigenvalue of M.
    """
    P = model.size
    if P <= DENSE_MAX:
        return min(P, (model.m - 1) * model.d + 1)
    return max(1, min(P - 2, model.m + 4))


@dataclass
class SpecialPoint:
    """A point of the branch where the Morse index changes or lam turns back (SPEC 5).

    ``type`` is ``"fold"`` (a turning point in lam: ``dlam/ds`` changes sign; ``lam``, ``s`` and
    ``W`` are refined by Brent's method on ``dlam/ds`` along the arclength) or ``"crossing"`` (a
    Morse index change on a stretch monotone in lam: ``lam`` by linear interpolation of the
    crossing eigenvalue between the two branch points around it; :func:`find_threshold` refines
    the first one).  ``multiplicity`` is ``|index_after - index_before|``.
    """

    type: str
    lam: float
    index_before: int
    index_after: int
    multiplicity: int
    s: float | None = None
    W: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "lam": float(self.lam),
            "index_before": int(self.index_before),
            "index_after": int(self.index_after),
            "multiplicity": int(self.multiplicity),
            "s": None if self.s is None else float(self.s),
        }


@dataclass
class Branch:
    """A continued branch of critical points ``grad L_lam(W) = 0`` (BifurcationKit-style).

    Attributes
    ----------
    lams : (N,) array
        Parameter values along the branch, starting at 0; increasing up to the first fold,
        decreasing after it.
    W : (N, m, d) array
        The critical points.
    eigenvalues : (N, k) array
        The k lowest Hessian eigenvalues (ascending) at each point.
    morse : (N,) int array
        Morse index (eigenvalues below ``-morse_tol``).
    grad_norms : (N,) array
        ``||grad L_lam(W)||_F`` after correction.
    status : str
        ``"completed"``, ``"stopped after fold at lam=<value>"``, ``"returned to lam=0"``,
        ``"step collapse at lam=<value>"``, ``"max steps reached at lam=<value>"`` or
        ``"start failed"``.
    message : str
        A plain sentence explaining the status.
    special_points : list of SpecialPoint
        Folds and Morse index changes, in order along the branch.
    lam_max, morse_tol : float
    s : (N,) array
        Arclength (Euclidean in ``(W, lam)``) from the start.
    dlam_ds : (N,) array
        ``t_lam``, the lam component of the unit tangent; its sign changes mark the folds.
    """

    lams: np.ndarray = field(repr=False)
    W: np.ndarray = field(repr=False)
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

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def folds(self) -> list:
        """The special points of type ``"fold"``."""
        return [p for p in self.special_points if p.type == "fold"]

    @property
    def lowest(self) -> np.ndarray:
        """The lowest Hessian eigenvalue along the branch."""
        return self.eigenvalues[:, 0]

    def __len__(self) -> int:
        return len(self.lams)

    def __repr__(self) -> str:
        if len(self.lams) == 0:
            return f"Branch(0 points, status={self.status!r})"
        sp = ", ".join(f"{p.type} at lam={p.lam:.6g} (index {p.index_before}->{p.index_after})" for p in self.special_points)
        return (
            f"Branch({len(self.lams)} points, lam in [{self.lams.min():.6g}, {self.lams.max():.6g}], "
            f"status={self.status!r}, Morse index {int(self.morse[0])} -> {int(self.morse[-1])}, "
            f"lowest eigenvalue {self.lowest[0]:.3e} -> {self.lowest[-1]:.3e}, "
            f"max |grad| {float(np.max(self.grad_norms)):.1e}, special points: [{sp}])"
        )

    def to_dict(self, include_points: bool = True) -> dict:
        out = {
            "status": self.status,
            "message": self.message,
            "n_points": len(self.lams),
            "lam_max": float(self.lam_max),
            "morse_tol": float(self.morse_tol),
            "special_points": [p.to_dict() for p in self.special_points],
        }
        if include_points:
            out["lams"] = [float(x) for x in self.lams]
            out["lowest_eigenvalues"] = [[float(x) for x in row] for row in self.eigenvalues]
            out["morse"] = [int(x) for x in self.morse]
            out["grad_norms"] = [float(x) for x in self.grad_norms]
            if self.s is not None:
                out["s"] = [float(x) for x in self.s]
                out["dlam_ds"] = [float(x) for x in self.dlam_ds]
        return out


def _spectrum(ev, k: int, morse_tol: float, X0=None, vectors: bool = True):
    """k lowest eigenpairs (values ascending, vectors as columns) and the Morse index.

    Dense sizes (``m d <= DENSE_MAX``) use ``numpy.linalg.eigh`` (LAPACK syevd) on the whole
    Hessian: the floor eigenvalue alpha of H_0 is exactly ``(m-1) d``-fold, and LAPACK's syevr
    (MRRR) can stop with "Internal Error" on such exact clusters when many pairs are requested;
    syevd has no such trouble and returns all eigenvalues, so the Morse index comes for free.
    Above DENSE_MAX the matrix-free :func:`nlpt.spectral.lowest_eigenpairs` (warm-started from
    ``X0``) and :func:`nlpt.spectral.morse_index` are used.  ``vectors=False`` lets the dense
    path skip the eigenvectors (the matrix-free path always has them, for the next warm start).
    """
    if ev.model.size <= DENSE_MAX:
        if not vectors:  # values only: several times cheaper than the full decomposition
            vals = np.linalg.eigvalsh(ev.hessian())
            return vals[:k], None, int(np.sum(vals < -morse_tol))
        vals, vecs = np.linalg.eigh(ev.hessian())
        return vals[:k], vecs[:, :k], int(np.sum(vals < -morse_tol))
    vals, vecs = lowest_eigenpairs(ev, k, X0=X0)
    morse = int(np.sum(vals < -morse_tol))
    if morse == len(vals) and len(vals) < ev.model.size:
        morse = morse_index(ev, tol=morse_tol)
    return vals, vecs, morse


def _lowest(ev) -> float:
    """The lowest Hessian eigenvalue (dense syevd below DENSE_MAX, see :func:`_spectrum`)."""
    if ev.model.size <= DENSE_MAX:
        return float(np.linalg.eigvalsh(ev.hessian())[0])
    return float(lowest_eigenpairs(ev, 1)[0][0])


# -- the bordered system ---------------------------------------------------------------------------


def _bordered_solve(ev, c: np.ndarray, f: np.ndarray, f_last: float) -> np.ndarray:
    """Solve ``[[H, d/dlam grad], [c^T]] x = [f, f_last]`` (x of length m d + 1).

    Dense (``m d <= DENSE_MAX``): LAPACK on the (P+1) x (P+1) matrix, least squares if it is
    singular (at a branch point of the symmetric branch the bordered matrix is singular too).
    Matrix-free: GMRES on the bordered operator, right-preconditioned by
    ``diag((H_0 + (tau - alpha) I)^{-1}, 1)`` (the SPD preconditioner of the Newton solves).
    """
    mdl = ev.model
    P = mdl.size
    gl = ev.grad_lam().ravel()
    rhs = np.append(np.ravel(f), f_last)
    if P <= DENSE_MAX:
        A = np.empty((P + 1, P + 1))
        A[:P, :P] = ev.hessian()
        A[:P, P] = gl
        A[P] = c
        try:
            x = np.linalg.solve(A, rhs)
            if np.all(np.isfinite(x)):
                return x
        except np.linalg.LinAlgError:
            pass
        return np.linalg.lstsq(A, rhs, rcond=1e-14)[0]
    op = ev.operator()
    T = h0_preconditioner(ev)

    def mv(x):
        return np.append(op @ x[:P] + gl * x[P], c @ x)

    def prec(x):
        return np.append(T @ x[:P], x[P])

    A = LinearOperator((P + 1, P + 1), matvec=mv, dtype=float)
    M = LinearOperator((P + 1, P + 1), matvec=prec, dtype=float)
    x, _ = gmres(A, rhs, M=M, rtol=1e-12, restart=min(P + 1, 200), maxiter=20)
    return x


def _arc_tangent(ev, t_prev: np.ndarray) -> np.ndarray:
    """Unit tangent ``(t_W, t_lam)`` oriented by ``t_prev . t > 0`` (module docstring)."""
    x = _bordered_solve(ev, t_prev, np.zeros(ev.model.size), 1.0)
    return x / np.linalg.norm(x)


@dataclass
class _ArcPoint:
    u: np.ndarray
    converged: bool
    iterations: int
    grad_norm: float
    message: str
    ev: object = None


def _arc_correct(model: Model, u0: np.ndarray, t: np.ndarray, h: float, u_pred: np.ndarray,
                 tol: float, maxiter: int) -> _ArcPoint:
    """Newton on ``grad L_lam(W) = 0, t . (u - u0) = h`` from ``u_pred`` (bordered Jacobian).

    Backtracking halves the step while ``||grad||`` grows (down to 1e-4), as in
    :func:`nlpt.newton.newton`.  A point with lam outside [0, 1] is a failure, not an error.
    """
    m, d, P = model.m, model.d, model.size
    u = u_pred.copy()

    def at(u):
        if not 0.0 <= u[P] <= 1.0:
            return None
        return model.at(u[:P].reshape(m, d), float(u[P]))

    ev = at(u)
    if ev is None:
        return _ArcPoint(u, False, 0, np.inf, f"the predictor left [0, 1] in lam (lam = {u[P]:.6g})")
    g = ev.grad().ravel()
    gn = float(np.linalg.norm(g))
    for it in range(maxiter + 1):
        cons = float(t @ (u - u0) - h)
        if gn <= tol and abs(cons) <= 1e-12 * max(1.0, abs(h)):
            return _ArcPoint(u, True, it, gn, "converged", ev)
        if it == maxiter:
            break
        step = -_bordered_solve(ev, t, g, cons)
        if not np.all(np.isfinite(step)):
            return _ArcPoint(u, False, it + 1, gn, "non-finite Newton step on the bordered system")
        a = 1.0
        while True:
            ev_new = at(u + a * step)
            gn_new = np.inf if ev_new is None else float(np.linalg.norm(ev_new.grad()))
            if gn_new < gn or a < 1e-4:
                break
            a *= 0.5
        if ev_new is None or not np.isfinite(gn_new):
            return _ArcPoint(u, False, it + 1, gn, "the corrector left [0, 1] in lam or the gradient is not finite")
        u, ev, gn = u + a * step, ev_new, gn_new
        g = ev.grad().ravel()
    return _ArcPoint(u, False, maxiter, gn,
                     f"no convergence in {maxiter} iterations (||grad|| = {gn:.3e} > tol = {tol:.1e})")


class _CorrectorFailed(Exception):
    pass


def _lowest_slope(ev, t: np.ndarray) -> float:
    """``d lambda_min / ds = D^3L[phi, phi, t_W] + t_lam phi^T (dH/dlam) phi`` (Hellmann-Feynman),
    phi the unit eigenvector of the lowest Hessian eigenvalue, t the unit tangent."""
    mdl = ev.model
    if mdl.size <= DENSE_MAX:
        phi = np.linalg.eigh(ev.hessian())[1][:, 0]
    else:
        phi = lowest_eigenpairs(ev, 1)[1][:, 0]
    Phi = phi.reshape(mdl.m, mdl.d)
    tW = t[:-1].reshape(mdl.m, mdl.d)
    return float(np.sum(ev.d3_vec(Phi, Phi) * tW) + t[-1] * ev.hessian_lam_quadratic(Phi))


def _hermite_min(e0: float, d0: float, e1: float, d1: float, h: float) -> float:
    """Minimum over [0, h] of the cubic Hermite interpolant with values e0, e1 and slopes d0, d1."""
    tau = np.linspace(0.0, 1.0, 65)
    t2, t3 = tau * tau, tau * tau * tau
    p = (2 * t3 - 3 * t2 + 1) * e0 + (t3 - 2 * t2 + tau) * h * d0 + (-2 * t3 + 3 * t2) * e1 + (t3 - t2) * h * d1
    return float(p.min())


def _refine_fold(model: Model, u_a, u_b, t_a, tol: float, maxiter: int):
    """The fold between two branch points: zero of ``s -> t_lam(u(s))`` by Brent's method.

    ``u(s)`` solves ``grad = 0, t_a . (u - u_a) = s`` (the frame of the left point, regular across
    the fold); its tangent is oriented by ``t_a`` like the branch's, so ``t_lam`` changes sign on
    ``[0, s_b]``, ``s_b = t_a . (u_b - u_a)``.  Returns ``(s, u)`` or raises _CorrectorFailed.
    """
    s_b = float(t_a @ (u_b - u_a))
    cache = {}

    def t_lam(s):
        frac = s / s_b
        u_pred = u_a + frac * (u_b - u_a)
        # At the fold lam is off by about ||grad residual|| / |<phi, d/dlam grad>|, so the refinement
        # asks for a residual well below the branch tolerance (falling back to it if unreachable).
        res = _arc_correct(model, u_a, t_a, s, u_pred, min(tol, REFINE_TOL), maxiter + 10)
        if not res.converged:
            res = _arc_correct(model, u_a, t_a, s, u_pred, tol, maxiter)
        if not res.converged:
            raise _CorrectorFailed(f"bordered Newton failed at arclength {s:.6g} past the fold bracket: {res.message}")
        cache[s] = res.u
        return float(_arc_tangent(res.ev, t_a)[-1])

    f0, f1 = t_lam(0.0), t_lam(s_b)
    if f0 * f1 > 0:
        raise _CorrectorFailed("dlam/ds does not change sign between the bracketing points")
    s = brentq(t_lam, 0.0, s_b, xtol=1e-14 * max(1.0, abs(s_b)), rtol=4 * np.finfo(float).eps, maxiter=100)
    if s not in cache:
        t_lam(s)
    return s, cache[s]


def _special_points(model, lams, eigs, morse, s, tl, us, ts, newton_tol, newton_maxiter) -> list:
    """Folds (sign changes of dlam/ds, refined) and Morse index changes elsewhere (interpolated)."""
    pts = []
    for i in range(len(lams) - 1):
        i0, i1 = int(morse[i]), int(morse[i + 1])
        if tl[i] * tl[i + 1] < 0 or tl[i + 1] == 0.0:
            try:
                s_f, u_f = _refine_fold(model, us[i], us[i + 1], ts[i], newton_tol, newton_maxiter)
                lam, sf, W = float(u_f[-1]), s[i] + s_f, u_f[:-1].reshape(model.m, model.d)
            except _CorrectorFailed:  # keep the fold at the bracketing point nearer to it
                j = i if abs(tl[i]) < abs(tl[i + 1]) else i + 1
                lam, sf, W = float(lams[j]), float(s[j]), us[j][:-1].reshape(model.m, model.d)
            pts.append(SpecialPoint("fold", lam, i0, i1, abs(i1 - i0), float(sf), W))
            continue
        if i0 == i1:
            continue
        col = min(i0, i1)
        if col < eigs.shape[1]:
            e0, e1 = eigs[i, col], eigs[i + 1, col]
            t = float(np.clip(e0 / (e0 - e1) if e0 != e1 else 0.5, 0.0, 1.0))
        else:
            t = 0.5
        lam = lams[i] + t * (lams[i + 1] - lams[i])
        pts.append(SpecialPoint("crossing", float(lam), i0, i1, abs(i1 - i0), float(s[i] + t * (s[i + 1] - s[i]))))
    return pts


def continue_branch(
    model: Model,
    lam_max=1.0,
    *,
    W0=None,
    n_eigs=None,
    ds0=None,
    ds_min=1e-7,
    ds_max=0.05,
    newton_tol=1e-10,
    newton_maxiter=15,
    jump_rtol=0.5,
    dW_rtol=0.05,
    eig_rtol=0.5,
    eig_atol=0.05,
    grow=1.5,
    max_steps=5000,
    morse_tol=MORSE_TOL,
    max_folds=1,
    after_fold=10,
    dip_rtol=0.25,
    progress=None,
) -> Branch:
    """Follow the critical branch from ``(W0, 0)`` (default ``W*`` of SPEC 3) by pseudo-arclength.

    Parameters
    ----------
    model : Model
        With ``alpha > 0``.
    lam_max : float in (0, 1]
        Where to stop when lam increases.
    W0 : (m, d) array, optional
        Starting point at lam = 0; Newton-corrected first.  Default :func:`nlpt.linear.critical_point`.
    n_eigs : int, optional
        Eigenvalues tracked per point; default :func:`default_n_eigs`.
    ds0 : float, optional
        First step, in lam (default ``min(0.01, ds_max)``); ``ds_min <= ds0 <= ds_max``.
    ds_max : float
        Largest step in lam per point (``|t_lam| h <= ds_max``).
    ds_min : float
        Smallest arclength step h; below it the step collapses.
    newton_tol, newton_maxiter :
        Corrector tolerance on ``||grad||_F`` and iteration limit.
    jump_rtol : float
        A corrected point farther than ``jump_rtol * h`` from the prediction is rejected and the
        step halved (branch jumping guard; h is the arclength step, t is a unit vector).
    dW_rtol : float
        The displacement in W per step, ``h |t_W|``, is capped at ``dW_rtol * max(|W|_F, 1)``.
    eig_rtol, eig_atol : float
        Spectral continuity guard: the lowest eigenvalue at the new point must lie within
        ``eig_rtol * |predicted change| + eig_atol * alpha`` of its secant prediction (in s) from
        the last two points, else the step is halved.
    grow : float
        Step growth factor after a convergence in at most 3 Newton iterations.
    max_steps : int
        Limit on accepted plus rejected steps.
    morse_tol : float
        Eigenvalues below ``-morse_tol`` count toward the Morse index.
    max_folds : int or None
        Stop ``after_fold`` points past this many folds (None: follow the branch through every
        fold until lam_max, lam = 0 or ``max_steps``).
    after_fold : int
        Points recorded past the ``max_folds``-th fold before stopping (>= 1).
    dip_rtol : float
        Fold-pair guard: where the lowest eigenvalue lambda_min is below ``dip_rtol * alpha`` and
        decreasing, the step is capped at 1.5 times the distance to its linearly predicted zero
        (``h <= 1.5 lambda_min / |d lambda_min/ds|``); and where it is positive at both ends of a
        step, a step whose cubic Hermite interpolant of lambda_min(s) (values and
        slopes ``d lambda_min/ds = D^3L[phi, phi, t_W] + t_lam phi^T (dH/dlam) phi`` at both ends)
        dips below zero is halved, so that two folds closer together than one step are resolved
        instead of skipped.  0 switches the guard off.
    progress : callable, optional
        Called once per accepted point with ``{"stage": "continuation", "lam": ..., "points": ...,
        "eigensolves": ...}`` (eigen-solves so far, rejected steps included).

    Returns
    -------
    Branch
        Numerical failure (step collapse, no start) is reported in ``status``/``message``.
    """
    model = _check_model(model)
    lam_max = as_lam_max(lam_max)
    P = model.size
    k = default_n_eigs(model) if n_eigs is None else as_int("n_eigs", n_eigs)
    if k > P:
        raise NLPTInputError(f"n_eigs: expected at most m d = {P}, got {k}")
    ds_min = as_float("ds_min", ds_min, minimum=0.0, strict=True)
    ds_max = as_float("ds_max", ds_max, minimum=0.0, strict=True)
    ds0 = min(0.01, ds_max) if ds0 is None else as_float("ds0", ds0, minimum=0.0, strict=True)
    if not ds_min <= ds0 <= ds_max:
        raise NLPTInputError(f"ds0: expected ds_min <= ds0 <= ds_max, got ds_min={ds_min}, ds0={ds0}, ds_max={ds_max}")
    newton_tol = as_float("newton_tol", newton_tol, minimum=0.0, strict=True)
    newton_maxiter = as_int("newton_maxiter", newton_maxiter)
    jump_rtol = as_float("jump_rtol", jump_rtol, minimum=0.0, strict=True)
    dW_rtol = as_float("dW_rtol", dW_rtol, minimum=0.0, strict=True)
    eig_rtol = as_float("eig_rtol", eig_rtol, minimum=0.0)
    eig_atol = as_float("eig_atol", eig_atol, minimum=0.0, strict=True)
    grow = as_float("grow", grow, minimum=1.0)
    max_steps = as_int("max_steps", max_steps)
    morse_tol = as_float("morse_tol", morse_tol, minimum=0.0)
    max_folds = None if max_folds is None else as_int("max_folds", max_folds)
    after_fold = as_int("after_fold", after_fold)
    dip_rtol = as_float("dip_rtol", dip_rtol, minimum=0.0)
    W_start = critical_point(model)[1] if W0 is None else model.check_W(W0, "W0")

    lams, Ws, eigs, morses, gns, ss, us, ts = [], [], [], [], [], [], [], []
    prev = {"vecs": None, "eigensolves": 0}

    def spectrum(ev):
        prev["eigensolves"] += 1
        vals, vecs, mi = _spectrum(ev, k, morse_tol, prev["vecs"], vectors=False)
        return vals, vecs, mi

    def record(u, gn, spec, t, s):
        vals, vecs, mi = spec
        prev["vecs"] = vecs
        lams.append(float(u[P]))
        Ws.append(u[:P].reshape(model.m, model.d))
        eigs.append(vals)
        morses.append(mi)
        gns.append(gn)
        ss.append(s)
        us.append(u)
        ts.append(t)
        if progress is not None:
            progress({"stage": "continuation", "lam": float(u[P]), "points": len(lams), "eigensolves": prev["eigensolves"]})

    def build(status, message):
        N = len(lams)
        L = np.array(lams, dtype=float)
        E = np.array(eigs, dtype=float).reshape(N, k)
        M = np.array(morses, dtype=int)
        S = np.array(ss, dtype=float)
        TL = np.array([t[P] for t in ts], dtype=float)
        return Branch(
            lams=L,
            W=np.array(Ws, dtype=float).reshape(N, model.m, model.d),
            eigenvalues=E,
            morse=M,
            grad_norms=np.array(gns, dtype=float),
            status=status,
            message=message,
            special_points=_special_points(model, L, E, M, S, TL, us, ts, newton_tol, newton_maxiter),
            lam_max=lam_max,
            morse_tol=morse_tol,
            s=S,
            dlam_ds=TL,
        )

    res = newton(model, W_start, 0.0, tol=newton_tol, maxiter=newton_maxiter)
    if not res.converged:
        return build("start failed", f"Newton at lam = 0 from the starting point failed: {res.message}")
    u = np.append(res.W.ravel(), 0.0)
    ev = model.at(res.W, 0.0)
    e_start = np.zeros(P + 1)
    e_start[P] = 1.0
    t = _arc_tangent(ev, e_start)
    record(u, res.grad_norm, spectrum(ev), t, 0.0)
    s = 0.0
    h = ds0 / max(abs(t[P]), 1e-300)
    steps = 0
    folds, since_fold, lam_fold = 0, None, None
    force_end = False
    slopes = {}  # index of a branch point -> d lambda_min / ds there (computed only when needed)
    while True:
        if steps >= max_steps:
            return build(
                f"max steps reached at lam={u[P]:.6g}",
                f"stopped after {max_steps} steps at lam = {u[P]:.6g} before lam_max = {lam_max:g}",
            )
        steps += 1
        lam = float(u[P])
        W = u[:P]
        tW = float(np.linalg.norm(t[:P]))
        cap = dW_rtol * max(float(np.linalg.norm(W)), 1.0)
        hh = min(h, cap / tW if tW > 0 else np.inf, ds_max / abs(t[P]) if t[P] != 0 else np.inf)
        e_last = float(eigs[-1][0])
        if morse_tol < e_last < dip_rtol * model.alpha:
            # Near a small lowest eigenvalue, step at most 1.5 times the distance to its predicted
            # zero: a simple fold ahead is stepped across (and then refined), a fold pair narrower
            # than a normal step is not jumped over in one go (the Hermite check below sees it).
            if slopes.get(len(lams) - 1) is None:
                slopes[len(lams) - 1] = _lowest_slope(model.at(Ws[-1], lams[-1]), t)
            sl = slopes[len(lams) - 1]
            if sl < 0:
                hh = min(hh, max(1.5 * e_last / -sl, 64 * ds_min))
        # The end of [0, lam_max] in the direction of travel: solve there at fixed lam, and do not
        # leave a sliver shorter than ds_min in lam.
        end = None
        lam_pred = lam + hh * t[P]
        if t[P] > 0 and (lam_pred > lam_max - ds_min or force_end):
            end = lam_max
        elif t[P] < 0 and lam_pred < ds_min:
            end = 0.0
        if end is not None:
            hh = (end - lam) / t[P]
            nres = newton(model, (W + hh * t[:P]).reshape(model.m, model.d), end, tol=newton_tol, maxiter=newton_maxiter)
            pt = _ArcPoint(np.append(nres.W.ravel(), end), nres.converged, nres.iterations, nres.grad_norm,
                           nres.message, model.at(nres.W, end) if nres.converged else None)
        else:
            pt = _arc_correct(model, u, t, hh, u + hh * t, newton_tol, newton_maxiter)
        why = None
        if not pt.converged:
            why = pt.message
        else:
            u_pred = u + hh * t
            dist = float(np.linalg.norm(pt.u - u_pred))
            allowed = jump_rtol * hh
            if dist > allowed:
                why = f"the corrector moved {dist:.2e} from the prediction (allowed {allowed:.2e})"
        spec = t_new = None
        if why is None and end is None and pt.u[P] > lam_max:
            # The corrector carried lam past lam_max: solve at lam_max on the next try instead.
            why = f"the corrected point passed lam_max (lam = {pt.u[P]:.6g})"
            end_next = force_end = True
        else:
            end_next = force_end = False
        if why is None:
            spec = spectrum(pt.ev)
            if len(lams) >= 2:
                # Secant prediction (in s) of the lowest eigenvalue: a corrected point on another
                # branch shows up as a jump of the spectrum.
                slope = (eigs[-1][0] - eigs[-2][0]) / (ss[-1] - ss[-2])
                pred = eigs[-1][0] + hh * slope
                err = abs(spec[0][0] - pred)
                bound = eig_rtol * abs(hh * slope) + eig_atol * model.alpha
                if err > bound:
                    why = (
                        f"the lowest eigenvalue jumped to {spec[0][0]:.3e}, {err:.2e} from its secant "
                        f"prediction {pred:.3e} (allowed {bound:.2e})"
                    )
        if why is None:
            t_new = _arc_tangent(pt.ev, t)
            e_a, e_b = float(eigs[-1][0]), float(spec[0][0])
            if min(e_a, e_b) < dip_rtol * model.alpha and e_a > morse_tol and e_b > morse_tol:
                # A pair of folds closer together than one step leaves the Morse index and the sign
                # of dlam/ds unchanged at both ends; the cubic Hermite interpolant of the lowest
                # eigenvalue in s (values and slopes at both ends) shows the dip in between.
                if slopes.get(len(lams) - 1) is None:
                    slopes[len(lams) - 1] = _lowest_slope(model.at(Ws[-1], lams[-1]), t)
                slope_b = _lowest_slope(pt.ev, t_new)
                dip = _hermite_min(e_a, slopes[len(lams) - 1], e_b, slope_b, hh)
                if dip < 0 and hh > 64 * ds_min:
                    why = (
                        f"the lowest eigenvalue may dip below zero inside the step (cubic Hermite minimum "
                        f"{dip:.2e} between {e_a:.2e} and {e_b:.2e}): a fold pair may lie inside"
                    )
                else:
                    slopes[len(lams)] = slope_b
        if why is not None:
            h = 0.5 * hh if not end_next else hh
            if h < ds_min:
                return build(
                    f"step collapse at lam={lam:.6g}",
                    f"the branch ends at lam = {lam:.6g}: lowest eigenvalue {eigs[-1][0]:.3e}, dlam/ds = "
                    f"{t[P]:.3e} (arclength step below ds_min = {ds_min:g}; last rejection: {why})",
                )
            continue
        s += float(np.linalg.norm(pt.u - u)) if end is not None else hh
        record(pt.u, pt.grad_norm, spec, t_new, s)
        if since_fold is not None:
            since_fold += 1
        if t_new[P] * t[P] < 0:
            folds += 1
            if max_folds is not None and folds == max_folds:
                since_fold = 0
                lam_fold = max(lam, float(pt.u[P])) if t[P] > 0 else min(lam, float(pt.u[P]))
        u, t = pt.u, t_new
        if end is not None:
            if end == lam_max:
                return build("completed", f"branch followed from lam = 0 to lam = {lam_max:g} in {len(lams)} points"
                             + (f" through {folds} fold(s)" if folds else ""))
            return build("returned to lam=0",
                         f"the branch turned back at {folds} fold(s) and returned to lam = 0 "
                         f"(another critical point of L_0) after {len(lams)} points")
        if since_fold is not None and since_fold >= after_fold:
            br = build("stopped after fold", "")
            folds_found = br.folds
            if len(folds_found) >= max_folds:  # the refined location
                lam_fold = folds_found[max_folds - 1].lam
            br.status = f"stopped after fold at lam={lam_fold:.6g}"
            br.message = (
                f"the branch turns back in lam at a fold (turning point) at lam = {lam_fold:.6g}; followed "
                f"{after_fold} points past fold {max_folds} (max_folds = {max_folds}) and stopped at lam = {u[P]:.6g}"
            )
            return br
        h = min(grow * hh, 1e300) if pt.iterations <= 3 else hh


@dataclass
class ThresholdResult:
    """Predicted and measured threshold lam* of one problem (SPEC 4, 5).

    Attributes
    ----------
    softening_rate, softening_multiplicity : float, int
        ``lambda_1'(0)`` and its multiplicity (:func:`nlpt.softening.softening_rate`).
    lam_star_pred : float or None
        ``alpha / |lambda_1'(0)|``; None when there is no softening.
    lam_star_measured : float or None
        The first point of the branch where the Hessian gets a negative eigenvalue: a crossing
        refined to ``tol`` in lam, or a fold (lam at the turning point, refined along the
        arclength; accurate to about ``REFINE_TOL / |<phi, d/dlam grad>|``); None when there is
        none in ``[0, lam_max]``.
    ratio : float or None
        ``lam_star_measured / lam_star_pred``.
    multiplicity : int or None
        Number of eigenvalues with ``|lambda| <= zero_tol + |lambda_min|`` at the crossing.
    morse_before, morse_after : int or None
        Morse index at the branch points bracketing the crossing.
    eta : float
        Imperfection ``|P_K d/dlam grad L(W*, 0)|`` (SPEC 5).
    W_c, lam_c : (m, d) array or None, float or None
        The branch point at the crossing (``lam_c = lam_star_measured``).
    critical_vectors : (multiplicity, m, d) array or None
        Orthonormal eigenvectors of the near-zero cluster at the crossing.
    tangent : (m, d) array or None
        ``dW/dlam`` at the crossing, solved on the complement of the critical vectors; at a fold
        (where dW/dlam is infinite) the unit W-direction of the arclength tangent, ``+-phi``.
    branch : Branch
    status : str
        ``"crossing"`` (the lowest eigenvalue changes sign on a stretch where lam increases),
        ``"fold"`` (it changes sign where the branch turns back in lam: an imperfect bifurcation,
        SPEC 5), ``"no softening"``, ``"no crossing in [0, lam_max]"`` or ``"continuation failed"``.
    message : str
        One plain sentence (or two) saying what happened.
    tol, zero_tol, lam_max, alpha, m : float, float, float, float, int
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
    W_c: np.ndarray | None = field(repr=False)
    lam_c: float | None
    critical_vectors: np.ndarray | None = field(repr=False)
    tangent: np.ndarray | None = field(repr=False)
    branch: Branch = field(repr=False)
    status: str
    message: str
    tol: float
    zero_tol: float | None
    lam_max: float
    alpha: float
    m: int

    def to_dict(self, include_branch: bool = False) -> dict:
        f = lambda x: None if x is None else float(x)  # noqa: E731
        i = lambda x: None if x is None else int(x)  # noqa: E731
        out = {
            "m": int(self.m),
            "alpha": float(self.alpha),
            "lam_max": float(self.lam_max),
            "softening_rate": float(self.softening_rate),
            "m_times_rate": float(self.m * self.softening_rate),
            "softening_multiplicity": int(self.softening_multiplicity),
            "lam_star_pred": f(self.lam_star_pred),
            "lam_star_measured": f(self.lam_star_measured),
            "ratio": f(self.ratio),
            "multiplicity": i(self.multiplicity),
            "morse_before": i(self.morse_before),
            "morse_after": i(self.morse_after),
            "eta": float(self.eta),
            "lam_c": f(self.lam_c),
            "tol": float(self.tol),
            "zero_tol": f(self.zero_tol),
            "status": self.status,
            "message": self.message,
            "branch_status": self.branch.status,
            "branch_points": len(self.branch),
            "special_points": [p.to_dict() for p in self.branch.special_points],
        }
        if include_branch:
            out["branch"] = self.branch.to_dict()
        return out


_CONTINUATION_OPTIONS = {
    "W0", "ds0", "ds_min", "ds_max", "newton_tol", "newton_maxiter", "jump_rtol", "dW_rtol",
    "eig_rtol", "eig_atol", "grow", "max_steps", "morse_tol", "max_folds", "after_fold",
    "dip_rtol",
}


def _deflated_tangent(ev, Phi: np.ndarray) -> np.ndarray:
    """dW/dlam on the complement of the columns of Phi (orthonormal near-kernel of H).

    Solves ``(H + s Phi Phi^T) x = -(I - Phi Phi^T) d/dlam grad``; the shift s (the largest
    |eigenvalue| scale) makes the system regular while leaving the complement untouched.
    """
    mdl = ev.model
    g = ev.grad_lam().ravel()
    g = g - Phi @ (Phi.T @ g)
    s = max(1.0, mdl.alpha)
    if mdl.size <= DENSE_MAX:
        Hd = ev.hessian() + s * Phi @ Phi.T
        x = np.linalg.lstsq(Hd, -g, rcond=1e-14)[0]
    else:
        op = ev.operator()
        Hd = LinearOperator(op.shape, matvec=lambda v: op @ v + s * Phi @ (Phi.T @ v), dtype=float)
        x, _ = minres(Hd, -g, rtol=1e-12, maxiter=10 * mdl.size)
    x = x - Phi @ (Phi.T @ x)
    return x.reshape(mdl.m, mdl.d)


def find_threshold(
    model: Model,
    lam_max=1.0,
    *,
    tol=1e-10,
    zero_rtol=ZERO_RTOL,
    n_eigs=None,
    progress=None,
    **continuation_options,
) -> ThresholdResult:
    """Predicted vs measured threshold lam* of SPEC 4, with the imperfection eta of SPEC 5.

    1. ``lambda_1'(0)``, its multiplicity and ``lam*_pred = alpha/|lambda_1'(0)|``
       (:func:`nlpt.softening.softening_rate`); ``eta`` (:func:`nlpt.softening.imperfection`).
    2. :func:`continue_branch` from ``(W*, 0)`` to ``lam_max``.
    3. The first sign change (positive to non-positive) of the lowest eigenvalue between two
       branch points.  If a fold of the branch lies there (``dlam/ds`` changes sign too), the
       refined fold is the threshold: status ``"fold"``, ``morse_before/after`` across the fold,
       and a message saying that the bifurcation is imperfect and where the branch turns back.
       Otherwise (status ``"crossing"``) it is refined by :func:`scipy.optimize.brentq` on
       ``lam -> lambda_min(H(W(lam), lam))`` to ``tol`` in lam, ``W(lam)`` Newton-corrected from
       the linear interpolation of the two bracketing points.
    4. At the crossing or fold: the near-zero cluster (eigenvalues with ``|lambda| <= zero_rtol *
       alpha + |lambda_min|``) gives ``multiplicity`` and ``critical_vectors``; ``tangent`` is
       dW/dlam on the cluster's complement (at a fold: the W-direction of the arclength tangent).

    ``continuation_options`` are passed to :func:`continue_branch` (``ds0``, ``ds_max``, ...), and
    so is ``progress`` (called once per accepted branch point).
    Numerical failure is reported in ``status`` and ``message``; bad input raises
    :class:`nlpt.NLPTInputError`.
    """
    model = _check_model(model)
    lam_max = as_lam_max(lam_max)
    tol = as_float("tol", tol, minimum=0.0, strict=True)
    zero_rtol = as_float("zero_rtol", zero_rtol, minimum=0.0)
    k = default_n_eigs(model) if n_eigs is None else as_int("n_eigs", n_eigs)
    unknown = sorted(set(continuation_options) - _CONTINUATION_OPTIONS)
    if unknown:
        raise NLPTInputError(
            f"continuation_options: expected keywords of continue_branch ({', '.join(sorted(_CONTINUATION_OPTIONS))}), got {unknown}"
        )
    soft = softening_rate(model)
    eta = imperfection(model)
    branch = continue_branch(model, lam_max, n_eigs=k, progress=progress, **continuation_options)
    newton_tol = continuation_options.get("newton_tol", 1e-10)
    newton_maxiter = continuation_options.get("newton_maxiter", 15)
    pred = soft.lam_star_pred

    base = dict(
        softening_rate=soft.rate,
        softening_multiplicity=soft.multiplicity,
        lam_star_pred=pred,
        eta=eta,
        branch=branch,
        tol=tol,
        lam_max=lam_max,
        alpha=model.alpha,
        m=model.m,
    )
    pred_text = (
        f"predicted lam* = {pred:.6g} (lambda_1'(0) = {soft.rate:.4e})"
        if pred is not None
        else f"no softening: lambda_1'(0) = {soft.rate:.4e} >= 0, so no predicted lam*"
    )
    eta_text = f"; imperfection eta = {eta:.2e}" if eta > 1e-12 else ""

    def none_result(status, message):
        return ThresholdResult(
            lam_star_measured=None, ratio=None, multiplicity=None, morse_before=None, morse_after=None,
            W_c=None, lam_c=None, critical_vectors=None, tangent=None, status=status, message=message,
            zero_tol=None, **base,
        )

    if len(branch) == 0:
        return none_result("continuation failed", f"continuation failed: {branch.message}; {pred_text}{eta_text}")
    low = branch.lowest
    idx = np.flatnonzero((low[:-1] > 0) & (low[1:] <= 0))
    if idx.size == 0:
        j = int(np.argmin(low))
        where = f"min {low[j]:.3e} at lam={branch.lams[j]:.6g}"
        if not branch.completed:
            return none_result(
                "continuation failed",
                f"continuation failed before lam_max = {lam_max:g}, no crossing up to lam = "
                f"{branch.lams[-1]:.6g} (lowest eigenvalue {where}); {branch.message}; {pred_text}{eta_text}",
            )
        status = "no softening" if soft.rate >= 0 else "no crossing in [0, lam_max]"
        return none_result(
            status,
            f"no crossing: lowest eigenvalue stays above 0 on [0, {lam_max:g}] ({where}); {pred_text}{eta_text}",
        )

    i = int(idx[0])
    fold = _fold_at(branch, i)
    if fold is not None:
        return _fold_result(model, branch, i, fold, k, zero_rtol, base, pred, pred_text, eta, none_result)
    lam_a, lam_b = float(branch.lams[i]), float(branch.lams[i + 1])
    Wa, Wb = branch.W[i], branch.W[i + 1]
    cache = {}

    def corrected(lam):
        lam = min(max(lam, lam_a), lam_b)
        if lam == lam_a:
            return Wa
        if lam == lam_b:
            return Wb
        t = (lam - lam_a) / (lam_b - lam_a)
        res = newton(model, (1 - t) * Wa + t * Wb, lam, tol=newton_tol, maxiter=newton_maxiter)
        if not res.converged:
            raise _CorrectorFailed(f"Newton failed at lam = {lam:.10g} during refinement: {res.message}")
        return res.W

    def lowest(lam):
        W = corrected(lam)
        val = _lowest(model.at(W, lam))
        cache[lam] = W
        return val

    try:
        lam_c = brentq(lowest, lam_a, lam_b, xtol=tol, maxiter=200)
        W_c = cache.get(lam_c)
        if W_c is None:
            W_c = corrected(lam_c)
    except _CorrectorFailed as exc:
        return none_result(
            "continuation failed",
            f"continuation failed while refining the crossing in [{lam_a:.6g}, {lam_b:.6g}]: {exc}; {pred_text}{eta_text}",
        )

    ev, Phi, zero_tol, _ = _near_zero_cluster(model, W_c, lam_c, k, zero_rtol)
    mult = Phi.shape[1]
    crit = Phi.T.reshape(mult, model.m, model.d)
    tangent = _deflated_tangent(ev, Phi)
    ratio = lam_c / pred if pred is not None else None
    mb, ma = int(branch.morse[i]), int(branch.morse[i + 1])
    cmp = f"{pred_text}, ratio measured/predicted = {ratio:.4g}" if ratio is not None else pred_text
    msg = (
        f"crossing at lam* = {lam_c:.8g} (tol {tol:.0e}): the lowest eigenvalue changes sign with "
        f"near-zero multiplicity {mult}, Morse index {mb} -> {ma}; {cmp}{eta_text}"
    )
    return ThresholdResult(
        lam_star_measured=float(lam_c),
        ratio=ratio,
        multiplicity=mult,
        morse_before=mb,
        morse_after=ma,
        W_c=W_c,
        lam_c=float(lam_c),
        critical_vectors=crit,
        tangent=tangent,
        status="crossing",
        message=msg,
        zero_tol=zero_tol,
        **base,
    )


def _near_zero_cluster(model, W_c, lam_c: float, k: int, zero_rtol: float):
    """(evaluation, orthonormal eigenvectors (P x mult), tolerance, lambda_min) of the near-zero
    cluster at a critical point: eigenvalues with |lambda| <= zero_rtol * alpha + |lambda_min|."""
    ev = model.at(W_c, lam_c)
    vals, vecs, _ = _spectrum(ev, k, MORSE_TOL)
    zero_tol = zero_rtol * model.alpha + abs(float(vals[0]))
    near = np.abs(vals) <= zero_tol
    near[0] = True
    return ev, vecs[:, near], zero_tol, float(vals[0])


def _fold_at(branch: Branch, i: int):
    """The fold special point that brackets the sign change of the lowest eigenvalue between
    branch points i and i+1 (one point of slack either side: both sign changes happen at the same
    point of the branch, and rounding can put them in neighbouring intervals)."""
    if branch.s is None:
        return None
    lo = branch.s[max(i - 1, 0)]
    hi = branch.s[min(i + 2, len(branch) - 1)]
    for p in branch.folds:
        if p.s is not None and lo <= p.s <= hi:
            return p
    return None


def _fold_result(model, branch, i, fold, k, zero_rtol, base, pred, pred_text, eta, none_result):
    """ThresholdResult at a fold: the first negative eigenvalue appears where lam turns back."""
    if fold.W is None:
        return none_result(
            "continuation failed",
            f"continuation failed: the lowest eigenvalue changes sign at a fold (turning point in lam) "
            f"between lam = {branch.lams[i]:.6g} and {branch.lams[i + 1]:.6g}, but refining the fold failed; "
            f"{pred_text}",
        )
    lam_c, W_c = float(fold.lam), fold.W
    ev, Phi, zero_tol, lowest = _near_zero_cluster(model, W_c, lam_c, k, zero_rtol)
    mult = Phi.shape[1]
    crit = Phi.T.reshape(mult, model.m, model.d)
    P = model.size
    t_i = _arc_tangent(model.at(branch.W[i], float(branch.lams[i])), np.append(np.zeros(P), 1.0))
    # Orient the tangent at point i like the branch (lam increasing before the first fold).
    if t_i[-1] < 0:
        t_i = -t_i
    t_f = _arc_tangent(ev, t_i)
    tW = t_f[:P]
    tangent = (tW / np.linalg.norm(tW)).reshape(model.m, model.d)
    ratio = lam_c / pred if pred is not None else None
    mb, ma = int(branch.morse[i]), int(branch.morse[i + 1])
    cmp = (
        f"the linear prediction lam* = {pred:.6g} (lambda_1'(0) = {base['softening_rate']:.4e}) is "
        f"{'below' if ratio > 1 else 'above'} it, ratio measured/predicted = {ratio:.4g}"
        if ratio is not None
        else pred_text
    )
    msg = (
        f"fold at lam* = {lam_c:.8g}: the bifurcation is imperfect (eta = {eta:.2e} nonzero), so the "
        f"critical branch does not cross the softening but turns back at lam_fold = {lam_c:.8g} "
        f"(a saddle-node: one Hessian eigenvalue, lowest {lowest:.2e}, passes through 0 there, "
        f"near-zero multiplicity {mult}, Morse index {mb} -> {ma} across the fold); {cmp}"
    )
    return ThresholdResult(
        lam_star_measured=lam_c,
        ratio=ratio,
        multiplicity=mult,
        morse_before=mb,
        morse_after=ma,
        W_c=W_c,
        lam_c=lam_c,
        critical_vectors=crit,
        tangent=tangent,
        status="fold",
        message=msg,
        zero_tol=zero_tol,
        **base,
    )
