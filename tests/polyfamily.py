"""Polynomial families with every derivative in closed form, for the tests of the Problem protocol.

In coordinates ``z = Q^T (x - x_c)`` (Q orthogonal, so the family is not aligned with the axes
unless Q = I, and x_c its critical point at lam = 0):

    l(z, lam) = 1/2 sum_i (a_i - s_i lam + k_i lam^2) z_i^2 + T[z, z, z] / 6 + U[z, z, z, z] / 24
                - lam eta . z

T and U are symmetric tensors given by their entries: ``{(0, 0, 1): b}`` sets ``T_001 = T_010 =
T_100 = b``, i.e. the term ``b z_0^2 z_1 / 2``.  At ``z = 0`` the Hessian is
``diag(a - s lam + k lam^2)`` and, with ``eta = 0``, ``z = 0`` is a critical point for every lam:
the branch from ``(x_c, 0)`` is ``x = x_c``, and thresholds, Morse indices and normal-form
coefficients there are the closed forms the tests derive.
"""

from __future__ import annotations

import itertools

import numpy as np

import nlpt


def rotation(P: int, seed: int) -> np.ndarray:
    """A Haar-random orthogonal P x P matrix."""
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((P, P)))
    return Q * np.sign(np.diag(R))


def symmetric(P: int, order: int, entries: dict | None) -> np.ndarray:
    """The symmetric tensor with the given entries (each set at every permutation of its index)."""
    out = np.zeros((P,) * order)
    for idx, val in (entries or {}).items():
        for p in set(itertools.permutations(idx)):
            out[p] = val
    return out


class PolyFamily:
    """The family of the module docstring with exact derivatives (module docstring)."""

    def __init__(self, a, s, k=None, T=None, U=None, eta=None, Q=None, xc=None):
        self.a = np.asarray(a, dtype=float)
        P = self.P = self.a.size
        self.s = np.asarray(s, dtype=float)
        self.k = np.zeros(P) if k is None else np.asarray(k, dtype=float)
        self.T = symmetric(P, 3, T)
        self.U = symmetric(P, 4, U)
        self.eta = np.zeros(P) if eta is None else np.asarray(eta, dtype=float)
        self.Q = np.eye(P) if Q is None else np.asarray(Q, dtype=float)
        self.xc = np.zeros(P) if xc is None else np.asarray(xc, dtype=float)

    # -- in z --------------------------------------------------------------------------------
    def z(self, x):
        return self.Q.T @ (np.asarray(x, dtype=float) - self.xc)

    def diag(self, lam):
        return self.a - self.s * lam + self.k * lam * lam

    def hess_z(self, z, lam):
        return (np.diag(self.diag(lam)) + np.einsum("ijk,i->jk", self.T, z)
                + np.einsum("ijkl,i,j->kl", self.U, z, z) / 2)

    # -- the protocol's callables (in x) -----------------------------------------------------
    def loss(self, x, lam):
        z = self.z(x)
        return float(0.5 * np.sum(self.diag(lam) * z * z) + np.einsum("ijk,i,j,k", self.T, z, z, z) / 6
                     + np.einsum("ijkl,i,j,k,l", self.U, z, z, z, z) / 24 - lam * self.eta @ z)

    def grad(self, x, lam):
        z = self.z(x)
        gz = (self.diag(lam) * z + np.einsum("ijk,i,j->k", self.T, z, z) / 2
              + np.einsum("ijkl,i,j,k->l", self.U, z, z, z) / 6 - lam * self.eta)
        return self.Q @ gz

    def hessian(self, x, lam):
        return self.Q @ self.hess_z(self.z(x), lam) @ self.Q.T

    def hvp(self, x, lam, v):
        return self.hessian(x, lam) @ v

    def grad_lam(self, x, lam):
        return self.Q @ ((-self.s + 2 * self.k * lam) * self.z(x) - self.eta)

    def hvp_lam(self, x, lam, v):
        return self.Q @ ((-self.s + 2 * self.k * lam) * (self.Q.T @ v))

    def d3_vec(self, x, lam, u, v):
        z, uz, vz = self.z(x), self.Q.T @ u, self.Q.T @ v
        return self.Q @ (np.einsum("ijk,i,j->k", self.T, uz, vz) + np.einsum("ijkl,i,j,k->l", self.U, z, uz, vz))

    def d3(self, x, lam, u, v, w):
        return float(self.d3_vec(x, lam, u, v) @ w)

    def d4(self, x, lam, u):
        uz = self.Q.T @ u
        return float(np.einsum("ijkl,i,j,k,l", self.U, uz, uz, uz, uz))

    def problem(self, supply: str = "all", **kw) -> nlpt.Problem:
        """``supply="all"``: every derivative; ``"required"``: loss, grad, hvp, grad_lam only."""
        opt = {}
        if supply == "all":
            opt = dict(hvp_lam=self.hvp_lam, d3=self.d3, d3_vec=self.d3_vec, d4=self.d4, hessian=self.hessian)
        return nlpt.Problem(self.xc.copy(), loss=self.loss, grad=self.grad, hvp=self.hvp, grad_lam=self.grad_lam,
                            **opt, **kw)

    def to_z(self, X):
        """Rows of X (points or directions in x) in z-coordinates of directions: ``X Q``."""
        return np.asarray(X) @ self.Q
