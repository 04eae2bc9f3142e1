"""The ``nlpt`` command line.

Subcommands:

* ``nlpt spectrum``  — the lam = 0 invariants, numeric next to proven (SPEC 3);
* ``nlpt threshold`` — one case: softening rate, predicted and measured lam*, normal form (SPEC 4-5);
* ``nlpt reproduce`` — the sweep: table, JSON, CSV and plots into an output folder, one line per
  finished case in ``cases.jsonl`` as it finishes, ``--resume`` after an interruption;
* ``nlpt plot``      — redraw the figures of a results file or folder without computing;
* ``nlpt verify``    — check the Lean formal layer with a Lean kernel (``lake`` or the wasm Lean).

Bad input gives a one-line message on stderr and exit status 2, before anything is computed or
written; no traceback.  SIGINT and SIGTERM end a run with status 130 and 143.  Every JSON output
carries ``config`` and ``provenance`` (:mod:`nlpt.provenance`; keys in ``docs/output.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys

from . import __version__
from ._validate import NLPTInputError, as_int
from .activations import ACTIVATIONS

__all__ = ["main", "build_parser"]

#: Negative numbers, exponents and non-finite values included, are values, not options
#: (argparse's own pattern misses ``-1e-3``).
_NEGATIVE_NUMBER = re.compile(r"^-(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)

INSTALL_PLOT = "pip install 'nlpt-threshold[plot]'"


class _Parser(argparse.ArgumentParser):
    """argparse with negative numbers as values and one-line errors (exit status 2)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- shared options ----------------------------------------------------------------------------

def _add_data_args(g) -> None:
    g.add_argument("--data", metavar="FILE", help=".npz with arrays X, y or .csv with y in the last column "
                   "(instead of the default data)")
    g.add_argument("--n", type=int, default=None, help="number of points of the default data (default 200)")
    g.add_argument("--d", type=int, default=None, help="input dimension of the default data (default 3)")


def _add_case_args(p, alpha_default: float) -> None:
    g = p.add_argument_group("problem")
    g.add_argument("--m", type=int, default=None, help="width (default 4)")
    g.add_argument("--alpha", type=float, default=None, help=f"Tikhonov strength (default {alpha_default:g})")
    g.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS), help="sigma (default tanh)")
    g.add_argument("--seed", type=int, default=None, help="seed of the default data and of random a (default 0)")
    g.add_argument("--a", default=None, metavar="A",
                   help="second-layer weights: 'uniform' (ones, default), 'random' (U(0.5, 1.5), seeded) or a file")
    _add_data_args(g)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(alpha_default=alpha_default)


def _one_of(args, single: str, plural: str):
    """The value of ``--plural`` or ``--single`` (as a list); both given is an error."""
    a, b = getattr(args, single), getattr(args, plural)
    if a is not None and b is not None:
        raise NLPTInputError(
            f"{single}: --{single} and --{plural.replace('_', '-')} conflict; give the values with "
            f"--{plural.replace('_', '-')} alone"
        )
    if b is not None:
        return list(b)
    return None if a is None else [a]


def _data_source(args):
    """``("file", path)`` or ``("default", n, d)``; --n/--d with --data is an error."""
    if args.data is not None:
        given = [f"--{k}" for k in ("n", "d") if getattr(args, k) is not None]
        if given:
            raise NLPTInputError(
                f"{given[0][2:]}: {' and '.join(given)} describe the default data and conflict with --data "
                f"{args.data!r} (whose n and d are those of the file)"
            )
        if not str(args.data).strip():
            raise NLPTInputError("data: expected a readable .npz or .csv file, got an empty string")
        return ("file", args.data)
    n = 200 if args.n is None else as_int("n", args.n)
    d = 3 if args.d is None else as_int("d", args.d)
    return ("default", n, d)


