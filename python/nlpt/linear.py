"""The linear endpoint lam = 0: closed forms and their numerical counterparts (SPEC section 3).

At lam = 0 the network is ``f_0(x) = v . x`` with ``v = W^T a / m`` and the Hessian is

    H_0 = (1/m^2) (a a^T) (x) Sigma + alpha I,      Sigma = X^T X / n,

independent of W.  Closed forms:

* unregularized kernel ``K = {V : sum_j a_j v_j = 0}`` (+ the directions a (x) ker Sigma); its
  dimension is ``m d - rank(Sigma)`` when a != 0 (``(m-1) d`` when Sigma is positive definite)
  and ``m d`` when a = 0;
* spectrum of H_0: ``alpha`` with multiplicity ``m d - rank(Sigma)`` and
  ``alpha + (||a||^2 / m^2) mu_k(Sigma)`` for the nonzero eigenvalues mu_k of Sigma;
  hence ``lambda_min(H_0) = alpha`` whenever m > 1 or Sigma is singular;
* critical point ``v* = (Sigma + (alpha m^2/||a||^2) I)^{-1} X^T y / n``,
  ``W* = (m/||a||^2) a v*^T`` (minimum-norm factorisation); ``W* = 0`` when a = 0.

:func:`linear_endpoint` computes each quantity both in closed form and numerically from the dense
Hessian, so that the two can be held against each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import NLPTInputError
from .model import Model

__all__ = [
    "LinearEndpoint",
    "SpectrumComparison",
    "sigma_matrix",
    "critical_point",
    "closed_form_spectrum",
    "kernel_basis",
    "kernel_dim_theory",
    "numeric_rank",
    "linear_endpoint",
    "compare_spectrum",
]


#: Largest m d for which :func:`linear_endpoint` forms the dense Hessian (about 0.3 GB, a few seconds).
SPECTRUM_MAX = 6000


def sigma_matrix(model: Model) -> np.ndarray:
    """Sigma = X^T X / n."""
    return model.X.T @ model.X / model.n


def numeric_rank(S: np.ndarray, rtol: float = 1e-9) -> int:
    """Rank of a symmetric PSD matrix: eigenvalues above rtol * largest."""
    mu = np.linalg.eigvalsh(S)
    return int(np.sum(mu > rtol * max(0.0, float(mu[-1]))))


def critical_point(model: Model):
    """(v*, W*) of SPEC 3: the critical point of L_0 (minimum-norm factorisation)."""
    a, m, alpha = model.a, model.m, model.alpha
    na2 = float(a @ a)
    if na2 == 0.0:
        return np.zeros(model.d), np.zeros((m, model.d))
    S = sigma_matrix(model)
    b = model.X.T @ model.y / model.n
    v = np.linalg.solve(S + (alpha * m * m / na2) * np.eye(model.d), b) if alpha > 0 else np.linalg.lstsq(S, b, rcond=None)[0]
    W = (m / na2) * np.outer(a, v)
    return v, W


def kernel_dim_theory(model: Model) -> int:
    """Dimension of the unregularized Hessian's kernel at lam = 0.

    ``m d - rank(Sigma)`` if a != 0, else ``m d``.  With Sigma positive definite, ``(m-1) d``.
    """
    if not np.any(model.a):
        return model.size
    return model.size - numeric_rank(sigma_matrix(model))


def closed_form_spectrum(model: Model) -> np.ndarray:
    """All m d eigenvalues of H_0 in ascending order, from the closed form."""
    mu = np.clip(np.linalg.eigvalsh(sigma_matrix(model)), 0.0, None)
    scale = float(model.a @ model.a) / model.m**2
    top = model.alpha + scale * mu
    rest = np.full(model.size - model.d, model.alpha)
    return np.sort(np.concatenate([rest, top]))


def kernel_basis(model: Model) -> np.ndarray:
    """Orthonormal basis of K = {V : sum_j a_j v_j = 0}, shape (q, m, d), q = (m-1) d (a != 0).

    The basis is ``q_i e_k^T`` with q_i an orthonormal basis of a^perp in R^m.  For a = 0 it is
    the standard basis of all m x d matrices.
    """
    m, d = model.m, model.d
    a = model.a
    if not np.any(a):
        Q = np.eye(m)
    else:
        # Full QR of a: the last m-1 columns span a^perp.
        Qfull, _ = np.linalg.qr(a.reshape(m, 1), mode="complete")
        Q = Qfull[:, 1:]
    basis = np.einsum("ji,kl->ikjl", Q, np.eye(d)).reshape(Q.shape[1] * d, m, d)
    return basis


@dataclass
class LinearEndpoint:
    """Closed-form and numerical quantities at lam = 0 (SPEC 3)."""

    m: int
    d: int
    n: int
    alpha: float
    kernel_dim: int
    kernel_dim_theory: int
    lambda_min: float
    eigenvalues: np.ndarray = field(repr=False)
    eigenvalues_theory: np.ndarray = field(repr=False)
    v_star: np.ndarray = field(repr=False)
    W_star: np.ndarray = field(repr=False)
    grad_norm_at_W_star: float
    max_eig_error: float
    kernel_tol: float

    def summary(self) -> dict:
        return {
            "m": self.m,
            "d": self.d,
            "n": self.n,
            "alpha": self.alpha,
            "kernel_dim": self.kernel_dim,
            "kernel_dim_theory": self.kernel_dim_theory,
            "lambda_min": self.lambda_min,
            "lambda_min_theory": float(self.eigenvalues_theory[0]),
            "max_eig_error": self.max_eig_error,
            "grad_norm_at_W_star": self.grad_norm_at_W_star,
            "top_eigenvalues": [float(x) for x in self.eigenvalues[::-1][: min(self.d, 5)]],
            "top_eigenvalues_theory": [float(x) for x in self.eigenvalues_theory[::-1][: min(self.d, 5)]],
            "v_star": [float(x) for x in self.v_star],
        }


def linear_endpoint(model: Model, rtol: float = 1e-9) -> LinearEndpoint:
    """Compute the lam = 0 invariants both ways.

    Numerically: the dense Hessian at (W*, 0); its data part's eigenvalues below
    ``rtol * largest`` in absolute value count as the kernel.  In closed form: :func:`kernel_dim_theory`,
    :func:`closed_form_spectrum`, :func:`critical_point`.  The numeric side forms the dense
    ``(m d) x (m d)`` Hessian, so ``m d`` is capped at :data:`SPECTRUM_MAX` (an error naming m
    beyond it).
    """
    if model.size > SPECTRUM_MAX:
        raise NLPTInputError(
            f"m: the numeric spectrum at lam = 0 forms the dense (m d) x (m d) Hessian; m d = {model.size} exceeds "
            f"{SPECTRUM_MAX} (about {8 * model.size**2 / 2**30:.0f} GiB); the closed forms hold for every m "
            f"(kernel dimension (m-1) d, floor alpha)")
    v, W = critical_point(model)
    ev = model.at(W, 0.0)
    data_eigs = np.linalg.eigvalsh(ev.data_hessian())
    tol = rtol * float(np.max(np.abs(data_eigs)))
    kdim = int(np.sum(np.abs(data_eigs) <= tol))
    eigs = data_eigs + model.alpha
    theory = closed_form_spectrum(model)
    return LinearEndpoint(
        m=model.m,
        d=model.d,
        n=model.n,
        alpha=model.alpha,
        kernel_dim=kdim,
        kernel_dim_theory=kernel_dim_theory(model),
        lambda_min=float(eigs[0]),
        eigenvalues=eigs,
        eigenvalues_theory=theory,
        v_star=v,
        W_star=W,
        grad_norm_at_W_star=float(np.linalg.norm(ev.grad())),
        max_eig_error=float(np.max(np.abs(eigs - theory))),
        kernel_tol=tol,
    )


@dataclass
class SpectrumComparison:
    """Distinct eigenvalues of H_0 with multiplicities, closed form next to numeric."""

    values: list
    multiplicities: list


def compare_spectrum(eigs: np.ndarray, rtol: float = 1e-8) -> SpectrumComparison:
    """Group sorted eigenvalues into clusters (relative gap rtol) with multiplicities."""
    vals, mults = [], []
    scale = max(1.0, float(np.max(np.abs(eigs))))
    for x in np.sort(eigs):
        if vals and abs(x - vals[-1]) <= rtol * scale:
            mults[-1] += 1
        else:
            vals.append(float(x))
            mults.append(1)
    return SpectrumComparison(vals, mults)
