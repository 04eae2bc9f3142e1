"""The abstract setting: any smooth one-parameter family of objectives (SPEC 8).

A family ``L(x, lam)``, ``x`` in R^P, ``lam`` in [0, 1], with a critical point ``x0`` at lam = 0.
The engine (continuation, events, threshold, normal form, branch switching, the softening
prediction and :func:`nlpt.analyze`) sees a family only through this module:

* :class:`Problem` -- the protocol *and* its plain implementation from numpy callables,
  ``nlpt.Problem(x0, *, loss, grad, hvp, grad_lam, hvp_lam=None, d3=None, d3_vec=None,
  d4=None, hessian=None)``.  A derivative not supplied is approximated by finite differences of
  a supplied lower one (table below); every result then says so, with an estimate of its
  accuracy (:meth:`Problem.derivative_report`).
* :class:`Point` -- the family at one ``(x, lam)``: gradient, Hessian-vector products,
  ``d/dlam`` of both, the multilinear forms ``D^3L[u, v, w]``, the vector ``D^3L[u, v, .]`` and
  ``D^4L[u, u, u, u]``, all on flat arrays.
* :class:`Spectrum` -- the stability spectrum at a point: the lowest eigenpairs of the family's
  own Hessian and, for reduced families (:mod:`nlpt.reduced`), the *transverse sectors*:
  eigenvalues of the full Hessian on directions outside the reduced coordinates, each with its
  multiplicity.  The Morse index counts both.
* :class:`Softening` -- the first-order prediction of SPEC 8,
  ``lambda_1'(0) = mu_min(Phi^T (dH/dlam + D^3L[., ., du/dlam]) Phi)`` with ``Phi`` an
  orthonormal basis of the lowest eigenspace of ``H(x0, 0)`` and ``du/dlam = -H^{-1} d/dlam
  grad L``, the predicted threshold ``mu_0 / |lambda_1'(0)|`` (``mu_0`` the lowest eigenvalue at
  ``x0``) and the imperfection ``eta = |Phi^T d/dlam grad L(x0, 0)|``.

Finite-difference fallbacks (central differences, one-sided at the ends of [0, 1] in lam; each
also evaluated at twice the step).  The error estimate of ``D(h) = sum_k w_k f_k`` is
``|D(h) - D(2h)| / 3 + eps sum_k |w_k| (|f_k| + |H| |v|)``: the leading O(h^2) truncation term
of a second-order difference (Richardson) plus the rounding of the stencil, which at these steps
is of the same size (without it the estimate was below the actual error in most evaluations),
each Hessian-vector product ``f_k = H v`` counted as correct to ``eps (|H v| + |H| |v|)``
(:meth:`Problem.hvp_norm`; along a near-kernel ``|H v|`` alone is far too small); the largest
absolute and relative (to ``|D(h)|``) estimates are kept:

=============  ===================================================================
``hvp_lam``    ``(hvp(x, lam + h, v) - hvp(x, lam - h, v)) / 2h``, h = eps^(1/3)
``d3_vec``     ``(hvp(x + h u, lam, v) - hvp(x - h u, lam, v)) / 2h``, h = eps^(1/3) max(1, |x|) / |u|
``d3``         ``<d3_vec(u, v), w>``
``d4``         ``(q(h) - 2 q(0) + q(-h)) / h^2``, ``q(t) = u^T H(x + t u) u``, h = eps^(1/4) max(1, |x|) / |u|
``hessian``    columns ``hvp(e_i)`` (exact, no differencing) when P <= DENSE_MAX
=============  ===================================================================

Subclasses (the two-layer model, :class:`nlpt.twolayer.ModelProblem`; the group-reduced model,
:class:`nlpt.reduced.ReducedProblem`) override the evaluation and, where they know better, the
linear algebra (:meth:`Problem.eig`, :meth:`Problem.newton_step`, :meth:`Problem.bordered_solve`),
the transverse sectors and the softening prediction.
"""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh, gmres, minres

from ._validate import NLPTInputError, as_float, as_lam

__all__ = [
    "DENSE_MAX",
    "ROUNDOFF_RTOL",
    "Problem",
    "Point",
    "Sector",
    "Spectrum",
    "Softening",
    "check_problem",
]

#: Largest P for which the generic problem forms its Hessian densely.
DENSE_MAX = 1500

#: A softening rate with ``|rate| <= ROUNDOFF_RTOL * scale`` is round-off, i.e. no softening;
#: ``scale`` is the size of the terms the rate is summed from (see :class:`Softening`).
ROUNDOFF_RTOL = 1e3 * np.finfo(float).eps

_EPS = np.finfo(float).eps
_OPTIONAL = ("hvp_lam", "d3", "d3_vec", "d4", "hessian")