def _case(args):
    """``(model, data config, a config, seed)`` of spectrum and threshold."""
    from . import provenance as prov
    from .data import default_data, load_data, make_a
    from .model import Model

    src = _data_source(args)
    seed = 0 if args.seed is None else as_int("seed", args.seed, minimum=0)
    if src[0] == "file":
        X, y = load_data(src[1])
        data = prov.data_config(X, y, source="file", path=src[1])
    else:
        X, y = default_data(n=src[1], d=src[2], seed=seed)
        data = prov.data_config(X, y, source="default", seed=seed)
    m = 4 if args.m is None else as_int("m", args.m)
    a_spec = "uniform" if args.a is None else args.a
    a = make_a(a_spec, m, seed=seed)
    alpha = args.alpha_default if args.alpha is None else args.alpha
    model = Model(X, y, m, a=a, alpha=alpha, activation=args.activation or "tanh")
    return model, data, prov.a_config(a_spec, a, seed=seed), seed


def _fmt(x) -> str:
    return "none" if x is None else f"{x:.6g}"


def print_json(obj) -> None:
    from ._jsonio import dumps

    print(dumps(obj))


# -- spectrum ---------------------------------------------------------------------------------

def cmd_spectrum(args) -> int:
    from . import provenance as prov
    from .linear import compare_spectrum, linear_endpoint

    model, data, a_cfg, seed = _case(args)
    le = linear_endpoint(model)
    out = le.summary()
    out["activation"] = model.activation.name
    if args.json:
        out["config"] = {"data": data, "m": model.m, "a": a_cfg, "activation": model.activation.name,
                         "alpha": model.alpha, "seed": seed}
        out["provenance"] = prov.provenance(args.argv)
        print_json(out)
        return 0
    print(f"nlpt spectrum  m={model.m} d={model.d} n={model.n} alpha={model.alpha:g} a={a_cfg['kind']}")
    print("Hessian at the linear endpoint lam = 0 (independent of W and of the activation)")
    print(f"  kernel dimension, numeric     {le.kernel_dim:>8d}   proven m d - rank(Sigma) = {le.kernel_dim_theory}"
          + (" = (m-1) d" if le.kernel_dim_theory == (model.m - 1) * model.d else ""))
    print(f"  lambda_min(H_0), numeric      {le.lambda_min:>12.6e}   alpha = {model.alpha:.6e}")
    print(f"  |grad L_0(W*)|                {le.grad_norm_at_W_star:>12.3e}")
    print("  top eigenvalues   numeric         closed form alpha + |a|^2/m^2 mu_k(Sigma)")
    for num, th in zip(out["top_eigenvalues"], out["top_eigenvalues_theory"]):
        print(f"                    {num:.10e}   {th:.10e}")
    clusters = compare_spectrum(le.eigenvalues)
    print("  distinct eigenvalues (multiplicity): "
          + ", ".join(f"{v:.6g} ({k})" for v, k in zip(clusters.values, clusters.multiplicities)))
    print(f"  max |numeric - closed form| over the spectrum: {le.max_eig_error:.2e}")
    return 0


# -- threshold --------------------------------------------------------------------------------

def _threshold_text(model, r: dict) -> str:
    head = ("" if model is None else
            f"nlpt threshold  m={model.m} d={model.d} n={model.n} alpha={model.alpha:g} "
            f"activation={model.activation.name} engine={r.get('engine')}")
    m = None if model is None else model.m
    lines = [
        head,
        f"  softening rate lambda_1'(0)    {_fmt(r.get('softening_rate'))}"
        f"   (m lambda_1'(0) = {_fmt(None if r.get('softening_rate') is None or m is None else m * r['softening_rate'])})",
        f"  predicted lam* = alpha/|rate|  {_fmt(r.get('lam_star_pred'))}",
        f"  measured lam*                  {_fmt(r.get('lam_star_measured'))}",
        f"  measured / predicted           {_fmt(r.get('ratio'))}",
        f"  imperfection eta               {_fmt(r.get('eta'))}",
        f"  near-zero multiplicity         {_fmt(r.get('multiplicity'))}",
        "  Morse index before -> after    "
        + ("none" if r.get("morse_before") is None else f"{r['morse_before']} -> {r['morse_after']}"),
    ]
    pts = r.get("special_points") or []
    if pts:
        lines.append("  Morse index changes on branch  " + ", ".join(
            f"lam~{p['lam']:.4g} ({p['index_before']}->{p['index_after']})" for p in pts))
    nf = r.get("normal_form")
    if nf:
        keys = [k for k in ("classification", "criticality", "g_xx", "g_xxx", "g_xmu", "rho") if k in nf]
        lines.append("  normal form                    " + ", ".join(
            f"{k}={nf[k]:.4g}" if isinstance(nf[k], float) else f"{k}={nf[k]}" for k in keys))
    sn = r.get("saddle_node")
    if sn:
        keys = [k for k in ("g_mu", "g_xx", "curvature", "branch_side", "nondegenerate") if k in sn]
        lines.append("  saddle-node (fold)             " + ", ".join(
            f"{k}={sn[k]:.4g}" if isinstance(sn[k], float) else f"{k}={sn[k]}" for k in keys))
    for b in r.get("bifurcated_branches") or []:
        desc = ", ".join(f"{k}={b[k]}" for k in ("direction", "morse", "converged") if k in b)
        lines.append(f"  bifurcated branch              {desc}")
    lines.append(f"  status: {r.get('status')}. {r.get('message', '')}")
    return "\n".join(lines)


