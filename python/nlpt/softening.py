"""Softening rate, predicted threshold and imperfection at the linear endpoint (SPEC 4, 5).

At lam = 0 the Hessian is ``H_0 = (1/m^2)(a a^T) (x) Sigma + alpha I``; its lowest eigenvalue alpha
is ``(m-1) d``-fold, with eigenspace ``K = {V : sum_j a_j v_j = 0}`` (Sigma positive definite).
First-order degenerate perturbation theory on K gives the slope of the lowest eigenvalue along
the critical branch (SPEC 4)::

    lambda_1'(0) = min_{V in K, |V| = 1} Q(V),     Q(V) = (1/m) sum_j a_j v_j^T M_j v_j,
    M_j = (1/n) sum_i r_i sigma''(z*_ij) x_i x_i^T     (residuals, pre-activations at W*).

(``d/dlam H`` restricted to K is exactly Q: the Gauss-Newton cross terms vanish on K and
``D^3 L = 0`` at lam = 0 because ``s_0'' = 0``.)  Writing ``A_j = (a_j/m) M_j``, Q is the block
diagonal form ``sum_j v_j^T A_j v_j`` and the softening rate is the lowest eigenvalue of that
block diagonal matrix compressed to K.

**Uniform a** (``a_j = c`` for all j): ``W* = (1/c) 1 v*^T``, every row is ``v*/c``, so all
``M_j = M`` coincide and ``Q(V) = (c/m) sum_j v_j^T M v_j`` on ``K = 1^perp (x) R^d``::

    lambda_1'(0) = (c/m) mu_min(M)  (c > 0),      (c/m) mu_max(M)  (c < 0),

with multiplicity ``(m-1) x`` the multiplicity of that eigenvalue of M.  For ``a = 1``:
``mu_min(M)/m``, multiplicity ``(m-1) mult(mu_min)``.  M depends on m only through
``v* = (Sigma + alpha m I)^{-1} X^T y / n``, hence ``m lambda_1'(0)`` is constant in m up to
``O(alpha m)`` (exactly constant for alpha = 0).

**General a**: the constrained eigenproblem on K, in O(m d^3) without forming the (md)^2 matrix.
Blocks with the same ``(a_j, w*_j)`` have the same ``A_j``; a group G of g such blocks splits into
the g-1 "antisymmetric" copies ``beta (x) u`` (``beta`` orthogonal to ones within G), which lie in
K and are exact eigenvectors with eigenvalues ``theta_k(A_G)`` (multiplicity g-1 each; all g
copies with eigenvalue 0 when a_G = 0), and one merged block of weight ``b_G = |a_G| sqrt(g)``.
On the merged blocks, stationarity ``A_G u_G - b_G nu = mu u_G``, ``sum_G b_G u_G = 0`` gives the
secular matrix

    F(mu) = sum_G b_G^2 (A_G - mu I)^{-1}   (d x d),   det F(mu) = 0,

and, by the inertia of the bordered matrix ``[[A - mu, C], [C^T, 0]]`` (Haynsworth), the number
of constrained eigenvalues below mu is ``#{theta < mu} + #{eig F(mu) > 0} - d``.  Bisection on
that count finds the lowest root (each count costs O(q d^3), q = number of groups); its
eigenvectors are ``u_G = b_G (A_G - mu)^{-1} nu`` with ``nu`` in the null space of ``F(mu)``.

**Imperfection** (SPEC 5): ``eta = |P_K d/dlam grad L(W*, 0)|``, ``P_K V = V - a (a^T V)/|a|^2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import NLPTInputError, as_float
from .linear import critical_point
from .model import Model, check_model

__all__ = [
    "SofteningResult",
    "softening_rate",
    "predicted_threshold",
    "imperfection",
    "project_K",
    "softening_blocks",
]

#: Default relative tolerance (to the largest |eigenvalue| of the blocks A_j) within which two
#: eigenvalues of the constrained problem count as one multiple eigenvalue.
MULT_RTOL = 1e-8


def _W_star(model: Model, W_star) -> np.ndarray:
    if W_star is None:
        return critical_point(model)[1]
    return model.check_W(W_star, "W_star")


@dataclass
class SofteningResult:
    """The softening rate ``lambda_1'(0)`` of SPEC 4 and its minimisers.

    Attributes
    ----------
    rate : float
        ``lambda_1'(0) = min_{V in K, |V|=1} Q(V)``.
    multiplicity : int
        Number of eigenvalues of Q on K within ``rtol * max_j |A_j|`` of ``rate``.
    directions : (multiplicity, m, d) array
        Orthonormal minimisers in K (Frobenius inner product); formed on first access (for
        uniform a there are (m-1) mult(mu_min) of them, each of size m d).
    method : str
        ``"uniform closed form"``, ``"secular"`` or ``"secular (dense reduced fallback)"``.
    lam_star_pred : float or None
        ``alpha / |rate|`` when ``rate < 0``, else None (no softening).
    alpha, m : float, int
        The model's alpha and width (``m * rate`` is nearly width independent for uniform a).
    rtol : float
        The multiplicity tolerance used.
    """

    rate: float
    multiplicity: int
    make_directions: object = field(repr=False)
    method: str
    lam_star_pred: float | None
    alpha: float
    m: int
    rtol: float

    @property
    def directions(self) -> np.ndarray:
        got = getattr(self, "_directions", None)
        if got is None:
            got = self.make_directions() if callable(self.make_directions) else np.asarray(self.make_directions)
            self._directions = got
        return got

    @property
    def softens(self) -> bool:
        return self.rate < 0

    def to_dict(self) -> dict:
        return {
            "softening_rate": float(self.rate),
            "m_times_rate": float(self.m * self.rate),
            "multiplicity": int(self.multiplicity),
            "method": self.method,
            "lam_star_pred": None if self.lam_star_pred is None else float(self.lam_star_pred),
            "alpha": float(self.alpha),
            "m": int(self.m),
            "rtol": float(self.rtol),
        }


def predicted_threshold(alpha, rate) -> float | None:
    """``lam*_pred = alpha / |rate|`` if ``rate < 0`` (SPEC 4), else None (no softening)."""
    alpha = as_float("alpha", alpha, minimum=0.0)
    rate = as_float("rate", rate)
    return alpha / abs(rate) if rate < 0 else None


def project_K(a: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Orthogonal projection onto ``K = {V : sum_j a_j v_j = 0}``: ``V - a (a^T V) / |a|^2``.

    For ``a = 0``, K is the whole space and the projection is the identity.  ``V`` may be a batch
    (..., m, d).
    """
    na2 = float(a @ a)
    if na2 == 0.0:
        return np.array(V, dtype=float, copy=True)
    return V - a[:, None] * (np.einsum("j,...jk->...k", a, V) / na2)[..., None, :]


