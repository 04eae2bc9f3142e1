"""Lowest eigenpairs of the Hessian and Morse indices.

``method="dense"`` forms H (O((md)^2) memory) and calls ``numpy.linalg.eigh``;
``method="auto"`` picks dense below :data:`DENSE_MAX` parameters and matrix-free above.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import eigsh

from ._validate import NLPTInputError, as_int
from .model import Evaluation

__all__ = ["DENSE_MAX", "lowest_eigenpairs", "morse_index"]

#: Above this many parameters (m d), spectra are computed matrix-free.
DENSE_MAX = 1500


def _method(ev: Evaluation, method: str) -> str:
    if method == "auto":
        return "dense" if ev.model.size <= DENSE_MAX else "matrix-free"
    if method not in ("dense", "matrix-free"):
        raise NLPTInputError(f"method: expected 'auto', 'dense' or 'matrix-free', got {method!r}")
    return method


def lowest_eigenpairs(ev: Evaluation, k: int = 1, method: str = "auto", X0=None, tol: float = 1e-10):
    """The k lowest eigenvalues (ascending) and eigenvectors (columns, flat length m d) of H.

    ``X0`` (P x k'), optional, warm-starts the matrix-free solver.
    """
    P = ev.model.size
    k = as_int("k", k)
    if k > P:
        raise NLPTInputError(f"k: expected at most m d = {P} eigenpairs, got {k}")
    if _method(ev, method) == "dense":
        vals, vecs = np.linalg.eigh(ev.hessian())
        return vals[:k], vecs[:, :k]
    op = ev.operator()
    if k >= P - 1:
        vals, vecs = np.linalg.eigh(ev.hessian())
        return vals[:k], vecs[:, :k]
    v0 = None if X0 is None else np.asarray(X0)[:, 0]
    vals, vecs = eigsh(op, k=k, which="SA", v0=v0, tol=tol)
    order = np.argsort(vals)
    return vals[order], vecs[:, order]


def morse_index(ev: Evaluation, tol: float = 1e-9, method: str = "auto") -> int:
    """Number of Hessian eigenvalues below ``-tol`` (the Morse index)."""
    if _method(ev, method) == "dense":
        return int(np.sum(np.linalg.eigvalsh(ev.hessian()) < -tol))
    P = ev.model.size
    k = 1
    while True:
        vals, _ = lowest_eigenpairs(ev, min(k, P), method="matrix-free")
        neg = int(np.sum(vals < -tol))
        if neg < len(vals) or k >= P:
            return neg
        k *= 2
