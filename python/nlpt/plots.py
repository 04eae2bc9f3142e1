"""Plots of a sweep and of one case (matplotlib, optional extra ``[plot]``, imported lazily).

Every figure is drawn from records alone (the lines of ``cases.jsonl``, the ``cases`` of
``results.json``, the object ``nlpt threshold --json`` prints), so ``nlpt plot RESULTS`` redraws
them without computing anything.

* ``eigenvalues_alpha<alpha>.png`` (one per alpha, and per activation / a / seed when the sweep
  varies them): the lowest Hessian eigenvalues divided by alpha along the critical branch against
  lam, one panel per width, zoomed on [0, 2.5 lam*] so that the crossing is visible; the branch
  is drawn in arclength order (a branch that folds back is a curve that turns, dashed past the
  fold), the first-order prediction ``1 + lambda_1'(0) lam / alpha`` where there is softening, and
  the measured (solid) and predicted (dashed) lam*;
* ``threshold_vs_width.png``: measured and predicted lam* against m (log-log) per alpha, with the
  line ``alpha m / |c|`` (c the mean of m lambda_1'(0)) over the widths that soften
  (``lambda_1'(0) < 0``) only;
* ``lambda_vs_beta.png`` (uniform a, SPEC 7): Lambda(beta) = lam* against beta = alpha m
  (log-log) with the linear prediction ``beta / |mu_min(M)|``, the measured lam* of the sweep's
  uniform-a cases at their ``alpha m`` (they lie on the curve: lam* depends on m and alpha only
  through alpha m), and beta_c, beyond which no crossing happens in [0, lam_max];
* one case (``nlpt threshold --plot FILE``): the zoom, the whole branch on a log lam axis, and
  the Morse index along it.

Legends sit outside the axes and list only what is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._validate import NLPTInputError

__all__ = ["have_matplotlib", "plot_eigenvalues", "plot_threshold_vs_width", "plot_case", "sweep_figures",
           "plot_lambda"]

ZOOM = 2.5  # the zoomed lam window is [0, ZOOM * lam*]


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
            "plots: expected matplotlib to be installed (pip install 'nlpt-threshold[plot]'), got ImportError"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _f(x):
    return None if x is None else float(x)


class _View:
    """What a plot needs from one case, from a record (or a threshold JSON object)."""

    def __init__(self, record: dict):
        cfg = record.get("config") or {}
        res = record.get("result", record)
        br = record.get("branch") or {}
        self.m = cfg.get("m", res.get("m"))
        self.alpha = float(cfg.get("alpha", res.get("alpha")))
        self.activation = cfg.get("activation")
        self.a_kind = (cfg.get("a") or {}).get("kind")
        self.seed = cfg.get("seed")
        self.lam_max = float(cfg.get("lam_max", res.get("lam_max") or 1.0))
        self.status = res.get("status")
        self.rate = _f(res.get("softening_rate"))
        self.pred = _f(res.get("lam_star_pred"))
        self.meas = _f(res.get("lam_star_measured"))
        self.lams = np.asarray(br.get("lams") or [], dtype=float)
        eig = br.get("lowest_eigenvalues") or []
        self.eigs = np.array([[np.nan if v is None else v for v in row] for row in eig], dtype=float).reshape(len(self.lams), -1) if len(self.lams) else np.zeros((0, 0))
        self.morse = None if br.get("morse") is None else np.asarray(br["morse"], dtype=int)
        dl = br.get("dlam_ds")
        self.dlam_ds = None if dl is None else np.asarray(dl, dtype=float)

    def fold_index(self):
        """Index of the first branch point past a fold (dlam/ds changes sign), or None."""
        if self.dlam_ds is None or len(self.dlam_ds) < 2:
            return None
        flips = np.flatnonzero(self.dlam_ds[:-1] * self.dlam_ds[1:] < 0)
        return int(flips[0]) + 1 if flips.size else None

    def window(self):
        """``(lo, hi, log)``: the lam window [0, ZOOM * lam*], lam* the larger of measured and
        predicted that lies on the branch (the whole branch when there is none), on a log axis
        from the first branch point when the points in it span more than 1.5 decades of lam (a
        branch that creeps near lam = 0 and folds much later)."""
        top = max(float(self.lams.max()) if self.lams.size else self.lam_max, self.meas or 0.0)
        refs = [x for x in (self.meas, self.pred) if x is not None and x <= top]
        hi = min(top, ZOOM * max(refs)) if refs else (top if top > 0 else self.lam_max)
        pos = self.lams[(self.lams > 0) & (self.lams <= hi)]
        if pos.size >= 3 and hi / float(pos.min()) > 10 ** 1.5:
            return float(pos.min()), hi, True
        return 0.0, hi, False


def _title(v: _View) -> str:
    parts = [f"m = {v.m}"]
    if v.meas is not None:
        parts.append(f"lam*_meas {v.meas:.3g}")
    if v.pred is not None:
        parts.append(f"pred {v.pred:.3g}")
    return ", ".join(parts) + f"\n({v.status})"


def _draw_eigs(ax, v: _View, window, handles: dict, clip: bool = True) -> None:
    """Eigenvalues / alpha along the branch in arclength order, within ``window = (lo, hi, log)``;
    ``clip`` keeps the y range within [-2, 2] (a zoom on the sign change)."""
    lo, hi, log_x = window
    if v.lams.size and v.eigs.size:
        y = v.eigs / v.alpha
        fold = v.fold_index()
        k = min(4, y.shape[1])
        for i in range(k - 1, 0, -1):
            (h,) = ax.plot(v.lams, y[:, i], color="0.7", lw=0.8)
            handles.setdefault("2nd to 4th lowest eigenvalue / alpha (grey; under the lowest where it is multiple)", h)
        end = len(v.lams) if fold is None else fold
        (h,) = ax.plot(v.lams[:end], y[:end, 0], color="C0", lw=1.5, marker=".", ms=5)
        handles.setdefault("lowest eigenvalue / alpha (dots: branch points)", h)
        if fold is not None:
            (h,) = ax.plot(v.lams[fold - 1:], y[fold - 1:, 0], color="C0", lw=1.2, ls="--", marker=".", ms=3)
            handles.setdefault("lowest eigenvalue / alpha past the fold", h)
        inside = (v.lams >= lo) & (v.lams <= hi)
        sel = list(y[inside, 0]) if inside.any() else list(y[:, 0])
        up = v.lams if fold is None else v.lams[:fold]
        if up.size > 1 and np.all(np.diff(up) > 0) and up[0] <= hi <= up[-1]:
            sel.append(float(np.interp(hi, up, y[: up.size, 0])))  # where the curve leaves the window
        # Curves that dive far below zero leave the frame: the sign change is what is shown.
        ymin = min(max(float(np.nanmin(sel)), -2.0) if clip else float(np.nanmin(sel)), -0.2)
        ymax = min(max(float(np.nanmax(sel)), 1.0), 2.0) if clip else max(float(np.nanmax(sel)), 1.0)
        pad = 0.08 * (ymax - ymin)
        ax.set_ylim(ymin - pad, ymax + pad)
    if v.rate is not None and v.rate < 0:
        grid = np.geomspace(max(lo, 1e-6 * max(hi, 1e-12)), hi, 200) if log_x else np.linspace(lo, hi, 200)
        (h,) = ax.plot(grid, 1.0 + v.rate * grid / v.alpha, color="C2", lw=1.0, ls=":")
        handles.setdefault("first-order prediction 1 + lambda1'(0) lam / alpha", h)
    ax.axhline(0.0, color="k", lw=0.6)
    if v.meas is not None and lo <= v.meas <= hi * 1.001:
        h = ax.axvline(v.meas, color="C3", lw=1.0)
        handles.setdefault("measured lam*", h)
    if v.pred is not None and lo <= v.pred <= hi:
        h = ax.axvline(v.pred, color="C2", lw=1.0, ls="--")
        handles.setdefault("predicted lam* = alpha / |lambda1'(0)|", h)
    from matplotlib.ticker import MaxNLocator

    if log_x:
        ax.set_xscale("log")
        ax.set_xlim(lo / 1.2, hi * 1.2)
        ax.set_xlabel("lam (log scale)")
    else:
        ax.set_xlim(lo, hi * 1.04)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.set_xlabel("lam")
    ax.set_ylabel("Hessian eigenvalue / alpha")


def _save(fig, plt, path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def _legend_below(fig, handles: dict, ncol: int) -> None:
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="upper center",
                   bbox_to_anchor=(0.5, 0.0), ncol=max(1, min(ncol, len(handles))), fontsize=8, frameon=False)


def plot_eigenvalues(cases, alpha: float, path, title: str = "") -> Path:
    """Lowest eigenvalues / alpha vs lam for every width at one alpha (module docstring).

    ``cases`` are records or :class:`nlpt.sweep.SweepCase` objects of one activation, a and seed."""
    plt = _pyplot()
    views = [_View(getattr(c, "record", c)) for c in cases]
    sel = sorted((v for v in views if v.alpha == alpha and v.lams.size), key=lambda v: v.m)
    if not sel:
        raise NLPTInputError(f"alpha: expected a case with a branch at alpha = {alpha:g}, got none")
    ncol = min(3, len(sel))
    nrow = int(np.ceil(len(sel) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.3 * ncol, 3.3 * nrow), squeeze=False)
    handles: dict = {}
    for ax, v in zip(axes.flat, sel):
        _draw_eigs(ax, v, v.window(), handles)
        ax.set_title(_title(v), fontsize=9)
    for ax in list(axes.flat)[len(sel):]:
        ax.set_visible(False)
    fig.suptitle(f"lowest Hessian eigenvalues along the critical branch, alpha = {alpha:g}{title}\n"
                 f"(lam axis zoomed on [0, {ZOOM:g} lam*]; log scale where the branch spans decades of lam)",
                 fontsize=10)
    fig.tight_layout()
    _legend_below(fig, handles, ncol=3)
    return _save(fig, plt, path)


def plot_threshold_vs_width(cases, path, title: str = "") -> Path:
    """Measured and predicted lam* against m, with the alpha m / |c| line where softening exists."""
    plt = _pyplot()
    views = [_View(getattr(c, "record", c)) for c in cases]
    views = [v for v in views if v.status not in ("worker died", "error")]
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    handles: dict = {}
    lam_max = max((v.lam_max for v in views), default=1.0)
    for i, al in enumerate(sorted({v.alpha for v in views})):
        sel = sorted((v for v in views if v.alpha == al), key=lambda v: v.m)
        ms = np.array([v.m for v in sel], dtype=float)
        pred = np.array([np.nan if v.pred is None else v.pred for v in sel])
        meas = np.array([np.nan if v.meas is None else v.meas for v in sel])
        rate = np.array([np.nan if v.rate is None else v.m * v.rate for v in sel])
        color = f"C{i}"
        if np.isfinite(meas).any():
            (h,) = ax.plot(ms, meas, "o", color=color, ms=6)
            handles[f"alpha = {al:g}: measured lam*"] = h
        if np.isfinite(pred).any():
            (h,) = ax.plot(ms, pred, "x", color=color, ms=7)
            handles[f"alpha = {al:g}: predicted alpha / |lambda1'(0)|"] = h
        soft = np.isfinite(rate) & (rate < 0)
        if soft.sum() >= 1:
            c = float(rate[soft].mean())
            grid = np.geomspace(ms[soft].min(), ms[soft].max(), 50) if soft.sum() > 1 else ms[soft]
            (h,) = ax.plot(grid, al * grid / abs(c), "-", color=color, lw=0.8, alpha=0.6)
            handles[f"alpha = {al:g}: alpha m / |c|, c = {c:.3g} (mean m lambda1'(0), softening widths)"] = h
        lost = np.isfinite(pred) & ~np.isfinite(meas)
        if lost.any():
            (h,) = ax.plot(ms[lost], np.full(lost.sum(), lam_max), "^", color=color, ms=6, mfc="none")
            handles[f"alpha = {al:g}: no crossing in [0, {lam_max:g}] (drawn at lam = {lam_max:g})"] = h
    h = ax.axhline(lam_max, color="k", lw=0.6, ls=":")
    handles[f"lam = {lam_max:g} (end of the homotopy)"] = h
    ax.set_xscale("log")
    ax.set_yscale("log")
    widths = sorted({v.m for v in views})
    if widths:
        from matplotlib.ticker import FixedLocator, NullLocator

        ax.xaxis.set_major_locator(FixedLocator(widths))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(m) for m in widths])
    ax.set_xlabel("width m")
    ax.set_ylabel("lam* (measured and predicted)")
    ax.set_title(f"bifurcation threshold against width{title}", fontsize=10)
    ax.legend(list(handles.values()), list(handles.keys()), loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize=7, frameon=False)
    return _save(fig, plt, path)


def plot_lambda(curves: list, cases, path) -> Path:
    """Lambda(beta) with the linear prediction, the sweep's measured points and beta_c (module
    docstring); ``curves`` are :meth:`nlpt.scaling.LambdaCurve.to_dict` objects."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.5))
    handles: dict = {}
    views = [_View(getattr(c, "record", c)) for c in cases]
    lam_max = max((cv["lam_max"] for cv in curves), default=1.0)
    for i, cv in enumerate(curves):
        tag = "" if len(curves) == 1 else f" ({cv['activation']}, seed {cv.get('seed', 0)})"
        pts = cv["points"]
        b = np.array([p["beta"] for p in pts])
        lam = np.array([np.nan if p["lam_star"] is None else p["lam_star"] for p in pts])
        pred = np.array([np.nan if p["lam_star_pred"] is None else p["lam_star_pred"] for p in pts])
        color = f"C{i}"
        (h,) = ax.plot(b, lam, "-", color=color, lw=1.5)
        handles[f"Lambda(beta): first crossing of K{tag}"] = h
        (h,) = ax.plot(b, pred, "--", color=color, lw=1.0)
        handles[f"linear prediction beta / |mu_min(M)|{tag}"] = h
        if cv["beta_c"] is not None:
            h = ax.axvline(cv["beta_c"], color=color, lw=0.8, ls=":")
            handles[f"beta_c = {cv['beta_c']:.4g}: no crossing beyond{tag}"] = h
        sel = [v for v in views if v.meas is not None and v.a_kind == "uniform"
               and v.activation == cv["activation"] and v.seed == cv.get("seed", 0)]
        if sel:
            (h,) = ax.plot([v.alpha * v.m for v in sel], [v.meas for v in sel], "o", color="k", ms=4, mfc="none")
            handles[f"measured lam* of the sweep at alpha m{tag}"] = h
    h = ax.axhline(lam_max, color="k", lw=0.6, ls=":")
    handles[f"lam = {lam_max:g} (end of the homotopy)"] = h
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("beta = alpha m")
    ax.set_ylabel("lam* (uniform a)")
    ax.set_title("the threshold depends on width and alpha only through alpha m", fontsize=10)
    ax.legend(list(handles.values()), list(handles.keys()), loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize=7, frameon=False)
    return _save(fig, plt, path)


