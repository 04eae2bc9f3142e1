"""Continuation of the critical branch in lam and the measured threshold (SPEC 4, 5).

Starting from the linear-endpoint critical point ``(W*, 0)`` the branch ``W(lam)`` of solutions of
``grad L_lam(W) = 0`` is followed in the natural parameter lam:

* **predictor**: the tangent ``dW/dlam = -H^{-1} d/dlam grad L`` (implicit function theorem);
* **corrector**: Newton on ``grad L_lam(W) = 0`` at the new lam (:func:`nlpt.newton.newton`), which
  converges to saddles as well as minima, so the branch is followed through index changes;
* **step control**: the predicted displacement ``|ds dW/dlam|`` is capped at
  ``dW_rtol * max(|W|, 1)``; a step is rejected and halved when Newton fails, when the corrected
  point lies farther than ``jump_rtol * ds * max(|dW/dlam|, 1)`` from the prediction, or when the
  lowest eigenvalue misses its secant prediction from the last two points by more than
  ``eig_rtol * |predicted change| + eig_atol * alpha`` (eigenvalues are continuous along a branch;
  a jump means the corrector landed on a neighbouring branch, e.g. a minimiser past a fold); the
  step grows by ``grow`` after an easy convergence.  Below ``ds_min`` the step collapses and the
  branch ends with status ``"step collapse at lam=..."``.  A fold (turning point in lam, where
  ``|dW/dlam| -> inf`` and the lowest eigenvalue -> 0) is where this happens: the natural
  parameter cannot pass it, and the message says so.  For uniform a the S_m symmetry makes the
  crossing a pitchfork of the symmetric branch, which the natural parameter passes; for
  non-uniform a (imperfection eta > 0, SPEC 5) it generically unfolds into such a fold.

At every point the ``n_eigs`` lowest Hessian eigenvalues and the Morse index (number of
eigenvalues below ``-morse_tol``) are recorded.  Degenerate clusters are never tracked vector by
vector; only eigenvalue *values* (sorted) are used, which are well defined at multiplicity.

:func:`find_threshold` brackets the first sign change of the lowest eigenvalue on the branch and
refines it with Brent's method on ``lam -> lambda_min(H(W(lam), lam))``, ``W(lam)`` Newton-corrected
from the interpolation of the bracketing branch points (SPEC 4, "measured threshold").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from scipy.sparse.linalg import LinearOperator, minres

from ._validate import NLPTInputError, as_float, as_int
from .linear import critical_point
from .model import Model
from .newton import newton, newton_step
from .softening import imperfection, softening_rate
from .spectral import DENSE_MAX, lowest_eigenpairs, morse_index

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

#: At the crossing, eigenvalues with ``|lambda| <= ZERO_RTOL * alpha`` form the near-zero cluster.
ZERO_RTOL = 1e-3


def _check_model(model) -> Model:
    if not isinstance(model, Model):
        raise NLPTInputError(f"model: expected an nlpt.Model, got {type(model).__name__}")
    if model.alpha <= 0:
        raise NLPTInputError(
            f"model.alpha: expected alpha > 0 (at alpha = 0 the Hessian at (W*, 0) is singular and the "
            f"branch is not locally unique), got {model.alpha}"
        )
    return model


def _lam_max(lam_max) -> float:
    x = as_float("lam_max", lam_max)
    if not 0.0 < x <= 1.0:
        raise NLPTInputError(f"lam_max: expected a number in (0, 1], got {x}")
    return x


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
    """A point of the branch where the Morse index changes (SPEC 5).

    ``lam`` is located by linear interpolation of the crossing eigenvalue between the two branch
    points around it (:func:`find_threshold` refines the first one); ``multiplicity`` is the
    number of eigenvalues that changed sign, ``|index_after - index_before|``.
    """

    type: str
    lam: float
    index_before: int
    index_after: int
    multiplicity: int

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "lam": float(self.lam),
            "index_before": int(self.index_before),
            "index_after": int(self.index_after),
            "multiplicity": int(self.multiplicity),
        }


@dataclass
class Branch:
    """A continued branch of critical points ``grad L_lam(W) = 0`` (BifurcationKit-style).

    Attributes
    ----------
    lams : (N,) array
        Parameter values, increasing from 0.
    W : (N, m, d) array
        The critical points.
    eigenvalues : (N, k) array
        The k lowest Hessian eigenvalues (ascending) at each point.
    morse : (N,) int array
        Morse index (eigenvalues below ``-morse_tol``).
    grad_norms : (N,) array
        ``||grad L_lam(W)||_F`` after correction.
    status : str
        ``"completed"``, ``"step collapse at lam=<value>"``, ``"max steps reached at lam=<value>"``
        or ``"start failed"``.
    message : str
        A plain sentence explaining the status.
    special_points : list of SpecialPoint
        Morse index changes (type ``"crossing"``).
    lam_max, morse_tol : float
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

    @property
    def completed(self) -> bool:
        return self.status == "completed"

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
            f"Branch({len(self.lams)} points, lam in [{self.lams[0]:.6g}, {self.lams[-1]:.6g}], "
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