def _check_plot_file(path) -> str:
    from pathlib import Path

    from .plots import have_matplotlib
    from .store import check_out

    if not str(path).strip():
        raise NLPTInputError("plot: expected a .png file name, got an empty string")
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise NLPTInputError(f"plot: expected a file name ending in .png, got {str(path)!r}")
    if p.is_dir():
        raise NLPTInputError(f"plot: expected a .png file name, got {str(path)!r}, which is a folder")
    try:
        check_out(p.parent if str(p.parent) else ".")
    except NLPTInputError as exc:
        raise NLPTInputError("plot: " + str(exc).split(": ", 1)[1]) from None
    if not have_matplotlib():
        raise NLPTInputError(f"plot: expected matplotlib to be installed ({INSTALL_PLOT}), got ImportError")
    return str(p)


_CASE_OPTIONS = ("m", "alpha", "activation", "seed", "a", "data", "n", "d")


def _family_case(args):
    """``(problem, config)`` of ``--family FILE.py:FUNCTION``; model options conflict with it."""
    from . import provenance as prov
    from .families import load_family, parse_family_spec
    from .sweep import DEFAULT_TOL

    given = [f"--{k}" for k in _CASE_OPTIONS if getattr(args, k, None) is not None]
    if given:
        raise NLPTInputError(f"{given[0][2:]}: {' '.join(given)} describe the two-layer model and conflict with "
                             f"--family (the family file defines the problem)")
    if args.engine not in (None, "auto"):
        raise NLPTInputError(f"engine: --engine {args.engine} chooses an implementation of the two-layer model and "
                             "conflicts with --family")
    path, name = parse_family_spec(args.family)
    problem = load_family(args.family)
    cfg = {"family": {"path": str(path.resolve()), "file_sha256": prov.file_sha256(path), "function": name,
                      "name": problem.name, "size": int(problem.size)},
           "lam_min": 0.0, "lam_max": float(args.lam_max), "tolerances": prov.tolerances(DEFAULT_TOL),
           "engine": problem.engine}
    return problem, cfg


def _family_text(problem, r: dict) -> str:
    lines = [f"nlpt threshold  family={problem.name!r} P={problem.size} engine={r.get('engine')}",
             f"  softening rate lambda_1'(0)    {_fmt(r.get('softening_rate'))}",
             f"  predicted lam* = mu_0/|rate|   {_fmt(r.get('lam_star_pred'))}   (mu_0 = {_fmt(r.get('alpha'))})"]
    text = _threshold_text(None, r).splitlines()
    return "\n".join(lines + text[3:])


