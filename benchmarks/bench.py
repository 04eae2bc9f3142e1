"""nlpt performance benchmarks, measured side by side in one run; prints tables of ratios.

    python benchmarks/bench.py            # full run (about 15 minutes on 2 cores)
    python benchmarks/bench.py --quick    # a case or two of every table, < 60 s

Sections
  1. Hessian-vector product (HVP): nlpt's closed form (SPEC 2) vs a dense product H @ v (where
     H fits) vs JAX ``jvp(grad(L))`` jitted in float64 (pip install 'nlpt-threshold[bench]') vs
     PyTorch ``torch.func.jvp(torch.func.grad(L))`` in float64, eager, on the CPU (a CPU build of
     torch).  Ratio = other time / nlpt time (> 1: nlpt faster).
  2. Achieved GFLOP/s of the HVP next to numpy's matmul of the same shape, (n, d) @ (d, m), and a
     large square matmul (the machine's practical peak), in the same run.
     Flop count of one HVP: 4 n m d (the two n x m x d products X V^T and T^T X)
     + 6 n m (u, T) + 3 m d; only the 4 n m d is counted, as for the matmul reference.
  3. Time to lambda_min(H) at a crossing-like point: W = W* (SPEC 3), lam = 0.5, alpha chosen so
     that the first-order prediction alpha + lam * mu_min(M)/m of SPEC 4 is ~0 (uniform a),
     matrix-free (LOBPCG, nlpt default above DENSE_MAX, with its default preconditioner) vs the
     same with the lam = 0 preconditioner "h0" (where it finishes in seconds) vs forming H +
     numpy.linalg.eigh (full) and vs nlpt's dense path (H + LAPACK syevr for the lowest pair);
     uniform a and random a = uniform(0.5, 1.5) entries.
  4. ``nlpt reproduce`` end to end (six widths, three alphas; no plots).
  5. Reduced vs full engine (SPEC 7): ``nlpt.find_threshold(model, engine=...)`` for uniform a at
     m = 10 .. 10^6 with alpha m fixed; ratio full / reduced and both lam*.  The full engine runs
     while it stays under a time limit; above that only its up-front memory check runs, which
     refuses the widths it cannot hold.
  6. Uniform a, ``nlpt threshold --json --no-tensors --quiet`` at m = 10^6 against m = 10 (alpha m
     fixed): the whole command and the same analysis in-process, as ratios to m = 10.
  7. Random a, ``nlpt threshold`` (full engine) at m = 300, 1000, 3000, with a time limit.

Timings are the minimum over repeats (wall clock, time.perf_counter; eigen-solves that take
under 2 s are run three times, longer ones once).  Peak memory per case is
``tracemalloc`` peak of the Python/numpy heap during the case (numpy reports its buffers to
tracemalloc; XLA's and torch's allocators are not traced); the process-wide ``ru_maxrss`` is
printed at the end.  Sections 5-7 run every case in a fresh interpreter (a time limit can stop
it); their MB column is that child's peak resident set (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings

import numpy as np

import nlpt
from nlpt.linear import critical_point
from nlpt.spectral import DENSE_MAX, eigensolve


def best_time(f, repeat=5, min_total=0.5):
    f()
    ts = []
    t_start = time.perf_counter()
    while len(ts) < repeat or (time.perf_counter() - t_start < min_total and len(ts) < 50):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def traced(f, repeat_below=2.0, repeat=3):
    """(result, seconds, tracemalloc peak MB) of one call; calls that take less than
    ``repeat_below`` seconds are repeated (untraced) and the minimum time is reported."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    out = f()
    t = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    if t < repeat_below:
        for _ in range(repeat - 1):
            t0 = time.perf_counter()
            f()
            t = min(t, time.perf_counter() - t0)
    return out, t, peak


def machine_info():
    print("== machine")
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    print(f"cpu: {cpu}; os.cpu_count() = {os.cpu_count()}; affinity = {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, nlpt {nlpt.__version__}")
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        print(f"{var} = {os.environ.get(var, '(unset)')}")
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            print(f"BLAS (threadpoolctl): {info.get('internal_api')} {info.get('version')} kernel={info.get('architecture')} threads={info.get('num_threads')}")
    except ImportError:
        try:
            cfg = np.show_config(mode="dicts")
            blas = cfg["Build Dependencies"]["blas"]
            print(f"BLAS (numpy.show_config): {blas.get('name')} {blas.get('version')} {blas.get('openblas configuration', '')}")
        except Exception:  # older numpy: print the text form
            np.show_config()