def _tangent(ev) -> np.ndarray:
    """dW/dlam = -H^{-1} d/dlam grad L (implicit function theorem)."""
    return newton_step(ev, ev.grad_lam())


def _special_points(lams, eigs, morse) -> list:
    pts = []
    for i in range(len(lams) - 1):
        i0, i1 = int(morse[i]), int(morse[i + 1])
        if i0 == i1:
            continue
        col = min(i0, i1)
        if col < eigs.shape[1]:
            e0, e1 = eigs[i, col], eigs[i + 1, col]
            t = e0 / (e0 - e1) if e0 != e1 else 0.5
            lam = lams[i] + float(np.clip(t, 0.0, 1.0)) * (lams[i + 1] - lams[i])
        else:
            lam = 0.5 * (lams[i] + lams[i + 1])
        pts.append(SpecialPoint("crossing", float(lam), i0, i1, abs(i1 - i0)))
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
) -> Branch:
    """Follow the critical branch from ``(W0, 0)`` (default ``W*`` of SPEC 3) to ``lam_max``.

    Parameters
    ----------
    model : Model
        With ``alpha > 0``.
    lam_max : float in (0, 1]
        Where to stop.
    W0 : (m, d) array, optional
        Starting point at lam = 0; Newton-corrected first.  Default :func:`nlpt.linear.critical_point`.
    n_eigs : int, optional
        Eigenvalues tracked per point; default :func:`default_n_eigs`.
    ds0, ds_min, ds_max : float
        Initial (default ``min(0.01, ds_max)``), smallest and largest step in lam
        (``0 < ds_min <= ds0 <= ds_max``).
    newton_tol, newton_maxiter :
        Corrector tolerance on ``||grad||_F`` and iteration limit.
    jump_rtol : float
        A corrected point farther than ``jump_rtol * ds * max(|dW/dlam|_F, 1)`` from the
        prediction is rejected and the step halved (branch jumping guard).
    dW_rtol : float
        The predicted displacement ``|ds dW/dlam|_F`` is capped at ``dW_rtol * max(|W|_F, 1)``: near
        a fold |dW/dlam| blows up, so the step in lam shrinks and the branch ends in a step collapse
        at the fold instead of jumping over it onto another branch.
    eig_rtol, eig_atol : float
        Spectral continuity guard: the lowest eigenvalue at the new point must lie within
        ``eig_rtol * |predicted change| + eig_atol * alpha`` of its secant prediction from the
        last two points, else the step is halved.  Eigenvalues are continuous along a branch, so a
        jump means the corrector landed on another branch.
    grow : float
        Step growth factor after a convergence in at most 3 Newton iterations.
    max_steps : int
        Limit on accepted plus rejected steps.
    morse_tol : float
        Eigenvalues below ``-morse_tol`` count toward the Morse index.

    Returns
    -------
    Branch
        Numerical failure (step collapse, no start) is reported in ``status``/``message``.
    """
    model = _check_model(model)
    lam_max = _lam_max(lam_max)
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
    W_start = critical_point(model)[1] if W0 is None else model.check_W(W0, "W0")

    lams, Ws, eigs, morses, gns = [], [], [], [], []
    prev = {"vecs": None}

    def spectrum(res):
        ev = model.at(res.W, res.lam)
        vals, vecs, mi = _spectrum(ev, k, morse_tol, prev["vecs"], vectors=False)
        return ev, vals, vecs, mi

    def record(res, spec):
        ev, vals, vecs, mi = spec
        prev["vecs"] = vecs
        lams.append(res.lam)
        Ws.append(res.W)
        eigs.append(vals)
        morses.append(mi)
        gns.append(res.grad_norm)
        return ev

    def build(status, message):
        N = len(lams)
        L = np.array(lams, dtype=float)
        E = np.array(eigs, dtype=float).reshape(N, k)
        M = np.array(morses, dtype=int)
        return Branch(
            lams=L,
            W=np.array(Ws, dtype=float).reshape(N, model.m, model.d),
            eigenvalues=E,
            morse=M,
            grad_norms=np.array(gns, dtype=float),
            status=status,
            message=message,
            special_points=_special_points(L, E, M),
            lam_max=lam_max,
            morse_tol=morse_tol,
        )

    res = newton(model, W_start, 0.0, tol=newton_tol, maxiter=newton_maxiter)
    if not res.converged:
        return build("start failed", f"Newton at lam = 0 from the starting point failed: {res.message}")
    ev = record(res, spectrum(res))
    lam, W, ds = 0.0, res.W, ds0
    t = _tangent(ev)
    steps = 0
    while lam < lam_max:
        if steps >= max_steps:
            return build(
                f"max steps reached at lam={lam:.6g}",
                f"stopped after {max_steps} steps at lam = {lam:.6g} before lam_max = {lam_max:g}",
            )
        steps += 1
        tn = float(np.linalg.norm(t))
        cap = dW_rtol * max(float(np.linalg.norm(W)), 1.0)
        h = min(ds, lam_max - lam, cap / tn if tn > 0 else np.inf)
        # Do not leave a sliver shorter than ds_min before lam_max.
        if lam_max - (lam + h) < ds_min:
            h = lam_max - lam
        lam_new = lam_max if h == lam_max - lam else lam + h
        W_pred = W + h * t
        res = newton(model, W_pred, lam_new, tol=newton_tol, maxiter=newton_maxiter)
        why = None
        if not res.converged:
            why = res.message
        else:
            dist = float(np.linalg.norm(res.W - W_pred))
            allowed = jump_rtol * h * max(tn, 1.0)
            if dist > allowed:
                why = f"the corrector moved {dist:.2e} from the prediction (allowed {allowed:.2e})"
        if why is None:
            spec = spectrum(res)
            if len(lams) >= 2:
                # Secant prediction of the lowest eigenvalue: a corrected point on another branch
                # (e.g. past a fold) shows up as a jump of the spectrum.
                slope = (eigs[-1][0] - eigs[-2][0]) / (lams[-1] - lams[-2])
                pred = eigs[-1][0] + h * slope
                err = abs(spec[1][0] - pred)
                bound = eig_rtol * abs(h * slope) + eig_atol * model.alpha
                if err > bound:
                    why = (
                        f"the lowest eigenvalue jumped to {spec[1][0]:.3e}, {err:.2e} from its secant "
                        f"prediction {pred:.3e} (allowed {bound:.2e})"
                    )
        if why is not None:
            ds = 0.5 * h
            if ds < ds_min:
                low = eigs[-1][0]
                fold = abs(low) < 0.05 * model.alpha or tn > 1e3 * max(float(np.linalg.norm(W)), 1.0)
                what = (
                    f"a fold (turning point in lam), which continuation in lam cannot pass: the lowest "
                    f"eigenvalue has fallen to {low:.3e} (alpha = {model.alpha:g}) and |dW/dlam| = {tn:.3e}"
                    if fold
                    else f"lowest eigenvalue {low:.3e}, |dW/dlam| = {tn:.3e}"
                )
                return build(
                    f"step collapse at lam={lam:.6g}",
                    f"the branch ends at lam = {lam:.6g}: {what} (step below ds_min = {ds_min:g}; last "
                    f"rejection: {why})",
                )
            continue
        ev = record(res, spec)
        lam, W = lam_new, res.W
        t = _tangent(ev)
        if res.iterations <= 3:
            ds = min(grow * h, ds_max)
        else:
            ds = h
    return build("completed", f"branch followed from lam = 0 to lam = {lam_max:g} in {len(lams)} points")


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
        The first zero of the lowest Hessian eigenvalue on the branch, to ``tol`` in lam; None
        when there is none in ``[0, lam_max]``.
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
        ``dW/dlam`` at the crossing, solved on the complement of the critical vectors.
    branch : Branch
    status : str
        ``"crossing"``, ``"no softening"``, ``"no crossing in [0, lam_max]"`` or
        ``"continuation failed"``.
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
    "eig_rtol", "eig_atol", "grow", "max_steps", "morse_tol",
}


