"""A three-layer homotopy MLP, analysed end to end by automatic differentiation (JAX).

The network, widths 3 -> m -> m -> 1 on the default data of SPEC 1 (n = 200, d = 3):

    f_lam(x) = (1/m) sum_k a_k s_lam( sum_j V_kj s_lam(w_j . x) ),   s_lam = (1 - lam) id + lam tanh,

with the homotopy in *both* hidden layers.  Trained: the first layer W = (w_j) (m x 3, P = 3 m
unknowns).  Fixed: the second layer V (m x m) and the read-out a = 1.  Loss: the squared error
of SPEC 1 plus (alpha/2) |W|_F^2.

Why these choices:

* V is *circulant* (V_kj = r_{(j - k) mod m}, r seeded): shifting the hidden units of both layers
  cyclically leaves the loss unchanged, the critical point at lam = 0 is fixed by the shift, and
  the branch stays on the fixed space -- so the softening mode meets zero in a genuine crossing
  (with m = 3, in the 2-dimensional representation of the cyclic group: a double eigenvalue).
  ``--generic`` draws a V without that symmetry: the bifurcation becomes imperfect and the
  threshold a fold (saddle-node).
* V is not trained: at lam = 0 two adjacent trained linear layers (W, V) have the continuous
  symmetry (W, V) -> (G W, V G^T), G orthogonal, which keeps the loss *and* the regularizer;
  the Hessian at the minimum then has exact zero eigenvalues, a floor of 0, and no threshold to
  predict.  With V fixed, f_0(x) = c^T W x with c = V^T a / m: the linear endpoint of SPEC 3 with
  read-out m c, whose invariants hold -- the floor is exactly alpha, with multiplicity (m - 1) d.

The critical point at lam = 0: L(., 0) is a convex quadratic in W (f_0 is linear in W), so
``scipy.optimize.minimize(method="trust-exact")`` with the JAX gradient and Hessian finds its
unique minimum from a seeded start in a few steps; Newton steps then polish |grad L(x0, 0)| to
rounding (``critical_point_at_zero``).  For a non-convex lam = 0 loss the same recipe finds a
local minimum; any critical point will do, its Morse index is reported.

The seed of V decides what happens on [0, 1]; the default (seed 5, alpha = 1e-3) crosses near the
first-order prediction, and docs/families.md lists what seeds 0-7 give.

Run: ``python examples/mlp3.py [--m 3] [--alpha 1e-3] [--seed 5] [--generic]`` (needs
``pip install "nlpt-threshold[jax]"``), or ``nlpt threshold --family examples/mlp3.py:family``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)  # before any JAX work: the whole analysis is float64

import jax.numpy as jnp  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

import nlpt  # noqa: E402


def second_layer(m: int, generic: bool, seed: int = 0) -> np.ndarray:
    """V (m x m): circulant from a seeded row r / sqrt(m), or (generic) all entries seeded."""
    rng = np.random.default_rng(seed)
    if generic:
        return rng.standard_normal((m, m)) / np.sqrt(m)
    r = rng.standard_normal(m) / np.sqrt(m)
    return np.array([np.roll(r, k) for k in range(m)])


def mlp3_loss(X, y, V, a, alpha):
    """``loss(theta, lam)``, theta = W.ravel() (m x d, row-major)."""
    m, d = V.shape[0], X.shape[1]

    def s(z, lam):
        return (1 - lam) * z + lam * jnp.tanh(z)

    def loss(theta, lam):
        h1 = s(X @ theta.reshape(m, d).T, lam)  # (n, m): first hidden layer
        h2 = s(h1 @ V.T, lam)  # (n, m): second hidden layer
        f = h2 @ a / m
        return 0.5 * jnp.mean((f - y) ** 2) + 0.5 * alpha * jnp.sum(theta ** 2)

    return loss


def critical_point_at_zero(loss, P: int, seed: int = 0, tol: float = 1e-15):
    """A minimum of ``loss(., 0)``: trust-region Newton from a seeded start, then Newton polish."""
    f = jax.jit(lambda th: loss(th, 0.0))
    g = jax.jit(jax.grad(lambda th: loss(th, 0.0)))
    H = jax.jit(jax.hessian(lambda th: loss(th, 0.0)))
    start = 0.1 * np.random.default_rng(seed).standard_normal(P)
    res = minimize(lambda t: float(f(t)), start, jac=lambda t: np.asarray(g(t)), hess=lambda t: np.asarray(H(t)),
                   method="trust-exact", options={"gtol": 1e-12})
    x, gn = res.x, float(np.linalg.norm(g(res.x)))
    for _ in range(5):  # polish: stop when a Newton step no longer shrinks the gradient
        x_new = x - np.linalg.solve(np.asarray(H(x)), np.asarray(g(x)))
        gn_new = float(np.linalg.norm(g(x_new)))
        if not gn_new < gn or gn <= tol:
            break
        x, gn = x_new, gn_new
    return x, gn, res.nit


def build(m: int = 3, alpha: float = 1e-3, generic: bool = False, seed: int = 5):
    """(problem, details) of the module docstring's MLP."""
    X, y = nlpt.default_data()
    V, a = second_layer(m, generic, seed), np.ones(m)
    loss = mlp3_loss(X, y, V, a, alpha)
    x0, gn, nit = critical_point_at_zero(loss, m * X.shape[1])
    problem = nlpt.Problem.from_jax(loss, x0, shape=(m, X.shape[1]), name=f"mlp3 3-{m}-{m}-1")
    return problem, {"V": V, "generic": generic, "seed": seed, "grad_norm": gn, "minimize_iterations": nit}