def _lam_stencil(lam: float, h: float):
    """Points and weights of a second-order first derivative in lam inside [0, 1]."""
    if lam - h >= 0.0 and lam + h <= 1.0:
        return (lam - h, lam + h), (-0.5 / h, 0.5 / h)
    if lam + 2 * h <= 1.0:
        return (lam, lam + h, lam + 2 * h), (-1.5 / h, 2.0 / h, -0.5 / h)
    return (lam, lam - h, lam - 2 * h), (1.5 / h, -2.0 / h, 0.5 / h)


@dataclass
class Sector:
    """A block of the full Hessian outside a reduced family's own coordinates.

    Every eigenvalue of ``matrix`` (r x r, symmetric) is an eigenvalue of the full Hessian with
    multiplicity ``multiplicity`` (SPEC 7: ``alpha + eig(A_g)/m``, multiplicity g - 1).
    """

    label: str
    matrix: np.ndarray
    multiplicity: int


@dataclass
class Spectrum:
    """Stability spectrum at one point.

    ``values``/``vectors``: the lowest eigenpairs of the family's own Hessian (ascending;
    vectors as columns, or None); ``complete`` says whether ``values`` is the whole own spectrum.
    ``own_morse``: own eigenvalues below ``-tol``.  ``sectors``: ``(label, eigenvalues,
    multiplicity)`` of the transverse sectors.  ``morse``: the Morse index of the full Hessian.
    """

    values: np.ndarray
    vectors: np.ndarray | None
    own_morse: int
    tol: float
    complete: bool
    sectors: list = field(default_factory=list)

    @property
    def morse(self) -> int:
        return self.own_morse + sum(int(np.sum(v < -self.tol)) * mult for _, v, mult in self.sectors)

    def modes(self) -> list:
        """``(value, multiplicity, where)`` of every eigenvalue known, ascending; ``where`` is
        ``("own", i)`` or ``(sector_label, i)``."""
        out = [(float(v), 1, ("own", i)) for i, v in enumerate(self.values)]
        for label, vals, mult in self.sectors:
            out += [(float(v), int(mult), (label, i)) for i, v in enumerate(vals)]
        out.sort(key=lambda t: t[0])
        return out

    def lowest(self, k: int | None = None) -> np.ndarray:
        """The lowest k eigenvalues of the full Hessian with multiplicity (as far as known)."""
        vals = [v for v, mult, _ in self.modes() for _ in range(min(mult, k or mult))]
        vals = np.array(vals[:k] if k is not None else vals, dtype=float)
        return vals

    @property
    def min(self) -> float:
        return self.modes()[0][0]


@dataclass
class Softening:
    """First-order softening at ``(x0, 0)`` (SPEC 4 for the model, SPEC 8 in general).

    ``rate`` is ``lambda_1'(0)``, ``multiplicity`` the number of eigenvalues (with multiplicity)
    of the slope matrix within ``rtol`` of it, ``floor`` the lowest eigenvalue ``mu_0`` of the
    Hessian at ``(x0, 0)``, ``lam_star_pred = floor / |rate|`` when the rate is negative beyond
    the round-off level ``roundoff = ROUNDOFF_RTOL * scale`` (``scale``: the size of the terms
    of the slope matrix, before cancellation), else None.  ``eta`` is the imperfection.
    ``directions`` are the minimising directions in the family's own coordinates, or None
    where they live outside them (transverse sectors) or would be too large to hold.
    """

    rate: float
    multiplicity: int
    floor: float
    lam_star_pred: float | None
    eta: float
    method: str
    scale: float
    directions: np.ndarray | None = field(default=None, repr=False)
    roundoff: float = 0.0
    note: str = ""

    @property
    def softens(self) -> bool:
        return self.lam_star_pred is not None


def predict(floor: float, rate: float, scale: float):
    """``(lam*_pred or None, roundoff level, note)`` from the floor, the rate and its scale."""
    roundoff = ROUNDOFF_RTOL * max(scale, 0.0)
    if not floor > 0:  # x0 a saddle (or degenerate): floor / |rate| would be a negative "threshold"
        return None, roundoff, (f"the floor mu_0 = {floor:.4e} is not positive (x0 is not a strict minimum of "
                                "L(., 0)), so mu_0 / |lambda_1'(0)| predicts nothing")
    if rate < 0 and abs(rate) > roundoff:
        return floor / abs(rate), roundoff, ""
    if rate < 0:
        return None, roundoff, (f"|lambda_1'(0)| = {abs(rate):.3e} is below the round-off floor "
                                f"{roundoff:.3e} (ROUNDOFF_RTOL x the size {scale:.3e} of its terms): "
                                "no softening")
    return None, roundoff, ""