def _homotopy_loss(xp, X, y, c, alpha, lam):
    """The two-layer loss (tanh homotopy) in the array library ``xp`` (jax.numpy or torch)."""

    def loss(W):
        Z = X @ W.T
        r = ((1 - lam) * Z + lam * xp.tanh(Z)) @ c - y
        return 0.5 * xp.mean(r * r) + 0.5 * alpha * xp.sum(W * W)

    return loss


def jax_hvp_factory(X, y, a, m, alpha, lam):
    """JAX jvp-of-grad HVP of the same loss (tanh homotopy), jitted, float64; None without jax."""
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except Exception:
        return None
    loss = _homotopy_loss(jnp, jnp.asarray(X), jnp.asarray(y), jnp.asarray(a / m), alpha, lam)

    @jax.jit
    def hvp(W, V):
        return jax.jvp(jax.grad(loss), (W,), (V,))[1]

    return lambda W, V: hvp(W, V).block_until_ready(), jnp.asarray


def torch_hvp_factory(X, y, a, m, alpha, lam):
    """PyTorch ``torch.func.jvp(torch.func.grad(L))`` HVP of the same loss, float64, eager, on the
    CPU (torch's own intra-op threads); None without torch."""
    try:
        import torch
        from torch.func import grad, jvp
    except Exception:
        return None

    def t64(A):
        return torch.as_tensor(np.ascontiguousarray(A), dtype=torch.float64)

    loss = _homotopy_loss(torch, t64(X), t64(y), t64(a / m), alpha, lam)

    def hvp(W, V):
        with torch.no_grad():
            return jvp(grad(loss), (W,), (V,))[1]

    return hvp, t64


def versions_of_comparisons():
    """One line naming the versions of JAX and PyTorch (or that they are missing)."""
    parts = []
    try:
        import jax
        import jaxlib

        parts.append(f"jax {jax.__version__} / jaxlib {jaxlib.__version__} ({jax.default_backend()}, x64)")
    except Exception:
        parts.append("jax: not importable")
    try:
        import torch

        parts.append(f"torch {torch.__version__} (CPU, float64, eager, {torch.get_num_threads()} intra-op threads)")
    except Exception:
        parts.append('torch: not importable (a CPU build: pip install -e ".[torch]" --extra-index-url https://download.pytorch.org/whl/cpu)')
    return "; ".join(parts)


def _time_other_hvp(factory, W, V, ref, to_numpy):
    """(best time, relative error against ``ref``) of another backend's HVP, or (None, None)."""
    if factory is None:
        return None, None
    f, arr = factory
    Wo, Vo = arr(W), arr(V)
    t = best_time(lambda: f(Wo, Vo))
    return t, float(np.max(np.abs(to_numpy(f(Wo, Vo)) - ref)) / np.max(np.abs(ref)))