def cmd_threshold(args) -> int:
    from . import provenance as prov
    from .analysis import analyze
    from .engine import select_problem
    from .progress import Reporter
    from .spectral import DENSE_MAX
    from .sweep import DEFAULT_TOL, blas_limit, branch_curves

    plot_file = None if args.plot is None else _check_plot_file(args.plot)
    if args.family is not None:
        problem, config = _family_case(args)
        model = None
    else:
        model, data, a_cfg, seed = _case(args)
        problem = select_problem(model, args.engine or "auto")
    reporter = Reporter("nlpt threshold", enabled=False if args.quiet else None)
    try:
        with blas_limit(1 if problem.size <= DENSE_MAX else None):
            analysis = analyze(problem, lam_max=args.lam_max, tol=DEFAULT_TOL,
                               progress=reporter.continuation if reporter.enabled else None)
    finally:
        reporter.close()
    result = analysis.to_dict(tensors=not args.no_tensors)
    out = dict(result)
    if model is not None:
        config = prov.case_config(data, model.m, a_cfg, model.activation.name, model.alpha, args.lam_max,
                                  DEFAULT_TOL, seed, engine=result.get("engine", "full"),
                                  engine_option=args.engine or "auto")
    out["config"] = config
    out["branch"] = branch_curves(analysis.threshold.branch)
    out["provenance"] = prov.provenance(args.argv)
    if plot_file is not None:
        from .plots import plot_case
        from .store import atomic_output

        atomic_output(plot_file, lambda p: plot_case(out, p))
    if args.json:
        print_json(out)
    else:
        print(_threshold_text(model, result) if model is not None else _family_text(problem, result))
        if plot_file is not None:
            print(f"wrote {plot_file}")
    return 0


# -- reproduce --------------------------------------------------------------------------------

def _sweep_data(args):
    from .sweep import DefaultData

    src = _data_source(args)
    return src[1] if src[0] == "file" else DefaultData(src[1], src[2])


def _executor(args):
    """``(jobs, scheduler, dask)``; conflicting options are errors."""
    executor = args.executor
    if args.scheduler is not None and executor == "local":
        raise NLPTInputError("scheduler: --scheduler names a Dask scheduler and conflicts with --executor local")
    dask = executor == "dask" or (executor is None and args.scheduler is not None)
    if dask and args.scheduler is not None and args.jobs is not None:
        raise NLPTInputError("jobs: --jobs sets local processes and conflicts with --scheduler "
                             "(the Dask cluster has its own workers)")
    if dask and args.scheduler is not None and not str(args.scheduler).strip():
        raise NLPTInputError("scheduler: expected a Dask scheduler address such as tcp://host:8786, got an empty string")
    jobs = 1 if args.jobs is None else as_int("jobs", args.jobs)
    return jobs, args.scheduler, dask


def _interrupted(exc) -> int:
    from .executors import SignalExit

    return exc.exit_status if isinstance(exc, SignalExit) else 130


def cmd_reproduce(args) -> int:
    from .executors import SignalExit, close_dask, dask_client, import_distributed
    from .plots import have_matplotlib
    from .progress import Reporter
    from .store import CASES, RunFolder
    from .sweep import DEFAULT_ALPHAS, DEFAULT_WIDTHS, DEFAULT_WIDTHS_UNIFORM, plan_sweep, run_sweep

    # 1. every argument, before anything is computed or created
    alphas = _one_of(args, "alpha", "alphas") or list(DEFAULT_ALPHAS)
    activations = _one_of(args, "activation", "activations") or ["tanh"]
    a_kinds = _one_of(args, "a", "a_kinds") or ["uniform"]
    seeds = _one_of(args, "seed", "seeds") or [0]
    jobs, scheduler, dask = _executor(args)
    betas = _betas(args)
    widths = args.m or list(DEFAULT_WIDTHS_UNIFORM if all(k == "uniform" for k in a_kinds) else DEFAULT_WIDTHS)
    plan = plan_sweep(_sweep_data(args), widths, alphas, activations=activations, a_kinds=a_kinds, seeds=seeds,
                      lam_max=args.lam_max, engine=args.engine or "auto")
    folder = RunFolder(args.out)
    if dask:
        import_distributed()
    draw = not args.no_plots and have_matplotlib()
    client = dask_client(scheduler, n_workers=jobs) if dask else None

    # 2. the run: one line per finished case in cases.jsonl
    reporter = Reporter("nlpt reproduce", enabled=False if (args.quiet or args.json) else None)
    total = len(plan.cases)
    counts = {"computed": 0, "failed": 0}

    def on_case(rec):
        folder.append(rec)
        failed = rec["result"].get("status") in ("worker died", "error")
        counts["failed" if failed else "computed"] += 1
        cfg = rec["config"]
        reporter.update(f"{resumed + counts['computed'] + counts['failed']}/{total} cases"
                        f" ({resumed} resumed, {counts['failed']} failed); last m={cfg['m']} "
                        f"alpha={cfg['alpha']:g}: {rec['result'].get('status')}", force=True)

    resumed = 0
    interrupted = None
    try:
        done = folder.open(resume=args.resume)
        resumed = sum(1 for c in plan.cases if c.config_hash in done
                      and done[c.config_hash]["result"].get("status") not in ("worker died", "error"))
        reporter.update(f"{resumed}/{total} cases ({resumed} resumed)", force=True)
        result = run_sweep(plan, jobs=jobs, client=client, done=done, on_case=on_case, argv=args.argv)
        curves = [] if args.no_lambda else _lambda_curves(plan, betas, args.lam_max, reporter)
    except (KeyboardInterrupt, SignalExit) as exc:
        interrupted = exc
        for s in (signal.SIGINT, signal.SIGTERM):  # a second signal must not cut the cleanup short
            signal.signal(s, signal.SIG_IGN)
    finally:
        reporter.close()
        folder.close()
        if client is not None:
            close_dask(client)
    if interrupted is not None:
        return _report_interrupt(interrupted, resumed + counts["computed"], total, folder.path / CASES)
    try:
        return _write_results(args, folder, result, total, resumed, counts, draw, curves)
    except (KeyboardInterrupt, SignalExit) as exc:
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        return _report_interrupt(exc, resumed + counts["computed"], total, folder.path / CASES, " while writing the results")


