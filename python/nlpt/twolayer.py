"""The two-layer model as a :class:`nlpt.Problem`: the full engine (SPEC 1-5).

:class:`ModelProblem` is the family ``L_lam(W)`` of :class:`nlpt.Model` in its full coordinates
``x = W.ravel()`` (P = m d).  It implements the protocol with the model's closed-form
derivatives (:mod:`nlpt.model`, O(n m d) per product) and its tuned linear algebra: dense LAPACK
up to :data:`nlpt.spectral.DENSE_MAX` parameters, above that LOBPCG / MINRES / GMRES with the
preconditioners of :mod:`nlpt.spectral` -- no P x P array.  The softening prediction is the
closed form (uniform a) or the O(m d^3) secular solve of :mod:`nlpt.softening`, the same
quantity as the protocol's generic SPEC 8 formula (the test suite holds them equal).

It is the engine for second-layer weights without repeated values and the reference for the
group-reduced engine (:mod:`nlpt.reduced`) in the tests.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from .linear import critical_point
from .model import Model, check_model
from .newton import minres_step
from .problem import Point, Problem, Softening, predict
from .softening import imperfection, softening_rate
from .spectral import DENSE_MAX, BlockInverse, _block_affordable, h0_preconditioner, lowest_eigenpairs, morse_index

__all__ = ["ModelProblem", "MORSE_TOL", "model_morse_tol", "max_group_size", "memory_available"]

#: Absolute Morse tolerance of the model's engines, capped at 1e-7 alpha (see model_morse_tol).
MORSE_TOL = 1e-12


def model_morse_tol(alpha: float) -> float:
    """``min(1e-12, 1e-7 alpha)``: above the eigensolvers' rounding for the package's sizes, and
    below the eigenvalue scale alpha of the model whatever alpha is (alpha = 5e-11 at m = 1e6)."""
    return min(MORSE_TOL, 1e-7 * alpha) if alpha > 0 else MORSE_TOL


def max_group_size(a: np.ndarray) -> int:
    """The largest number of equal entries of a."""
    _, counts = np.unique(a, return_counts=True)
    return int(counts.max())


def memory_available() -> float:
    """Bytes of memory available (``MemAvailable`` of /proc/meminfo; 8 GiB where unreadable)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return 8.0 * 2**30


class EvaluationPoint(Point):
    """A point whose family is an :class:`nlpt.Evaluation` ``self.ev`` seen through a linear change
    of coordinates: ``_nat`` maps flat protocol vectors to the evaluation's ``(..., rows, d)``
    arrays, ``_out`` maps the evaluation's gradient-like arrays back (the transpose of ``_nat``).
    The full model (:class:`ModelPoint`) and the group-reduced family
    (:class:`nlpt.reduced.ReducedPoint`) are the two."""

    def _nat(self, v):
        raise NotImplementedError

    def _out(self, arr, shape):
        raise NotImplementedError

    def loss(self) -> float:
        return self.ev.loss()

    def grad(self) -> np.ndarray:
        if self._grad is None:
            self._grad = self._out(self.ev.grad(), (-1,))
        return self._grad

    def hvp(self, V):
        V = np.asarray(V, dtype=float)
        return self._out(self.ev.hvp(self._nat(V)), V.shape)

    def grad_lam(self) -> np.ndarray:
        return self._out(self.ev.grad_lam(), (-1,))

    def hvp_lam(self, V):
        V = np.asarray(V, dtype=float)
        return self._out(self.ev.hvp_lam(self._nat(V)), V.shape)

    def d3_vec(self, u, v) -> np.ndarray:
        return self._out(self.ev.d3_vec(self._nat(u), self._nat(v)), (-1,))

    def d3(self, u, v, w) -> float:
        return self.ev.d3(self._nat(u), self._nat(v), self._nat(w))

    def d4(self, u) -> float:
        return float(self.ev.directional(self._nat(u), 4)[4])


class ModelPoint(EvaluationPoint):
    """The model at ``(W, lam)``: an :class:`nlpt.Evaluation` behind the flat protocol."""

    def __init__(self, problem: "ModelProblem", x: np.ndarray, lam: float):
        super().__init__(problem, x, lam)
        self.ev = problem.model.at(problem.native(x), lam)

    def _nat(self, v):
        mdl = self.problem.model
        return np.reshape(v, np.shape(v)[:-1] + (mdl.m, mdl.d))

    def _out(self, arr, shape):
        return np.reshape(arr, shape)

    def hessian(self):
        """The dense Hessian below DENSE_MAX (formed once per point; callers must not modify it)."""
        if self.problem.size > DENSE_MAX:
            return None
        if getattr(self, "_H", None) is None:
            self._H = self.ev.hessian()
        return self._H