def softening_blocks(model: Model, W_star=None) -> np.ndarray:
    """The blocks ``A_j = (a_j / m) M_j`` of Q, shape (m, d, d) (SPEC 4).

    ``M_j = (1/n) sum_i r_i sigma''(z*_ij) x_i x_i^T`` with the lam = 0 residuals at W*.
    """
    model = check_model(model)
    W = _W_star(model, W_star)
    return _blocks(model, W)


def _blocks(model: Model, W: np.ndarray, rows=None) -> np.ndarray:
    if rows is None:
        rows = np.arange(model.m)
    r = model.at(W, 0.0).r
    Z = model.X @ W[rows].T
    s2 = model.activation.derivs(Z, 2)[2]
    M = np.einsum("ij,ik,il->jkl", r[:, None] * s2, model.X, model.X) / model.n
    return (model.a[rows] / model.m)[:, None, None] * M


def _group_blocks(a: np.ndarray, W: np.ndarray):
    """Group indices j with equal (a_j, w_j); rows with a_j = 0 form one group (their A_j = 0)."""
    key = np.column_stack([a, np.where(a[:, None] == 0.0, 0.0, W)]) + 0.0
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    return [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]


def _ones_perp(g: int) -> np.ndarray:
    """Orthonormal basis (g, g-1) of the complement of the all-ones vector in R^g (Helmert)."""
    Q = np.zeros((g, g - 1))
    for a in range(1, g):
        Q[:a, a - 1] = 1.0 / np.sqrt(a * (a + 1))
        Q[a, a - 1] = -a / np.sqrt(a * (a + 1))
    return Q


