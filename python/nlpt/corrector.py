"""Correctors on the critical branch ``grad L(x, lam) = 0`` of any family (SPEC 4, 8).

* :func:`newton_at_lam` -- Newton at fixed lam (the natural parameter), backtracking on
  ``|grad|`` (the step is halved while the gradient grows, down to 1e-4);
* :func:`arc_correct` -- Newton on the bordered system ``grad L(x, lam) = 0``,
  ``t . (u - u0) = h`` for ``u = (x, lam)`` (Keller's pseudo-arclength corrector; its Jacobian
  ``[[H, d/dlam grad], [t^T]]`` is regular at a simple fold, where H is singular);
* :func:`tangent` -- the unit tangent ``(t_x, t_lam)`` from ``[[H, d/dlam grad], [t_prev^T]] z =
  [0, 1]``, oriented like ``t_prev``;
* :func:`lowest_slope` -- ``d lambda_min / ds`` along a tangent by Hellmann-Feynman:
  ``D^3L[phi, phi, t_x] + t_lam phi^T (dH/dlam) phi`` for an own eigenvector phi, and
  ``e^T (dT/ds) e`` for a transverse sector ``T`` (SPEC 7).

``polish=True`` keeps iterating after the tolerance is met while each step still shrinks the
gradient by half (at most four more steps): the refinements of :mod:`nlpt.events` evaluate
eigenvalues at these points, and an eigenvalue's error is the point's error times
``D^3L``, divided by the eigenvalue's slope when converted to an error in lam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Point, Problem

__all__ = ["Corrected", "grad_scale", "default_newton_tol", "newton_at_lam", "arc_correct", "tangent",
           "lowest_slope"]

_POLISH_STEPS = 4


def grad_scale(problem: Problem) -> float:
    """``|d/dlam grad L(x0, 0)|``: how hard the homotopy pushes the critical point (cached);
    where it is zero, ``|floor| max(1, |x0|)``, else 1."""
    got = getattr(problem, "_grad_scale", None)
    if got is None:
        got = float(np.linalg.norm(problem.at(problem.x0, 0.0).grad_lam()))
        if not got > 0:
            got = abs(problem.floor) * max(1.0, float(np.linalg.norm(problem.x0))) or 1.0
        problem._grad_scale = got
    return got


def default_newton_tol(problem: Problem) -> float:
    """1e-10 times :func:`grad_scale`: a tolerance that follows the family's units (at m = 1e6
    the reduced coordinates are sqrt(m) times the row values, the gradient 1/sqrt(m) as large)."""
    return 1e-10 * grad_scale(problem)


@dataclass
class Corrected:
    """A corrected point ``u = (x, lam)``; ``pt`` is the family there when converged."""

    u: np.ndarray
    converged: bool
    iterations: int
    grad_norm: float
    message: str
    pt: Point | None = None

    @property
    def x(self) -> np.ndarray:
        return self.u[:-1]

    @property
    def lam(self) -> float:
        return float(self.u[-1])


def _at(problem: Problem, u: np.ndarray):
    lam = float(u[-1])
    if not 0.0 <= lam <= 1.0:
        return None
    return problem.at(u[:-1], lam)


def _line_search(problem, u, step, gn):
    """Halve the step while |grad| grows (down to 1e-4); (u_new, pt_new, |grad| new) or Nones."""
    a = 1.0
    while True:
        pt = _at(problem, u + a * step)
        gn_new = np.inf if pt is None else float(np.linalg.norm(pt.grad()))
        if gn_new < gn or a < 1e-4:
            break
        a *= 0.5
    if pt is None or not np.isfinite(gn_new):
        return None, None, None
    return u + a * step, pt, gn_new


def _iterate(problem, u, step_fn, tol, maxiter, polish, residual_ok=lambda u: True) -> Corrected:
    pt = _at(problem, u)
    if pt is None:
        return Corrected(u, False, 0, np.inf, f"the prediction left [0, 1] in lam (lam = {u[-1]:.6g})")
    gn = float(np.linalg.norm(pt.grad()))
    done_at = None
    for it in range(maxiter + _POLISH_STEPS + 1):
        if gn <= tol and residual_ok(u) and done_at is None:
            if not polish:
                return Corrected(u, True, it, gn, "converged", pt)
            done_at = it
        if done_at is not None and it - done_at >= _POLISH_STEPS:
            break
        if done_at is None and it >= maxiter:
            return Corrected(u, False, maxiter, gn,
                             f"no convergence in {maxiter} iterations (|grad| = {gn:.3e} > tol = {tol:.1e})", pt)
        step = step_fn(pt, u)
        if not np.all(np.isfinite(step)):
            if done_at is not None:
                break
            return Corrected(u, False, it + 1, gn, "non-finite Newton step (singular Hessian?)", pt)
        u_new, pt_new, gn_new = _line_search(problem, u, step, gn)
        if u_new is None:
            if done_at is not None:
                break
            return Corrected(u, False, it + 1, gn, "the corrector left [0, 1] in lam or the gradient is not finite", pt)
        if done_at is not None and not gn_new < 0.5 * gn:
            break  # polishing stalled: keep the better point
        u, pt, gn = u_new, pt_new, gn_new
    return Corrected(u, True, it, gn, "converged", pt)


def newton_at_lam(problem: Problem, x, lam: float, tol: float, maxiter: int, polish: bool = False) -> Corrected:
    """Newton on ``grad L(x, lam) = 0`` at fixed lam from x (module docstring)."""
    u0 = np.append(np.asarray(x, dtype=float), lam)

    def step(pt, u):
        return np.append(problem.newton_step(pt, pt.grad(), rtol=min(1e-4, max(1e-12, float(np.linalg.norm(pt.grad()))))), 0.0)

    return _iterate(problem, u0, step, tol, maxiter, polish)


def arc_correct(problem: Problem, u0, t, h: float, u_pred, tol: float, maxiter: int,
                polish: bool = False, deflate=None) -> Corrected:
    """Newton on ``grad L = 0, t . (u - u0) = h`` from ``u_pred`` (module docstring).

    ``deflate`` (k, P), orthonormal rows: Newton moves only on their orthogonal complement, the
    components of the gradient along them being absorbed by multipliers.  Next to a crossing
    whose near-kernel they span, this keeps the kernel coordinate of the prediction (that of the
    followed branch) instead of letting rounding in ``(phi . grad) / lambda`` move it (dense
    families only; ignored where the Hessian is not formed).
    """
    u0, t = np.asarray(u0, dtype=float), np.asarray(t, dtype=float)

    def cons(u):
        return float(t @ (u - u0) - h)

    scale = grad_scale(problem)

    def step(pt, u):
        if deflate is not None and len(deflate):
            H = pt.hessian()
            if H is not None:
                return _deflated_step(pt, H, t, cons(u), deflate)
        # inexact Newton (Eisenstat-Walker): a relative residual min(1e-4, |grad| / scale)
        # keeps the convergence superlinear and never asks an iterative solve for digits that
        # rounding in the products cannot give
        gn = float(np.linalg.norm(pt.grad()))
        return -problem.bordered_solve(pt, t, pt.grad(), cons(u), rtol=min(1e-4, max(1e-12, gn / scale)))

    return _iterate(problem, np.array(u_pred, dtype=float), step, tol, maxiter, polish,
                    residual_ok=lambda u: abs(cons(u)) <= 1e-12 * max(1.0, abs(h)))


def _deflated_step(pt, H, t, cons, Phi):
    """``[[H, gl, Phi^T], [t^T, 0], [Phi, 0, 0]] (dx, dlam, nu) = (-g, -cons, 0)`` -> (dx, dlam)."""
    P, k = H.shape[0], Phi.shape[0]
    A = np.zeros((P + 1 + k, P + 1 + k))
    A[:P, :P], A[:P, P], A[:P, P + 1:] = H, pt.grad_lam(), Phi.T
    A[P, :P + 1] = t
    A[P + 1:, :P] = Phi
    rhs = np.concatenate([-pt.grad(), [-cons], np.zeros(k)])
    try:
        z = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        z = np.linalg.lstsq(A, rhs, rcond=1e-14)[0]
    return z[:P + 1]


def tangent(problem: Problem, pt: Point, t_prev: np.ndarray) -> np.ndarray:
    """Unit tangent of the branch at ``pt`` with ``t_prev . t > 0`` (module docstring)."""
    z = problem.bordered_solve(pt, t_prev, np.zeros(problem.size), 1.0)
    return z / np.linalg.norm(z)


def lowest_slope(problem: Problem, pt: Point, spec, t: np.ndarray) -> float:
    """``d lambda / ds`` of the lowest eigenvalue of the stability spectrum along ``t``."""
    _, _, where = spec.modes()[0]
    if where[0] == "own":
        if spec.vectors is not None and where[1] < spec.vectors.shape[1]:
            phi = spec.vectors[:, where[1]]  # the eigensolve of this point already has it
        else:
            vals, vecs, _ = problem.eig(pt, max(1, where[1] + 1), spec.vectors, True)
            phi = vecs[:, where[1]]
        return float(pt.d3_vec(phi, phi) @ t[:-1] + t[-1] * (phi @ pt.hvp_lam(phi)))
    labels = [s.label for s in problem.sectors(pt)]
    j = labels.index(where[0])
    sec = problem.sectors(pt)[j]
    D = problem.sector_derivatives(pt, t)[j][0]
    e = np.linalg.eigh(sec.matrix)[1][:, where[1]]
    return float(e @ D @ e)
