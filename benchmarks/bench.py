"""nlpt performance benchmarks, measured side by side in one run; prints tables of ratios.

    python benchmarks/bench.py            # full run (P = m d up to 10^6 matrix-free)
    python benchmarks/bench.py --quick    # < 2 minutes

Sections
  1. Hessian-vector product (HVP): nlpt's closed form (SPEC 2) vs a dense product H @ v (where
     H fits) vs JAX ``jvp(grad(L))`` jitted in float64 (when jax is importable:
     pip install 'nlpt-threshold[bench]').  Ratio = other time / nlpt time (> 1: nlpt faster).
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

Timings are the minimum over repeats (wall clock, time.perf_counter; eigen-solves that take
under 2 s are run three times, longer ones once).  Peak memory per case is
``tracemalloc`` peak of the Python/numpy heap during the case (numpy reports its buffers to
tracemalloc; XLA's allocator is not traced, so JAX rows say n/a); the process-wide
``ru_maxrss`` is printed at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
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


def jax_hvp_factory(X, y, a, m, alpha, lam):
    """JAX jvp-of-grad HVP of the same loss (tanh homotopy), jitted, float64; None without jax."""
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except Exception:
        return None
    Xj, yj, cj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(a / m)

    def loss(W):
        Z = Xj @ W.T
        S = (1 - lam) * Z + lam * jnp.tanh(Z)
        r = S @ cj - yj
        return 0.5 * jnp.mean(r * r) + 0.5 * alpha * jnp.sum(W * W)

    @jax.jit
    def hvp(W, V):
        return jax.jvp(jax.grad(loss), (W,), (V,))[1]

    return lambda W, V: hvp(W, V).block_until_ready(), jnp.asarray


def section_hvp(cases):
    print("\n== 1-2. Hessian-vector product: time, ratios (other / nlpt), GFLOP/s (4 n m d per HVP)")
    hdr = f"{'n':>6} {'m':>7} {'d':>5} {'n*m*d':>9} | {'nlpt ms':>9} {'dense Hv':>9} {'jax ms':>9} {'jax/nlpt':>8} | {'nlpt GF/s':>9} {'mm GF/s':>8} {'% mm':>5} | {'jax err':>8} {'peak MB':>8}"
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
        jx = jax_hvp_factory(X, y, a, m, 1e-3, 0.5)
        t_j, jerr = None, None
        if jx is not None:
            f, arr = jx
            Wj, Vj = arr(W), arr(V)
            t_j = best_time(lambda: f(Wj, Vj))
            ref = ev.hvp(V)
            jerr = float(np.max(np.abs(np.asarray(f(Wj, Vj)) - ref)) / np.max(np.abs(ref)))
        gf = flops / t_nlpt / 1e9
        row = dict(n=n, m=m, d=d, t=t_nlpt, tj=t_j, gf=gf, mm=mm_gf)
        rows.append(row)
        print(
            f"{n:>6} {m:>7} {d:>5} {n * m * d:>9.1e} | {t_nlpt * 1e3:>9.3f} {dense:>9} "
            f"{(f'{t_j * 1e3:9.3f}' if t_j else '      n/a'):>9} {(f'{t_j / t_nlpt:7.2f}x' if t_j else '     n/a'):>8} | "
            f"{gf:>9.1f} {mm_gf:>8.1f} {100 * gf / mm_gf:>4.0f}% | {(f'{jerr:.1e}' if jerr is not None else 'n/a'):>8} {peak:>8.1f}"
        )
    N = 2000
    A = np.random.default_rng(0).standard_normal((N, N))
    t = best_time(lambda: A @ A)
    print(f"machine matmul reference: {N}x{N}x{N} float64 matmul {2 * N**3 / t / 1e9:.1f} GFLOP/s")
    if jax_hvp_factory(np.zeros((1, 1)), np.zeros(1), np.ones(1), 1, 0.0, 0.0) is None:
        print("JAX: not importable (pip install 'nlpt-threshold[bench]' to compare)")
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
    exe = shutil.which("nlpt")
    cmd = [exe] if exe else [sys.executable, "-m", "nlpt"]
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small cases only (< 2 minutes)")
    ap.add_argument("--skip-reproduce", action="store_true")
    args = ap.parse_args(argv)
    t_all = time.perf_counter()
    machine_info()
    print(f"nlpt DENSE_MAX = {DENSE_MAX}; mode = {'quick' if args.quick else 'full'}")
    if args.quick:
        hvp_cases = [(200, 100, 3), (200, 2000, 3), (1000, 1000, 100)]
        lm_cases = [
            (True, 200, 3, 300), (False, 200, 3, 300), (True, 200, 3, 1000), (False, 200, 3, 1000),
            (True, 200, 10, 300), (True, 200, 100, 1000), (False, 200, 100, 1000), (True, 200, 100, 10000),
        ]
        dense_max_P = 3000
        h0_max_P = 3000
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
    section_hvp(hvp_cases)
    section_lambda_min(lm_cases, dense_max_P, h0_max_P)
    if not args.skip_reproduce:
        section_reproduce(timeout=120 if args.quick else 900)
    print("\nload average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"process peak RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; total wall {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