class _Secular:
    """The merged-block problem: min u^T A u on {sum_G b_G u_G = 0}, blocks A_G (q, d, d), b_G > 0."""

    def __init__(self, A: np.ndarray, b: np.ndarray):
        self.A, self.b = A, b
        self.q, self.d = A.shape[0], A.shape[1]
        self.theta, self.U = np.linalg.eigh(A)  # (q, d), (q, d, d) columns
        # Row (G, k) of the constraint in the eigenbasis: b_G u_Gk.
        self.Wt = b[:, None, None] * np.swapaxes(self.U, 1, 2)  # (q, k, d)
        self.scale = max(float(np.max(np.abs(self.theta))), np.finfo(float).tiny)

    def F(self, mu: float) -> np.ndarray:
        return np.einsum("gk,gki,gkj->ij", 1.0 / (self.theta - mu), self.Wt, self.Wt)

    def count_below(self, mu: float) -> int:
        """Number of constrained eigenvalues < mu (bordered-matrix inertia)."""
        if np.any(self.theta == mu):
            mu = np.nextafter(mu, -np.inf)
        neg = int(np.sum(self.theta < mu))
        pos = int(np.sum(np.linalg.eigvalsh(self.F(mu)) > 0))
        return neg + pos - self.d

    def lowest_root(self) -> float:
        lo = float(self.theta.min()) - (1.0 + self.scale)
        hi = float(self.theta.max()) + (1.0 + self.scale)
        eps = np.finfo(float).eps
        for _ in range(400):
            if hi - lo <= 4 * eps * max(abs(lo), abs(hi), self.scale):
                break
            mid = 0.5 * (lo + hi)
            if self.count_below(mid) >= 1:
                hi = mid
            else:
                lo = mid
        return hi

    def vectors(self, mu: float, k: int) -> np.ndarray | None:
        """k constrained eigenvectors at the root mu, (k, q, d); None if mu sits on a pole.

        ``(A_G - mu)^{-1}`` is accurate as long as the distance to the nearest pole is large
        compared with the bisection error (a few eps * scale); only closer than 1e4 eps * scale
        is the root treated as sitting on the pole.
        """
        gap = float(np.min(np.abs(self.theta - mu)))
        if gap <= 1e4 * np.finfo(float).eps * self.scale:
            return None
        vals, vecs = np.linalg.eigh(self.F(mu))
        nus = vecs[:, np.argsort(np.abs(vals))[:k]].T  # (k, d)
        # u_G = b_G (A_G - mu)^{-1} nu = b_G sum_k U_Gk (U_Gk . nu) / (theta_Gk - mu)
        coef = np.einsum("gik,ni->ngk", self.U, nus) / (self.theta - mu)[None]
        return self.b[None, :, None] * np.einsum("gik,ngk->ngi", self.U, coef)

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """Dense eigen-decomposition of the compressed merged-block problem, O((q d)^3)."""
        Qb, _ = np.linalg.qr(self.b.reshape(-1, 1), mode="complete")
        Qb = Qb[:, 1:]
        T = np.einsum("gi,gj,gkl->ikjl", Qb, Qb, self.A).reshape((self.q - 1) * self.d, -1)
        vals, vecs = np.linalg.eigh(T)
        V = np.einsum("gi,ikn->ngk", Qb, vecs.reshape(self.q - 1, self.d, -1))
        return vals, V