def plot_case(record: dict, path, title: str = "") -> Path:
    """One case: zoom around lam*, the whole branch on a log lam axis, and its Morse index."""
    plt = _pyplot()
    v = _View(record)
    if not v.lams.size:
        raise NLPTInputError("plot: expected a result with branch curves ('branch'), got none")
    fig, axes = plt.subplots(1, 3, figsize=(14.0, 3.8), gridspec_kw={"width_ratios": [1.0, 1.0, 0.7]})
    handles: dict = {}
    win = v.window()
    _draw_eigs(axes[0], v, win, handles)
    axes[0].set_title(f"zoom on [{win[0]:.3g}, {win[1]:.3g}]" + (" (log lam)" if win[2] else ""), fontsize=9)
    pos = v.lams[v.lams > 0]
    if pos.size:
        _draw_eigs(axes[1], v, (float(pos.min()), max(float(v.lams.max()), v.meas or 0.0), True), handles, clip=False)
        axes[1].set_title("whole branch (log lam)", fontsize=9)
        if v.morse is not None:
            (h,) = axes[2].step(v.lams, v.morse, where="post", color="C4")
            handles.setdefault("Morse index (negative eigenvalues)", h)
            axes[2].set_xscale("log")
            axes[2].set_xlim(float(pos.min()), float(v.lams.max()))
            axes[2].set_xlabel("lam")
            axes[2].set_ylabel("Morse index")
            from matplotlib.ticker import MaxNLocator

            axes[2].yaxis.set_major_locator(MaxNLocator(integer=True))
            axes[2].set_title("Morse index along the branch", fontsize=9)
        else:
            axes[2].set_visible(False)
    else:
        axes[1].set_visible(False)
        axes[2].set_visible(False)
    cfg = record.get("config") or {}
    what = ", ".join(f"{k} = {cfg[k]}" for k in ("activation",) if k in cfg)
    a_kind = (cfg.get("a") or {}).get("kind")
    fig.suptitle(f"{_title(v).replace(chr(10), ' ')}, alpha = {v.alpha:g}"
                 + (f", {what}" if what else "") + (f", a {a_kind}" if a_kind else "") + title, fontsize=10)
    fig.tight_layout()
    _legend_below(fig, handles, ncol=3)
    return _save(fig, plt, path)


