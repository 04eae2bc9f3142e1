"""The width sweep (SPEC 4, "width scaling"): one threshold analysis per case of a grid.

For uniform a, ``m * lambda_1'(0)`` is nearly constant in m, so ``lam*_pred ~ alpha m``; at large m
the crossing leaves [0, 1].  The headline table is m in {3, 5, 10, 20, 50, 100}.

A sweep is the product of widths, alphas, activations, kinds of second-layer weights a and seeds
(:func:`plan_sweep`); the seed draws the default data set (SPEC 1) and a random a.  Every case is
described by a configuration (:mod:`nlpt.provenance`) and identified by its hash, so that a sweep
can be resumed (``done``) and its cases run anywhere (:mod:`nlpt.executors`: this process, local
worker processes, a Dask cluster) with the same rows.  :func:`run_case` turns one case into one
JSON-able record -- configuration, result, branch curves, time, worker, provenance -- the line
that ``nlpt reproduce`` appends to ``cases.jsonl``; :class:`SweepResult` assembles records into
rows (the table), a summary across seeds, and the ``results.json`` object.  Results come back in
the order of the cases, so the output depends neither on ``jobs`` nor on the executor.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import provenance as prov
from ._jsonio import jsonable
from ._validate import NLPTInputError, as_float, as_int, as_lam_max
from .activations import get_activation
from .analysis import analyze
from .data import check_data, default_data, load_data, make_a
from .model import Model
from .spectral import DENSE_MAX

__all__ = [
    "DEFAULT_WIDTHS", "DEFAULT_ALPHAS", "DEFAULT_TOL", "BRANCH_EIGS", "FAILED_STATUSES",
    "DefaultData", "PlannedCase", "SweepPlan", "SweepCase", "SweepResult",
    "DEFAULT_WIDTHS_UNIFORM", "plan_sweep", "run_case", "run_sweep", "width_sweep", "branch_curves", "blas_limit",
]

#: The paper's widths (the default for sweeps with non-uniform a, on the full engine).
DEFAULT_WIDTHS = (3, 5, 10, 20, 50, 100)
#: The default widths when every a is uniform: the paper's and up to 10^6 (the reduced engine's
#: cost does not depend on m).
DEFAULT_WIDTHS_UNIFORM = DEFAULT_WIDTHS + (1000, 10**4, 10**5, 10**6)
DEFAULT_ALPHAS = (1e-5, 1e-4, 1e-3)
#: Tolerance in lam of the measured crossing (passed to :func:`nlpt.analysis.analyze`).
DEFAULT_TOL = 1e-10
#: Lowest Hessian eigenvalues stored per branch point (the engine may track more).
BRANCH_EIGS = 8
#: Statuses of cases that did not run to an answer; ``--resume`` runs them again.
FAILED_STATUSES = ("worker died", "error")


@dataclass(frozen=True)
class DefaultData:
    """The seeded teacher data set of SPEC 1 (:func:`nlpt.data.default_data`), one per seed."""

    n: int = 200
    d: int = 3

    def arrays(self, seed: int):
        return default_data(n=self.n, d=self.d, seed=seed)


def blas_limit(threads: int | None):
    """A context limiting BLAS to ``threads`` threads (threadpoolctl), or a no-op context when
    ``threads`` is None."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


_BLAS_LIMIT = None


def _single_threaded_blas() -> None:
    """Worker initializer: one BLAS thread per process, so that ``jobs`` processes do not
    oversubscribe the cores."""
    global _BLAS_LIMIT
    _BLAS_LIMIT = blas_limit(1)


# -- the plan ------------------------------------------------------------------------------------

@dataclass
class PlannedCase:
    """One case of a sweep: its grid coordinates, its a, its data key and its configuration."""

    index: int
    m: int
    alpha: float
    activation: str
    a_kind: str
    seed: int
    a: np.ndarray = field(repr=False)
    data_key: str
    config: dict = field(repr=False)
    config_hash: str


@dataclass
class SweepPlan:
    """The validated cases of a sweep, the data sets they use (by key) and the sweep's config."""

    cases: list
    data: dict = field(repr=False)
    config: dict


