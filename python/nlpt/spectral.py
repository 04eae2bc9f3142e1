"""Lowest eigenpairs of the Hessian and Morse indices, dense or matrix-free (SPEC 3, 4, 5).

Two ways to the k lowest eigenpairs of ``H = Hess L_lam(W)`` (P = m d parameters):

* ``method="dense"`` forms H (a P x P array) and calls LAPACK ``syevr`` for the k lowest pairs.
* ``method="lobpcg"`` (alias ``"matrix-free"``) runs LOBPCG on the Hessian-vector product of
  SPEC 2 (O(n m d) per product, O(P k) memory; no P x P array), preconditioned by one of two
  symmetric positive definite operators (below).  ``method="lanczos"`` runs ARPACK's Lanczos
  (``eigsh``) on the same product, without preconditioner; it is also the fallback when LOBPCG
  stops short of the tolerance.
* ``method="auto"`` is dense for P <= :data:`DENSE_MAX` and LOBPCG above.

**Preconditioner "block" (default when affordable).**  SPEC 2 splits the Hessian at the current
point into per-neuron blocks plus the Gauss-Newton coupling of rank <= n,

    H = A + B^T B / n,   A = blockdiag(A_j),   A_j = (1/n) sum_i r_i c_j s''(z_ij) x_i x_i^T + alpha I,

with ``B[i, (j, :)] = c_j s'(z_ij) x_i^T``.  :func:`block_inverse` applies ``(H - sigma I)^{-1}``
exactly by the Woodbury identity (m eigendecompositions of d x d blocks, one n x n Cholesky
factor; set-up O(n^2 P + n m d^2 + m d^3), each application about one HVP).  Because B^T B is
positive semidefinite, ``lower = min_j lambda_min(A_j)`` bounds the spectrum of H from below
(Weyl), and for ``sigma < lower`` the operator is SPD.  The default sigma sits just below lower
(``lower - max(1e-6 (median_j lambda_min(A_j) - lower), 1e-8 ||H_0||)``): a shift-and-invert
preconditioner aimed at the lowest eigenvalues.  This is what non-uniform a needs: there the
lowest eigenvalues come one per neuron (about ``alpha + c_j mu_min(M_j)``), tightly clustered,
and the blocks A_j resolve them, where the lam = 0 operator below (a scalar on K) cannot.  It
is used while ``n^2 P <= BLOCK_FLOPS`` (6e10) and ``m d^2 <= BLOCK_MEMORY`` (2^25 doubles)
(``preconditioner="auto"``); beyond that (large n, or large d at large m), "h0".

**Preconditioner "h0" (the lam = 0 structure).**  At lam = 0 (SPEC 3)
``H_0 = (1/m^2)(a a^T) (x) Sigma + alpha I``.  Writing ``V = V_K + a_hat b^T`` with
``a_hat = a/|a|``, ``b = V^T a_hat`` and ``V_K`` in ``K = {V : sum_j a_j v_j = 0}``, ``H_0`` acts
as ``alpha`` on K and as ``alpha I + (|a|^2/m^2) Sigma`` on ``b``; hence, for sigma outside the
spectrum,

    (H_0 - sigma I)^{-1} V = V_K / (alpha - sigma)
                             + a_hat [((alpha - sigma) I + (|a|^2/m^2) Sigma)^{-1} b]^T,

applied in O(m d + d^2) from one eigendecomposition of Sigma (d x d, cached per model); see
:func:`h0_inverse`.  The preconditioner is ``T = (H_0 + (tau - alpha) I)^{-1}``: symmetric
positive definite for every tau > 0, equal to ``H_0^{-1}`` when tau = alpha.  The floor tau is
``max(alpha, ||P_K H v||)`` over two seeded unit vectors v of K (the scale of H on K), and never
below ``1e-8 ||H_0||``.  It removes the d stiff directions ``span(a) (x) R^d`` exactly at
lam = 0 and approximately for moderate lam, and costs nothing to set up; with uniform a the
lowest cluster is exactly (m-1)-fold (S_m symmetry) and it suffices, with non-uniform a LOBPCG
needs hundreds to thousands of products with it.

**Start block.**  The lowest eigenvalues live in K at small lam (SPEC 4), so the default initial
block is drawn from K (seeded, deterministic) with a 1% component outside K, so that no
H-invariant subspace can trap it.  Along a continuation, pass the previous eigenvectors as
``X0`` (warm start).

**Choice of DENSE_MAX = 1500.**  Measured with ``benchmarks/bench.py`` on 2 cores (table in
``benchmarks/RESULTS.md``), time to lambda_min at crossing-like points, n = 200, d = 3: with the
block preconditioner LOBPCG needs 13-52 products for uniform and random a (cold start, with
guard vectors), and the matrix-free path is faster than LAPACK from P ~ 1000-3000 on.  1500 keeps every dense solve below
~0.5 s and 20 MB (beyond it, dense time grows like P^3 and memory like P^2) and the paper's
widths (P <= 300) on the dense path, which returns every eigenpair at once and has no
convergence test to fail.  Above DENSE_MAX no P x P array is formed anywhere on the
matrix-free path (spectra, Morse index, Newton's linear solve).

**Tolerance.**  A pair (theta, x), |x| = 1, is converged when
``||H x - theta x|| <= tol * ||H_0||`` with ``||H_0|| = alpha + |a|^2 mu_max(Sigma)/m^2``; then
``|theta - lambda| <= tol ||H_0||`` for some eigenvalue lambda (Bauer-Fike for symmetric H), and
typically ``(tol ||H_0||)^2 / gap``.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh, lobpcg

from ._validate import NLPTInputError, as_float, as_int
from .model import Evaluation, Model, check_model

__all__ = [
    "DENSE_MAX",
    "EigenResult",
    "eigensolve",
    "lowest_eigenpairs",
    "morse_index",
    "h0_inverse",
    "h0_preconditioner",
    "kernel_block",
    "block_inverse",
    "BlockInverse",
    "BLOCK_FLOPS",
    "BLOCK_MEMORY",
]

#: Above this many parameters P = m d, ``method="auto"`` is matrix-free (see module docstring).
DENSE_MAX = 1500

_METHODS = ("auto", "dense", "matrix-free", "lobpcg", "lanczos")
_PRECONDITIONERS = ("auto", "block", "h0")


@dataclass
class EigenResult:
    """The k lowest eigenpairs of H and how they were obtained.

    ``values`` ascending, ``vectors`` (P x k) orthonormal columns (flat ``W.ravel()`` layout),
    ``residuals[i] = ||H x_i - values[i] x_i||``; ``converged`` is True when every residual is at
    most ``tolerance`` (absolute, = tol * ||H_0||).  ``products`` counts Hessian-vector products.
    """

    values: np.ndarray
    vectors: np.ndarray = field(repr=False)
    residuals: np.ndarray
    converged: bool
    method: str
    products: int
    tolerance: float
    message: str
    preconditioner: str = ""


# -- the lam = 0 structure ------------------------------------------------------------------

_STRUCTURE: "weakref.WeakKeyDictionary[Model, tuple]" = weakref.WeakKeyDictionary()


def _structure(model: Model):
    """(a_hat or None, s = |a|^2/m^2, U, mu) with Sigma = U diag(mu) U^T; cached per model."""
    got = _STRUCTURE.get(model)
    if got is None:
        a = model.a
        na2 = float(a @ a)
        mu, U = np.linalg.eigh(model.X.T @ model.X / model.n)
        mu = np.clip(mu, 0.0, None)
        ahat = a / np.sqrt(na2) if na2 > 0 else None
        got = (ahat, na2 / model.m**2, U, mu)
        _STRUCTURE[model] = got
    return got


def _h0_norm(model: Model) -> float:
    _, s, _, mu = _structure(model)
    return model.alpha + s * float(mu[-1])


def _apply_h0_inverse(model: Model, shift: float, Y: np.ndarray) -> np.ndarray:
    """(H_0 - (alpha - shift) I)^{-1} on a batch Y (k, m, d): V_K/shift + a_hat (D b)^T."""
    ahat, s, U, mu = _structure(model)
    if ahat is None:
        return Y / shift
    b = np.einsum("m,kmd->kd", ahat, Y)
    stiff = ahat[None, :, None] * (((b @ U) / (shift + s * mu)) @ U.T)[:, None, :]
    if model.m == 1:  # K = {0}: V is all stiff part (and shift may be 0 here)
        return stiff
    out = Y - ahat[None, :, None] * b[:, None, :]
    out /= shift
    out += stiff
    return out


def _as_operator(model: Model, shift: float) -> LinearOperator:
    m, d = model.m, model.d
    P = m * d

    def matmat(Xs):
        Xs = np.asarray(Xs, dtype=float)
        k = Xs.shape[1]
        return _apply_h0_inverse(model, shift, Xs.T.reshape(k, m, d)).reshape(k, P).T

    def matvec(x):
        return _apply_h0_inverse(model, shift, np.reshape(x, (1, m, d))).ravel()

    return LinearOperator((P, P), matvec=matvec, rmatvec=matvec, matmat=matmat, rmatmat=matmat, dtype=float)


def h0_inverse(model: Model, sigma: float = 0.0) -> LinearOperator:
    """``(H_0 - sigma I)^{-1}`` as a LinearOperator on flat vectors, from the closed form (SPEC 3).

    On K it is ``1/(alpha - sigma)``; on ``span(a) (x) R^d`` it is
    ``(alpha - sigma + (|a|^2/m^2) Sigma)^{-1}``.  Raises NLPTInputError when sigma is an
    eigenvalue of H_0 (to relative precision 1e-14).
    """
    check_model(model)
    sigma = as_float("sigma", sigma)
    ahat, s, _, mu = _structure(model)
    shift = model.alpha - sigma
    eig = [model.alpha] if (ahat is None or model.m > 1 or np.any(mu == 0.0)) else []
    if ahat is not None:
        eig = eig + list(model.alpha + s * mu)
    scale = max(1.0, abs(sigma), _h0_norm(model))
    if min(abs(e - sigma) for e in eig) <= 1e-14 * scale:
        raise NLPTInputError(f"sigma: expected a number outside the spectrum of H_0, got {sigma!r} (an eigenvalue)")
    return _as_operator(model, shift)


def kernel_block(model: Model, k: int, seed: int = 0, outside: float = 0.01) -> np.ndarray:
    """A seeded (P x k) block with columns from K = {V : sum_j a_j v_j = 0} (SPEC 3).

    Gaussian columns projected onto K, plus ``outside`` times their component orthogonal to K;
    orthonormalised.  When k exceeds dim K (or K = {0}) the Gaussian block is used unprojected.
    """
    m, d = model.m, model.d
    P = m * d
    rng = np.random.default_rng(seed)
    R = rng.standard_normal((k, m, d))
    ahat = _structure(model)[0]
    if ahat is not None and k <= (m - 1) * d:
        b = np.einsum("m,kmd->kd", ahat, R)
        R = R - (1.0 - outside) * ahat[None, :, None] * b[:, None, :]
    Q, _ = np.linalg.qr(R.reshape(k, P).T)
    return Q


def _floor(ev: Evaluation, seed: int = 12345) -> float:
    """tau = max(alpha, ||P_K H v|| over two unit v in K, 1e-8 ||H_0||) (see module docstring)."""
    model = ev.model
    top = _h0_norm(model)
    ahat = _structure(model)[0]
    est = 0.0
    if ahat is None or model.m > 1:
        V = kernel_block(model, min(2, max(1, (model.m - 1) * model.d)), seed=seed, outside=0.0)
        k = V.shape[1]
        HV = ev.hvp(V.T.reshape(k, model.m, model.d))
        if ahat is not None:
            HV = HV - ahat[None, :, None] * np.einsum("m,kmd->kd", ahat, HV)[:, None, :]
        est = float(np.sqrt(np.mean(np.sum(HV.reshape(k, -1) ** 2, axis=1))))
    tau = max(model.alpha, est, 1e-8 * top)
    return tau if tau > 0 else 1.0


def h0_preconditioner(ev: Evaluation, tau: float | None = None) -> LinearOperator:
    """The SPD preconditioner ``(H_0 + (tau - alpha) I)^{-1}`` (tau > 0; default: see module doc)."""
    tau = _floor(ev) if tau is None else as_float("tau", tau, minimum=0.0, strict=True)
    return _as_operator(ev.model, tau)


# -- the per-neuron block structure at the current point ------------------------------------

#: Budgets of :func:`block_inverse` under ``preconditioner="auto"``: the n x n capacitance
#: costs n^2 P flops to form, the per-neuron eigenvectors m d^2 doubles to keep.
BLOCK_FLOPS = 6e10
BLOCK_MEMORY = 2**25
_DELTA = 1e-6


class BlockInverse(LinearOperator):
    """``(H - sigma I)^{-1}`` from the splitting ``H = A + B^T B / n`` (see :func:`block_inverse`).

    Attributes: ``sigma`` (the shift), ``lower`` (= min_j lambda_min(A_j), a lower bound of the
    spectrum of H), ``blocks`` (m, d, d) the A_j.
    """

    def __init__(self, ev: Evaluation, sigma: float | None, rule: str = "eig"):
        mdl = ev.model
        X, n, m, d = mdl.X, mdl.n, mdl.m, mdl.d
        P = m * d
        super().__init__(float, (P, P))
        # Only what apply() needs: holding the whole Evaluation would keep its n x m arrays alive
        # for as long as the operator is reused (e.g. by a Newton corrector's later iterates).
        self.model = mdl
        self._CS1 = ev.CS1
        # A_j = (1/n) sum_i r_i c_j s''_ij x_i x_i^T + alpha I, all j in one product with the
        # (n, d^2) array of the x_i x_i^T.
        XX = (X[:, :, None] * X[:, None, :]).reshape(n, d * d)
        A = (ev.RCS2.T @ XX).reshape(m, d, d)
        A /= n
        A[:, np.arange(d), np.arange(d)] += mdl.alpha
        self.blocks = A
        e, Q = np.linalg.eigh(A)
        self.lower = float(e[:, 0].min())
        top = _h0_norm(mdl)
        if sigma is None:
            if rule == "eig":
                # Just below the lowest block eigenvalue: the lowest eigenvalues of H sit
                # between lower and the next block eigenvalues, so (lambda_1 - sigma) /
                # (lambda_2 - sigma) is small and inverse iteration converges fast.
                spread = float(np.median(e[:, 0])) - self.lower
                delta = max(_DELTA * spread, 1e-8 * top, 1e-300)
                sigma = self.lower - delta
            else:
                # Linear solves: with lower < 0, sigma = 2 lower maps the spectrum of T H,
                # lambda / (lambda - sigma), into [-1, 1); with lower > 0, sigma ~ 0 and T ~ H^{-1}.
                sigma = min(0.0, 2.0 * self.lower) - max(1e-10 * top, 1e-300)
        self.sigma = float(sigma)
        g = e - self.sigma
        if np.any(g == 0.0):
            raise NLPTInputError(f"sigma: expected a number outside the spectra of the blocks A_j, got {sigma!r}")
        self._Q, self._g = Q, 1.0 / g
        self._spd = self.sigma < self.lower
        C = n * np.eye(n)
        CS1 = ev.CS1
        ch = max(1, (1 << 22) // (n * d))
        for s in range(0, m, ch):
            c = min(ch, m - s)
            # F = [c_j s'_ij X Q_j |g_j|^{1/2}] (n, c d): C = n I + F diag(sign g) F^T.
            F = X @ Q[s : s + c].transpose(1, 0, 2).reshape(d, c * d)
            F *= np.sqrt(np.abs(self._g[s : s + c])).reshape(1, c * d)
            F3 = F.reshape(n, c, d)
            F3 *= CS1[:, s : s + c, None]
            C += F @ F.T if self._spd else (F * np.sign(self._g[s : s + c]).reshape(1, c * d)) @ F.T
        self._fac = scipy.linalg.cho_factor(C) if self._spd else scipy.linalg.lu_factor(C)

    def _ainv(self, V: np.ndarray) -> np.ndarray:
        """(A - sigma I)^{-1} on a batch (k, m, d), block by block."""
        t = np.einsum("kma,mab->kmb", V, self._Q)  # coordinates in each eigenbasis Q_j
        t *= self._g
        return np.einsum("kmb,mab->kma", t, self._Q)

    def apply(self, V: np.ndarray) -> np.ndarray:
        """Woodbury: Y - (A - sigma)^{-1} B^T C^{-1} B Y with Y = (A - sigma)^{-1} V."""
        X, CS1 = self.model.X, self._CS1
        n, m, d = self.model.n, self.model.m, self.model.d
        Y = self._ainv(V)
        k = Y.shape[0]
        # B y: u_i = sum_j c_j s'_ij (y_j . x_i) = sum_a x_ia (CS1 Y[:, a])_i, one (n, m) x (m, k d)
        # product for the whole batch (no n x m temporaries).
        U = CS1 @ Y.transpose(1, 0, 2).reshape(m, k * d)
        u = np.einsum("ikd,id->ik", U.reshape(n, k, d), X)
        w = scipy.linalg.cho_solve(self._fac, u) if self._spd else scipy.linalg.lu_solve(self._fac, u)
        # B^T w: (B^T w)_j = sum_i c_j s'_ij w_i x_i = (CS1^T [w x])_j.
        Z = CS1.T @ (w[:, :, None] * X[:, None, :]).reshape(n, k * d)
        return Y - self._ainv(np.ascontiguousarray(Z.reshape(m, k, d).transpose(1, 0, 2)))

    def _matvec(self, x):
        m, d = self.model.m, self.model.d
        return self.apply(np.reshape(np.asarray(x, dtype=float), (1, m, d))).ravel()

    def _matmat(self, Xs):
        m, d = self.model.m, self.model.d
        Xs = np.asarray(Xs, dtype=float)
        k = Xs.shape[1]
        return self.apply(np.ascontiguousarray(Xs.T).reshape(k, m, d)).reshape(k, m * d).T

    def _rmatvec(self, x):
        return self._matvec(x)

    def _adjoint(self):
        return self


def block_inverse(ev: Evaluation, sigma: float | None = None) -> BlockInverse:
    """``(H - sigma I)^{-1}`` at the current point, exactly, in O(n^2 P + n m d^2 + m d^3).

    SPEC 2 splits the Hessian into the per-neuron blocks and the rank <= n Gauss-Newton part:

        H = A + B^T B / n,   A = blockdiag(A_j),
        A_j = (1/n) sum_i r_i c_j s''(z_ij) x_i x_i^T + alpha I,   B[i, (j, :)] = c_j s'(z_ij) x_i^T.

    With ``A_j - sigma I = Q_j diag(e_j - sigma) Q_j^T`` (m eigendecompositions of d x d blocks)
    the Woodbury identity gives

        (H - sigma I)^{-1} = (A - sigma)^{-1} - (A - sigma)^{-1} B^T C^{-1} B (A - sigma)^{-1},
        C = n I_n + B (A - sigma)^{-1} B^T   (n x n),

    applied in O(n m d + m d^2 + n^2) per vector (about one Hessian-vector product).  Since
    B^T B is positive semidefinite, ``lower = min_j lambda_min(A_j) <= lambda_min(H)``; for
    ``sigma < lower`` both A - sigma and C are positive definite (Cholesky), and the operator is
    symmetric positive definite.  Default sigma: just below ``lower`` (``lower - max(1e-6
    (median_j lambda_min(A_j) - lower), 1e-8 ||H_0||)``), which makes it a shift-and-invert
    preconditioner aimed at the lowest eigenvalues: with non-uniform a these come one per
    neuron, tightly clustered, and the blocks A_j separate them where the lam = 0 operator (a
    scalar on K) cannot.  A sigma at or above ``lower`` is allowed (LU instead of Cholesky) but
    then the operator may be indefinite.

    Accuracy: the Woodbury form cancels terms of size ``||(A - sigma)^{-1}||``, so its relative
    rounding error is about ``eps cond(H - sigma) (lambda_min(H) - sigma) / (lower - sigma)``;
    with the default sigma that can reach ~1e-6 relative, which is harmless for a
    preconditioner (the Rayleigh-Ritz values and residuals are computed with H itself).
    """
    ev = _check_ev(ev)
    if sigma is not None:
        sigma = as_float("sigma", sigma)
    return BlockInverse(ev, sigma)


def _block_affordable(model: Model) -> bool:
    n, m, d = model.n, model.m, model.d
    return float(n) * n * m * d <= BLOCK_FLOPS and m * d * d <= BLOCK_MEMORY


# -- eigensolvers ---------------------------------------------------------------------------


def _check_ev(ev) -> Evaluation:
    if not isinstance(ev, Evaluation):
        raise NLPTInputError(f"ev: expected an nlpt Evaluation (Model.at(W, lam)), got {type(ev).__name__}")
    return ev


def _method(ev: Evaluation, method) -> str:
    if not isinstance(method, str) or method not in _METHODS:
        raise NLPTInputError(f"method: expected one of {', '.join(repr(x) for x in _METHODS)}, got {method!r}")
    if method == "auto":
        return "dense" if ev.model.size <= DENSE_MAX else "lobpcg"
    return "lobpcg" if method == "matrix-free" else method


def _check_X0(X0, P: int):
    if X0 is None:
        return None
    try:
        arr = np.asarray(X0, dtype=float)
    except (TypeError, ValueError):
        raise NLPTInputError(f"X0: expected an array of shape ({P}, j), got {type(X0).__name__}") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != P or arr.shape[1] < 1:
        raise NLPTInputError(f"X0: expected an array of shape ({P}, j) (columns = start vectors), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise NLPTInputError("X0: expected finite values, got non-finite entries")
    return arr


class _Counted:
    """The Hessian operator on flat blocks, counting products."""

    def __init__(self, ev: Evaluation):
        self.ev = ev
        self.count = 0
        m, d = ev.model.m, ev.model.d
        self.m, self.d, self.P = m, d, m * d

    def block(self, Xs: np.ndarray) -> np.ndarray:
        Xs = np.asarray(Xs, dtype=float)
        if Xs.ndim == 1:
            self.count += 1
            return self.ev.hvp(Xs.reshape(self.m, self.d)).ravel()
        k = Xs.shape[1]
        self.count += k
        return self.ev.hvp(Xs.T.reshape(k, self.m, self.d)).reshape(k, self.P).T

    def operator(self) -> LinearOperator:
        return LinearOperator((self.P, self.P), matvec=self.block, rmatvec=self.block, matmat=self.block, rmatmat=self.block, dtype=float)


def _finish(op: _Counted, vals, vecs, k: int, tol_abs: float, method: str, note: str = "") -> EigenResult:
    order = np.argsort(vals)[:k]
    vals, vecs = np.asarray(vals)[order], np.asarray(vecs)[:, order]
    vecs, _ = np.linalg.qr(vecs) if vecs.shape[1] > 1 else (vecs / np.linalg.norm(vecs, axis=0), None)
    # Rayleigh-Ritz on the returned block: orthonormal vectors and exact Ritz values.
    HV = op.block(vecs)
    G = vecs.T @ HV
    theta, Y = np.linalg.eigh(0.5 * (G + G.T))
    vecs, HV = vecs @ Y, HV @ Y
    res = np.linalg.norm(HV - vecs * theta, axis=0)
    ok = bool(np.all(res <= tol_abs))
    msg = "converged" if ok else f"residual {res.max():.2e} above tolerance {tol_abs:.2e}"
    if note:
        msg = f"{msg} ({note})"
    return EigenResult(theta, vecs, res, ok, method, op.count, tol_abs, msg)


def _dense_eigh(H: np.ndarray, k: int | None = None, upper: float | None = None, vectors: bool = True):
    """Lowest eigenpairs of a dense symmetric H: LAPACK syevr on a subset, falling back to the
    full divide-and-conquer solve (numpy ``eigh``) where syevr fails, as it can on exactly
    repeated eigenvalues such as the floor alpha of multiplicity (m-1) d."""
    try:
        if upper is not None:
            return scipy.linalg.eigh(H, eigvals_only=not vectors, subset_by_value=(-np.inf, upper), driver="evr")
        return scipy.linalg.eigh(H, eigvals_only=not vectors, subset_by_index=[0, k - 1], driver="evr")
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(H)
        sel = slice(None, k) if upper is None else vals <= upper
        return (vals[sel], vecs[:, sel]) if vectors else vals[sel]


def _dense(ev: Evaluation, k: int, tol_abs: float) -> EigenResult:
    # LAPACK returns orthonormal eigenvectors and accurate values: no Rayleigh-Ritz pass (which
    # would cost k Hessian-vector products); residuals from the H already formed.
    H = ev.hessian()
    vals, vecs = _dense_eigh(H, k=k)
    res = np.linalg.norm(H @ vecs - vecs * vals, axis=0)
    ok = bool(np.all(res <= tol_abs))
    msg = "converged" if ok else f"residual {res.max():.2e} above tolerance {tol_abs:.2e}"
    return EigenResult(vals, vecs, res, ok, "dense", 0, tol_abs, msg)


def _start_block(ev: Evaluation, k: int, X0, seed: int) -> np.ndarray:
    model = ev.model
    B = kernel_block(model, k, seed=seed)
    if X0 is not None:
        j = min(k, X0.shape[1])
        B[:, :j] = X0[:, :j]
    return B


def _lanczos(ev, k, v0, tol_abs, maxiter, op=None, note="") -> EigenResult:
    op = op or _Counted(ev)
    P = ev.model.size
    ncv = min(P - 1, max(4 * k + 1, 40))
    try:
        # ARPACK's test is ||r|| <= tol * max(eps^(2/3), |theta|); ask for tol relative to ||H_0||.
        vals, vecs = eigsh(op.operator(), k=k, which="SA", v0=v0, ncv=ncv, tol=tol_abs, maxiter=maxiter)
    except ArpackNoConvergence as exc:
        vals, vecs = exc.eigenvalues, exc.eigenvectors
        note = (note + "; " if note else "") + "Lanczos stopped at maxiter"
        if len(vals) == 0:
            return EigenResult(np.full(k, np.nan), np.full((P, k), np.nan), np.full(k, np.inf), False, "lanczos", op.count, tol_abs, f"no Ritz pair converged ({note})")
        if len(vals) < k:
            res = _finish(op, vals, vecs, len(vals), tol_abs, "lanczos", note)
            res.converged = False
            res.message = f"only {len(vals)} of {k} Ritz pairs converged ({note})"
            return res
    return _finish(op, vals, vecs, k, tol_abs, "lanczos", note)


def eigensolve(
    ev: Evaluation, k: int = 1, method: str = "auto", X0=None, tol: float = 1e-10, *, maxiter: int | None = None, seed: int = 0, preconditioner: str = "auto"
) -> EigenResult:
    """The k lowest eigenpairs of H = Hess L_lam(W) at ``ev``, with residuals and status.

    Parameters
    ----------
    ev : Evaluation
        ``model.at(W, lam)``.
    k : int, 1 <= k <= m d
    method : ``"auto"`` | ``"dense"`` | ``"lobpcg"`` (= ``"matrix-free"``) | ``"lanczos"``
    X0 : (m d,) or (m d, j) array, optional
        Start vectors (e.g. the previous eigenvectors along a continuation); the first
        min(j, k) columns replace those of the default block from K.
    tol : float > 0
        Relative residual tolerance (see module docstring).
    maxiter : int, optional
        LOBPCG iterations (default 400) / Lanczos restarts (default 50 P).
    seed : int
        Seed of the default start block.
    preconditioner : ``"auto"`` | ``"block"`` | ``"h0"``
        LOBPCG's preconditioner: the per-neuron shift-and-invert operator
        :func:`block_inverse` (``"block"``) or the lam = 0 operator :func:`h0_preconditioner`
        (``"h0"``).  ``"auto"``: block while its set-up fits the budgets
        (n^2 m d <= :data:`BLOCK_FLOPS`, m d^2 <= :data:`BLOCK_MEMORY`), else h0.

    LOBPCG that stops short of ``tol`` is followed by Lanczos started from its best vector; the
    result says which method produced it and whether it converged (it never raises for that).
    """
    ev = _check_ev(ev)
    meth = _method(ev, method)
    P = ev.model.size
    k = as_int("k", k)
    if k > P:
        raise NLPTInputError(f"k: expected at most m d = {P} eigenpairs, got {k}")
    tol = as_float("tol", tol, minimum=0.0, strict=True)
    maxiter = None if maxiter is None else as_int("maxiter", maxiter)
    seed = as_int("seed", seed, minimum=0)
    X0 = _check_X0(X0, P)
    if not isinstance(preconditioner, str) or preconditioner not in _PRECONDITIONERS:
        raise NLPTInputError(f"preconditioner: expected one of {', '.join(repr(x) for x in _PRECONDITIONERS)}, got {preconditioner!r}")
    tol_abs = tol * max(_h0_norm(ev.model), np.finfo(float).tiny)
    # From a cold start LOBPCG iterates a block of k + guard vectors and returns the lowest k:
    # without guard vectors a block can converge to a higher eigenvalue while missing one copy of
    # a multiple lowest one, with every residual small (seen on clusters of non-uniform a).  A
    # warm start (X0, e.g. the previous eigenvectors along a continuation) already carries the
    # cluster, and guard vectors would only cost products.
    cold = X0 is None or X0.shape[1] < k
    kb = k + max(2, k // 4) if meth != "lanczos" and cold else k
    if meth != "dense" and P < 5 * kb + 1 and P > DENSE_MAX:
        meth, kb = "lanczos", k  # a block this wide relative to P is beyond LOBPCG; never form H here
    if meth == "dense" or P < 5 * kb + 1:
        res = _dense(ev, k, tol_abs)
        if meth != "dense":
            res.message += " (dense: m d < 5 x block size + 1 is too small for an iterative block solver)"
        return res
    op = _Counted(ev)
    B = _start_block(ev, kb, X0, seed)
    if meth == "lanczos":
        if k >= P:
            raise NLPTInputError(f"k: expected fewer than m d = {P} eigenpairs for Lanczos, got {k}")
        return _lanczos(ev, k, B[:, 0], tol_abs, maxiter or 50 * P, op)
    return _lobpcg_with_fallbacks(ev, op, B, k, tol_abs, maxiter, preconditioner, cold, seed)


def _lobpcg_with_fallbacks(ev, op, B, k, tol_abs, maxiter, preconditioner, cold, seed) -> EigenResult:
    """LOBPCG from the block B; a stalled warm start restarted with guard vectors; then Lanczos."""
    P = ev.model.size
    pre = preconditioner
    if pre == "auto":
        pre = "block" if _block_affordable(ev.model) else "h0"
    T = block_inverse(ev) if pre == "block" else h0_preconditioner(ev)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # non-convergence is checked below
        vals, vecs = lobpcg(op.operator(), B, M=T, tol=tol_abs, maxiter=maxiter or 400, largest=False, restartControl=20)
    res = _finish(op, vals, vecs, k, tol_abs, "lobpcg")
    res.preconditioner = pre
    if res.converged:
        return res
    if not cold:
        # A warm block without guard vectors can stall or break down in a tight cluster (seen at
        # m = 1000, random a: residual 4e-5 after 400 iterations).  Its own vectors plus guard
        # vectors (and a fresh seeded part) cost tens to hundreds of products; the Lanczos
        # fallback below costs thousands.
        B = _start_block(ev, k + max(2, k // 4), res.vectors if np.all(np.isfinite(res.vectors)) else None, seed + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            vals, vecs = lobpcg(op.operator(), B, M=T, tol=tol_abs, maxiter=maxiter or 400, largest=False,
                                restartControl=20)
        again = _finish(op, vals, vecs, k, tol_abs, "lobpcg", "restarted with guard vectors after the warm start stalled")
        again.preconditioner = pre
        if again.converged:
            return again
        res = again if np.max(again.residuals) < np.max(res.residuals) else res
    retry = _lanczos(ev, k, res.vectors[:, 0], tol_abs, 50 * P, op, note=f"LOBPCG ({pre}) stopped at residual {res.residuals.max():.2e}")
    if len(retry.values) == k and (retry.converged or np.nanmax(retry.residuals) < np.max(res.residuals)):
        return retry
    res.message += f"; Lanczos fallback did not improve ({retry.message})"
    return res


def lowest_eigenpairs(ev: Evaluation, k: int = 1, method: str = "auto", X0=None, tol: float = 1e-10, **kwargs):
    """The k lowest eigenvalues (ascending) and eigenvectors (P x k columns) of H (see :func:`eigensolve`).

    Emits a ``RuntimeWarning`` carrying the solver's message when the residual tolerance was not
    reached (use :func:`eigensolve` for the residuals and status as data).
    """
    res = eigensolve(ev, k, method, X0, tol, **kwargs)
    if not res.converged:
        warnings.warn(f"lowest_eigenpairs: {res.message}", RuntimeWarning, stacklevel=2)
    return res.values, res.vectors


def morse_index(ev: Evaluation, tol: float = 1e-9, method: str = "auto") -> int:
    """Number of Hessian eigenvalues below ``-tol`` (the Morse index, SPEC 5).

    Dense: LAPACK ``syevr`` restricted to eigenvalues in (-inf, -tol].  Matrix-free: blocks of
    the lowest eigenpairs of growing size (4, 8, 16, ...; each warm-started from the previous
    block) until one eigenvalue >= -tol is found; cost and memory grow with the index
    (O(P * index)).  Ritz values bound the eigenvalues from above, so a converged block never
    over-counts.
    """
    ev = _check_ev(ev)
    meth = _method(ev, method)
    tol = as_float("tol", tol, minimum=0.0)
    P = ev.model.size
    if meth == "dense":
        vals = _dense_eigh(ev.hessian(), upper=-tol, vectors=False)
        return int(np.sum(vals < -tol))
    k = min(4, P)
    X0 = None
    while True:
        res = eigensolve(ev, k, meth, X0)
        neg = int(np.sum(res.values < -tol))
        if neg < k or k >= P:
            if not res.converged:
                warnings.warn(f"morse_index: {res.message}", RuntimeWarning, stacklevel=2)
            return neg
        X0 = res.vectors
        k = min(2 * k, P)