def _report_interrupt(exc, kept: int, total: int, cases, when: str = "") -> int:
    from .executors import SignalExit

    name = signal.Signals(exc.signum).name if isinstance(exc, SignalExit) else "SIGINT"
    print(f"nlpt reproduce: interrupted ({name}){when}; {kept} of {total} cases finished and kept in {cases}; "
          f"run the same command with --resume to complete the sweep", file=sys.stderr)
    return _interrupted(exc)


def _betas(args):
    from ._validate import as_float
    from .scaling import DEFAULT_BETAS

    if args.betas is None:
        return list(DEFAULT_BETAS)
    if args.no_lambda:
        raise NLPTInputError("betas: --betas sets the grid of Lambda(beta) and conflicts with --no-lambda")
    out = [as_float("betas", b, minimum=0.0, strict=True) for b in args.betas]
    if len(set(out)) != len(out):
        raise NLPTInputError(f"betas: expected distinct values, got {args.betas}")
    return out


def _lambda_curves(plan, betas, lam_max, reporter) -> list:
    """Lambda(beta) (nlpt.scaling) for every activation and seed of the sweep's uniform-a cases,
    with m_c(alpha) for the sweep's alphas."""
    from .scaling import critical_widths, lambda_curve

    alphas = plan.config["alphas"]
    keys = []
    for c in plan.cases:
        if c.a_kind == "uniform" and (c.activation, c.seed, c.data_key) not in keys:
            keys.append((c.activation, c.seed, c.data_key))
    out = []
    for act, seed, key in keys:
        X, y = plan.data[key]

        def tick(done, total, act=act, seed=seed):
            reporter.update(f"Lambda(beta) for {act}, seed {seed}: {done}/{total} betas")

        curve = lambda_curve(X, y, betas, activation=act, lam_max=lam_max, progress=tick)
        d = curve.to_dict()
        d["seed"] = int(seed)
        d["critical_widths"] = critical_widths(curve, alphas)
        out.append(d)
    return out