def _distinct(name: str, values, check) -> list:
    values = list(values) if np.iterable(values) and not isinstance(values, (str, Path)) else [values]
    if not values:
        raise NLPTInputError(f"{name}: expected at least one value, got an empty list")
    out = [check(v) for v in values]
    seen = set()
    for v, o in zip(values, out):
        if o in seen:
            raise NLPTInputError(f"{name}: expected distinct values, got {_plain(v)} more than once")
        seen.add(o)
    return out


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _a_kind(spec) -> str:
    if isinstance(spec, str) and spec in ("uniform", "random"):
        return spec
    if isinstance(spec, (str, Path)):
        return "file"
    raise NLPTInputError(f"a_kinds: expected 'uniform', 'random' or a file path, got {spec!r}")


def _sweep_data_sets(data, seeds, kinds):
    """``(arrays by seed, data config by seed, the sweep's data config)`` (see :func:`plan_sweep`)."""
    if isinstance(data, DefaultData):
        as_int("n", data.n)
        as_int("d", data.d)
        arrays = {s: data.arrays(s) for s in seeds}
        descs = {s: prov.data_config(*arrays[s], source="default", seed=s) for s in seeds}
        sweep_data = {"source": "default", "seed": None, "generator": dict(prov.DEFAULT_GENERATOR), "path": None,
                      "file_sha256": None, "arrays_sha256": None, "n": data.n, "d": data.d}
    else:
        if isinstance(data, (str, Path)):
            X, y = load_data(data)
            desc = prov.data_config(X, y, source="file", path=data)
        else:
            X, y = check_data(*data)
            desc = prov.data_config(X, y, source="arrays")
        if len(seeds) > 1 and "random" not in kinds:
            raise NLPTInputError(
                f"seeds: expected one seed with a fixed data set and no random a (the seed draws only the "
                f"default data and a random a), got {len(seeds)} seeds"
            )
        arrays = {s: (X, y) for s in seeds}
        descs = {s: desc for s in seeds}
        sweep_data = dict(desc)
    return arrays, descs, sweep_data


def plan_sweep(data, widths=DEFAULT_WIDTHS, alphas=DEFAULT_ALPHAS, *, activations=("tanh",),
               a_kinds=("uniform",), seeds=(0,), lam_max: float = 1.0, tol: float = DEFAULT_TOL,
               engine: str = "auto") -> SweepPlan:
    """Validate a sweep and list its cases, in the order activation, a, seed, alpha, m.

    ``data`` is a :class:`DefaultData` (one data set per seed), a ``.npz``/``.csv`` path, or a pair
    ``(X, y)`` of arrays (the same data for every seed; the seed then only draws a random a).
    ``a_kinds`` holds ``"uniform"``, ``"random"`` (``U(0.5, 1.5)`` from the seed, redrawn per width)
    or file paths (a file fits one width).  Every value list must be non-empty and distinct.
    ``engine`` (``"auto"``, ``"reduced"``, ``"full"``) is passed to every case's analysis.
    Nothing is computed here; bad input raises :class:`nlpt.NLPTInputError`.
    """
    from .engine import ENGINES

    if not isinstance(engine, str) or engine not in ENGINES:
        raise NLPTInputError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    widths = _distinct("widths", widths, lambda m: as_int("widths", m))
    alphas = _distinct("alphas", alphas, lambda al: as_float("alphas", al, minimum=0.0, strict=True))
    activations = _distinct("activations", activations, lambda s: get_activation(s).name)
    a_specs = list(a_kinds) if np.iterable(a_kinds) and not isinstance(a_kinds, (str, Path)) else [a_kinds]
    _distinct("a_kinds", [str(s) if isinstance(s, Path) else s for s in a_specs], lambda s: str(s))
    kinds = [_a_kind(s) for s in a_specs]
    seeds = _distinct("seeds", seeds, lambda s: as_int("seeds", s, minimum=0))
    lam_max = as_lam_max(lam_max)
    tol = as_float("tol", tol, minimum=0.0, strict=True)

    arrays, descs, sweep_data = _sweep_data_sets(data, seeds, kinds)
    keys = {s: descs[s]["arrays_sha256"] for s in seeds}

    a_values = {}
    for spec, kind in zip(a_specs, kinds):
        if kind == "file":
            fits = [m for m in widths if _a_file_fits(spec, m)]
            if fits != widths:
                if not fits:
                    make_a(spec, widths[0])  # raises the message naming the width the file fits
                raise NLPTInputError(
                    f"a: a file of weights fits one width, m = {fits[0]}, got widths {widths} with {str(spec)!r} "
                    f"(sweep --m {fits[0]} alone)"
                )
        for s in seeds:
            for m in widths:
                a_values[(str(spec), s, m)] = make_a(spec, m, seed=s)

    cases = []
    for act in activations:
        for spec, kind in zip(a_specs, kinds):
            for s in seeds:
                for al in alphas:
                    for m in widths:
                        a = a_values[(str(spec), s, m)]
                        cfg = prov.case_config(descs[s], m, prov.a_config(spec, a, seed=s), act, al, lam_max, tol, s,
                                               engine_option=engine)
                        cases.append(PlannedCase(len(cases), m, al, act, kind, s, a, keys[s], cfg, prov.config_hash(cfg)))
    config = {
        "data": sweep_data,
        "widths": widths,
        "alphas": alphas,
        "activations": activations,
        "a_kinds": [str(Path(s).resolve()) if k == "file" else s for s, k in zip(a_specs, kinds)],
        "seeds": seeds,
        "lam_min": 0.0,
        "lam_max": lam_max,
        "tolerances": prov.tolerances(tol),
        "engine_option": engine,
        "n_cases": len(cases),
    }
    data_by_key = {keys[s]: arrays[s] for s in seeds}
    return SweepPlan(cases, data_by_key, config)


