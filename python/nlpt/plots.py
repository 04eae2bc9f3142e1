"""Plots of a sweep (matplotlib, optional extra ``[plot]``, imported lazily).

* ``eigenvalues_alpha<alpha>.png``: the lowest Hessian eigenvalues along the critical branch
  against lam, one panel per width, measured lam* (solid) and predicted lam* (dashed) marked;
* ``threshold_vs_width.png``: measured and predicted lam* against m (log-log) with the line
  ``alpha m / |c|``, c the mean of m lambda_1'(0) over the widths (SPEC 4, width scaling).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._validate import NLPTInputError

__all__ = ["have_matplotlib", "plot_eigenvalues", "plot_threshold_vs_width"]


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise NLPTInputError(
            "plots: expected matplotlib to be installed (pip install 'nlpt[plot]'), got ImportError"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_eigenvalues(cases, alpha: float, path) -> Path:
    """Lowest eigenvalues vs lam for every width at one alpha."""
    plt = _pyplot()
    sel = [c for c in cases if c.alpha == alpha]
    ncol = min(3, max(1, len(sel)))
    nrow = int(np.ceil(len(sel) / ncol)) or 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    for ax, case in zip(axes.flat, sel):
        r = case.result
        if case.lams.size and case.eigenvalues.size:
            k = min(4, case.eigenvalues.shape[1])
            for i in range(k - 1, -1, -1):
                ax.plot(case.lams, case.eigenvalues[:, i], lw=1.4 if i == 0 else 0.8,
                        color="C0" if i == 0 else "0.65", label="lowest eigenvalue" if i == 0 else None)
            # Zoom on the lowest eigenvalue (the one that crosses); higher ones may leave the frame.
            low = case.eigenvalues[:, 0]
            lo, hi = min(float(low.min()), 0.0), max(float(low.max()), 0.0)
            pad = 0.08 * (hi - lo) if hi > lo else 1.0
            ax.set_ylim(lo - pad, hi + pad)
        ax.axhline(0.0, color="k", lw=0.6)
        if r.get("lam_star_measured") is not None:
            ax.axvline(r["lam_star_measured"], color="C3", lw=1.0, label=f"measured {r['lam_star_measured']:.3g}")
        if r.get("lam_star_pred") is not None and r["lam_star_pred"] <= (case.lams.max() if case.lams.size else 1.0):
            ax.axvline(r["lam_star_pred"], color="C2", ls="--", lw=1.0, label=f"predicted {r['lam_star_pred']:.3g}")
        ax.set_title(f"m = {case.m}")
        ax.set_xlabel("lam")
        ax.set_ylabel("Hessian eigenvalues")
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(sel):]:
        ax.set_visible(False)
    fig.suptitle(f"lowest Hessian eigenvalues along the critical branch, alpha = {alpha:g}")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_threshold_vs_width(cases, path) -> Path:
    """Measured and predicted lam* against m, with the alpha m / |c| scaling line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    alphas = sorted({c.alpha for c in cases})
    for i, al in enumerate(alphas):
        sel = sorted((c for c in cases if c.alpha == al), key=lambda c: c.m)
        ms = np.array([c.m for c in sel], dtype=float)
        pred = np.array([np.nan if c.result.get("lam_star_pred") is None else c.result["lam_star_pred"] for c in sel])
        meas = np.array([np.nan if c.result.get("lam_star_measured") is None else c.result["lam_star_measured"] for c in sel])
        rates = np.array([np.nan if c.result.get("softening_rate") is None else c.m * c.result["softening_rate"] for c in sel])
        color = f"C{i}"
        ax.plot(ms, meas, "o", color=color, label=f"measured, alpha={al:g}")
        ax.plot(ms, pred, "x", color=color, ms=7, label=f"predicted alpha/|lambda1'(0)|, alpha={al:g}")
        cneg = rates[np.isfinite(rates) & (rates < 0)]
        if cneg.size:
            grid = np.geomspace(ms.min(), ms.max(), 50)
            ax.plot(grid, al * grid / abs(cneg.mean()), "-", color=color, lw=0.8, alpha=0.6, label=f"alpha m / |c|, c = mean m lambda1'(0) = {cneg.mean():.3g}")
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width m")
    ax.set_ylabel("lam*")
    ax.set_title("bifurcation threshold against width (dotted: lam = 1)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