def _write_results(args, folder, result, total: int, resumed: int, counts: dict, draw: bool, curves=()) -> int:
    """Phase 3 of ``nlpt reproduce``: results, tables and plots written whole, then the manifest."""
    from . import provenance as prov
    from ._jsonio import dumps
    from .plots import sweep_figures
    from .report import csv_text, format_summary, format_table
    from .store import CASES
    from .sweep import ROW_KEYS, SUMMARY_KEYS

    # 3. results, written whole
    provenance = prov.provenance(args.argv)
    rows = result.rows()
    summary = result.summary()
    table = format_table(rows)
    folder.write_text("results.json", dumps(result.to_dict(provenance)) + "\n")
    folder.write_text("results.csv", csv_text(rows, ROW_KEYS))
    folder.write_text("summary.csv", csv_text(summary, SUMMARY_KEYS))
    folder.write_text("table.txt", table + "\n")
    folder.write_text("table.md", format_table(rows, markdown=True) + "\n")
    if curves:
        from .scaling import LAMBDA_KEYS, lambda_rows

        folder.write_text("lambda.json", dumps({"config": {"betas": sorted({p["beta"] for cv in curves for p in cv["points"]}),
                                                           "lam_max": float(result.config["lam_max"])},
                                                "provenance": provenance, "curves": curves}) + "\n")
        folder.write_text("lambda.csv", csv_text(lambda_rows(curves), LAMBDA_KEYS))
    if draw:
        for name, fig in sweep_figures(result.cases):
            folder.write_with(name, fig)
        if curves:
            from .plots import plot_lambda

            folder.write_with("lambda_vs_beta.png", lambda p: plot_lambda(curves, result.cases, p))
    elif not args.no_plots:
        print(f"nlpt reproduce: plots skipped (matplotlib not installed; {INSTALL_PLOT})", file=sys.stderr)
    failed = result.failed()
    folder.finish(provenance, {"planned": total, "computed": counts["computed"], "resumed": resumed,
                               "failed": len(failed)})
    if args.json:
        print_json(result.to_dict(provenance))
    else:
        cfg = result.config
        data = cfg["data"]
        src = data["path"] if data["source"] == "file" else f"default data n={data['n']} d={data['d']}"
        print(f"nlpt reproduce  {src}  lam in [0, {cfg['lam_max']:g}]  {total} cases"
              + (f" ({resumed} resumed)" if resumed else ""))
        print(table)
        if len(result.config["seeds"]) > 1:
            print("\nsummary across seeds")
            print(format_summary(summary))
        if curves:
            from .scaling import format_lambda

            print()
            print(format_lambda(curves, result.config["alphas"]))
        print("wrote " + ", ".join(str(folder.path / f) for f in [CASES] + folder.written + ["manifest.json"]))
    if failed:
        print(f"nlpt reproduce: {len(failed)} of {total} cases failed ("
              + "; ".join(f"m={c.m} alpha={c.alpha:g}: {c.result.get('message')}" for c in failed[:3])
              + ("; ..." if len(failed) > 3 else "") + "); --resume runs them again", file=sys.stderr)
        return 1
    return 0


# -- plot -------------------------------------------------------------------------------------

def _load_results(path):
    """``("sweep", records, folder)`` or ``("case", object, folder)`` from a results folder, a
    results.json, a cases.jsonl or a threshold JSON."""
    from pathlib import Path

    from .store import CASES, read_cases

    p = Path(path)
    if p.is_dir():
        if (p / "results.json").is_file():
            p = p / "results.json"
        elif (p / CASES).is_file():
            p = p / CASES
        else:
            raise NLPTInputError(f"results: expected a folder with results.json or {CASES}, got {str(path)!r}")
    if not p.is_file():
        raise NLPTInputError(f"results: expected a results folder or file, got {str(path)!r} (no such file)")
    if p.suffix == ".jsonl":
        records, _ = read_cases(p)
        last = {}
        for r in records:
            last[r["config_hash"]] = r
        return "sweep", list(last.values()), p.parent
    try:
        obj = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise NLPTInputError(f"results: expected a JSON file written by nlpt, got {str(path)!r} ({exc})") from None
    if isinstance(obj, dict) and isinstance(obj.get("cases"), list):
        return "sweep", obj["cases"], p.parent
    if isinstance(obj, dict) and "branch" in obj and "status" in obj:
        return "case", obj, p.parent
    raise NLPTInputError(f"results: expected results.json, cases.jsonl or the JSON of nlpt threshold, got {str(path)!r}")


def cmd_plot(args) -> int:
    from pathlib import Path

    from .plots import have_matplotlib, plot_case, sweep_figures
    from .report import alpha_label
    from .store import atomic_output, check_out
    from .sweep import FAILED_STATUSES

    kind, obj, where = _load_results(args.results)
    out = check_out(args.out if args.out is not None else where)
    if not have_matplotlib():
        raise NLPTInputError(f"plot: expected matplotlib to be installed ({INSTALL_PLOT}), got ImportError")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if kind == "case":
        cfg = obj.get("config") or {}
        name = f"branch_m{cfg.get('m', obj.get('m'))}_alpha{alpha_label(cfg.get('alpha', obj.get('alpha')))}.png"
        written.append(atomic_output(out / name, lambda p: plot_case(obj, p)))
    else:
        records = [r for r in obj if (r.get("result") or {}).get("status") not in FAILED_STATUSES]
        if not records:
            raise NLPTInputError(f"results: expected at least one finished case, got none in {str(args.results)!r}")
        for name, draw in sweep_figures(records):
            written.append(atomic_output(out / name, draw))
    print("wrote " + ", ".join(str(Path(w)) for w in written))
    return 0