def section_hvp(cases):
    print("\n== 1-2. Hessian-vector product: time, ratios (other / nlpt), GFLOP/s (4 n m d per HVP)")
    print("   " + versions_of_comparisons())
    hdr = (f"{'n':>6} {'m':>7} {'d':>5} {'n*m*d':>9} | {'nlpt ms':>9} {'dense Hv':>9} {'jax ms':>9} {'jax/nlpt':>8} "
           f"{'torch ms':>9} {'torch/nlpt':>10} | {'nlpt GF/s':>9} {'mm GF/s':>8} {'% mm':>5} | {'jax err':>8} {'torch err':>9} {'peak MB':>8}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for n, m, d in cases:
        X, y = nlpt.default_data(n, d, seed=0)
        rng = np.random.default_rng(1)
        a = rng.uniform(0.5, 1.5, m)
        model = nlpt.Model(X, y, m, a=a, alpha=1e-3)
        W = rng.standard_normal((m, d)) / np.sqrt(d)
        V = rng.standard_normal((m, d))
        ev = model.at(W, 0.5)
        _, _, peak = traced(lambda: ev.hvp(V))
        t_nlpt = best_time(lambda: ev.hvp(V))
        flops = 4.0 * n * m * d
        B = V.T.copy()
        t_mm = best_time(lambda: X @ B)
        mm_gf = 2.0 * n * m * d / t_mm / 1e9
        dense = "-"
        if m * d <= 8000:
            H = ev.hessian()
            v = V.ravel()
            t_d = best_time(lambda: H @ v)
            dense = f"{t_d / t_nlpt:8.2f}x"
            del H
        ref = ev.hvp(V)
        t_j, jerr = _time_other_hvp(jax_hvp_factory(X, y, a, m, 1e-3, 0.5), W, V, ref, np.asarray)
        t_t, terr = _time_other_hvp(torch_hvp_factory(X, y, a, m, 1e-3, 0.5), W, V, ref, lambda r: r.numpy())
        gf = flops / t_nlpt / 1e9
        row = dict(n=n, m=m, d=d, t=t_nlpt, tj=t_j, tt=t_t, gf=gf, mm=mm_gf)
        rows.append(row)
        na = "n/a"
        print(
            f"{n:>6} {m:>7} {d:>5} {n * m * d:>9.1e} | {t_nlpt * 1e3:>9.3f} {dense:>9} "
            f"{(f'{t_j * 1e3:9.3f}' if t_j else na):>9} {(f'{t_j / t_nlpt:7.2f}x' if t_j else na):>8} "
            f"{(f'{t_t * 1e3:9.3f}' if t_t else na):>9} {(f'{t_t / t_nlpt:9.2f}x' if t_t else na):>10} | "
            f"{gf:>9.1f} {mm_gf:>8.1f} {100 * gf / mm_gf:>4.0f}% | {(f'{jerr:.1e}' if jerr is not None else na):>8} "
            f"{(f'{terr:.1e}' if terr is not None else na):>9} {peak:>8.1f}"
        )
    N = 2000
    A = np.random.default_rng(0).standard_normal((N, N))
    t = best_time(lambda: A @ A)
    print(f"machine matmul reference: {N}x{N}x{N} float64 matmul {2 * N**3 / t / 1e9:.1f} GFLOP/s")
    return rows


def crossing_model(n, d, m, seed=0, lam=0.5, uniform=True):
    """W*, lam and alpha with alpha + lam mu_min(M)/m ~ 0 (SPEC 4, first order, uniform a)."""
    X, y = nlpt.default_data(n, d, seed=seed)
    a = None if uniform else np.random.default_rng(seed + 1).uniform(0.5, 1.5, m)
    base = nlpt.Model(X, y, m, alpha=1e-3)
    v, _ = critical_point(base)
    r = X @ v - y
    s2 = base.activation.derivs(X @ v, 2)[2]
    mu = np.linalg.eigvalsh((X.T * (r * s2)) @ X / n)[0]
    alpha = lam * abs(mu) / m if mu < 0 else 1e-3 / m
    model = nlpt.Model(X, y, m, a=a, alpha=alpha)
    return model, critical_point(model)[1], lam


def section_lambda_min(cases, dense_max_P, h0_max_P):
    print("\n== 3. time to lambda_min(H) at a crossing-like point (W*, lam = 0.5, alpha = lam |mu_min(M)| / m)")
    print("   matrix-free = eigensolve(ev, 1, 'lobpcg') with its default preconditioner (pre); 'h0 s' = the same with")
    print(f"   preconditioner='h0' (the lam = 0 operator, nlpt's previous default), run for P <= {h0_max_P}; ratios = other / matrix-free")
    hdr = (
        f"{'a':>7} {'n':>5} {'d':>4} {'m':>7} {'P':>8} | {'matrix-free s':>13} {'pre':>5} {'HVPs':>5} {'lambda_min':>12} {'resid':>8} {'MB':>7} | "
        f"{'h0 s':>8} {'HVPs':>5} {'ratio':>7} | {'eigh s':>8} {'ratio':>7} {'MB':>7} | {'syevr s':>8} {'ratio':>7} | {'|diff|':>8}"
    )
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for uniform, n, d, m in cases:
        model, W, lam = crossing_model(n, d, m, uniform=uniform)
        P = model.size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res, t_mf, mem_mf = traced(lambda: eigensolve(model.at(W, lam), 1, "lobpcg"))
            h0 = None
            if P <= h0_max_P:
                h0, t_h0, _ = traced(lambda: eigensolve(model.at(W, lam), 1, "lobpcg", preconditioner="h0"))
        t_e = t_s = mem_e = None
        diff = None
        if P <= dense_max_P:
            (vals, _), t_e, mem_e = traced(lambda: np.linalg.eigh(model.at(W, lam).hessian()))
            rs, t_s, _ = traced(lambda: eigensolve(model.at(W, lam), 1, "dense"))
            diff = abs(vals[0] - res.values[0])
            del vals
        rows.append(dict(P=P, uniform=uniform, t_mf=t_mf, t_e=t_e, t_s=t_s, conv=res.converged, pre=res.preconditioner))
        dash = "-"
        print(
            f"{'uniform' if uniform else 'random':>7} {n:>5} {d:>4} {m:>7} {P:>8} | {t_mf:>13.3f} {res.preconditioner or res.method:>5} {res.products:>5} "
            f"{res.values[0]:>12.4e} {res.residuals[0]:>8.1e} {mem_mf:>7.0f} | "
            + (f"{t_h0:>8.3f} {h0.products:>5} {t_h0 / t_mf:>6.1f}x | " if h0 is not None else f"{dash:>8} {dash:>5} {dash:>7} | ")
            + (f"{t_e:>8.2f} {t_e / t_mf:>6.1f}x {mem_e:>7.0f} | {t_s:>8.2f} {t_s / t_mf:>6.1f}x | {diff:>8.1e}" if t_e is not None else f"{dash:>8} {dash:>7} {dash:>7} | {dash:>8} {dash:>7} | {dash:>8}")
            + ("" if res.converged else f"  NOT CONVERGED: {res.message}")
        )
    return rows


def section_reproduce(timeout):
    print("\n== 4. nlpt reproduce end to end (default: six widths x three alphas, --no-plots --quiet)")
    try:
        import nlpt.sweep  # noqa: F401
        import nlpt.cli  # noqa: F401
    except Exception as exc:
        print(f"nlpt reproduce: not available ({type(exc).__name__}: {exc})")
        return None
    cmd = nlpt_command()
    with tempfile.TemporaryDirectory() as tmp:
        full = cmd + ["reproduce", "--out", tmp, "--no-plots", "--quiet"]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"nlpt reproduce: did not finish within {timeout} s")
            return None
        t = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"command: {' '.join(full[:2])} ... ; exit {proc.returncode}; wall {t:.1f} s; children ru_maxrss {rss:.0f} MB (upper bound: includes the forked copy of this process)")
    if proc.returncode != 0:
        print("stderr: " + proc.stderr.strip()[-800:])
    else:
        print(proc.stdout.strip())
    return t


