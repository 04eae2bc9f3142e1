"""Input validation at the package boundary.

Every public entry point checks its arguments here once, so that bad input raises
:class:`NLPTInputError` (a :class:`ValueError`) whose message names the argument, what was
expected and what was received.  Nothing deeper in the package re-checks.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["NLPTInputError", "as_matrix", "as_vector", "as_int", "as_float", "as_lam", "as_lam_max"]


class NLPTInputError(ValueError):
    """Bad input to an nlpt function: the message names the argument, the expectation and the value."""


def _plain(value):
    """numpy scalars as Python numbers, so that messages say ``nan``, not ``np.float64(nan)``."""
    return value.item() if isinstance(value, np.generic) else value


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    value = _plain(value)
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _as_float_array(name: str, value, expected: str) -> np.ndarray:
    if np.iscomplexobj(value):
        raise NLPTInputError(f"{name}: expected real numbers, got complex values ({_describe(np.asarray(value))})")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise NLPTInputError(f"{name}: expected {expected}, got {_describe(value)}") from None
    return arr


def _check_finite(name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NLPTInputError(
            f"{name}: expected finite values, got {float(arr[idx])!r} at index {idx}"
            f" ({int(bad.sum())} non-finite entries)"
        )


def as_matrix(name: str, value, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """A finite float matrix of the given shape (``None`` = any size >= 1)."""
    want = f"({'n' if rows is None else rows}, {'d' if cols is None else cols})"
    arr = _as_float_array(name, value, f"a 2-D array of shape {want}")
    if arr.ndim != 2:
        raise NLPTInputError(f"{name}: expected a 2-D array of shape {want}, got {_describe(arr)}")
    if (rows is not None and arr.shape[0] != rows) or (cols is not None and arr.shape[1] != cols):
        raise NLPTInputError(f"{name}: expected shape {want}, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise NLPTInputError(f"{name}: expected a non-empty array of shape {want}, got shape {arr.shape}")
    _check_finite(name, arr)
    return arr


def as_vector(name: str, value, length: int | None = None) -> np.ndarray:
    """A finite float vector of the given length (``None`` = any length >= 1)."""
    want = f"({'n' if length is None else length},)"
    arr = _as_float_array(name, value, f"a 1-D array of shape {want}")
    if arr.ndim != 1:
        raise NLPTInputError(f"{name}: expected a 1-D array of shape {want}, got {_describe(arr)}")
    if (length is not None and arr.shape[0] != length) or arr.shape[0] < 1:
        raise NLPTInputError(f"{name}: expected shape {want}, got shape {arr.shape}")
    _check_finite(name, arr)
    return arr


def as_int(name: str, value, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise NLPTInputError(f"{name}: expected an integer >= {minimum}, got {_describe(value)}")
    if value < minimum:
        raise NLPTInputError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def as_float(name: str, value, minimum: float | None = None, strict: bool = False) -> float:
    """A finite real number, optionally bounded below (``strict``: > minimum)."""
    bound = "" if minimum is None else (f" > {minimum}" if strict else f" >= {minimum}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise NLPTInputError(f"{name}: expected a finite real number{bound}, got {_describe(value)}")
    x = float(value)
    if not np.isfinite(x):
        raise NLPTInputError(f"{name}: expected a finite real number{bound}, got {x}")
    if minimum is not None and (x <= minimum if strict else x < minimum):
        raise NLPTInputError(f"{name}: expected a finite real number{bound}, got {x}")
    return x


def as_lam(value, name: str = "lam") -> float:
    """The homotopy parameter, a real number in [0, 1]."""
    x = as_float(name, value)
    if not 0.0 <= x <= 1.0:
        raise NLPTInputError(f"{name}: expected a number in [0, 1], got {x}")
    return x


def as_lam_max(value, name: str = "lam_max") -> float:
    """The end of a continuation in lam, a real number in (0, 1]."""
    x = as_float(name, value)
    if not 0.0 < x <= 1.0:
        raise NLPTInputError(f"{name}: expected a number in (0, 1], got {x}")
    return x