# -- verify -----------------------------------------------------------------------------------

def cmd_verify(args) -> int:
    """Exit status: 0 checked and clean, 1 problems found, 3 not checked here."""
    from pathlib import Path

    from . import formal, leanwasm

    if args.install:
        try:
            tc, downloaded = leanwasm.install()
        except leanwasm.InstallError as exc:
            print(f"nlpt verify --install: {exc}", file=sys.stderr)
            return 1
        # (an existing install is announced by leanwasm.install itself, on stderr)
        print(f"toolchain{' installed' if downloaded else ''}: {tc.version_line} and Node.js {tc.node_version} "
              f"in {tc.root}")
        return 0
    if not args.json:
        print("nlpt verify: checking lean/ with a Lean kernel (about 5 minutes on the wasm Lean) ...",
              file=sys.stderr, flush=True)
    report = formal.verify(keep=args.keep)
    data = report.to_dict()
    if args.report:
        Path(args.report).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(data, indent=2))
        return report.exit_status
    if report.status == "not checked":
        print(report.summary())
        return report.exit_status
    tc = report.toolchain
    print(f"checker: {tc.get('version_line') or tc.get('kind')}")
    print(f"  how: {report.method}")
    if tc.get("npm_package"):
        print(f"  toolchain: {tc['npm_package']} (npm sha1 {tc['npm_tarball_sha1']}), {tc['node_wheel']}")
    print(f"  modules: {', '.join(report.modules)}")
    for kind in ("errors", "warnings"):
        for m in getattr(report, kind):
            first = m["message"].splitlines()[0] if m["message"] else ""
            print(f"  {m['file']}:{m['line']}: {m['severity']}: {first}")
    ctl = report.controls
    if ctl:
        print(f"  negative control, false theorem: {'rejected' if ctl['false_theorem']['rejected'] else 'ACCEPTED'}; "
              f"sorry control: {'reported' if ctl['sorry']['reported'] else 'NOT REPORTED'}")
    print(f"  headline theorems accepted: {len(report.accepted)}/{len(report.headline)}")
    if report.audit:
        print(f"  {report.audit}")
    for p in report.problems:
        print(f"problem: {p}")
    if report.check_file:
        print(f"  check file: {report.check_file}")
    print(report.summary())
    return report.exit_status


