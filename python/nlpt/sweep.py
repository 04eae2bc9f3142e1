"""The width sweep (SPEC 4, "width scaling"): one threshold analysis per (m, alpha).

For uniform a, ``m * lambda_1'(0)`` is nearly constant in m, so ``lam*_pred ~ alpha m``; at large m
the crossing leaves [0, 1].  The headline table is m in {3, 5, 10, 20, 50, 100}.  Independent cases
run in parallel processes (``jobs``); results come back in the order of the cases, so the output
does not depend on ``jobs``.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ._validate import NLPTInputError, as_float, as_int, as_lam_max
from .activations import get_activation
from .analysis import analyze
from .data import check_data, make_a
from .model import Model
from .spectral import DENSE_MAX

__all__ = ["DEFAULT_WIDTHS", "DEFAULT_ALPHAS", "SweepCase", "SweepResult", "width_sweep"]

DEFAULT_WIDTHS = (3, 5, 10, 20, 50, 100)
DEFAULT_ALPHAS = (1e-5, 1e-4, 1e-3)


@dataclass
class SweepCase:
    """One row of the sweep: the case, its analysis (JSON-able dict) and its branch for plotting."""

    m: int
    alpha: float
    result: dict
    lams: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    seconds: float

    def row(self) -> dict:
        """The table row: predicted vs measured lam*, ratio, m lambda_1'(0), Morse change, rho."""
        r = self.result
        nf = r.get("normal_form") or {}
        rate = r.get("softening_rate")
        return {
            "m": self.m,
            "alpha": self.alpha,
            "softening_rate": rate,
            "m_softening_rate": None if rate is None else self.m * rate,
            "lam_star_pred": r.get("lam_star_pred"),
            "lam_star_measured": r.get("lam_star_measured"),
            "ratio": r.get("ratio"),
            "multiplicity": r.get("multiplicity"),
            "morse_before": r.get("morse_before"),
            "morse_after": r.get("morse_after"),
            "rho": nf.get("rho"),
            "bifurcation": nf.get("classification"),
            "eta": r.get("eta"),
            "status": r.get("status"),
            "seconds": self.seconds,
        }


@dataclass
class SweepResult:
    """All cases of a sweep, in (alpha, m) order, plus the configuration that produced them."""

    cases: list
    config: dict

    def rows(self) -> list:
        return [c.row() for c in self.cases]

    def to_dict(self) -> dict:
        return {"config": self.config, "rows": self.rows(), "cases": [dict(c.result, m=c.m, alpha=c.alpha) for c in self.cases]}


def _run_case(args):
    X, y, m, a, alpha, activation, lam_max = args
    t0 = time.perf_counter()
    model = Model(X, y, m, a=a, alpha=alpha, activation=activation)
    res = analyze(model, lam_max=lam_max)
    branch = res.threshold.branch
    lams = np.asarray(getattr(branch, "lams", np.zeros(0)), dtype=float)
    eigs = np.asarray(getattr(branch, "eigenvalues", np.zeros((0, 0))), dtype=float)
    return SweepCase(m, alpha, res.to_dict(), lams, eigs, time.perf_counter() - t0)


def blas_limit(threads: int | None):
    """A context limiting BLAS to ``threads`` threads (threadpoolctl), or a no-op context when
    ``threads`` is None or threadpoolctl is not installed."""
    if threads is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            pass
        else:
            return threadpool_limits(limits=threads, user_api="blas")
    return contextlib.nullcontext()


def _single_threaded_blas() -> None:
    """Worker initializer: one BLAS thread per process, so that ``jobs`` processes do not
    oversubscribe the cores."""
    global _BLAS_LIMIT
    _BLAS_LIMIT = blas_limit(1)


_BLAS_LIMIT = None


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="nlpt sweep", unit="case", leave=False)


def width_sweep(X, y, widths=DEFAULT_WIDTHS, alphas=DEFAULT_ALPHAS, *, activation="tanh", a="uniform",
                seed: int = 0, lam_max: float = 1.0, jobs: int = 1, progress: bool = False) -> SweepResult:
    """Run :func:`nlpt.analysis.analyze` for every (alpha, m).

    ``a`` is ``"uniform"``, ``"random"`` (seeded by ``seed``, redrawn per width) or a file/array
    accepted by :func:`nlpt.data.make_a` (an array only fits a single width).
    """
    X, y = check_data(X, y)
    widths = [as_int("widths", m) for m in (widths if np.iterable(widths) else [widths])]
    alphas = [as_float("alphas", al, minimum=0.0, strict=True) for al in (alphas if np.iterable(alphas) else [alphas])]
    if not widths:
        raise NLPTInputError("widths: expected at least one width, got an empty list")
    if not alphas:
        raise NLPTInputError("alphas: expected at least one alpha, got an empty list")
    act = get_activation(activation).name
    lam_max = as_lam_max(lam_max)
    jobs = as_int("jobs", jobs)
    tasks = [(X, y, m, make_a(a, m, seed=seed), al, act, lam_max) for al in alphas for m in widths]
    bar = _progress(len(tasks), progress)
    cases = []
    # Dense-regime cases are small matrix products where BLAS threads only contend (measured:
    # several times slower on a loaded 2-core machine); matrix-free cases keep BLAS threading.
    small = max(widths) * X.shape[1] <= DENSE_MAX
    if jobs == 1 or len(tasks) == 1:
        with blas_limit(1 if small else None):
            for t in tasks:
                cases.append(_run_case(t))
                if bar is not None:
                    bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_single_threaded_blas) as pool:
            for case in pool.map(_run_case, tasks):
                cases.append(case)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    config = {
        "widths": widths,
        "alphas": alphas,
        "activation": act,
        "a": a if isinstance(a, str) else "custom",
        "seed": seed,
        "lam_max": lam_max,
        "n": int(X.shape[0]),
        "d": int(X.shape[1]),
    }
    return SweepResult(cases, config)
