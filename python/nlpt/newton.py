"""Newton's method on grad L_lam(W) = 0 at fixed lam (the continuation corrector, SPEC 4).

Newton converges to saddles as well as minima (it solves grad = 0, it does not minimise).  Each
step solves ``H dW = -g`` with H = Hess L_lam(W), g = grad L_lam(W) (SPEC 2):

* ``solver="dense"`` forms H (P x P, P = m d) and solves with LAPACK; near a bifurcation H is
  singular, and the solve falls back to a least-squares step.
* ``solver="minres"`` runs MINRES on the Hessian-vector product (no P x P array), preconditioned
  first by the SPD operator ``T = (H_0 + (tau - alpha) I)^{-1}`` of the linear endpoint
  ``H_0 = (1/m^2)(a a^T) (x) Sigma + alpha I`` (SPEC 3; closed form and the choice of tau > 0,
  which also covers alpha = 0, in :mod:`nlpt.spectral`).  When that has not converged after 40
  iterations (clustered small eigenvalues of both signs, typical of non-uniform a near a
  crossing), MINRES continues from its iterate with the per-neuron operator
  ``(H - sigma I)^{-1}`` of :func:`nlpt.spectral.block_inverse` (SPD, sigma below
  ``min(0, 2 min_j lambda_min(A_j))``), when its set-up fits the budgets there.  MINRES needs
  an SPD preconditioner and a symmetric, possibly indefinite H: both hold at saddles.  At
  singular H it returns the minimal-residual step in the Krylov space.
* ``solver="auto"``: dense for P <= :data:`nlpt.spectral.DENSE_MAX`, MINRES above.

The linear solve is inexact (Eisenstat-Walker style): relative residual
``min(1e-4, max(1e-12, ||g||))``, which keeps the quadratic convergence of Newton's method.
Backtracking on ||grad|| (halving the step down to 1e-4) keeps the iteration from diverging.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import LinearOperator, minres

from ._validate import NLPTInputError, as_float, as_int
from .model import Evaluation, Model, check_model
from .spectral import DENSE_MAX, BlockInverse, _block_affordable, h0_preconditioner

__all__ = ["NewtonResult", "newton", "newton_step", "minres_step"]

_SOLVERS = ("auto", "dense", "minres")
_H0_FIRST = 40  # MINRES iterations with the lam = 0 preconditioner before switching to "block"


@dataclass
class NewtonResult:
    """Outcome of a Newton solve: ``converged`` is False when the tolerance was not reached.

    ``linear_iterations`` is the total number of MINRES iterations (0 for dense solves).
    """

    W: np.ndarray = field(repr=False)
    lam: float
    converged: bool
    iterations: int
    grad_norm: float
    message: str
    linear_iterations: int = 0


def _solver(ev: Evaluation, solver) -> str:
    if not isinstance(solver, str) or solver not in _SOLVERS:
        raise NLPTInputError(f"solver: expected one of 'auto', 'dense', 'minres', got {solver!r}")
    if solver == "auto":
        return "dense" if ev.model.size <= DENSE_MAX else "minres"
    return solver


def minres_step(
    ev: Evaluation, g: np.ndarray, rtol: float = 1e-10, maxiter: int | None = None, tau: float | None = None, preconditioner: str = "auto"
):
    """Solve ``H dW = -g`` matrix-free: preconditioned MINRES (see module docstring).

    ``preconditioner``: ``"block"`` (the per-neuron operator ``(H - sigma I)^{-1}`` of
    :func:`nlpt.spectral.block_inverse`, SPD with sigma just below ``min(0, 2 lower)``, lower =
    min_j lambda_min(A_j) <= lambda_min(H), so that T H has its spectrum in [-1, 1)), ``"h0"`` (``(H_0 + (tau - alpha) I)^{-1}``) or ``"auto"``
    (h0 when ``tau`` is given or the block set-up is beyond its budget; otherwise 40 MINRES
    iterations with h0 and, if they do not reach ``rtol``, block from there on).
    Returns ``(dW (m, d), info, iterations)``; ``info`` is MINRES's (0 = converged to rtol).
    """
    mdl = ev.model
    m, d, P = mdl.m, mdl.d, mdl.size
    count = [0]

    def mv(v):
        return ev.hvp(np.reshape(v, (m, d))).ravel()

    def cb(_):
        count[0] += 1

    op = LinearOperator((P, P), matvec=mv, rmatvec=mv, dtype=float)
    if preconditioner not in ("auto", "block", "h0"):
        raise NLPTInputError(f"preconditioner: expected one of 'auto', 'block', 'h0', got {preconditioner!r}")
    maxiter = maxiter or 10 * P
    b = -np.ravel(g)
    x0 = None
    if preconditioner == "auto":
        if tau is not None or not _block_affordable(mdl):
            preconditioner = "h0"
        else:
            # The lam = 0 operator costs nothing to set up and suffices away from clustered
            # small eigenvalues; the per-neuron operator (O(n^2 P) set-up) takes over when it
            # stalls, continuing from its iterate.
            step, info = minres(op, b, M=h0_preconditioner(ev), rtol=rtol, maxiter=min(maxiter, _H0_FIRST), callback=cb)
            if info == 0 or maxiter <= _H0_FIRST:
                return step.reshape(m, d), int(info), count[0]
            preconditioner, x0 = "block", step
    T = BlockInverse(ev, None, rule="solve") if preconditioner == "block" else h0_preconditioner(ev, tau)
    step, info = minres(op, b, x0=x0, M=T, rtol=rtol, maxiter=maxiter, callback=cb)
    return step.reshape(m, d), int(info), count[0]


def _dense_step(ev: Evaluation, g: np.ndarray) -> np.ndarray:
    H = ev.hessian()
    try:
        step = np.linalg.solve(H, -g.ravel())
        if not np.all(np.isfinite(step)):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(H, -g.ravel(), rcond=1e-12)[0]
    return step.reshape(ev.model.m, ev.model.d)


def newton_step(ev: Evaluation, g: np.ndarray, solver: str = "auto", rtol: float = 1e-10) -> np.ndarray:
    """The Newton step dW solving ``H dW = -g`` at ``ev`` (shape (m, d)).

    ``solver``: ``"auto"`` (dense for m d <= DENSE_MAX, else MINRES), ``"dense"`` or
    ``"minres"``; ``rtol`` is MINRES's relative residual tolerance.
    """
    if not isinstance(ev, Evaluation):
        raise NLPTInputError(f"ev: expected an nlpt Evaluation (Model.at(W, lam)), got {type(ev).__name__}")
    solver = _solver(ev, solver)
    g = ev.model.check_W(g, "g")
    if solver == "dense":
        return _dense_step(ev, g)
    return minres_step(ev, g, rtol=as_float("rtol", rtol, minimum=0.0, strict=True))[0]


def newton(model: Model, W0, lam, tol: float = 1e-10, maxiter: int = 50, solver: str = "auto") -> NewtonResult:
    """Solve grad L_lam(W) = 0 from W0; stops when ||grad||_F <= tol (SPEC 4 corrector)."""
    ev = check_model(model).at(W0, lam)
    tol = as_float("tol", tol, minimum=0.0, strict=True)
    maxiter = as_int("maxiter", maxiter, minimum=1)
    solver = _solver(ev, solver)
    W = ev.W
    g = ev.grad()
    gn = float(np.linalg.norm(g))
    lin = 0
    for it in range(maxiter + 1):
        if gn <= tol:
            return NewtonResult(W, ev.lam, True, it, gn, "converged", lin)
        if it == maxiter:
            break
        if solver == "dense":
            step = _dense_step(ev, g)
        else:
            step, _, its = minres_step(ev, g, rtol=min(1e-4, max(1e-12, gn)))
            lin += its
        if not np.all(np.isfinite(step)):
            return NewtonResult(W, ev.lam, False, it + 1, gn, "non-finite Newton step (singular Hessian?)", lin)
        t = 1.0
        while True:
            ev_new = model.at(W + t * step, ev.lam)
            g_new = ev_new.grad()
            gn_new = float(np.linalg.norm(g_new))
            if gn_new < gn or t < 1e-4:
                break
            t *= 0.5
        if not np.isfinite(gn_new):
            return NewtonResult(W, ev.lam, False, it + 1, gn, "non-finite gradient after Newton step", lin)
        W, ev, g, gn = ev_new.W, ev_new, g_new, gn_new
    return NewtonResult(
        W, ev.lam, False, maxiter, gn, f"no convergence in {maxiter} iterations (||grad|| = {gn:.3e} > tol = {tol:.1e})", lin
    )