# -- engines and widths (sections 5-7) -----------------------------------------------------------
#
# Every case of these sections runs in a fresh interpreter (``bench.py --case SPEC``, or the ``nlpt``
# command itself), so that a slow case can be stopped at its time limit and no case inherits the
# memory or caches of an earlier one.  In-process cases use nlpt's own BLAS policy of
# ``nlpt threshold``: one BLAS thread on the dense path (P <= DENSE_MAX), the default above.

ALPHA_M = 5e-5  # alpha * m of the uniform-a cases: lam* = Lambda(alpha m) is then the same for every m (SPEC 7)


def nlpt_command():
    """The ``nlpt`` script of this interpreter's environment (else the one on PATH, else ``-m nlpt``)."""
    here = os.path.join(os.path.dirname(sys.executable), "nlpt")
    exe = here if os.access(here, os.X_OK) else shutil.which("nlpt")
    return [exe] if exe else [sys.executable, "-m", "nlpt"]


def _ratio(x):
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def _lam_text(x):
    return "-" if x is None else f"{x:.12f}"


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM of /proc/self/status: reset by exec, unlike
    ru_maxrss, which a child inherits from the process it was forked from); ru_maxrss elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(spec: dict) -> None:
    """Child side of :func:`child`: one JSON line per engine on stdout, as each one finishes."""
    from nlpt._validate import NLPTInputError
    from nlpt.data import make_a
    from nlpt.engine import select_problem
    from nlpt.sweep import DEFAULT_TOL, blas_limit

    X, y = nlpt.default_data(spec.get("n", 200), spec.get("d", 3), seed=0)
    m = spec["m"]
    a = make_a(spec.get("a", "uniform"), m, seed=0)
    for engine in spec["engines"]:
        rec = dict(engine=engine, m=m)
        check_only = engine in spec.get("check_only", ())

        def once():
            model = nlpt.Model(X, y, m, a=a, alpha=spec["alpha"])
            problem = select_problem(model, engine)
            if check_only:
                return problem, None
            with blas_limit(1 if problem.size <= DENSE_MAX else None):
                if spec.get("api") == "analyze":
                    return problem, nlpt.analyze(problem, lam_max=1.0, tol=DEFAULT_TOL)
                return problem, nlpt.find_threshold(problem, lam_max=1.0, tol=DEFAULT_TOL)

        t0 = time.perf_counter()
        try:
            problem, res = once()
        except NLPTInputError as exc:
            rec.update(refused=str(exc), t=time.perf_counter() - t0)
            print(json.dumps(rec), flush=True)
            continue
        t = time.perf_counter() - t0
        for _ in range(spec.get("repeat", 1) - 1 if t < 2.0 else 0):
            t1 = time.perf_counter()
            once()
            t = min(t, time.perf_counter() - t1)
        rec.update(t=t, P=problem.size, accepted=True)
        if res is not None:
            thr = res.threshold if hasattr(res, "threshold") else res
            rec.update(lam=thr.lam_star_measured, status=thr.status, mult=thr.multiplicity,
                       eigensolves=int(thr.branch.eigensolves), points=len(thr.branch))
        rec["rss_mb"] = peak_rss_mb()
        print(json.dumps(rec), flush=True)