class _CorrectorFailed(Exception):
    pass


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
    **continuation_options,
) -> ThresholdResult:
    """Predicted vs measured threshold lam* of SPEC 4, with the imperfection eta of SPEC 5.

    1. ``lambda_1'(0)``, its multiplicity and ``lam*_pred = alpha/|lambda_1'(0)|``
       (:func:`nlpt.softening.softening_rate`); ``eta`` (:func:`nlpt.softening.imperfection`).
    2. :func:`continue_branch` from ``(W*, 0)`` to ``lam_max``.
    3. The first sign change (positive to non-positive) of the lowest eigenvalue between two
       branch points is refined by :func:`scipy.optimize.brentq` on
       ``lam -> lambda_min(H(W(lam), lam))`` to ``tol`` in lam, ``W(lam)`` Newton-corrected from
       the linear interpolation of the two bracketing points.
    4. At the crossing: the near-zero cluster (eigenvalues with ``|lambda| <= zero_rtol * alpha +
       |lambda_min|``) gives ``multiplicity`` and ``critical_vectors``; ``tangent`` is dW/dlam on
       the cluster's complement.

    ``continuation_options`` are passed to :func:`continue_branch` (``ds0``, ``ds_max``, ...).
    Numerical failure is reported in ``status`` and ``message``; bad input raises
    :class:`nlpt.NLPTInputError`.
    """
    model = _check_model(model)
    lam_max = _lam_max(lam_max)
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
    branch = continue_branch(model, lam_max, n_eigs=k, **continuation_options)
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

    ev = model.at(W_c, lam_c)
    vals, vecs, _ = _spectrum(ev, k, MORSE_TOL)
    zero_tol = zero_rtol * model.alpha + abs(float(vals[0]))
    near = np.abs(vals) <= zero_tol
    near[0] = True
    mult = int(np.sum(near))
    Phi = vecs[:, near]
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
