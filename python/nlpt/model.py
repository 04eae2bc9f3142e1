"""The two-layer homotopy model, its loss and exact derivatives (SPEC sections 1-2).

Parameters are the first-layer weights ``W`` (m x d, rows w_j); second-layer weights ``a`` are
fixed, ``c_j = a_j / m``.  With ``z_ij = w_j . x_i``:

    f_lam(x_i; W) = sum_j c_j s_lam(z_ij),          r_i = f_lam(x_i; W) - y_i,
    L_lam(W)      = 1/(2n) sum_i r_i^2 + (alpha/2) ||W||_F^2.

All derivatives are closed form, vectorised over data points, O(n m d) per product:

    grad_{w_j}  = (1/n) sum_i r_i c_j s'(z_ij) x_i + alpha w_j
    (H v)_j     = (1/n) sum_i [c_j s'(z_ij) u_i + r_i c_j s''(z_ij) (v_j . x_i)] x_i + alpha v_j,
                  u_i = sum_k c_k s'(z_ik) (v_k . x_i)
    D^k f[V1..Vk](x_i) = sum_j c_j s^(k)(z_ij) prod_l (v_lj . x_i)

and, from the chain rule for ``r^2/2``, the third and fourth derivatives of L:

    D^3L[U,V,Z] = (1/n) sum_i [ D2f[U,V] Df[Z] + D2f[U,Z] Df[V] + D2f[V,Z] Df[U] + r D3f[U,V,Z] ]
    D^4L[U,V,Z,T] = (1/n) sum_i [ D2f[UV] D2f[ZT] + D2f[UZ] D2f[VT] + D2f[UT] D2f[VZ]
                                  + D3f[UVZ] Df[T] + D3f[UVT] Df[Z] + D3f[UZT] Df[V]
                                  + D3f[VZT] Df[U] + r D4f[UVZT] ].

The flattened parameter vector is ``W.ravel()`` (row-major: index j*d + k).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._validate import NLPTInputError, as_float, as_int, as_lam, as_matrix, as_vector
from .activations import MAX_ORDER, get_activation, homotopy_derivatives, lam_derivatives
from .data import check_data

__all__ = ["Model", "Evaluation", "check_model"]


class Model:
    """Data, architecture and regularization of the homotopy problem (SPEC 1).

    Parameters
    ----------
    X : (n, d) array, y : (n,) array
        Data; finite.
    m : int >= 1
        Width.
    a : (m,) array, optional
        Fixed second-layer weights, default all ones.
    alpha : float >= 0
        Tikhonov strength.
    activation : str or Activation
        ``"tanh"``, ``"sin"``, ``"erf"`` or ``"silu2"``.
    """

    def __init__(self, X, y, m, a=None, alpha=1e-3, activation="tanh"):
        self.X, self.y = check_data(X, y)
        self.m = as_int("m", m)
        self.a = np.ones(self.m) if a is None else as_vector("a", a, length=self.m)
        self.alpha = as_float("alpha", alpha, minimum=0.0)
        self.activation = get_activation(activation)
        self.c = self.a / self.m
        # Per-row weights of the regularizer, (alpha/2) sum_j reg_j |w_j|^2; None means all ones.
        # Only the group-reduced problem (nlpt.reduced) sets them: there row h stands for g_h
        # equal neurons.
        self.reg = None

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def size(self) -> int:
        """Number of trained parameters P = m d."""
        return self.m * self.d

    def __repr__(self) -> str:
        return (
            f"Model(n={self.n}, d={self.d}, m={self.m}, alpha={self.alpha:g}, "
            f"activation={self.activation.name!r}, a={'uniform' if np.all(self.a == 1) else 'custom'})"
        )

    def with_alpha(self, alpha) -> "Model":
        """The same data, width, a and activation with another alpha."""
        out = Model(self.X, self.y, self.m, self.a, alpha, self.activation)
        out.reg = self.reg
        return out

    def alpha_rows(self):
        """``alpha`` times the per-row regularization weights, broadcastable against (m, d)."""
        return self.alpha if self.reg is None else self.alpha * self.reg[:, None]

    # -- boundary checks ---------------------------------------------------------------------
    def check_W(self, W, name: str = "W") -> np.ndarray:
        """W as an (m, d) float array; a flat vector of length m d is reshaped."""
        arr = np.asarray(W, dtype=float) if not isinstance(W, np.ndarray) else W
        if arr.ndim == 1 and arr.shape[0] == self.size:
            arr = arr.reshape(self.m, self.d)
        return as_matrix(name, arr, self.m, self.d)

    def at(self, W, lam) -> "Evaluation":
        """All per-point quantities at (W, lam), cached for repeated products."""
        return Evaluation(self, self.check_W(W), as_lam(lam))

    # -- convenience wrappers (validate, then evaluate) ---------------------------------------
    def loss(self, W, lam) -> float:
        return self.at(W, lam).loss()

    def grad(self, W, lam) -> np.ndarray:
        return self.at(W, lam).grad()

    def grad_lam(self, W, lam) -> np.ndarray:
        return self.at(W, lam).grad_lam()

    def hessian(self, W, lam) -> np.ndarray:
        return self.at(W, lam).hessian()

    def hvp(self, W, lam, V) -> np.ndarray:
        return self.at(W, lam).hvp(self.check_W(V, "V"))

    def hessian_operator(self, W, lam) -> LinearOperator:
        return self.at(W, lam).operator()

    def directional(self, W, lam, V, order: int = MAX_ORDER) -> np.ndarray:
        return self.at(W, lam).directional(self.check_W(V, "V"), order)

    def d3(self, W, lam, U, V, Z) -> float:
        return self.at(W, lam).d3(self.check_W(U, "U"), self.check_W(V, "V"), self.check_W(Z, "Z"))

    def d4(self, W, lam, U, V, Z, T) -> float:
        ev = self.at(W, lam)
        return ev.d4(self.check_W(U, "U"), self.check_W(V, "V"), self.check_W(Z, "Z"), self.check_W(T, "T"))

    def d3_vec(self, W, lam, U, V) -> np.ndarray:
        return self.at(W, lam).d3_vec(self.check_W(U, "U"), self.check_W(V, "V"))


def check_model(model) -> "Model":
    """``model`` itself if it is a :class:`Model`, else NLPTInputError naming the argument."""
    if not isinstance(model, Model):
        raise NLPTInputError(f"model: expected an nlpt.Model, got {type(model).__name__}")
    return model


class Evaluation:
    """Cached quantities of a :class:`Model` at one point (W, lam).

    Arrays: ``Z`` (n, m) pre-activations, ``r`` (n,) residuals, ``S[k]`` (n, m) the homotopy's
    k-th derivative at Z.  Methods assume validated arguments (use :meth:`Model.at`).
    """

    def __init__(self, model: Model, W: np.ndarray, lam: float):
        self.model = model
        self.W = W
        self.lam = lam
        self.Z = model.X @ W.T
        self._order = -1
        self._sigma: list = []
        self.S: list = []
        self._ensure(2)
        self.f = self.S[0] @ model.c
        self.r = self.f - model.y
        c = model.c
        self.CS1 = self.S[1] * c
        self.RCS2 = self.r[:, None] * self.S[2] * c

    def _ensure(self, order: int) -> None:
        if order > self._order:
            self._sigma = self.model.activation.derivs(self.Z, order)
            self.S = homotopy_derivatives(self._sigma, self.Z, self.lam)
            self.S = [np.broadcast_to(s, self.Z.shape) if np.ndim(s) == 0 else s for s in self.S]
            self._order = order

    # -- order 0..2 ------------------------------------------------------------------------
    def loss(self) -> float:
        reg = float(np.sum(self.model.alpha_rows() * self.W * self.W))
        return 0.5 * float(self.r @ self.r) / self.model.n + 0.5 * reg

    def grad(self) -> np.ndarray:
        mdl = self.model
        return (self.r[:, None] * self.CS1).T @ mdl.X / mdl.n + mdl.alpha_rows() * self.W

    def hvp(self, V: np.ndarray) -> np.ndarray:
        """H v for V of shape (m, d), or a batch (k, m, d)."""
        mdl = self.model
        X, n, alpha = mdl.X, mdl.n, mdl.alpha_rows()
        m, d = V.shape[-2], V.shape[-1]
        Vb = np.reshape(V, (-1, m, d))
        k = Vb.shape[0]
        # A batch is stacked into one wide product X [V_1^T ... V_c^T] (BLAS is much faster on
        # one wide matrix than on c thin ones), in chunks whose two (n, c m) work arrays stay
        # within 64 MB.  The work arrays live on the evaluation: allocating them afresh on every
        # product costs page faults comparable to the matrix products themselves.
        chunk = int(max(1, min(k, (1 << 26) // (16 * n * m))))
        ws = getattr(self, "_hvp_work", None)
        if ws is None or ws[0].size < n * chunk * m:
            ws = (np.empty(n * chunk * m), np.empty(n * chunk * m), np.empty(d * chunk * m))
            self._hvp_work = ws
        out = np.empty((k, m, d))
        CS1, RCS2 = self.CS1, self.RCS2
        for s in range(0, k, chunk):
            c = min(chunk, k - s)
            Vc = Vb[s : s + c]
            # Contiguous views of the flat work arrays (a strided `out` would leave BLAS).
            Pm = np.matmul(X, Vc.reshape(c * m, d).T, out=ws[0][: n * c * m].reshape(n, c * m))  # v_j . x_i
            Tm = ws[1][: n * c * m].reshape(n, c * m)
            if c == 1:
                u = np.einsum("ij,ij->i", CS1, Pm)
                np.multiply(Pm, RCS2, out=Pm)
                np.multiply(CS1, u[:, None], out=Tm)
            else:
                P3, T3 = Pm.reshape(n, c, m), Tm.reshape(n, c, m)
                u = np.einsum("ij,icj->ic", CS1, P3)
                np.multiply(P3, RCS2[:, None, :], out=P3)
                np.multiply(CS1[:, None, :], u[:, :, None], out=T3)
            Tm += Pm  # c_j s'_ij u_i + r_i c_j s''_ij (v_j . x_i)
            G = np.matmul(X.T, Tm, out=ws[2][: d * c * m].reshape(d, c * m))
            oc = out[s : s + c]
            np.multiply(G.reshape(d, c, m).transpose(1, 2, 0), 1.0 / n, out=oc)
            if np.any(alpha):
                oc += alpha * Vc
        return out.reshape(V.shape)

    def operator(self) -> LinearOperator:
        """The Hessian as a symmetric ``LinearOperator`` on flat vectors of length m d."""
        m, d = self.model.m, self.model.d
        P = m * d

        def matvec(v):
            return self.hvp(np.reshape(v, (m, d))).ravel()

        def matmat(Vs):
            Vs = np.asarray(Vs)
            k = Vs.shape[1]
            return self.hvp(Vs.T.reshape(k, m, d)).reshape(k, P).T

        return LinearOperator((P, P), matvec=matvec, rmatvec=matvec, matmat=matmat, rmatmat=matmat, dtype=float)

    def data_hessian(self) -> np.ndarray:
        """Dense Hessian without the alpha I term, (m d) x (m d)."""
        mdl = self.model
        n, m, d = mdl.n, mdl.m, mdl.d
        B = (self.CS1[:, :, None] * mdl.X[:, None, :]).reshape(n, m * d)
        H = B.T @ B / n
        blocks = np.einsum("ij,ik,il->jkl", self.RCS2, mdl.X, mdl.X) / n
        H4 = H.reshape(m, d, m, d)
        idx = np.arange(m)
        H4[idx, :, idx, :] += blocks
        return H

    def hessian(self) -> np.ndarray:
        """Dense Hessian of L_lam at W, (m d) x (m d), symmetric."""
        H = self.data_hessian()
        mdl = self.model
        H[np.diag_indices_from(H)] += np.broadcast_to(mdl.alpha_rows(), (mdl.m, mdl.d)).ravel()
        return H

    # -- derivatives in lam ------------------------------------------------------------------
    def _lam_parts(self):
        self._ensure(max(self._order, 2))
        L = lam_derivatives(self._sigma[:3], self.Z)
        L = [np.broadcast_to(x, self.Z.shape) if np.ndim(x) == 0 else x for x in L]
        df_dlam = L[0] @ self.model.c
        return L, df_dlam

    def grad_lam(self) -> np.ndarray:
        """d/dlam of grad L at fixed W: (1/n) sum_i [f_lam,i c_j s'_ij + r_i c_j (sigma'-1)_ij] x_i."""
        mdl = self.model
        L, df = self._lam_parts()
        T = df[:, None] * self.CS1 + self.r[:, None] * L[1] * mdl.c
        return T.T @ mdl.X / mdl.n

    def hvp_lam(self, V: np.ndarray) -> np.ndarray:
        """(d/dlam H) V at fixed W, for V of shape (m, d) or a batch (k, m, d).

        With ``l1 = sigma' - 1``, ``l2 = sigma''`` (the lam-derivatives of s', s'' at fixed z),
        ``df = d f / dlam`` and ``p_ij = v_j . x_i``, ``u_i = sum_k c_k s'_ik p_ik``,
        ``du_i = sum_k c_k l1_ik p_ik``::

            (dH/dlam V)_j = (1/n) sum_i [c_j l1_ij u_i + c_j s'_ij du_i
                                         + (df_i s''_ij + r_i l2_ij) c_j p_ij] x_i.
        """
        mdl = self.model
        L, df = self._lam_parts()
        c = mdl.c
        Vb = np.reshape(V, (-1, mdl.m, mdl.d))
        Pm = np.einsum("il,kjl->kij", mdl.X, Vb)  # (k, n, m)
        u = np.einsum("ij,kij->ki", self.CS1, Pm)
        du = np.einsum("ij,kij->ki", L[1] * c, Pm)
        T = (L[1] * c)[None] * u[:, :, None] + self.CS1[None] * du[:, :, None]
        T = T + ((df[:, None] * self.S[2] + self.r[:, None] * L[2]) * c)[None] * Pm
        out = np.einsum("kij,il->kjl", T, mdl.X) / mdl.n
        return out.reshape(np.shape(V))

    def hessian_lam_quadratic(self, V: np.ndarray) -> float:
        """V^T (d/dlam H) V at fixed W."""
        mdl = self.model
        L, df = self._lam_parts()
        P = mdl.X @ V.T
        u = (self.CS1 * P).sum(axis=1)
        ul = (L[1] * mdl.c * P).sum(axis=1)
        q2 = (self.S[2] * mdl.c * P * P).sum(axis=1)
        q2l = (L[2] * mdl.c * P * P).sum(axis=1)
        return float(np.sum(2.0 * u * ul + df * q2 + self.r * q2l)) / mdl.n

    # -- higher derivatives ------------------------------------------------------------------
    def _df(self, k: int, *Ps) -> np.ndarray:
        """D^k f[V1..Vk] at every data point, from the projections P_l = X V_l^T."""
        self._ensure(k)
        prod = self.S[k] * self.model.c
        for P in Ps:
            prod = prod * P
        return prod.sum(axis=1)

    def _proj(self, V: np.ndarray) -> np.ndarray:
        return self.model.X @ V.T

    def directional(self, V: np.ndarray, order: int = MAX_ORDER) -> np.ndarray:
        """[L, DL[V], D^2L[V,V], ..., D^order L[V^order]] along the single direction V."""
        if not (isinstance(order, (int, np.integer)) and 0 <= order <= MAX_ORDER):
            raise NLPTInputError(f"order: expected an integer in [0, {MAX_ORDER}], got {order!r}")
        mdl = self.model
        P = self._proj(V)
        f = [None] + [self._df(k, *([P] * k)) for k in range(1, order + 1)]
        r, n, al = self.r, mdl.n, mdl.alpha
        out = [self.loss()]
        al = mdl.alpha_rows()
        if order >= 1:
            out.append(float(r @ f[1]) / n + float(np.sum(al * self.W * V)))
        if order >= 2:
            out.append(float(f[1] @ f[1] + r @ f[2]) / n + float(np.sum(al * V * V)))
        if order >= 3:
            out.append(float(np.sum(3 * f[1] * f[2] + r * f[3])) / n)
        if order >= 4:
            out.append(float(np.sum(3 * f[2] * f[2] + 4 * f[1] * f[3] + r * f[4])) / n)
        return np.array(out)

    def d3(self, U, V, Z) -> float:
        """D^3 L[U, V, Z] (the regularizer does not contribute)."""
        Pu, Pv, Pz = self._proj(U), self._proj(V), self._proj(Z)
        df = self._df
        total = (
            df(2, Pu, Pv) * df(1, Pz)
            + df(2, Pu, Pz) * df(1, Pv)
            + df(2, Pv, Pz) * df(1, Pu)
            + self.r * df(3, Pu, Pv, Pz)
        )
        return float(total.sum()) / self.model.n

    def d4(self, U, V, Z, T) -> float:
        """D^4 L[U, V, Z, T]."""
        Pu, Pv, Pz, Pt = self._proj(U), self._proj(V), self._proj(Z), self._proj(T)
        df = self._df
        total = (
            df(2, Pu, Pv) * df(2, Pz, Pt)
            + df(2, Pu, Pz) * df(2, Pv, Pt)
            + df(2, Pu, Pt) * df(2, Pv, Pz)
            + df(3, Pu, Pv, Pz) * df(1, Pt)
            + df(3, Pu, Pv, Pt) * df(1, Pz)
            + df(3, Pu, Pz, Pt) * df(1, Pv)
            + df(3, Pv, Pz, Pt) * df(1, Pu)
            + self.r * df(4, Pu, Pv, Pz, Pt)
        )
        return float(total.sum()) / self.model.n

    def d3_vec(self, U, V) -> np.ndarray:
        """The vector D^3 L[U, V, .] as an (m, d) array (so that <d3_vec, Z> = D^3L[U,V,Z])."""
        self._ensure(3)
        mdl = self.model
        Pu, Pv = self._proj(U), self._proj(V)
        d2uv = self._df(2, Pu, Pv)
        d1u, d1v = self._df(1, Pu), self._df(1, Pv)
        S1, S2, S3 = self.S[1], self.S[2], self.S[3]
        T = mdl.c * (
            d2uv[:, None] * S1 + (d1v[:, None] * Pu + d1u[:, None] * Pv) * S2 + self.r[:, None] * S3 * Pu * Pv
        )
        return T.T @ mdl.X / mdl.n