def _a_file_fits(spec, m: int) -> bool:
    try:
        make_a(spec, m)
    except NLPTInputError:
        return False
    return True


# -- one case ------------------------------------------------------------------------------------

def branch_curves(branch, n_eigs: int = BRANCH_EIGS) -> dict | None:
    """The curves of a continued branch in arclength order: ``lams``, the ``n_eigs`` lowest
    eigenvalues per point, the Morse index, and ``s``/``dlam_ds`` when the engine records them."""
    lams = getattr(branch, "lams", None)
    if lams is None:
        return None
    eigs = np.asarray(getattr(branch, "eigenvalues", np.zeros((len(lams), 0))), dtype=float)
    s = getattr(branch, "s", None)
    dl = getattr(branch, "dlam_ds", None)
    morse = getattr(branch, "morse", None)
    return jsonable({
        "lams": np.asarray(lams, dtype=float),
        "lowest_eigenvalues": eigs.reshape(len(lams), -1)[:, :n_eigs],
        "morse": None if morse is None else np.asarray(morse, dtype=int),
        "s": None if s is None else np.asarray(s, dtype=float),
        "dlam_ds": None if dl is None else np.asarray(dl, dtype=float),
    })


def _case_provenance(argv) -> dict:
    out = prov.provenance(argv)
    return out


def run_case(task: dict, data) -> dict:
    """One case end to end: :func:`nlpt.analysis.analyze` and its record (module docstring).

    ``task`` holds ``config``, ``config_hash``, ``m``, ``alpha``, ``activation``, ``a``,
    ``lam_max``, ``tol`` and ``argv``; ``data`` is ``(X, y)``.  Dense-regime cases run on one BLAS
    thread (measured faster, and the same rounding whatever the executor)."""
    # Fresh arrays: data that arrived through a cluster's serializer may sit in unaligned or
    # read-only buffers, which changes numpy's summation paths in the last digits.
    X, y = (np.array(v, dtype=float, order="C", copy=True) for v in data)
    t0 = time.perf_counter()
    model = Model(X, y, task["m"], a=np.asarray(task["a"], dtype=float), alpha=task["alpha"],
                  activation=task["activation"])
    with blas_limit(1 if model.size <= DENSE_MAX else None):
        res = analyze(model, lam_max=task["lam_max"], tol=task["tol"], engine=task.get("engine", "auto"))
    result = res.to_dict()
    config = dict(task["config"], engine=result.get("engine", "full"))
    return jsonable({
        "config_hash": task["config_hash"],
        "config": config,
        "result": result,
        "branch": branch_curves(res.threshold.branch),
        "seconds": time.perf_counter() - t0,
        "worker": {"host": socket.gethostname(), "pid": os.getpid()},
        "provenance": _case_provenance(task.get("argv")),
    })


def failure_record(case: PlannedCase, status: str, message: str, argv=None) -> dict:
    """The record of a case that did not run to an answer (``status`` in FAILED_STATUSES)."""
    return jsonable({
        "config_hash": case.config_hash,
        "config": case.config,
        "result": {"status": status, "message": message},
        "branch": None,
        "seconds": None,
        "worker": None,
        "provenance": _case_provenance(argv),
    })


# -- results -------------------------------------------------------------------------------------