class ModelProblem(Problem):
    """The two-layer model in full coordinates (see the module docstring).

    Parameters
    ----------
    model : Model
    W0 : (m, d) array, optional
        The critical point at lam = 0 (default ``W*`` of SPEC 3, the minimum-norm factorisation).
    """

    engine = "full"

    def __init__(self, model: Model, W0=None):
        model = check_model(model)
        self.model = model
        self.size = model.size
        self.shape = (model.m, model.d)
        self.name = "two-layer model"
        self._fd = {}
        self.x0 = (critical_point(model)[1] if W0 is None else model.check_W(W0, "W0")).ravel()

    def at(self, x, lam) -> ModelPoint:
        return ModelPoint(self, self.check_x(x), lam)

    @property
    def floor(self) -> float:
        return self.model.alpha

    def derivative_report(self) -> dict:
        return {k: {"source": "closed form"} for k in
                ("loss", "grad", "hvp", "grad_lam", "hvp_lam", "d3", "d3_vec", "d4", "hessian")}

    def describe(self) -> dict:
        mdl = self.model
        return {"engine": self.engine, "name": self.name, "size": self.size, "m": mdl.m, "d": mdl.d,
                "n": mdl.n, "unknowns": self.size}

    def default_n_eigs(self) -> int:
        """Dense sizes: ``(m-1) d + 1`` capped at ``m d`` -- the whole floor cluster of H_0 plus
        one.  Matrix-free: the largest group of equal a_j minus one (the size of a symmetric
        cluster) plus 4, at least 6, capped at ``m d - 2``."""
        m, d, P = self.model.m, self.model.d, self.size
        if P <= DENSE_MAX:
            return min(P, (m - 1) * d + 1)
        return max(1, min(P - 2, max(6, max_group_size(self.model.a) - 1 + 4)))

    def morse_tol(self) -> float:
        return model_morse_tol(self.model.alpha)

    # -- linear algebra --------------------------------------------------------------------
    def eig(self, pt: ModelPoint, k: int, X0=None, vectors: bool = True):
        if self.size <= DENSE_MAX:  # the dense Hessian: Problem.eig's LAPACK path
            return super().eig(pt, k, X0, vectors)
        vals, vecs = lowest_eigenpairs(pt.ev, min(k, self.size - 2), X0=X0, tol=self.eig_rtol())
        return vals, vecs, False

    def eig_rtol(self) -> float:
        """Relative residual tolerance of the matrix-free eigensolver: the eigenvalues to a tenth
        of the Morse tolerance (Bauer-Fike), ``max(1e-10, 0.1 morse_tol / ||H_0||)``."""
        from .spectral import _h0_norm

        return max(1e-10, 0.1 * self.morse_tol() / _h0_norm(self.model))

    def eig_accuracy(self) -> float:
        """Absolute accuracy of an eigenvalue from :meth:`eig` (0 on the dense path)."""
        if self.size <= DENSE_MAX:
            return 0.0
        from .spectral import _h0_norm

        return self.eig_rtol() * _h0_norm(self.model)

    def _iterative_morse(self, pt, tol, vals, vecs) -> int:
        return morse_index(pt.ev, tol=tol)

    def newton_step(self, pt: ModelPoint, g: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
        if self.size <= DENSE_MAX:
            return super().newton_step(pt, g, rtol)
        return minres_step(pt.ev, self.native(g), rtol=rtol)[0].ravel()

    def bordered_solve(self, pt: ModelPoint, c, f, f_last, rtol: float = 1e-12) -> np.ndarray:
        if self.size <= DENSE_MAX:
            return super().bordered_solve(pt, c, f, f_last)
        # GMRES on the bordered operator [[H, gl], [c^T]], right-preconditioned by the bordered
        # (Schur complement) solve with an approximate inverse T of H:
        #   a = T f,  b = T gl,  z_lam = (f_last - c_x . a) / (c_lam - c_x . b),  z_x = a - z_lam b.
        # T is the per-neuron operator (H - sigma I)^{-1} of nlpt.spectral.BlockInverse (rule
        # "solve": sigma = min(0, 2 lower), so T = H^{-1} up to rounding while the block spectra
        # stay positive) where its set-up fits the budgets, else the lam = 0 operator.  With T
        # exact the preconditioned operator is the identity, and next to a fold -- where H is
        # nearly singular but the bordered matrix is not -- GMRES mends the rounding in a few
        # iterations (a diagonal preconditioner diag(T, 1) needed thousands of products there).
        P = self.size
        gl = pt.grad_lam()
        op = pt.ev.operator()
        T, b = self._bordered_preconditioner(pt)
        cx, cl = np.asarray(c[:P], dtype=float), float(c[P])
        den = cl - cx @ b

        def prec(z):
            a = T @ z[:P]
            if den == 0.0 or not np.isfinite(den):
                return np.append(a, z[P])
            zl = (z[P] - cx @ a) / den
            return np.append(a - zl * b, zl)

        A = LinearOperator((P + 1, P + 1), matvec=lambda z: np.append(op @ z[:P] + gl * z[P], c @ z), dtype=float)
        M = LinearOperator((P + 1, P + 1), matvec=prec, dtype=float)
        rhs = np.append(np.ravel(f), f_last)
        return gmres(A, rhs, M=M, rtol=rtol, restart=min(P + 1, 100), maxiter=10)[0]

    def _bordered_preconditioner(self, pt: ModelPoint):
        """(T, T gl) at this point.  T is set up once per point, and a Newton corrector's later
        iterates, which move by a tiny fraction of |x|, reuse the T of the point they came from
        (its set-up costs O(n^2 P), several Hessian-vector products' worth; GMRES absorbs the
        difference in an iteration or two)."""
        if getattr(pt, "_pre", None) is None:
            last = getattr(self, "_last_pre", None)
            if last is not None and _near(last[0], last[1], pt.x, pt.lam):
                T = last[2]
            else:
                T = (BlockInverse(pt.ev, None, rule="solve") if _block_affordable(self.model)
                     else h0_preconditioner(pt.ev))
                self._last_pre = (pt.x.copy(), pt.lam, T)
            pt._pre = (T, T @ pt.grad_lam())
        return pt._pre

    def reduced_tensors(self, pt: ModelPoint, Phi: np.ndarray, solve, cubic: bool = True):
        from .normal_form import model_reduced_tensors

        mdl = self.model
        return model_reduced_tensors(pt.ev, Phi.reshape(-1, mdl.m, mdl.d), solve, cubic=cubic)

    def softening(self, rtol: float = 1e-8) -> Softening:
        """SPEC 4 by the closed form / secular solve, with the round-off floor of SPEC 8's
        :class:`nlpt.problem.Softening`: the size of the terms of ``M_j`` is
        ``max_j (|a_j|/m) (1/n) sum_i |r_i sigma''(z*_ij)| |x_i|^2``."""
        mdl = self.model
        W = self.native(self.x0)
        sr = softening_rate(mdl, W, rtol=rtol)
        eta = imperfection(mdl, W)
        scale = _softening_scale(mdl, W)
        pred, roundoff, note = predict(mdl.alpha, sr.rate, scale)
        return Softening(sr.rate, sr.multiplicity, mdl.alpha, pred, eta, sr.method, scale, None, roundoff, note)

    def memory_estimate(self, n_eigs: int) -> float:
        """Bytes: about 16 n x m arrays per evaluation (pre-activations, sigma's and the homotopy's
        derivatives, their lam-derivatives, products with c, HVP work) with up to three
        evaluations alive at once (the accepted point, the trial point, the point a reused
        preconditioner came from) -- measured 8.8 GB at m = 1e5, n = 200 with an earlier version
        that kept a fourth; eigenvector blocks and preconditioner work (about 12 P k); the
        per-neuron blocks; the dense Hessian and bordered matrices below DENSE_MAX; 64 MB of HVP
        work arrays."""
        mdl = self.model
        P = self.size
        dense = 3 * (P + 1) ** 2 if P <= DENSE_MAX else 0
        return 8.0 * (48 * mdl.n * mdl.m + 12 * P * max(n_eigs, 1) + 2 * mdl.m * mdl.d**2 + dense) + 2**26


def _near(x0, lam0, x, lam, rtol: float = 1e-4) -> bool:
    """Whether (x, lam) lies within rtol (relative) of (x0, lam0): a Newton iterate of it."""
    scale = max(1.0, float(np.linalg.norm(x0)))
    return float(np.linalg.norm(x - x0)) <= rtol * scale and abs(lam - lam0) <= rtol * max(abs(lam0), 1e-3)


def _softening_scale(model: Model, W: np.ndarray) -> float:
    r = model.at(W, 0.0).r
    s2 = model.activation.derivs(model.X @ W.T, 2)[2]  # (n, m)
    xx = np.sum(model.X * model.X, axis=1)
    per_row = np.abs(model.a / model.m) * ((np.abs(r)[:, None] * np.abs(s2)) * xx[:, None]).mean(axis=0)
    return float(np.max(per_row))
