"""The ``nlpt`` command line.

Subcommands:

* ``nlpt spectrum``  — the lam = 0 invariants, numeric next to proven (SPEC 3);
* ``nlpt threshold`` — one case: softening rate, predicted and measured lam*, normal form (SPEC 4-5);
* ``nlpt reproduce`` — the width sweep: table, JSON, CSV and plots into an output folder;
* ``nlpt verify``    — check the Lean formal layer with a Lean kernel (``lake`` or the wasm Lean).

Bad input gives a one-line message on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from ._validate import NLPTInputError
from .activations import ACTIVATIONS
from .data import default_data, load_data, make_a
from .model import Model

__all__ = ["main", "build_parser"]


def _add_problem_args(p: argparse.ArgumentParser, m_default: int | None = 4, alpha_default: float | None = 1e-3) -> None:
    g = p.add_argument_group("problem")
    if m_default is not None:
        g.add_argument("--m", type=int, default=m_default, help=f"width (default {m_default})")
    g.add_argument("--d", type=int, default=3, help="input dimension of the default data (default 3)")
    g.add_argument("--n", type=int, default=200, help="number of points of the default data (default 200)")
    g.add_argument("--alpha", type=float, default=alpha_default,
                   help="Tikhonov strength (default " + (f"{alpha_default:g})" if alpha_default is not None
                                                          else "1e-5, 1e-4 and 1e-3 swept)"))
    g.add_argument("--activation", default="tanh", choices=sorted(ACTIVATIONS), help="sigma (default tanh)")
    g.add_argument("--seed", type=int, default=0, help="seed of the default data and of random a (default 0)")
    g.add_argument("--data", metavar="FILE", help=".npz with arrays X, y or .csv with y in the last column")
    g.add_argument("--a", default="uniform", metavar="A",
                   help="second-layer weights: 'uniform' (ones), 'random' (U(0.5, 1.5), seeded) or a file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _data(args):
    if args.data:
        return load_data(args.data)
    return default_data(n=args.n, d=args.d, seed=args.seed)


def _model(args, m: int | None = None, alpha: float | None = None) -> Model:
    X, y = _data(args)
    m = args.m if m is None else m
    a = make_a(args.a, m, seed=args.seed) if isinstance(m, int) and m >= 1 else None
    return Model(X, y, m, a=a, alpha=args.alpha if alpha is None else alpha, activation=args.activation)


def _fmt(x) -> str:
    return "none" if x is None else f"{x:.6g}"


def print_json(obj) -> None:
    from .report import jsonable

    print(json.dumps(jsonable(obj), indent=2, allow_nan=False))


# -- spectrum ---------------------------------------------------------------------------------

def cmd_spectrum(args) -> int:
    from .linear import compare_spectrum, linear_endpoint

    model = _model(args)
    le = linear_endpoint(model)
    out = le.summary()
    out["activation"] = model.activation.name
    if args.json:
        print_json(out)
        return 0
    print(f"nlpt spectrum  m={model.m} d={model.d} n={model.n} alpha={model.alpha:g} a={args.a}")
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
    lines = [
        f"nlpt threshold  m={model.m} d={model.d} n={model.n} alpha={model.alpha:g} "
        f"activation={model.activation.name}",
        f"  softening rate lambda_1'(0)    {_fmt(r.get('softening_rate'))}"
        f"   (m lambda_1'(0) = {_fmt(None if r.get('softening_rate') is None else model.m * r['softening_rate'])})",
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


def cmd_threshold(args) -> int:
    from .analysis import analyze
    from .spectral import DENSE_MAX
    from .sweep import blas_limit

    model = _model(args)
    with blas_limit(1 if model.size <= DENSE_MAX else None):
        result = analyze(model, lam_max=args.lam_max).to_dict(tensors=not args.no_tensors)
    if args.json:
        print_json(result)
    else:
        print(_threshold_text(model, result))
    return 0


# -- reproduce --------------------------------------------------------------------------------

def cmd_reproduce(args) -> int:
    from pathlib import Path

    from .plots import have_matplotlib, plot_eigenvalues, plot_threshold_vs_width
    from .report import format_table, write_csv, write_json
    from .sweep import DEFAULT_ALPHAS, width_sweep

    X, y = _data(args)
    alphas = args.alphas or ([args.alpha] if args.alpha is not None else list(DEFAULT_ALPHAS))
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NLPTInputError(f"out: expected a writable folder, got {str(out)!r} ({exc.strerror})") from None
    result = width_sweep(X, y, args.m, alphas, activation=args.activation, a=args.a, seed=args.seed,
                         lam_max=args.lam_max, jobs=args.jobs, progress=not (args.quiet or args.json))
    rows = result.rows()
    table = format_table(rows)
    files = [
        write_json(result.to_dict(), out / "results.json"),
        write_csv(rows, out / "results.csv"),
    ]
    (out / "table.txt").write_text(table + "\n")
    (out / "table.md").write_text(format_table(rows, markdown=True) + "\n")
    files += [out / "table.txt", out / "table.md"]
    if not args.no_plots:
        if have_matplotlib():
            for al in result.config["alphas"]:
                files.append(plot_eigenvalues(result.cases, al, out / f"eigenvalues_alpha{al:g}.png"))
            files.append(plot_threshold_vs_width(result.cases, out / "threshold_vs_width.png"))
        else:
            print("nlpt reproduce: plots skipped (matplotlib not installed; pip install 'nlpt[plot]')", file=sys.stderr)
    if args.json:
        print_json(result.to_dict())
    else:
        cfg = result.config
        print(f"nlpt reproduce  n={cfg['n']} d={cfg['d']} activation={cfg['activation']} a={cfg['a']} "
              f"seed={cfg['seed']} lam in [0, {cfg['lam_max']:g}]")
        print(table)
        print("wrote " + ", ".join(str(f) for f in files))
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
        print(f"toolchain {'installed' if downloaded else 'already installed, nothing downloaded'}: "
              f"{tc.version_line} and Node.js {tc.node_version} in {tc.root}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nlpt",
        description="The Non-Linearity Perturbation Threshold: invariants, thresholds and bifurcations "
        "of a two-layer network under the activation homotopy s_lam = (1-lam) id + lam sigma.",
    )
    parser.add_argument("--version", action="version", version=f"nlpt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("spectrum", help="kernel dimension, floor and spectrum of H_0, numeric vs proven")
    _add_problem_args(p)
    p.set_defaults(func=cmd_spectrum)

    p = sub.add_parser("threshold", help="one case: softening rate, predicted and measured lam*, normal form")
    _add_problem_args(p)
    p.add_argument("--lam-max", type=float, default=1.0, help="end of the continuation in lam (default 1)")
    p.add_argument("--no-tensors", action="store_true",
                   help="leave the reduced quadratic/cubic tensors of a multiple kernel out of --json")
    p.set_defaults(func=cmd_threshold)

    p = sub.add_parser("reproduce", help="the width sweep: table, JSON, CSV and plots")
    _add_problem_args(p, m_default=None, alpha_default=None)
    p.add_argument("--m", type=int, nargs="+", default=[3, 5, 10, 20, 50, 100], help="widths (default 3 5 10 20 50 100)")
    p.add_argument("--alphas", type=float, nargs="+", default=None,
                   help="several Tikhonov strengths to sweep (default 1e-5 1e-4 1e-3)")
    p.add_argument("--lam-max", type=float, default=1.0, help="end of the continuation in lam (default 1)")
    p.add_argument("--out", default="nlpt-out", help="output folder (default ./nlpt-out)")
    p.add_argument("--jobs", type=int, default=1, help="parallel processes (default 1)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reproduce)

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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except NLPTInputError as exc:
        print(f"nlpt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nlpt {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