#: Keys of a table row (``rows`` of results.json, columns of results.csv), in order.
ROW_KEYS = (
    "activation", "a_kind", "seed", "m", "alpha", "softening_rate", "m_times_rate", "lam_star_pred",
    "lam_star_measured", "ratio", "multiplicity", "morse_before", "morse_after", "rho",
    "classification", "eta", "status", "config_hash",
)


@dataclass
class SweepCase:
    """One finished (or failed) case: its record (:func:`run_case`), with the fields plots need."""

    record: dict = field(repr=False)
    resumed: bool = False

    @property
    def config(self) -> dict:
        return self.record["config"]

    @property
    def result(self) -> dict:
        return self.record["result"]

    @property
    def m(self) -> int:
        return int(self.config["m"])

    @property
    def alpha(self) -> float:
        return float(self.config["alpha"])

    @property
    def activation(self) -> str:
        return self.config["activation"]

    @property
    def a_kind(self) -> str:
        return self.config["a"]["kind"]

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def status(self) -> str:
        return self.result.get("status")

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    @property
    def seconds(self) -> float | None:
        return self.record.get("seconds")

    def _curve(self, key):
        b = self.record.get("branch") or {}
        return b.get(key)

    @property
    def lams(self) -> np.ndarray:
        v = self._curve("lams")
        return np.zeros(0) if v is None else np.asarray(v, dtype=float)

    @property
    def eigenvalues(self) -> np.ndarray:
        v = self._curve("lowest_eigenvalues")
        if v is None or len(v) == 0:
            return np.zeros((0, 0))
        return np.array([[np.nan if x is None else x for x in row] for row in v], dtype=float)

    @property
    def s(self) -> np.ndarray | None:
        v = self._curve("s")
        return None if v is None else np.asarray(v, dtype=float)

    @property
    def dlam_ds(self) -> np.ndarray | None:
        v = self._curve("dlam_ds")
        return None if v is None else np.asarray(v, dtype=float)

    def row(self) -> dict:
        """The table row: predicted vs measured lam*, ratio, m lambda_1'(0), Morse change, rho."""
        r = self.result
        nf = r.get("normal_form") or {}
        rate = r.get("softening_rate")
        return {
            "activation": self.activation,
            "a_kind": self.a_kind,
            "seed": self.seed,
            "m": self.m,
            "alpha": self.alpha,
            "softening_rate": rate,
            "m_times_rate": None if rate is None else self.m * rate,
            "lam_star_pred": r.get("lam_star_pred"),
            "lam_star_measured": r.get("lam_star_measured"),
            "ratio": r.get("ratio"),
            "multiplicity": r.get("multiplicity"),
            "morse_before": r.get("morse_before"),
            "morse_after": r.get("morse_after"),
            "rho": nf.get("rho"),
            "classification": nf.get("classification"),
            "eta": r.get("eta"),
            "status": r.get("status"),
            "config_hash": self.record["config_hash"],
        }


#: Keys of a summary row (``summary`` of results.json, columns of summary.csv), in order.
SUMMARY_KEYS = (
    "activation", "a_kind", "m", "alpha", "n_seeds", "m_times_rate_mean", "m_times_rate_std",
    "m_times_rate_min", "m_times_rate_max", "n_ratio", "ratio_mean", "ratio_std", "ratio_min", "ratio_max",
)


def _stats(values) -> dict:
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    return {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else None,
            "min": float(v.min()), "max": float(v.max())}


@dataclass
class SweepResult:
    """All cases of a sweep, in plan order, plus the configuration that produced them."""

    cases: list
    config: dict

    def rows(self) -> list:
        return [c.row() for c in self.cases]

    def failed(self) -> list:
        return [c for c in self.cases if c.failed]

    def summary(self) -> list:
        """Mean, sample standard deviation, min and max over seeds of ``m_times_rate`` and of
        ``ratio`` (measured/predicted, over the seeds that have one), per activation, a, m and alpha."""
        groups: dict = {}
        for c in self.cases:
            groups.setdefault((c.activation, c.a_kind, c.m, c.alpha), []).append(c.row())
        out = []
        for (act, kind, m, al), rows in groups.items():
            mt = _stats(r["m_times_rate"] for r in rows)
            ra = _stats(r["ratio"] for r in rows)
            out.append({
                "activation": act, "a_kind": kind, "m": m, "alpha": al, "n_seeds": len(rows),
                "m_times_rate_mean": mt["mean"], "m_times_rate_std": mt["std"],
                "m_times_rate_min": mt["min"], "m_times_rate_max": mt["max"],
                "n_ratio": ra["n"], "ratio_mean": ra["mean"], "ratio_std": ra["std"],
                "ratio_min": ra["min"], "ratio_max": ra["max"],
            })
        return out

    def engines(self) -> list:
        return sorted({c.config.get("engine") for c in self.cases if c.config.get("engine")})

    def to_dict(self, provenance: dict | None = None) -> dict:
        """The ``results.json`` object (keys in ``docs/output.md``)."""
        return {
            "config": dict(self.config, engines=self.engines()),
            "provenance": provenance if provenance is not None else prov.provenance(),
            "rows": self.rows(),
            "summary": self.summary(),
            "cases": [c.record for c in self.cases],
        }