def child(cmd, timeout):
    """(stdout, seconds, None) of a command, or (partial stdout, seconds, reason) when it fails or
    is stopped at ``timeout`` seconds."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return out, time.perf_counter() - t0, f"stopped at the {timeout:.0f} s limit"
    t = time.perf_counter() - t0
    if proc.returncode != 0:
        return proc.stdout, t, f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return proc.stdout, t, None


def case_records(spec, timeout):
    out, _, why = child([sys.executable, os.path.abspath(__file__), "--case", json.dumps(spec)], timeout)
    recs = {r["engine"]: r for r in (json.loads(line) for line in out.splitlines() if line.startswith("{"))}
    return recs, why


def section_engines(widths, full_limit, full_max_m):
    print(f"\n== 5. reduced vs full engine: nlpt.find_threshold, uniform a, n = 200, d = 3, alpha = {ALPHA_M:g} / m")
    print(f"   both engines in one fresh interpreter per width; the full engine run while m <= {full_max_m} and until a width")
    print(f"   exceeds {full_limit:.0f} s; above that only its memory check (select_problem) is run; times include Model +")
    print("   critical point (min of 3 below 2 s); ratio = full / reduced")
    hdr = (f"{'m':>8} {'P':>8} | {'reduced s':>9} {'lam* reduced':>15} {'mult':>6} {'solves':>6} | {'full s':>8} "
           f"{'full/red':>8} {'lam* full':>15} {'|diff|':>8} {'MB':>6} | full engine")
    print(hdr)
    print("-" * len(hdr))
    rows, stop = [], None
    for m in widths:
        base = dict(m=m, alpha=ALPHA_M / m)
        run_full = stop is None and m <= full_max_m
        recs, why = case_records(dict(base, engines=["reduced", "full"], repeat=3,
                                      check_only=[] if run_full else ["full"]), full_limit)
        r, f = recs.get("reduced", {}), recs.get("full", {})
        why_r, why_f = (why, None) if not r else (None, why)
        if "refused" in f:
            need = re.search(r"needs about ([0-9.]+ GiB)", f["refused"])
            have = re.search(r"of the ([0-9.]+ GiB) available", f["refused"])
            note = (f"refused up front: needs {need.group(1)} > 80% of {have.group(1)} available" if need and have
                    else "refused: " + f["refused"][:120])
        elif why_f is not None:
            note = why_f
            stop = m
        elif not run_full:
            note = "accepted by the memory check; not run" + (f" (m = {stop} hit the time limit)" if stop else "")
        else:
            note = f"{f.get('status')}, {f.get('eigensolves')} eigensolves"
        ran = "lam" in f
        diff = abs(f["lam"] - r["lam"]) if ran and f.get("lam") is not None and r.get("lam") is not None else None
        print(f"{m:>8} {3 * m:>8} | {r.get('t', float('nan')):>9.3f} {_lam_text(r.get('lam')):>15} {r.get('mult', '-'):>6} "
              f"{r.get('eigensolves', '-'):>6} | "
              + (f"{f['t']:>8.2f} {_ratio(f['t'] / r['t']):>8} {_lam_text(f.get('lam')):>15} "
                 f"{(f'{diff:.1e}' if diff is not None else '-'):>8} {f['rss_mb']:>6.0f}" if ran else
                 f"{'-':>8} {'-':>8} {'-':>15} {'-':>8} {'-':>6}")
              + f" | {note}" + (f"; reduced: {why_r}" if why_r else ""))
        rows.append(dict(m=m, red=r, full=f, note=note))
    print(f"   largest m the full engine's memory check accepts here (bisection on select_problem): {largest_full_m()}")
    return rows


def largest_full_m(lo=10, hi=10**6):
    """The largest uniform-a width (n = 200, d = 3) that ``select_problem(model, "full")`` accepts
    with the memory available now."""
    from nlpt._validate import NLPTInputError
    from nlpt.engine import select_problem

    X, y = nlpt.default_data(200, 3, seed=0)

    def ok(m):
        try:
            select_problem(nlpt.Model(X, y, m, alpha=ALPHA_M / m), "full")
            return True
        except NLPTInputError:
            return False

    if ok(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _threshold_cmd(m, alpha, a="uniform"):
    return nlpt_command() + ["threshold", "--m", str(m), "--alpha", str(alpha), "--a", a,
                             "--json", "--no-tensors", "--quiet"]


def _cli_run(m, alpha, a, timeout):
    out, t, why = child(_threshold_cmd(m, alpha, a), timeout)
    d = json.loads(out) if why is None else {}
    return t, d, why


def section_width_cli(widths, repeat):
    print(f"\n== 6. uniform a: nlpt threshold at width m against m = {widths[0]} (alpha = {ALPHA_M:g} / m, so lam* is the same)")
    print(f"   command: {' '.join(_threshold_cmd('M', 'ALPHA'))}")
    print("   'command s' = wall of the whole command (interpreter start, imports, analysis, JSON), min of "
          f"{repeat}; 'in-process s' = Model + nlpt.analyze as the command runs it (bench.py --case), min of 3;")
    print("   'startup s' = python -c 'import nlpt.cli, nlpt.analysis, nlpt.sweep' (the floor of every command)")
    out, t_imp, _ = child([sys.executable, "-c", "import nlpt.cli, nlpt.analysis, nlpt.sweep"], 120)
    t_imp = min([t_imp] + [child([sys.executable, "-c", "import nlpt.cli, nlpt.analysis, nlpt.sweep"], 120)[1]
                           for _ in range(repeat - 1)])
    print(f"   startup s = {t_imp:.2f}")
    hdr = (f"{'m':>8} {'alpha':>9} | {'command s':>9} {'ratio':>6} {'engine':>7} {'lam*':>15} {'status':>9} | "
           f"{'in-process s':>12} {'ratio':>6} {'lam*':>15} {'MB':>6}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for m in widths:
        alpha = ALPHA_M / m
        runs = [_cli_run(m, alpha, "uniform", 300) for _ in range(repeat)]
        t = min(r[0] for r in runs)
        d = runs[0][1]
        recs, why = case_records(dict(m=m, alpha=alpha, engines=["auto"], api="analyze", repeat=3), 300)
        r = recs.get("auto", {})
        rows.append(dict(m=m, t=t, ti=r.get("t"), lam=d.get("lam_star_measured"), lam_i=r.get("lam")))
        t0, ti0 = rows[0]["t"], rows[0]["ti"]
        print(f"{m:>8} {alpha:>9.1e} | {t:>9.2f} {_ratio(t / t0):>6} {d.get('engine', '-'):>7} "
              f"{_lam_text(d.get('lam_star_measured')):>15} {str(d.get('status', runs[0][2]))[:9]:>9} | "
              + (f"{r['t']:>12.3f} {_ratio(r['t'] / ti0):>6} {_lam_text(r.get('lam')):>15} {r['rss_mb']:>6.0f}"
                 if "t" in r else f"failed: {why}"))
    lams = [x for row in rows for x in (row["lam"], row["lam_i"]) if x is not None]
    if lams:
        print(f"   spread of lam* over all rows: {max(lams) - min(lams):.1e}")
    return rows


def section_random_cli(widths, timeout, alpha=1e-5):
    print(f"\n== 7. random a = U(0.5, 1.5) (seed 0): nlpt threshold on the full engine, alpha = {alpha:g}, n = 200, d = 3")
    print(f"   command: {' '.join(_threshold_cmd('M', alpha, 'random'))}; once per width, limit {timeout:.0f} s; "
          f"ratio = time / time at m = {widths[0]}")
    hdr = f"{'m':>6} {'P':>6} | {'command s':>9} {'ratio':>7} | {'engine':>6} {'status':>9} {'lam*':>15} {'mult':>4} {'Morse':>6} {'solves':>6} {'points':>6}"
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for m in widths:
        if rows and rows[-1]["why"] is not None:
            print(f"{m:>6} {3 * m:>6} | not run (m = {rows[-1]['m']} did not finish)")
            continue
        t, d, why = _cli_run(m, alpha, "random", timeout)
        rows.append(dict(m=m, t=t, d=d, why=why))
        ratio = _ratio(t / rows[0]["t"])
        if why is not None:
            print(f"{m:>6} {3 * m:>6} | {t:>9.1f} {ratio:>7} | {why}")
            continue
        morse = f"{d.get('morse_before')}->{d.get('morse_after')}" if d.get("morse_before") is not None else "-"
        print(f"{m:>6} {3 * m:>6} | {t:>9.1f} {ratio:>7} | {d.get('engine'):>6} {d.get('status')[:9]:>9} "
              f"{_lam_text(d.get('lam_star_measured')):>15} {str(d.get('multiplicity')):>4} {morse:>6} "
              f"{d.get('eigensolves'):>6} {d.get('branch_points'):>6}")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small case or two of every table (< 60 s)")
    ap.add_argument("--skip-reproduce", action="store_true")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # child side of sections 5-6 (a JSON spec)
    args = ap.parse_args(argv)
    if args.case is not None:
        run_case(json.loads(args.case))
        return
    t_all = time.perf_counter()
    machine_info()
    print(f"nlpt DENSE_MAX = {DENSE_MAX}; mode = {'quick' if args.quick else 'full'}")
    if args.quick:
        hvp_cases = [(200, 100, 3), (1000, 1000, 100)]
        lm_cases = [(True, 200, 3, 300), (False, 200, 3, 300), (False, 200, 3, 1000)]
        dense_max_P = 900
        h0_max_P = 900
        engine_widths, full_limit, full_max_m = [10, 30, 10**6], 60, 30
        cli_widths, cli_repeat = [10, 10**6], 1
        random_widths, random_limit = [100], 60
    else:
        hvp_cases = [(200, 100, 3), (200, 2000, 3), (1000, 1000, 100), (200, 10000, 50), (2000, 2000, 100), (1000, 5000, 200), (200, 10000, 500)]
        lm_cases = [
            (True, 200, 3, 300), (False, 200, 3, 300),
            (True, 200, 3, 1000), (False, 200, 3, 1000),
            (True, 200, 3, 2000), (False, 200, 3, 2000),
            (True, 200, 50, 120), (False, 200, 50, 120),
            (True, 200, 100, 1000), (False, 200, 100, 1000),
            (True, 200, 100, 10000),  # P = 10^6, d = 100: m d^2 > BLOCK_MEMORY -> h0 (random a there: not run, h0 is too slow)
            (False, 200, 10, 100000), (False, 200, 3, 333334),  # P = 10^6 random a, block preconditioner
            (True, 1000, 200, 5000),  # P = 10^6, n = 1000: n^2 P > BLOCK_FLOPS -> h0
        ]
        dense_max_P = 6000
        h0_max_P = 6000
        engine_widths, full_limit, full_max_m = [10, 30, 100, 300, 1000, 3000, 10**4, 10**5, 10**6], 180, 3000
        cli_widths, cli_repeat = [10, 10**3, 10**4, 10**5, 10**6], 3
        random_widths, random_limit = [300, 1000, 3000], 300
    section_hvp(hvp_cases)
    section_lambda_min(lm_cases, dense_max_P, h0_max_P)
    if not args.skip_reproduce:
        section_reproduce(timeout=120 if args.quick else 900)
    section_engines(engine_widths, full_limit, full_max_m)
    section_width_cli(cli_widths, cli_repeat)
    section_random_cli(random_widths, random_limit)
    print("\nload average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"process peak RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; total wall {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