def softening_rate(model: Model, W_star=None, *, rtol: float = MULT_RTOL) -> SofteningResult:
    """``lambda_1'(0) = min_{V in K, |V|=1} (1/m) sum_j a_j v_j^T M_j v_j`` (SPEC 4).

    Uniform a (one group of equal blocks): the closed form ``(c/m) mu_min(M)`` (``c > 0``) with
    multiplicity ``(m-1) mult(mu_min(M))``.  Otherwise the constrained eigenproblem on K by group
    deflation plus the secular equation ``det sum_G b_G^2 (A_G - mu)^{-1} = 0``, O(m d^3) overall
    (see the module docstring).  If the lowest secular root coincides with a pole (a non-generic
    coincidence of block eigenvalues), the merged-block problem is solved densely instead and
    ``method`` says so.

    Parameters
    ----------
    model : Model
        Needs ``m >= 2`` unless ``a = 0`` (for m = 1, K = {0}).
    W_star : (m, d) array, optional
        The lam = 0 critical point; default :func:`nlpt.linear.critical_point`.
    rtol : float
        Eigenvalues within ``rtol * max_j ||A_j||_2`` of the minimum count toward ``multiplicity``.
    """
    model = check_model(model)
    W = _W_star(model, W_star)
    rtol = as_float("rtol", rtol, minimum=0.0)
    m, d, a = model.m, model.d, model.a
    if not np.any(a):
        # Q = 0 on K = everything.
        return SofteningResult(0.0, m * d, lambda: np.eye(m * d).reshape(m * d, m, d), "uniform closed form", None,
                               model.alpha, m, rtol)
    if m < 2:
        raise NLPTInputError(
            "model.m: the softening rate needs width m >= 2 (for m = 1 the kernel K = {V : a_1 v_1 = 0} is {0}), got m = 1"
        )
    groups = _group_blocks(a, W)
    reps = np.array([g[0] for g in groups])
    A_rep = _blocks(model, W, reps)  # (G, d, d)
    theta_rep, U_rep = np.linalg.eigh(A_rep)
    scale = max(float(np.max(np.abs(theta_rep))), np.finfo(float).tiny)
    tol = rtol * scale
    cands, merged = _deflated_candidates(a, groups, theta_rep, U_rep, m, d)
    method = "uniform closed form" if len(groups) == 1 else "secular"
    sec = None
    if len(merged) >= 2:
        sizes = np.array([len(groups[gi]) for gi in merged], dtype=float)
        avals = np.array([a[groups[gi][0]] for gi in merged])
        sec = _Secular(A_rep[merged], np.abs(avals) * np.sqrt(sizes))
        mu1 = sec.lowest_root()
        cands.append((mu1, None, None))  # resolved below

    rate = min(c[0] for c in cands)
    mult = 0
    vec_list = []  # exact, orthonormal eigenvectors in K from the deflation (disjoint patterns)
    for val, k, fn in cands:
        if fn is not None and val <= rate + tol:
            mult += k
            vec_list.append(fn)  # formed on first access of SofteningResult.directions
    if sec is not None and mu1 <= rate + tol:
        k_sec = max(sec.count_below(rate + tol + 4 * np.finfo(float).eps * scale), 1)
        mult += k_sec
        Vs, rvals, method = _secular_directions(sec, mu1, k_sec, a, groups, merged, A_rep, scale, method)
        vec_list.append(Vs)
        rate = min(rate if len(vec_list) > 1 else np.inf, float(rvals[0]))

    def directions():
        return np.concatenate([v() if callable(v) else v for v in vec_list], axis=0)

    pred = predicted_threshold(model.alpha, rate) if rate < 0 else None
    return SofteningResult(float(rate), int(mult), directions, method, pred, model.alpha, m, rtol)