def family():
    """For ``nlpt threshold --family examples/mlp3.py:family``: the default MLP."""
    return build()[0]


def report(problem, details, res, seconds) -> str:
    t, nf = res.threshold, res.normal_form
    d = res.to_dict()
    eig0 = np.linalg.eigvalsh(problem.at(problem.x0, 0.0).hessian())
    mult0 = int(np.sum(np.abs(eig0 - eig0[0]) <= 1e-8 * abs(eig0[-1])))
    out = [f"{problem.name}: trained W ({problem.shape[0]} x {problem.shape[1]}, P = {problem.size}), "
           f"V fixed ({'generic' if details['generic'] else 'circulant'}, seed {details['seed']}), a = 1, "
           f"alpha = {t.alpha:g}",
           f"x0: {details['minimize_iterations']} trust-exact steps + polish, |grad L(x0, 0)| = "
           f"{details['grad_norm']:.1e}; floor = lowest eigenvalue at (x0, 0) = {eig0[0]:.6g} "
           f"(multiplicity {mult0}), next {eig0[mult0]:.6g}",
           f"threshold: {t.status}; lam*_pred = {d['lam_star_pred']}, lam*_measured = {d['lam_star_measured']}, "
           f"ratio = {d['ratio']}",
           f"  softening rate lambda_1'(0) = {t.softening_rate:.6e} (multiplicity {t.softening_multiplicity}), "
           f"imperfection eta = {t.eta:.2e}",
           f"  near-zero multiplicity {t.multiplicity}, Morse index {t.morse_before} -> {t.morse_after}"]
    out.append("special points along the branch (Morse index before -> after):")
    for p in t.branch.special_points:
        out.append(f"  {p.type:<16} lam = {p.lam:.10f}   {p.index_before} -> {p.index_after}   "
                   f"multiplicity {p.multiplicity}")
    if nf is not None:
        out.append(f"normal form: {nf.classification}" + (f" ({nf.criticality})" if nf.criticality else "")
                   + f", kernel dimension {nf.multiplicity}, rho = |g_xx/g_xxx| = {nf.rho:.4g}")
        out.append(f"  along {nf.directions[0].label}: g_xx = {nf.g_xx:.6e}, g_xxx = {nf.g_xxx:.6e}, "
                   f"g_xmu = {nf.g_xmu:.6e}; slope eigenvalues {np.array2string(nf.slope_eigenvalues, precision=6)}")
        h = d["handle"]
        out.append(f"  handle: index {h['index_before']} -> {h['index_after']} (transversal {h['transversal']}); "
                   f"on the branch at lam_c -/+ {h['delta']:.1e}: {h['index_before_local']} -> "
                   f"{h['index_after_local']}")
        for b in res.branches:
            out.append(f"  bifurcated branch {b.direction}: lam {b.lams[0]:.6f} .. {b.lams[-1]:.6f}, "
                       f"Morse {b.morse}, converged {b.converged}")
    elif res.saddle_node is not None:
        sn = res.saddle_node
        out.append(f"saddle-node: g_mu = {sn['g_mu']:.6e}, g_xx = {sn['g_xx']:.6e}, branch on {sn['branch_side']}")
    sources = sorted({v["source"] for v in d["family"]["derivatives"].values()})
    out.append(f"derivatives: {', '.join(sources)}; {t.branch.eigensolves} eigensolves, {len(t.branch)} branch points, "
               f"{seconds:.1f} s")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--m", type=int, default=3, help="hidden width of both layers (default 3)")
    ap.add_argument("--alpha", type=float, default=1e-3, help="Tikhonov strength (default 1e-3)")
    ap.add_argument("--generic", action="store_true", help="a second layer without the cyclic symmetry")
    ap.add_argument("--seed", type=int, default=5, help="seed of the second layer V (default 5)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    problem, details = build(args.m, args.alpha, args.generic, args.seed)
    res = nlpt.analyze(problem)
    print(report(problem, details, res, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