def sweep_figures(cases) -> list:
    """``(file name, draw(path))`` for every figure of a sweep: per alpha an eigenvalue figure and
    one threshold-vs-width figure, per activation / a / seed when the sweep varies them (the
    varying ones appear in the name)."""
    from .report import alpha_label

    cases = [c for c in cases if not getattr(c, "failed", False)]
    recs = [getattr(c, "record", c) for c in cases]

    def key(r):
        cfg = r["config"]
        return (cfg["activation"], cfg["a"]["kind"], int(cfg["seed"]))

    acts = {key(r)[0] for r in recs}
    kinds = {key(r)[1] for r in recs}
    seeds = {key(r)[2] for r in recs}
    out = []
    for group in sorted({key(r) for r in recs}):
        act, kind, seed = group
        members = [r for r in recs if key(r) == group]
        tag = "".join([f"_{act}" if len(acts) > 1 else "", f"_{kind}" if len(kinds) > 1 else "",
                       f"_seed{seed}" if len(seeds) > 1 else ""])
        words = ", ".join(w for w in [f"{act}" if len(acts) > 1 else "", f"a {kind}" if len(kinds) > 1 else "",
                                      f"seed {seed}" if len(seeds) > 1 else ""] if w)
        title = f" ({words})" if words else ""
        for al in sorted({float(r["config"]["alpha"]) for r in members}):
            if any(float(r["config"]["alpha"]) == al and (r.get("branch") or {}).get("lams") for r in members):
                out.append((f"eigenvalues{tag}_alpha{alpha_label(al)}.png",
                            lambda p, m=members, a=al, t=title: plot_eigenvalues(m, a, p, t)))
        out.append((f"threshold_vs_width{tag}.png", lambda p, m=members, t=title: plot_threshold_vs_width(m, p, t)))
    return out