# -- running -------------------------------------------------------------------------------------

def run_sweep(plan: SweepPlan, *, jobs: int = 1, client=None, done: dict | None = None, on_case=None,
              argv=None) -> SweepResult:
    """Run the cases of ``plan`` that ``done`` (records by config hash) does not hold.

    ``jobs == 1`` runs them in this process, ``jobs > 1`` on that many local worker processes, and
    a ``distributed.Client`` (``client``) on its Dask cluster.  ``on_case(record)`` is called in
    this process as each case finishes, in completion order (``nlpt reproduce`` appends the record
    to ``cases.jsonl`` there); failures (a worker that died, an exception) are records too, with
    status ``"worker died"`` or ``"error"``.  An interrupt (KeyboardInterrupt,
    :class:`nlpt.executors.SignalExit`) stops the workers and propagates."""
    from . import executors

    jobs = as_int("jobs", jobs)
    done = done or {}
    records: dict = {}
    resumed = set()
    for c in plan.cases:
        rec = done.get(c.config_hash)
        if rec is not None and rec.get("result", {}).get("status") not in FAILED_STATUSES:
            records[c.index] = rec
            resumed.add(c.index)
    todo = [c for c in plan.cases if c.index not in records]
    tasks = [(c.index, {"config": c.config, "config_hash": c.config_hash, "m": c.m, "alpha": c.alpha,
                        "activation": c.activation, "a": [float(v) for v in c.a],
                        "lam_max": c.config["lam_max"], "tol": c.config["tolerances"]["tol"],
                        "engine": c.config.get("engine_option", "auto"),
                        "argv": None if argv is None else list(argv)}, c.data_key) for c in todo]
    by_index = {c.index: c for c in plan.cases}
    shared = {k: v for k, v in plan.data.items() if any(c.data_key == k for c in todo)}

    def on_outcome(index, kind, value):
        rec = value if kind == "ok" else failure_record(by_index[index], kind, value, argv)
        records[index] = rec
        if on_case is not None:
            on_case(rec)

    if tasks:
        if client is not None:
            executors.run_dask(run_case, tasks, shared, on_outcome, client)
        elif jobs == 1 or len(tasks) == 1:
            executors.run_serial(run_case, tasks, shared, on_outcome)
        else:
            executors.run_processes(run_case, tasks, shared, on_outcome, min(jobs, len(tasks)),
                                    initializer=_single_threaded_blas)
    cases = [SweepCase(records[c.index], resumed=c.index in resumed) for c in plan.cases]
    return SweepResult(cases, plan.config)


def width_sweep(X, y, widths=DEFAULT_WIDTHS, alphas=DEFAULT_ALPHAS, *, activation="tanh", a="uniform",
                seed: int = 0, lam_max: float = 1.0, tol: float = DEFAULT_TOL, jobs: int = 1,
                on_case=None) -> SweepResult:
    """Run :func:`nlpt.analysis.analyze` for every (alpha, m) on the data ``(X, y)``.

    ``a`` is ``"uniform"``, ``"random"`` (seeded by ``seed``, redrawn per width) or a file/array
    accepted by :func:`nlpt.data.make_a` (a file fits a single width).  The grid over activations,
    kinds of a and seeds is :func:`plan_sweep` + :func:`run_sweep`."""
    jobs = as_int("jobs", jobs)
    if isinstance(a, np.ndarray) or (np.iterable(a) and not isinstance(a, (str, Path))):
        raise NLPTInputError("a: expected 'uniform', 'random' or a file path for a sweep, got an array "
                             "(an array fits one width: use nlpt.analyze)")
    plan = plan_sweep((X, y), widths, alphas, activations=[activation], a_kinds=[a], seeds=[seed],
                      lam_max=lam_max, tol=tol)
    return run_sweep(plan, jobs=jobs, on_case=on_case)
