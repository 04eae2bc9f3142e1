"""Where every number came from: the configuration and provenance blocks of every JSON output.

Every JSON object the package writes (``nlpt spectrum --json``, ``nlpt threshold --json``, each
line of ``cases.jsonl`` and ``results.json`` of ``nlpt reproduce``) carries

* ``config``: what was computed -- the data (the default generator with its seed, or the file
  with its sha256, and the sha256 of the arrays actually used), n, d, m, the second-layer weights
  a (kind, values, sha256), the activation, alpha, the lam range, the tolerances and the engine;
* ``provenance``: how -- the versions of nlpt, numpy, scipy and Python, the platform, the command
  line and a UTC timestamp.

The keys of each object are listed in ``docs/output.md``.  :func:`config_hash` identifies a case
for ``nlpt reproduce --resume``: the sha256 of the configuration without ``engine`` (which the
result reports after the run).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import shlex
import sys
from pathlib import Path

import numpy as np

from ._jsonio import jsonable

__all__ = [
    "versions",
    "provenance",
    "data_config",
    "a_config",
    "tolerances",
    "case_config",
    "config_hash",
    "arrays_sha256",
    "file_sha256",
    "DEFAULT_GENERATOR",
]

#: Parameters of :func:`nlpt.data.default_data` that the command line does not change.
DEFAULT_GENERATOR = {"name": "nlpt.default_data", "noise": 0.1, "gain": 2.0}


def versions() -> dict:
    """Versions of nlpt, numpy, scipy and Python."""
    import scipy

    from . import __version__

    return {"nlpt": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version()}


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def provenance(argv=None) -> dict:
    """``{"versions", "platform", "command_line", "timestamp_utc"}``.

    ``argv`` is the command line as a list (default ``sys.argv``); it is stored as one string that a
    POSIX shell splits back into the same words (:func:`shlex.join`)."""
    argv = list(sys.argv if argv is None else argv)
    return {
        "versions": versions(),
        "platform": f"{platform.system()} {platform.machine()}",
        "command_line": shlex.join(str(a) for a in argv),
        "timestamp_utc": _utc_now(),
    }


def arrays_sha256(*arrays) -> str:
    """sha256 over the float64 C-order bytes of the arrays, each preceded by its shape."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def file_sha256(path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_config(X, y, *, source: str, seed=None, path=None, file_hash=None) -> dict:
    """The ``data`` block: ``source`` is ``"default"`` (the seeded teacher of SPEC 1, with its
    ``seed`` and ``generator``), ``"file"`` (``path``, absolute, with the file's sha256) or
    ``"arrays"`` (passed from Python)."""
    if source not in ("default", "file", "arrays"):
        raise ValueError(f"source: expected 'default', 'file' or 'arrays', got {source!r}")
    if source == "file" and file_hash is None:
        file_hash = file_sha256(path)
    return {
        "source": source,
        "seed": None if source != "default" else int(seed),
        "generator": dict(DEFAULT_GENERATOR) if source == "default" else None,
        "path": None if path is None else str(Path(path).resolve()),
        "file_sha256": file_hash if source == "file" else None,
        "arrays_sha256": arrays_sha256(X, y),
        "n": int(np.shape(X)[0]),
        "d": int(np.shape(X)[1]),
    }


def a_config(spec, a, seed=None) -> dict:
    """The ``a`` block: ``kind`` (``"uniform"``, ``"random"``, ``"file"`` or ``"array"``), the seed of
    a random draw, the file and its sha256, the values (all kinds but uniform, whose values are
    all 1) and the sha256 of the values."""
    a = np.asarray(a, dtype=float)
    if isinstance(spec, str) and spec in ("uniform", "random"):
        kind = spec
    elif spec is None:
        kind = "uniform"
    elif isinstance(spec, (str, Path)):
        kind = "file"
    else:
        kind = "array"
    return {
        "kind": kind,
        "seed": int(seed) if kind == "random" else None,
        "path": str(Path(spec).resolve()) if kind == "file" else None,
        "file_sha256": file_sha256(spec) if kind == "file" else None,
        "values": None if kind == "uniform" else [float(v) for v in a],
        "values_sha256": arrays_sha256(a),
    }


def tolerances(tol: float) -> dict:
    """The tolerances a threshold analysis is asked for: ``tol`` (lam* refinement, passed to
    :func:`nlpt.analysis.analyze`) and the continuation's ``newton_tol`` and ``morse_tol`` as set
    in :class:`nlpt.ContinuationPar` -- None there means the family's own default, and the values
    actually used are in the result (its ``newton_tol`` and ``morse_tol``)."""
    from .params import ContinuationPar

    par = ContinuationPar()
    return {"tol": float(tol), "newton_tol": par.newton_tol, "morse_tol": par.morse_tol}


def case_config(data: dict, m: int, a: dict, activation: str, alpha: float, lam_max: float, tol: float,
                seed: int, engine: str | None = None, engine_option: str = "auto") -> dict:
    """The ``config`` block of one threshold analysis (``nlpt threshold`` and each sweep case).

    ``seed`` is the seed of the run (the default data's and a random a's); ``engine`` is filled in
    from the result (``result.get("engine", "full")``); ``engine_option`` is the engine asked for
    (``auto``, ``reduced``, ``full``), part of the configuration hash."""
    return {
        "data": data,
        "m": int(m),
        "a": a,
        "activation": str(activation),
        "alpha": float(alpha),
        "seed": int(seed),
        "lam_min": 0.0,
        "lam_max": float(lam_max),
        "tolerances": tolerances(tol),
        "engine_option": engine_option,
        "engine": engine,
    }


def config_hash(config: dict) -> str:
    """sha256 of the canonical JSON of a configuration without ``engine`` (reported by the result)
    and without the file paths (the files' contents are hashed): two cases with equal hashes ask
    for the same computation."""
    body = {k: v for k, v in config.items() if k != "engine"}
    for key in ("data", "a"):
        if isinstance(body.get(key), dict):
            body[key] = {k: v for k, v in body[key].items() if k != "path"}
    text = json.dumps(jsonable(body), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()
