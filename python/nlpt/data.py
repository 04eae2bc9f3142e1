"""Data sets and second-layer weights (SPEC section 1).

The default data set is the seeded teacher

    x_i ~ N(0, I_d),  beta ~ N(0, I_d),  eps_i ~ N(0, 1),  y_i = tanh(2 beta . x_i) + 0.1 eps_i,

drawn from ``numpy.random.default_rng(seed)`` in the order X, beta, eps.  Users may pass their
own arrays, or a file: ``.npz`` with arrays ``X`` (n x d) and ``y`` (n), or ``.csv`` whose last
column is y (one optional header line).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._validate import NLPTInputError, as_float, as_int, as_matrix, as_vector

__all__ = ["DataFileError", "default_data", "load_data", "check_data", "make_a"]


class DataFileError(NLPTInputError):
    """A data or weight file could not be read or holds the wrong arrays."""


def default_data(n: int = 200, d: int = 3, seed: int = 0, noise: float = 0.1, gain: float = 2.0):
    """The seeded teacher data set ``(X, y)`` of SPEC 1."""
    n = as_int("n", n)
    d = as_int("d", d)
    seed = as_int("seed", seed, minimum=0)
    noise = as_float("noise", noise, minimum=0.0)
    gain = as_float("gain", gain)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta = rng.standard_normal(d)
    eps = rng.standard_normal(n)
    y = np.tanh(gain * (X @ beta)) + noise * eps
    return X, y


def check_data(X, y):
    """Validate a user data set: X finite (n, d), y finite (n,)."""
    X = as_matrix("X", X)
    y = as_vector("y", y, length=X.shape[0])
    return X, y


def _read_npz(p: Path, path):
    with open(p, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04" and magic != b"PK\x05\x06":
        hint = " (it looks like text: a CSV file should end in .csv)" if magic and all(32 <= b < 127 or b in (9, 10, 13) for b in magic) else ""
        raise DataFileError(
            f"data: expected a readable .npz file (a zip archive of .npy arrays), got {str(path)!r}, which is not one{hint}"
        )
    try:
        with np.load(p, allow_pickle=False) as f:
            keys = list(f.keys())
            if "X" not in keys or "y" not in keys:
                raise DataFileError(
                    f"data: expected a .npz file with arrays 'X' and 'y', got arrays {keys} in {str(path)!r}"
                )
            X, y = f["X"], f["y"]
    except DataFileError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataFileError(
                f"data: expected numeric arrays 'X' and 'y' in {str(path)!r}, got arrays of Python objects"
            ) from None
        raise DataFileError(f"data: expected a readable .npz file, got {str(path)!r} ({exc})") from None
    except Exception as exc:  # zip/format errors from numpy
        raise DataFileError(f"data: expected a readable .npz file, got {str(path)!r} ({exc})") from None
    y = np.asarray(y)
    if y.ndim == 2 and 1 in y.shape:
        y = y.ravel()
    return X, y


def _read_csv(p: Path, path):
    import warnings

    if not p.read_bytes().strip():
        raise DataFileError(f"data: expected a numeric .csv file (last column y), got the empty file {str(path)!r}")
    arr = None
    for skip in (0, 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data": checked below
                arr = np.loadtxt(p, delimiter=",", skiprows=skip, ndmin=2)
            break
        except ValueError:
            continue
    if arr is None:
        raise DataFileError(f"data: expected a numeric .csv file (last column y), got unparsable {str(path)!r}")
    if arr.size == 0:
        raise DataFileError(f"data: expected a numeric .csv file with at least one row of data, got only a header in {str(path)!r}")
    if arr.shape[1] < 2 or arr.shape[0] < 1:
        raise DataFileError(
            f"data: expected a .csv with at least 2 columns (features, then y), got shape {arr.shape} in {str(path)!r}"
        )
    return arr[:, :-1], arr[:, -1]


def load_data(path):
    """Read ``(X, y)`` from a ``.npz`` (arrays X, y) or ``.csv`` (last column y) file."""
    p = Path(path)
    if p.is_dir():
        raise DataFileError(f"data: expected a readable .npz or .csv file, got {str(path)!r} (a directory)")
    if not p.is_file():
        raise DataFileError(f"data: expected a readable .npz or .csv file, got {str(path)!r} (no such file)")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npz":
            X, y = _read_npz(p, path)
        elif suffix == ".csv":
            X, y = _read_csv(p, path)
        else:
            raise DataFileError(f"data: expected a file ending in .npz or .csv, got {str(path)!r}")
    except PermissionError:
        raise DataFileError(f"data: expected a readable .npz or .csv file, got {str(path)!r} (permission denied)") from None
    try:
        return check_data(X, y)
    except NLPTInputError as exc:
        raise DataFileError(f"{exc} (read from {str(path)!r})") from None


def make_a(spec, m: int, seed: int = 0) -> np.ndarray:
    """Second-layer weights of length m.

    ``spec`` is ``"uniform"`` (all ones, the default), ``"random"`` (a_j ~ U(0.5, 1.5) from
    ``default_rng(seed)``), a path to a ``.npy``/``.txt``/``.csv`` file, or an array.
    """
    m = as_int("m", m)
    if spec is None or (isinstance(spec, str) and spec == "uniform"):
        return np.ones(m)
    if isinstance(spec, str) and spec == "random":
        rng = np.random.default_rng(as_int("seed", seed, minimum=0))
        return rng.uniform(0.5, 1.5, size=m)
    if isinstance(spec, (str, Path)):
        p = Path(spec)
        if p.is_dir():
            raise DataFileError(f"a: expected 'uniform', 'random' or a readable file, got {str(spec)!r} (a directory)")
        if not p.is_file():
            raise DataFileError(f"a: expected 'uniform', 'random' or a readable file, got {str(spec)!r}")
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file: reported below
                arr = (np.load(p, allow_pickle=False) if p.suffix.lower() == ".npy"
                       else np.loadtxt(p, delimiter="," if p.suffix.lower() == ".csv" else None, ndmin=1))
        except Exception as exc:
            raise DataFileError(f"a: expected a numeric file of {m} weights, got unreadable {str(spec)!r} ({exc})") from None
        arr = np.ravel(arr)
        if arr.size != m:
            fits = f"; it fits m = {arr.size}" if arr.size >= 1 else ""
            raise DataFileError(
                f"a: expected shape ({m},) (one weight per neuron for m = {m}), got {arr.size} weights in {str(spec)!r}{fits}"
            )
        return as_vector("a", arr, length=m)
    return as_vector("a", spec, length=m)