def _deflated_candidates(a, groups, theta_rep, U_rep, m: int, d: int):
    """``(candidates, merged)``: the exact eigenpairs of the group deflation (module docstring) as
    ``(eigenvalue, multiplicity, callable giving the orthonormal vectors (k, m, d))``, and the
    groups that enter the merged (secular) problem."""
    cands, merged = [], []
    for gi, idx in enumerate(groups):
        g = len(idx)
        if a[idx[0]] == 0.0:
            def zero_vecs(idx=idx):
                out = np.zeros((len(idx) * d, m, d))
                for t, (j, k) in enumerate((j, k) for j in idx for k in range(d)):
                    out[t, j, k] = 1.0
                return out

            cands.append((0.0, g * d, zero_vecs))
            continue
        merged.append(gi)
        if g >= 2:
            for k in range(d):
                def anti_vecs(idx=idx, u=U_rep[gi][:, k]):
                    beta = _ones_perp(len(idx))  # (g, g-1)
                    out = np.zeros((beta.shape[1], m, d))
                    out[:, idx, :] = beta.T[:, :, None] * u[None, None, :]
                    return out

                cands.append((float(theta_rep[gi, k]), g - 1, anti_vecs))
    return cands, merged


def _secular_directions(sec, mu1, k_sec, a, groups, merged, A_rep, scale, method):
    """``(vectors (k_sec, m, d), Ritz values, method)`` of the lowest secular root, orthonormal in
    K and polished by Rayleigh-Ritz; the dense merged-block problem where the root sits on a pole
    or the Ritz residual is large."""
    m, d = len(a), A_rep.shape[1]
    U = sec.vectors(mu1, k_sec)
    if U is None:
        method = "secular (dense reduced fallback)"
        U = sec.dense()[1][:k_sec]

    def expand(U):
        # Merged blocks to rows: v_j = (a_j / b_G) u_G.  Within each group this pattern is
        # proportional to a, hence orthogonal to the deflated vectors.
        V = np.zeros((U.shape[0], m, d))
        for pos, gi in enumerate(merged):
            idx = groups[gi]
            V[:, idx, :] = (a[idx] / sec.b[pos])[None, :, None] * U[:, pos, None, :]
        return V

    # Orthonormalise in K and rotate to Ritz vectors of Q on their (small) span: this resolves
    # near-multiplets and polishes the bisection root to Rayleigh-quotient accuracy.
    Vs = project_K(a, expand(U))
    Qo, _ = np.linalg.qr(Vs.reshape(Vs.shape[0], -1).T)
    Vs = Qo.T.reshape(-1, m, d)
    grp_of = np.empty(m, dtype=int)
    for gi, idx in enumerate(groups):
        grp_of[idx] = gi
    AV = np.einsum("jkl,njl->njk", A_rep[grp_of], Vs)
    G = np.einsum("pjk,njk->pn", Vs, AV)
    rvals, rvecs = np.linalg.eigh(0.5 * (G + G.T))
    Vs = np.einsum("pn,pjk->njk", rvecs, Vs)
    resid = project_K(a, np.einsum("pn,pjk->njk", rvecs, AV)) - rvals[:, None, None] * Vs
    if method == "secular" and float(np.max(np.linalg.norm(resid, axis=(1, 2)))) > 1e-8 * scale:
        method = "secular (dense reduced fallback)"
        Vs = project_K(a, expand(sec.dense()[1][:k_sec]))
        rvals = np.einsum("pjk,jkl,pjl->p", Vs, A_rep[grp_of], Vs)
    return Vs, rvals, method


def imperfection(model: Model, W_star=None) -> float:
    """``eta = |P_K d/dlam grad L(W*, 0)|`` (SPEC 5), the derivative taken at fixed W.

    Zero (to rounding) for uniform a: every row of ``d/dlam grad`` is then the same vector times
    a_j, i.e. lies in ``a (x) R^d``, which P_K removes.  Nonzero means the branch moves inside K at
    rate ``O(eta / alpha)`` and the bifurcation is imperfect.
    """
    model = check_model(model)
    W = _W_star(model, W_star)
    g = model.at(W, 0.0).grad_lam()
    return float(np.linalg.norm(project_K(model.a, g)))