class Point:
    """The family at one ``(x, lam)``; every array is flat (length P) or a batch (k, P).

    The plain implementation calls the :class:`Problem`'s callables, with the finite-difference
    fallbacks of the module docstring for those not supplied.
    """

    def __init__(self, problem: "Problem", x: np.ndarray, lam: float):
        self.problem = problem
        self.x = x
        self.lam = lam
        self._grad = None

    # -- required ----------------------------------------------------------------------------
    def loss(self) -> float:
        return float(self.problem._call("loss", self.x, self.lam))

    def grad(self) -> np.ndarray:
        if self._grad is None:
            self._grad = self.problem._vec("grad", self.x, self.lam)
        return self._grad

    def hvp(self, V: np.ndarray) -> np.ndarray:
        return self._batched(lambda v: self.problem._vec("hvp", self.x, self.lam, v), V)

    def grad_lam(self) -> np.ndarray:
        return self.problem._vec("grad_lam", self.x, self.lam)

    # -- optional, with fallbacks ------------------------------------------------------------
    def hvp_lam(self, V: np.ndarray) -> np.ndarray:
        pb = self.problem
        if pb._fns["hvp_lam"] is not None:
            return self._batched(lambda v: pb._vec("hvp_lam", self.x, self.lam, v), V)
        return self._batched(self._fd_hvp_lam, V)

    def d3_vec(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        pb = self.problem
        if pb._fns["d3_vec"] is not None:
            return pb._vec("d3_vec", self.x, self.lam, u, v)
        return self._fd_d3_vec(u, v)

    def d3(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> float:
        pb = self.problem
        if pb._fns["d3"] is not None:
            return float(pb._call("d3", self.x, self.lam, u, v, w))
        return float(self.d3_vec(u, v) @ w)

    def d4(self, u: np.ndarray) -> float:
        pb = self.problem
        if pb._fns["d4"] is not None:
            return float(pb._call("d4", self.x, self.lam, u))
        return self._fd_d4(u)

    def hessian(self) -> np.ndarray | None:
        """The dense Hessian, or None when it is neither supplied nor affordable."""
        if getattr(self, "_H", None) is not None:
            return self._H
        pb = self.problem
        if pb._fns["hessian"] is not None:
            H = np.asarray(pb._call("hessian", self.x, self.lam), dtype=float)
            pb._check_shape("hessian", H, (pb.size, pb.size))
        elif pb.size > DENSE_MAX:
            return None
        else:
            H = self.hvp(np.eye(pb.size))
        self._H = 0.5 * (H + H.T)
        return self._H

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _batched(fn, V):
        V = np.asarray(V, dtype=float)
        if V.ndim == 1:
            return fn(V)
        return np.stack([fn(v) for v in V]) if len(V) else np.zeros_like(V)

    def _fd_hvp_lam(self, v):
        pb = self.problem

        def at_step(h):
            pts, wts = _lam_stencil(self.lam, h)
            vals = [pb._vec("hvp", self.x, p, v) for p in pts]
            return sum(w * f for w, f in zip(wts, vals)), _rounding(wts, vals, pb.hvp_norm() * nv)

        nv = float(np.linalg.norm(v))
        h = _EPS ** (1 / 3)
        return pb._fd_record("hvp_lam", "finite differences in lam of hvp", at_step(h), at_step(2 * h))

    def _fd_d3_vec(self, u, v):
        pb = self.problem
        nu = float(np.linalg.norm(u))
        if nu == 0.0:
            return np.zeros(pb.size)
        base = max(1.0, float(np.linalg.norm(self.x))) / nu

        def at_step(h):
            vals = [pb._vec("hvp", self.x + h * u, self.lam, v), pb._vec("hvp", self.x - h * u, self.lam, v)]
            wts = (0.5 / h, -0.5 / h)
            return wts[0] * vals[0] + wts[1] * vals[1], _rounding(wts, vals, pb.hvp_norm() * float(np.linalg.norm(v)))

        h = _EPS ** (1 / 3) * base
        return pb._fd_record("d3_vec", "finite differences in x of hvp", at_step(h), at_step(2 * h))

    def _fd_d4(self, u):
        pb = self.problem
        nu = float(np.linalg.norm(u))
        if nu == 0.0:
            return 0.0
        base = max(1.0, float(np.linalg.norm(self.x))) / nu

        def q(t):  # u^T H(x + t u) u, and the size |u| (|H u| + |H| |u|) its rounding is relative to
            Hu = pb._vec("hvp", self.x + t * u, self.lam, u)
            return float(u @ Hu), nu * (float(np.linalg.norm(Hu)) + pb.hvp_norm() * nu)

        q0 = q(0.0)

        def at_step(h):
            vals = [q(h), q0, q(-h)]
            wts = (1.0 / (h * h), -2.0 / (h * h), 1.0 / (h * h))
            return (np.array([sum(w * f[0] for w, f in zip(wts, vals))]),
                    _EPS * sum(abs(w) * f[1] for w, f in zip(wts, vals)))

        h = _EPS ** 0.25 * base
        return float(pb._fd_record("d4", "second differences in x of u^T hvp u", at_step(h), at_step(2 * h))[0])


def _rounding(wts, vals, size: float) -> float:
    """``eps sum_k |w_k| (|f_k| + size)``: the rounding error of a stencil ``sum_k w_k f_k`` of
    Hessian-vector products ``f_k = H_k v``, each correct to about ``eps (|H_k v| + |H| |v|)``
    (``size = |H| |v|``: a product has the rounding of its terms, not of its sum, which is
    small along a near-kernel)."""
    return _EPS * sum(abs(w) * (float(np.linalg.norm(f)) + size) for w, f in zip(wts, vals))


class Problem:
    """A smooth family ``L(x, lam)`` with a critical point ``x0`` at lam = 0 (SPEC 8).

    Parameters
    ----------
    x0 : (P,) array
        A critical point of ``L(., 0)``: ``|grad(x0, 0)| <= x0_tol`` (else an error).
    loss : callable ``(x, lam) -> float``
    grad : callable ``(x, lam) -> (P,)``
    hvp : callable ``(x, lam, v) -> (P,)``, the Hessian applied to v
    grad_lam : callable ``(x, lam) -> (P,)``, ``d/dlam grad L`` at fixed x
    hvp_lam : callable ``(x, lam, v) -> (P,)``, optional; ``(d/dlam H) v`` at fixed x
    d3 : callable ``(x, lam, u, v, w) -> float``, optional; ``D^3L[u, v, w]``
    d3_vec : callable ``(x, lam, u, v) -> (P,)``, optional; the vector ``D^3L[u, v, .]``
    d4 : callable ``(x, lam, u) -> float``, optional; ``D^4L[u, u, u, u]``
    hessian : callable ``(x, lam) -> (P, P)``, optional
    x0_tol : float
        Criticality tolerance on ``|grad(x0, 0)|`` (default ``1e-8 max(1, |grad scale|)``,
        the scale being ``|hvp(x0, 0, x0/|x0|)|``).
    name : str
        A label carried into every result (default ``"problem"``).

    The callables are called with flat float arrays and must return finite values of the stated
    shapes; each supplied one is called once here, at ``(x0, 0)``, and its first result is
    checked, with a clear error naming the callable.
    """

    engine = "problem"

    def __init__(self, x0, *, loss, grad, hvp, grad_lam, hvp_lam=None, d3=None, d3_vec=None, d4=None,
                 hessian=None, x0_tol=None, name: str = "problem"):
        x0 = np.asarray(x0, dtype=float) if not isinstance(x0, np.ndarray) else x0.astype(float)
        if x0.ndim != 1 or x0.size < 1:
            raise NLPTInputError(f"x0: expected a flat array of shape (P,) with P >= 1, got shape {np.shape(x0)}")
        if not np.all(np.isfinite(x0)):
            raise NLPTInputError("x0: expected finite values, got non-finite entries")
        fns = dict(loss=loss, grad=grad, hvp=hvp, grad_lam=grad_lam, hvp_lam=hvp_lam, d3=d3, d3_vec=d3_vec,
                   d4=d4, hessian=hessian)
        for key, fn in fns.items():
            if fn is None and key in _OPTIONAL:
                continue
            if not callable(fn):
                raise NLPTInputError(f"{key}: expected a callable, got {type(fn).__name__}")
        if not isinstance(name, str) or not name:
            raise NLPTInputError(f"name: expected a non-empty string, got {name!r}")
        self._fns = fns
        self._checked: set = set()
        self._fd: dict = {}
        self.size = int(x0.size)
        self.shape = (self.size,)
        self.name = name
        self.x0 = x0
        self._check_x0(x0_tol)

    @classmethod
    def from_jax(cls, loss, x0, **kw) -> "Problem":
        """The family of ``loss(theta, lam)`` with every derivative from JAX, float64
        (:func:`nlpt.autodiff.from_jax`; JAX is an optional extra)."""
        from .autodiff import from_jax

        return from_jax(loss, x0, **kw)

    @classmethod
    def from_torch(cls, loss, x0, **kw) -> "Problem":
        """The family of ``loss(theta, lam)`` with every derivative from PyTorch, float64 on the CPU
        (:func:`nlpt.autodiff.from_torch`; PyTorch is an optional extra)."""
        from .autodiff import from_torch

        return from_torch(loss, x0, **kw)

    # -- the boundary --------------------------------------------------------------------------
    def _call(self, key, *args):
        try:
            out = self._fns[key](*args)
        except NLPTInputError:
            raise
        except Exception as exc:  # a user callable failing is reported as such, naming it
            raise NLPTInputError(f"{key}: the callable raised {type(exc).__name__}: {exc}") from exc
        if key not in self._checked and key in ("loss", "d3", "d4"):
            if isinstance(out, (bool, np.bool_)) or not isinstance(out, (numbers.Real, np.floating, np.ndarray)) \
                    or np.ndim(out) != 0 or not np.isfinite(float(out)):
                raise NLPTInputError(f"{key}: expected a finite real number, got {out!r}")
            self._checked.add(key)
        return out

    def _check_shape(self, key, arr, shape):
        if key in self._checked:
            return
        if arr.shape != shape:
            raise NLPTInputError(f"{key}: expected an array of shape {shape}, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise NLPTInputError(f"{key}: expected finite values, got non-finite entries")
        self._checked.add(key)

    def _vec(self, key, *args) -> np.ndarray:
        out = np.asarray(self._call(key, *args), dtype=float)
        self._check_shape(key, out, (self.size,))
        return out

    def _check_x0(self, x0_tol) -> None:
        pt = self.at(self.x0, 0.0)
        g = pt.grad()
        pt.loss()
        pt.grad_lam()
        nx = float(np.linalg.norm(self.x0))
        probe = self.x0 / nx if nx > 0 else np.full(self.size, 1.0 / np.sqrt(self.size))
        scale = float(np.linalg.norm(pt.hvp(probe)))
        self._probe_optional(pt, probe)
        tol = 1e-8 * max(1.0, scale) if x0_tol is None else as_float("x0_tol", x0_tol, minimum=0.0)
        gn = float(np.linalg.norm(g))
        if gn > tol:
            raise NLPTInputError(
                f"x0: expected a critical point of L(., 0) (|grad L(x0, 0)| <= x0_tol = {tol:.3g}), "
                f"got |grad L(x0, 0)| = {gn:.3e}")

    def _probe_optional(self, pt, probe) -> None:
        """One call of every optional callable supplied, so that a wrong shape or a non-finite
        value is an error here, naming the callable, rather than deep inside an analysis."""
        calls = {"hvp_lam": lambda: pt.hvp_lam(probe), "d3_vec": lambda: pt.d3_vec(probe, probe),
                 "d3": lambda: pt.d3(probe, probe, probe), "d4": lambda: pt.d4(probe), "hessian": pt.hessian}
        for key, call in calls.items():
            if self._fns[key] is not None:
                call()

    def _fd_record(self, key, how, at_h, at_2h):
        """Record ``D(h)`` with its error estimate ``|D(h) - D(2h)| / 3 + R(h)`` (module docstring);
        ``at_h = (D(h), R(h))``, R the rounding term."""
        (d_h, r_h), (d_2h, _) = at_h, at_2h
        err = float(np.linalg.norm(d_h - d_2h)) / 3.0 + float(r_h)
        rel = err / max(float(np.linalg.norm(d_h)), np.finfo(float).tiny)
        rec = self._fd.setdefault(key, {"source": how, "max_error_estimate": 0.0, "max_relative_error_estimate": 0.0,
                                        "calls": 0})
        rec["max_error_estimate"] = max(rec["max_error_estimate"], err)
        rec["max_relative_error_estimate"] = max(rec["max_relative_error_estimate"], min(rel, 1.0))
        rec["calls"] += 1
        return d_h

    def hvp_norm(self) -> float:
        """An estimate of ``|H(x0, 0)|`` (ten steps of the power method from a seeded start,
        cached): the scale of the rounding in the finite-difference error estimates."""
        if getattr(self, "_hvp_norm", None) is None:
            pt = self.at(self.x0, 0.0)
            v = np.random.default_rng(0).standard_normal(self.size)
            est = 0.0
            for _ in range(10):
                v = v / np.linalg.norm(v)
                w = pt.hvp(v)
                est = max(est, float(np.linalg.norm(w)))
                if not est > 0:
                    break
                v = w
            self._hvp_norm = est
        return self._hvp_norm

    def derivative_report(self) -> dict:
        """For every derivative: ``"supplied"``, or how it is approximated with the largest
        error estimates seen so far (absolute and relative, see the module docstring)."""
        out = {}
        for key in ("loss", "grad", "hvp", "grad_lam") + _OPTIONAL:
            if self._fns.get(key) is not None:
                out[key] = {"source": "supplied"}
            elif key == "hessian":
                out[key] = {"source": "columns of hvp" if self.size <= DENSE_MAX else "not formed (matrix-free)"}
            elif key == "d3" and self._fns.get("d3_vec") is not None:
                out[key] = {"source": "<d3_vec(u, v), w>"}
            else:
                out[key] = dict(self._fd.get(key, {"source": {"hvp_lam": "finite differences in lam of hvp",
                                                              "d3_vec": "finite differences in x of hvp",
                                                              "d3": "<d3_vec(u, v), w> (finite differences of hvp)",
                                                              "d4": "second differences in x of u^T hvp u"}[key],
                                                   "calls": 0}))
        return out

    @property
    def approximated(self) -> list:
        """The derivatives approximated by finite differences."""
        return [k for k, v in self.derivative_report().items()
                if v["source"] not in ("supplied", "columns of hvp", "not formed (matrix-free)", "<d3_vec(u, v), w>")]

    # -- evaluation ------------------------------------------------------------------------------
    def at(self, x, lam) -> Point:
        """The family at ``(x, lam)``; x flat of length P (or of shape ``self.shape``)."""
        return Point(self, self.check_x(x), as_lam(lam))

    def check_x(self, x, name: str = "x") -> np.ndarray:
        arr = np.asarray(x, dtype=float)
        if arr.size != self.size:
            raise NLPTInputError(f"{name}: expected {self.size} values (shape {self.shape}), got shape {arr.shape}")
        arr = arr.reshape(self.size)
        if not np.all(np.isfinite(arr)):
            raise NLPTInputError(f"{name}: expected finite values")
        return arr

    def native(self, x: np.ndarray) -> np.ndarray:
        """A point or direction in the family's own shape (``(m, d)`` for the model)."""
        return np.reshape(x, self.shape)

    @property
    def floor(self) -> float:
        """The lowest eigenvalue of the full Hessian at ``(x0, 0)`` (alpha for the model)."""
        if not hasattr(self, "_floor"):
            self._floor = self.spectrum(self.at(self.x0, 0.0), 1, 0.0).min
        return self._floor

    def default_n_eigs(self) -> int:
        """Own eigenvalues tracked per branch point."""
        return min(self.size, 6)

    def expanded_n_eigs(self) -> int:
        """Eigenvalues of the full Hessian (with multiplicity) stored per branch point."""
        return self.default_n_eigs()

    def full_points(self, X: np.ndarray) -> np.ndarray:
        """Branch points (N, P) in the family's full shape (for the model: (N, m, d))."""
        X = np.asarray(X)
        return X.reshape((len(X),) + tuple(self.shape))

    def full_vector(self, x: np.ndarray) -> np.ndarray:
        """A point or direction in the full shape (reduced families expand their coordinates)."""
        return self.native(x)

    def morse_tol(self) -> float:
        """Own and sector eigenvalues below ``-morse_tol`` count toward the Morse index."""
        return 1e-10 * max(abs(self.floor), 1e-300) if self.floor != 0 else 1e-12

    def describe(self) -> dict:
        """What the results say about the family (JSON-able)."""
        return {"engine": self.engine, "name": self.name, "size": self.size,
                "derivatives": self.derivative_report()}

    # -- linear algebra (overridden where the family knows better) ----------------------------
    def eig(self, pt: Point, k: int, X0=None, vectors: bool = True):
        """``(values, vectors or None, complete)``: the k lowest eigenpairs of the own Hessian."""
        H = pt.hessian()
        if H is not None:
            if vectors:
                vals, vecs = np.linalg.eigh(H)
                return vals, vecs, True
            return np.linalg.eigvalsh(H), None, True
        op = _operator(pt)
        v0 = None if X0 is None else np.asarray(X0)[:, 0]
        try:
            vals, vecs = eigsh(op, k=k, which="SA", v0=v0, tol=1e-12, maxiter=100 * self.size)
        except ArpackNoConvergence as exc:
            vals, vecs = exc.eigenvalues, exc.eigenvectors
        order = np.argsort(vals)
        return vals[order], vecs[:, order], False

    def eig_accuracy(self) -> float:
        """Absolute accuracy of an eigenvalue from :meth:`eig` (0 where it is a dense solve)."""
        return 0.0 if self.size <= DENSE_MAX else 1e-12 * max(abs(self.floor), 1e-300)

    def sectors(self, pt: Point) -> list:
        """Transverse sectors at ``pt`` (:class:`Sector`); none for a plain family."""
        return []

    def sector_derivatives(self, pt: Point, tangent: np.ndarray) -> list:
        """``(d/ds matrix, term scale)`` of every sector along ``tangent = (dx, dlam)``."""
        return []

    def spectrum(self, pt: Point, k: int, tol: float, X0=None, vectors: bool = False) -> Spectrum:
        """The stability spectrum at ``pt`` with at least the k lowest own eigenvalues."""
        vals, vecs, complete = self.eig(pt, k, X0, vectors)
        own = int(np.sum(vals < -tol))
        if not complete and own == len(vals):
            own = self._iterative_morse(pt, tol, vals, vecs)
        secs = [(s.label, np.linalg.eigvalsh(s.matrix), s.multiplicity) for s in self.sectors(pt)]
        return Spectrum(vals, vecs, own, tol, complete, secs)

    def _iterative_morse(self, pt, tol, vals, vecs) -> int:
        k = len(vals)
        while k < self.size - 1:
            k = min(2 * k, self.size - 1)
            vals, vecs, _ = self.eig(pt, k, vecs)
            if np.sum(vals < -tol) < k:
                break
        return int(np.sum(vals < -tol))

    def newton_step(self, pt: Point, g: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
        """``dx`` with ``H dx = -g`` (least squares where H is singular)."""
        H = pt.hessian()
        if H is not None:
            try:
                dx = np.linalg.solve(H, -g)
                if np.all(np.isfinite(dx)):
                    return dx
            except np.linalg.LinAlgError:
                pass
            return np.linalg.lstsq(H, -g, rcond=1e-14)[0]
        return minres(_operator(pt), -g, rtol=rtol, maxiter=10 * self.size)[0]

    def bordered_solve(self, pt: Point, c: np.ndarray, f: np.ndarray, f_last: float, rtol: float = 1e-12) -> np.ndarray:
        """Solve ``[[H, d/dlam grad], [c^T]] z = [f, f_last]`` (z of length P + 1); ``rtol`` is the
        relative residual of an iterative solve (a Newton corrector may ask for less)."""
        P = self.size
        gl = pt.grad_lam()
        rhs = np.append(np.ravel(f), f_last)
        H = pt.hessian()
        if H is not None:
            A = np.empty((P + 1, P + 1))
            A[:P, :P], A[:P, P], A[P] = H, gl, c
            try:
                z = np.linalg.solve(A, rhs)
                if np.all(np.isfinite(z)):
                    return z
            except np.linalg.LinAlgError:
                pass
            return np.linalg.lstsq(A, rhs, rcond=1e-14)[0]

        def mv(z):
            return np.append(pt.hvp(z[:P]) + gl * z[P], c @ z)

        op = LinearOperator((P + 1, P + 1), matvec=mv, dtype=float)
        return gmres(op, rhs, rtol=rtol, restart=min(P + 1, 200), maxiter=20)[0]

    def reduced_tensors(self, pt: Point, Phi: np.ndarray, solve, cubic: bool = True):
        """``Q_abc = D^3L[phi_a, phi_b, phi_c]`` and ``C_abcd`` on span(Phi) (SPEC 5).

        Phi has shape (k, P), orthonormal rows; ``solve(B)`` applies ``H^+`` on the complement
        to the columns of B.  Generic: k^2 calls of ``d3_vec`` and, for the fourth derivative,
        polarization of ``d4`` (8 evaluations per entry of the symmetric 4-form).
        """
        k = Phi.shape[0]
        iu = np.triu_indices(k)
        vecs = np.stack([pt.d3_vec(Phi[a], Phi[b]) for a, b in zip(*iu)], axis=1)  # (P, npairs)
        pair = np.zeros((k, k), dtype=int)
        pair[iu] = pair[(iu[1], iu[0])] = np.arange(len(iu[0]))
        Q = np.einsum("pa,cp->ac", vecs, Phi)[pair]  # Q[a, b, c]
        Q = _symmetrize3(Q)
        if not cubic:
            return Q, None
        D4 = _polarized_d4(pt, Phi)
        Gp = vecs.T @ solve(vecs)
        Gp = 0.5 * (Gp + Gp.T)
        G = Gp[pair[:, :, None, None], pair[None, None, :, :]]
        C = D4 - (G + G.transpose(0, 2, 1, 3) + G.transpose(0, 3, 2, 1))
        return Q, C

    def softening(self, rtol: float = 1e-8) -> Softening:
        """The first-order prediction of SPEC 8 at ``(x0, 0)`` (see :class:`Softening`)."""
        return softening_from_protocol(self, rtol)

    def memory_estimate(self, n_eigs: int) -> float:
        """Bytes the engine needs for this family (dense Hessians and eigenvector blocks)."""
        P = self.size
        dense = 3 * (P + 1) ** 2 if P <= DENSE_MAX else 0
        return 8.0 * (dense + 8 * P * max(n_eigs, 1) + 64 * P)


def orient(E: np.ndarray) -> np.ndarray:
    """Columns of E with their largest-magnitude entry positive (a deterministic sign)."""
    E = np.array(E, dtype=float, copy=True)
    for j in range(E.shape[1]):
        if E[np.argmax(np.abs(E[:, j])), j] < 0:
            E[:, j] = -E[:, j]
    return E


def sector_kernel(problem, pt, label: str, zero_tol: float) -> np.ndarray:
    """Oriented orthonormal eigenvectors (columns) of the sector ``label``'s matrix at ``pt`` with
    ``|eigenvalue| <= zero_tol``; the one nearest zero when none is."""
    sec = [s for s in problem.sectors(pt) if s.label == label][0]
    w, V = np.linalg.eigh(sec.matrix)
    near = np.abs(w) <= zero_tol
    if not near.any():
        near[np.argmin(np.abs(w))] = True
    return orient(V[:, near])


def check_problem(problem) -> Problem:
    """``problem`` itself if it is a :class:`Problem`, else NLPTInputError naming the argument."""
    if not isinstance(problem, Problem):
        raise NLPTInputError(f"problem: expected an nlpt.Problem or nlpt.Model, got {type(problem).__name__}")
    return problem


def _operator(pt: Point) -> LinearOperator:
    P = pt.problem.size

    def mv(v):
        return pt.hvp(np.ravel(v))

    def mm(V):
        return pt.hvp(np.asarray(V).T).T

    return LinearOperator((P, P), matvec=mv, rmatvec=mv, matmat=mm, rmatmat=mm, dtype=float)


def _symmetrize3(T):
    perms = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    return sum(T.transpose(p) for p in perms) / 6.0


def _polarized_d4(pt: Point, Phi: np.ndarray) -> np.ndarray:
    """The symmetric 4-form ``D^4L[phi_a, phi_b, phi_c, phi_d]`` from its diagonal ``d4``.

    Polarization: ``F(a,b,c,d) = (1/(4! 2^4)) sum_{e in {+-1}^4} e1 e2 e3 e4 q(e1 a + e2 b +
    e3 c + e4 d)`` with ``q(v) = F(v, v, v, v)``; q is even, so the 16 sign patterns pair up and
    the 8 with ``e1 = +1`` suffice (twice their sum).
    """
    k = Phi.shape[0]
    out = np.zeros((k, k, k, k))
    signs = [(1, s2, s3, s4) for s2 in (1, -1) for s3 in (1, -1) for s4 in (1, -1)]
    cache = {}
    for a in range(k):
        for b in range(a, k):
            for c in range(b, k):
                for d in range(c, k):
                    total = 0.0
                    for s in signs:
                        v = s[0] * Phi[a] + s[1] * Phi[b] + s[2] * Phi[c] + s[3] * Phi[d]
                        key = v.tobytes()
                        if key not in cache:
                            cache[key] = pt.d4(v)
                        total += s[1] * s[2] * s[3] * cache[key]
                    val = 2.0 * total / (24.0 * 16.0)
                    for p in set(_perms4(a, b, c, d)):
                        out[p] = val
    return out


def _perms4(a, b, c, d):
    return itertools.permutations((a, b, c, d))


def softening_from_protocol(problem: Problem, rtol: float = 1e-8) -> Softening:
    """SPEC 8 from the protocol alone: the slope matrix on the lowest eigenspace at ``(x0, 0)``.

    Own directions: ``S_ab = phi_a^T (dH/dlam) phi_b + D^3L[phi_a, phi_b, du/dlam]``.  Transverse
    sectors whose eigenvalues sit at the floor contribute the eigenvalues of their derivative
    along ``(du/dlam, 1)`` restricted to the floor eigenvectors, each with the sector's
    multiplicity.
    """
    pt = problem.at(problem.x0, 0.0)
    k = min(problem.size, max(problem.default_n_eigs(), 1))
    vals, vecs, complete = problem.eig(pt, k, None, True)
    secs = problem.sectors(pt)
    sec_eigs = [np.linalg.eigh(s.matrix) for s in secs]
    floor = min([float(vals[0])] + [float(e[0][0]) for e in sec_eigs])
    scale_eig = max([abs(floor)] + [float(np.max(np.abs(vals)))] + [float(np.max(np.abs(e[0]))) for e in sec_eigs])
    clus = rtol * max(scale_eig, np.finfo(float).tiny)
    while not complete and np.all(vals <= floor + clus) and len(vals) < problem.size - 1:
        vals, vecs, complete = problem.eig(pt, min(2 * len(vals), problem.size - 1), vecs, True)
    gl = pt.grad_lam()
    du = problem.newton_step(pt, gl)  # H du = -grad_lam
    own = np.flatnonzero(np.abs(vals - floor) <= clus)
    cands, scale, Phi = [], 0.0, None
    if own.size:
        Phi = vecs[:, own].T
        dH = pt.hvp_lam(Phi)
        mixed = np.stack([pt.d3_vec(Phi[a], du) for a in range(len(own))])
        S = Phi @ dH.T + Phi @ mixed.T
        S = 0.5 * (S + S.T)
        w, U = np.linalg.eigh(S)
        cands += [(float(x), 1) for x in w]
        Phi = U.T @ Phi
        scale = max(scale, float(np.max(np.linalg.norm(dH, axis=1) + np.linalg.norm(mixed, axis=1))))
    derivs = problem.sector_derivatives(pt, np.append(du, 1.0)) if secs else []
    for s, (ev, EV), (D, term_scale) in zip(secs, sec_eigs, derivs):
        idx = np.flatnonzero(np.abs(ev - floor) <= clus)
        if idx.size:
            E = EV[:, idx]
            w = np.linalg.eigvalsh(E.T @ D @ E)
            cands += [(float(x), s.multiplicity) for x in w]
            scale = max(scale, term_scale)
    if not cands:
        raise NLPTInputError("problem: the lowest eigenspace at (x0, 0) was not found (no eigenvalue at the floor)")
    rate = min(c[0] for c in cands)
    tol_rate = rtol * max(max(abs(c[0]) for c in cands), np.finfo(float).tiny)
    mult = sum(mlt for v, mlt in cands if v <= rate + tol_rate)
    pred, roundoff, note = predict(floor, rate, scale)
    eta = float(np.linalg.norm(Phi @ gl)) if Phi is not None else 0.0
    dirs = None if Phi is None else Phi[: sum(1 for v, mlt in cands[: len(own)] if v <= rate + tol_rate)]
    return Softening(rate, int(mult), floor, pred, eta, "protocol (SPEC 8)", scale, dirs, roundoff, note)