def _add_reproduce_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="the sweep: table, JSON, CSV and plots; --resume after an interruption")
    g = p.add_argument_group("grid (the product of all lists is swept)")
    g.add_argument("--m", type=int, nargs="+", default=None,
                   help="widths (default 3 5 10 20 50 100 1000 1e4 1e5 1e6 when every a is uniform, else up to 100)")
    g.add_argument("--alphas", type=float, nargs="+", default=None, help="Tikhonov strengths (default 1e-5 1e-4 1e-3)")
    g.add_argument("--alpha", type=float, default=None, help="one Tikhonov strength (same as --alphas ALPHA)")
    g.add_argument("--activations", nargs="+", default=None, choices=sorted(ACTIVATIONS), metavar="SIGMA",
                   help=f"activations ({', '.join(sorted(ACTIVATIONS))}; default tanh)")
    g.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS), help="one activation")
    g.add_argument("--a-kinds", nargs="+", default=None, metavar="A",
                   help="second-layer weights: 'uniform' (default), 'random' (U(0.5, 1.5) from the seed) and/or files")
    g.add_argument("--a", default=None, metavar="A", help="one kind of second-layer weights (same as --a-kinds A)")
    g.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="seeds of the default data and of random a (default 0); several give a summary across seeds")
    g.add_argument("--seed", type=int, default=None, help="one seed (same as --seeds SEED)")
    _add_data_args(g)
    p.add_argument("--lam-max", type=float, default=1.0, help="end of the continuation in lam (default 1)")
    r = p.add_argument_group("running")
    r.add_argument("--out", default="nlpt-out", help="output folder (default ./nlpt-out); holds one run")
    r.add_argument("--resume", action="store_true",
                   help="keep the cases already in OUT/cases.jsonl with the same configuration and run the rest")
    r.add_argument("--jobs", type=int, default=None, help="local worker processes (default 1: this process)")
    r.add_argument("--executor", choices=["local", "dask"], default=None,
                   help="'local' processes (default) or 'dask' (needs the [dask] extra)")
    r.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler address, e.g. tcp://host:8786 (implies --executor dask; without it "
                   "--executor dask starts a local cluster of --jobs workers)")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    r.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    r.add_argument("--engine", choices=["auto", "reduced", "full"], default=None,
                   help="implementation of the model for every case (default auto: reduced where a has repeated values)")
    r.add_argument("--no-lambda", action="store_true",
                   help="skip Lambda(beta) = lam* at beta = alpha m and the critical widths (uniform a)")
    r.add_argument("--betas", type=float, nargs="+", default=None,
                   help="grid of beta = alpha m for Lambda(beta) (default 13 points over [1e-7, 1e-1])")
    p.add_argument("--json", action="store_true", help="also print results.json on stdout")
    p.set_defaults(func=cmd_reproduce)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nlpt",
        description="The Non-Linearity Perturbation Threshold: invariants, thresholds and bifurcations "
        "of a two-layer network under the activation homotopy s_lam = (1-lam) id + lam sigma.",
    )
    parser.add_argument("--version", action="version", version=f"nlpt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("spectrum", help="kernel dimension, floor and spectrum of H_0, numeric vs proven")
    _add_case_args(p, alpha_default=1e-3)
    p.set_defaults(func=cmd_spectrum)

    p = sub.add_parser("threshold", help="one case: softening rate, predicted and measured lam*, normal form")
    _add_case_args(p, alpha_default=1e-3)
    p.add_argument("--lam-max", type=float, default=1.0, help="end of the continuation in lam (default 1)")
    p.add_argument("--no-tensors", action="store_true",
                   help="leave the reduced quadratic/cubic tensors of a multiple kernel out of --json")
    p.add_argument("--plot", metavar="FILE", default=None,
                   help="draw the case (eigenvalues along the branch, zoom around lam*, Morse index) into FILE.png")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.add_argument("--engine", choices=["auto", "reduced", "full"], default=None,
                   help="implementation of the model: 'reduced' (rows equal within groups of equal a, SPEC 7; cost "
                   "independent of m for uniform a), 'full' (m d coordinates), 'auto' (default: reduced where a has "
                   "repeated values)")
    p.add_argument("--family", metavar="FILE.py:FUNCTION", default=None,
                   help="analyse the nlpt.Problem that FUNCTION() in FILE.py returns instead of the two-layer model "
                   "(docs/families.md)")
    p.set_defaults(func=cmd_threshold)

    _add_reproduce_parser(sub)

    p = sub.add_parser("plot", help="redraw the figures of a results folder or file, without computing")
    p.add_argument("results", metavar="RESULTS",
                   help="a folder of nlpt reproduce, its results.json or cases.jsonl, or the JSON of nlpt threshold")
    p.add_argument("--out", default=None, help="folder for the figures (default: the folder of RESULTS)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("verify", help="check the Lean formal layer with a Lean kernel (exit 0 clean, 1 problems, "
                       "3 not checked here)")
    p.add_argument("--install", action="store_true",
                   help="install the pinned wasm Lean and Node.js 24 into $NLPT_LEAN_HOME (default "
                        "/home/.cache/nlpt/lean) and exit; downloads nothing if already installed")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")
    p.add_argument("--keep", action="store_true", help="keep the generated check file under /tmp")
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv=None) -> int:
    from .executors import SignalExit, exit_on_signals

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = ["nlpt"] + argv
    try:
        with exit_on_signals():
            return args.func(args)
    except NLPTInputError as exc:
        print(f"nlpt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, SignalExit) as exc:
        print(f"nlpt {args.command}: interrupted", file=sys.stderr)
        return _interrupted(exc)
    except BrokenPipeError:  # stdout closed early (| head): stop quietly
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
