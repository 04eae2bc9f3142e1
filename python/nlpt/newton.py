"""Newton's method on grad L_lam(W) = 0 at fixed lam (the continuation corrector).

Newton converges to saddles as well as minima (it solves grad = 0, it does not minimise).  The
step solves ``H dW = -g``; near a bifurcation H is singular, so the dense solve falls back to a
least-squares step.  Backtracking on ||grad|| keeps the iteration from diverging.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import minres

from ._validate import as_float, as_int
from .model import Model
from .spectral import DENSE_MAX

__all__ = ["NewtonResult", "newton", "newton_step"]


@dataclass
class NewtonResult:
    """Outcome of a Newton solve: ``converged`` is False when the tolerance was not reached."""

    W: np.ndarray = field(repr=False)
    lam: float
    converged: bool
    iterations: int
    grad_norm: float
    message: str


def newton_step(ev, g: np.ndarray, solver: str = "auto") -> np.ndarray:
    """Solve H dW = -g at the evaluation ``ev`` (dense below DENSE_MAX parameters, else MINRES)."""
    mdl = ev.model
    if solver == "auto":
        solver = "dense" if mdl.size <= DENSE_MAX else "minres"
    if solver == "dense":
        H = ev.hessian()
        try:
            step = np.linalg.solve(H, -g.ravel())
            if not np.all(np.isfinite(step)):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, -g.ravel(), rcond=1e-12)[0]
    else:
        step, _ = minres(ev.operator(), -g.ravel(), rtol=1e-12, maxiter=10 * mdl.size)
    return step.reshape(mdl.m, mdl.d)


def newton(model: Model, W0, lam, tol: float = 1e-10, maxiter: int = 50, solver: str = "auto") -> NewtonResult:
    """Solve grad L_lam(W) = 0 from W0; stops when ||grad||_F <= tol."""
    ev = model.at(W0, lam)
    tol = as_float("tol", tol, minimum=0.0, strict=True)
    maxiter = as_int("maxiter", maxiter, minimum=1)
    W = ev.W
    g = ev.grad()
    gn = float(np.linalg.norm(g))
    for it in range(maxiter + 1):
        if gn <= tol:
            return NewtonResult(W, ev.lam, True, it, gn, "converged")
        if it == maxiter:
            break
        step = newton_step(ev, g, solver)
        t = 1.0
        while True:
            ev_new = model.at(W + t * step, ev.lam)
            g_new = ev_new.grad()
            gn_new = float(np.linalg.norm(g_new))
            if gn_new < gn or t < 1e-4:
                break
            t *= 0.5
        if not np.isfinite(gn_new):
            return NewtonResult(W, ev.lam, False, it + 1, gn, "non-finite gradient after Newton step")
        W, ev, g, gn = ev_new.W, ev_new, g_new, gn_new
    return NewtonResult(W, ev.lam, False, maxiter, gn, f"no convergence in {maxiter} iterations (||grad|| = {gn:.3e} > tol = {tol:.1e})")
