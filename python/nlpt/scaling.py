"""Width scaling, exactly: lam* as a function of beta = alpha m, and the critical width (SPEC 7).

For uniform a (``a_j = c``) the branch from W* stays on ``W = 1 u^T``, where the loss is one
neuron with regularization ``beta = alpha m``, and the first crossing of the within-group kernel
K solves ``mu_min(A(u(lam), lam)) + beta = 0`` on that one-neuron branch.  So
``lam*(m, alpha) = Lambda(alpha m)`` exactly (the tests hold it to 1e-10 up to m = 10^6); the
paper's ``lam* ~ alpha m / |c|`` is the linearization ``Lambda(beta) ~ beta / |mu_min(M(beta))|``
(the predicted threshold, M at the linear solution for this beta).

:func:`lambda_curve` evaluates Lambda on a beta grid with the group-reduced engine
(:class:`nlpt.ReducedProblem` of a width-2 model with ``alpha = beta / 2``; any width gives the
same numbers), taking the first special point of the branch that is a crossing in the K sector
(``where == "group 0"``).  The set of beta with a crossing in ``[0, lam_max]`` is refined at
every change along the grid by bisection in log beta (``beta_rtol``).  Lambda need not be
monotone and the set need not be an interval; :attr:`LambdaCurve.crossing_set` lists its
intervals.  The **critical width** is ``m_c(alpha) = beta_c / alpha`` with ``beta_c`` the
supremum of that set: beyond it no crossing happens in ``[0, lam_max]`` (the abstract's "the
NTK/linear picture prevails"); :func:`critical_widths` gives it with the widths that cross.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import NLPTInputError, as_float, as_lam_max
from .data import check_data
from .model import Model

__all__ = ["LambdaCurve", "lambda_curve", "critical_widths", "lambda_at", "lambda_rows", "format_lambda",
           "DEFAULT_BETAS", "LAMBDA_KEYS"]

#: Default beta grid: 13 points, log-spaced over [1e-7, 1e-1] (two per decade); the edges of the
#: crossing set are then refined by bisection.
DEFAULT_BETAS = tuple(float(b) for b in np.logspace(-7, -1, 13))


def lambda_at(X, y, beta: float, *, activation="tanh", c: float = 1.0, lam_max: float = 1.0,
              tol: float = 1e-10) -> dict:
    """Lambda(beta) and the linear prediction at one beta (see the module docstring).

    Returns ``{"beta", "lam_star", "lam_star_pred", "mu_min", "lam_star_error", "status"}``;
    ``lam_star`` is None when the K sector does not cross in ``[0, lam_max]``."""
    from .threshold import find_threshold

    model = Model(X, y, 2, a=np.full(2, c), alpha=beta / 2.0, activation=activation)
    r = find_threshold(model, lam_max, tol=tol, engine="reduced")
    sp = next((p for p in r.branch.special_points
               if p.type == "crossing" and "group 0" in p.where.split(",") and p.index_after > p.index_before), None)
    ok = r.branch.completed or sp is not None
    return {
        "beta": float(beta),
        "lam_star": None if sp is None else float(sp.lam),
        "lam_star_error": None if sp is None else sp.lam_error,
        "lam_star_pred": r.lam_star_pred,
        # lambda_1'(0) = (c/m) mu_min(M) for uniform a (SPEC 4); here m = 2
        "mu_min": float(2.0 * r.softening_rate / c),
        "status": ("crossing" if sp is not None else ("no crossing in [0, lam_max]" if ok else "continuation failed")),
    }


@dataclass
class LambdaCurve:
    """Lambda(beta) on a grid, the crossing set and beta_c (module docstring).

    ``points``: one dict per beta (from :func:`lambda_at`), sorted by beta, grid and bisection
    points together; ``crossing_set``: the intervals ``(beta_lo, beta_hi)`` of beta with a
    crossing, each end refined to ``beta_rtol`` (open ends at the grid's ends are the grid's ends);
    ``beta_c``: the supremum of the set, None if empty; ``failed``: betas whose continuation
    failed (neither crossing nor a completed branch), which the set leaves out.
    """

    points: list
    crossing_set: list
    beta_c: float | None
    activation: str
    c: float
    lam_max: float
    beta_rtol: float
    failed: list = field(default_factory=list)

    @property
    def betas(self) -> np.ndarray:
        return np.array([p["beta"] for p in self.points])

    @property
    def lam_star(self) -> list:
        return [p["lam_star"] for p in self.points]

    @property
    def is_interval(self) -> bool:
        return len(self.crossing_set) <= 1

    @property
    def open_below(self) -> bool:
        """The crossing set reaches the lowest beta of the grid (it may extend below it)."""
        return bool(self.crossing_set) and self.crossing_set[0][0] <= self.points[0]["beta"]

    def to_dict(self) -> dict:
        return {"activation": self.activation, "c": self.c, "lam_max": self.lam_max, "beta_rtol": self.beta_rtol,
                "beta_c": self.beta_c, "crossing_set": [list(iv) for iv in self.crossing_set],
                "is_interval": self.is_interval, "open_below": self.open_below, "failed": list(self.failed),
                "points": list(self.points)}


def _bisect_edge(X, y, lo: float, hi: float, crosses_lo: bool, kw: dict, rtol: float, points: list):
    """Refine the edge of the crossing set between grid betas lo < hi (bisection in log beta)."""
    while hi / lo - 1.0 > rtol:
        mid = float(np.sqrt(lo * hi))
        p = lambda_at(X, y, mid, **kw)
        points.append(p)
        if (p["lam_star"] is not None) == crosses_lo:
            lo = mid
        else:
            hi = mid
    return lo, hi


def lambda_curve(X, y, betas=DEFAULT_BETAS, *, activation="tanh", c: float = 1.0, lam_max: float = 1.0,
                 tol: float = 1e-10, beta_rtol: float = 1e-3, progress=None) -> LambdaCurve:
    """Lambda(beta) on ``betas`` with the crossing set refined (module docstring).

    ``progress(done, total)`` is called after every grid point when given."""
    X, y = check_data(X, y)
    betas = sorted(as_float("betas", b, minimum=0.0, strict=True) for b in (betas if np.iterable(betas) else [betas]))
    if len(betas) < 1:
        raise NLPTInputError("betas: expected at least one beta, got an empty list")
    c = as_float("c", c)
    if c == 0.0:
        raise NLPTInputError("c: expected a nonzero second-layer weight, got 0")
    lam_max = as_lam_max(lam_max)
    beta_rtol = as_float("beta_rtol", beta_rtol, minimum=0.0, strict=True)
    kw = dict(activation=activation, c=c, lam_max=lam_max, tol=tol)
    grid = []
    for i, b in enumerate(betas):
        grid.append(lambda_at(X, y, b, **kw))
        if progress is not None:
            progress(i + 1, len(betas))
    points = list(grid)
    ok = [p for p in grid if p["status"] != "continuation failed"]
    edges = []
    for p, q in zip(ok[:-1], ok[1:]):
        if (p["lam_star"] is None) != (q["lam_star"] is None):
            edges.append(_bisect_edge(X, y, p["beta"], q["beta"], p["lam_star"] is not None, kw, beta_rtol, points))
    crossing_set = _intervals(ok, edges)
    beta_c = crossing_set[-1][1] if crossing_set else None
    points.sort(key=lambda p: p["beta"])
    failed = [p["beta"] for p in grid if p["status"] == "continuation failed"]
    from .activations import get_activation

    return LambdaCurve(points, crossing_set, beta_c, get_activation(activation).name, c, lam_max, beta_rtol, failed)


def _intervals(ok: list, edges: list) -> list:
    """The intervals of beta with a crossing from the grid and the refined edges."""
    out, start, e = [], None, iter(edges)
    prev = None
    for p in ok:
        crosses = p["lam_star"] is not None
        if prev is not None and crosses != (prev["lam_star"] is not None):
            lo, hi = next(e)
            if crosses:
                start = hi  # first crossing beta of the new interval
            else:
                out.append((start, lo))
                start = None
        elif prev is None and crosses:
            start = p["beta"]
        prev = p
    if start is not None:
        out.append((start, ok[-1]["beta"]))
    return [(float(a), float(b)) for a, b in out]


def critical_widths(curve: LambdaCurve, alphas) -> list:
    """For each alpha: ``m_c = beta_c / alpha`` and the widths with a crossing (the crossing set
    divided by alpha; widths are at least 2, and when the set reaches the grid's lowest beta its
    lower end is that of the grid), as dicts ``{"alpha", "m_c", "crossing_widths", "is_interval",
    "open_below"}``."""
    out = []
    for al in (alphas if np.iterable(alphas) else [alphas]):
        al = as_float("alphas", al, minimum=0.0, strict=True)
        widths = [[max(2.0, lo / al), hi / al] for lo, hi in curve.crossing_set if hi / al >= 2.0]
        out.append({"alpha": al, "m_c": None if curve.beta_c is None else curve.beta_c / al,
                    "crossing_widths": widths, "is_interval": curve.is_interval, "open_below": curve.open_below})
    return out


#: Columns of lambda.csv, in order.
LAMBDA_KEYS = ("activation", "seed", "beta", "lam_star", "lam_star_pred", "ratio", "mu_min", "status")


def lambda_rows(curves: list) -> list:
    """One row per (curve, beta) for lambda.csv; ``curves`` are dicts with a ``seed``."""
    rows = []
    for cv in curves:
        for p in cv["points"]:
            ratio = (p["lam_star"] / p["lam_star_pred"]) if p["lam_star"] is not None and p["lam_star_pred"] else None
            rows.append({"activation": cv["activation"], "seed": cv["seed"], "beta": p["beta"], "lam_star": p["lam_star"],
                         "lam_star_pred": p["lam_star_pred"], "ratio": ratio, "mu_min": p["mu_min"],
                         "status": p["status"]})
    return rows


def format_lambda(curves: list, alphas) -> str:
    """Text: Lambda(beta) beside the linear prediction on the grid, then m_c(alpha) per curve."""
    lines = []
    for cv in curves:
        lines.append(f"Lambda(beta) = lam*(m, alpha) at beta = alpha m (uniform a, {cv['activation']}, seed {cv['seed']}; "
                     f"lam in [0, {cv['lam_max']:g}])")
        lines.append(f"{'beta':>10}  {'Lambda':>10}  {'beta/|mu_min|':>13}  {'ratio':>6}")
        for p in cv["points"]:
            lam, pred = p["lam_star"], p["lam_star_pred"]
            lines.append(f"{p['beta']:>10.4g}  {'-' if lam is None else f'{lam:.4g}':>10}  "
                         f"{'-' if pred is None else f'{pred:.4g}':>13}  "
                         f"{'-' if lam is None or not pred else f'{lam / pred:.3f}':>6}")
        sets = ", ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in cv["crossing_set"]) or "empty"
        lines.append(f"beta with a crossing: {sets}" + (" (reaches the grid's lowest beta)" if cv["open_below"] else ""))
        for w in cv["critical_widths"]:
            mc = "none" if w["m_c"] is None else f"{w['m_c']:.4g}"
            lines.append(f"  alpha = {w['alpha']:g}: critical width m_c = beta_c / alpha = {mc}"
                         + ("" if w["is_interval"] else "; widths with a crossing: "
                            + ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in w["crossing_widths"])))
    return "\n".join(lines)
