"""Problem.from_jax / Problem.from_torch (nlpt.autodiff): the two-layer model of SPEC 1 written as a
plain loss(theta, lam) and differentiated automatically reproduces the closed-form engine
(``engine="full"``) -- lam*, softening rate, spectra along the branch, normal form or saddle-node
coefficients -- to 1e-8; the autodiff derivatives of a polynomial family equal its closed forms;
errors name the backend, the loss or the keyword.  Tests of a backend that is not installed are
skipped, saying which.
"""

from __future__ import annotations

import functools
import importlib.util
import sys

import numpy as np
import pytest
from polyfamily import PolyFamily, rotation

import nlpt
from nlpt import autodiff
from nlpt.linear import critical_point

HAVE = {name: importlib.util.find_spec(name) is not None for name in ("jax", "torch")}
needs = {name: pytest.mark.skipif(not HAVE[name], reason=f"{name} is not installed "
                                  f"(pip install 'nlpt-threshold[{name}]'): its autodiff families are not tested")
         for name in HAVE}
BACKENDS = [pytest.param(name, marks=needs[name]) for name in ("jax", "torch")]

X, Y = nlpt.default_data()


def two_layer_loss(backend: str, m: int, a: np.ndarray, alpha: float):
    """SPEC 1's L_lam(W), W = theta.reshape(m, d), tanh homotopy, in the backend's array library."""
    d = X.shape[1]
    if backend == "jax":
        import jax.numpy as xp

        Xb, yb, ab = X, Y, a  # numpy float64 constants, converted while tracing in 64-bit mode
    else:
        import torch as xp

        Xb, yb, ab = (xp.as_tensor(v) for v in (X, Y, a))

    def loss(theta, lam):
        Z = Xb @ theta.reshape(m, d).T
        f = ((1 - lam) * Z + lam * xp.tanh(Z)) @ ab / m
        return 0.5 * xp.mean((f - yb) ** 2) + 0.5 * alpha * xp.sum(theta ** 2)

    return loss


CASES = {  # m, a, alpha: what the closed-form engine finds there
    "m2-uniform": (2, "uniform", 1e-5),  # a pitchfork (swap symmetry)
    "m3-uniform": (3, "uniform", 1e-5),  # a 2-fold kernel, transcritical axial directions
    "m3-random": (3, "random", 1e-4),    # an imperfect bifurcation: a fold
}


@functools.lru_cache(maxsize=None)
def model_case(name):
    m, kind, alpha = CASES[name]
    a = nlpt.make_a(kind, m, seed=0)
    model = nlpt.Model(X, Y, m, a=a, alpha=alpha)
    return model, nlpt.analyze(model, engine="full")


def autodiff_case(backend, name):
    model, ref = model_case(name)
    m, d = model.m, model.d
    loss = two_layer_loss(backend, m, model.a, model.alpha)
    W0 = critical_point(model)[1]
    build = nlpt.Problem.from_jax if backend == "jax" else nlpt.Problem.from_torch
    pb = build(loss, W0.ravel(), shape=(m, d), name=f"two-layer {name}")
    return model, ref, pb, nlpt.analyze(pb)


def close(a, b, rtol=1e-8, atol=0.0):
    assert a == pytest.approx(b, rel=rtol, abs=atol)


@pytest.mark.parametrize("backend, name", [pytest.param(b, n, marks=needs[b], id=f"{n}-{b}") for b in ("jax", "torch")
                                           for n in CASES if (b, n) != ("torch", "m3-uniform")])  # torch: kept short
def test_two_layer_family_reproduces_the_full_engine(backend, name):
    model, ref, pb, res = autodiff_case(backend, name)
    t, tr = res.threshold, ref.threshold
    assert res.engine == "problem" and tr.engine == "full"
    assert t.status == tr.status
    close(t.alpha, model.alpha, rtol=1e-10)  # the floor: lambda_min(H_0) = alpha (SPEC 3)
    close(t.softening_rate, tr.softening_rate)
    assert t.softening_multiplicity == tr.softening_multiplicity
    close(t.lam_star_pred, tr.lam_star_pred)
    close(t.lam_star_measured, tr.lam_star_measured)
    assert (t.multiplicity, t.morse_before, t.morse_after) == (tr.multiplicity, tr.morse_before, tr.morse_after)
    close(t.eta, tr.eta, atol=1e-12)
    # spectra along the branch: the autodiff Hessian at the closed-form engine's branch points
    br = tr.branch
    for i in np.linspace(0, len(br) - 1, 6).astype(int):
        pt = pb.at(br.x[i], br.lams[i])
        eigs = np.linalg.eigvalsh(pt.hessian())[: br.eigenvalues.shape[1]]
        close(eigs, br.eigenvalues[i], rtol=0.0, atol=1e-8 * model.alpha)
    if tr.status == "fold":
        sn, snr = res.saddle_node, ref.saddle_node
        for key in ("lam_fold", "g_mu", "g_xx", "curvature"):
            close(sn[key], snr[key])
        assert sn["branch_side"] == snr["branch_side"]
        return
    nf, nfr = res.normal_form, ref.normal_form
    assert (nf.classification, nf.criticality, nf.multiplicity) == (nfr.classification, nfr.criticality,
                                                                     nfr.multiplicity)
    close(nf.g_xx, nfr.g_xx, atol=1e-8 * nfr.directions[0].xx_scale)
    close(nf.g_xxx, nfr.g_xxx)
    close(nf.g_xmu, nfr.g_xmu)
    close(nf.rho, nfr.rho, atol=1e-8)
    close(nf.slope_eigenvalues, nfr.slope_eigenvalues)
    if nfr.multiplicity > 1:
        close(nf.quadratic_norm, nfr.quadratic_norm)
        close(nf.cubic_norm, nfr.cubic_norm)
        assert [d.label for d in nf.directions] == [d.label for d in nfr.directions]


def poly_loss(backend, fam: PolyFamily):
    """The polynomial family of tests/polyfamily.py in the backend's array library."""
    if backend == "jax":
        import jax.numpy as xp

        consts = (fam.Q, fam.xc, fam.a, fam.s, fam.k, fam.T, fam.U, fam.eta)
    else:
        import torch as xp

        consts = tuple(xp.as_tensor(c) for c in (fam.Q, fam.xc, fam.a, fam.s, fam.k, fam.T, fam.U, fam.eta))
    Q, xc, a, s, k, T, U, eta = consts

    def loss(x, lam):
        z = Q.T @ (x - xc)
        return (0.5 * xp.sum((a - s * lam + k * lam * lam) * z * z) + xp.einsum("ijk,i,j,k->", T, z, z, z) / 6
                + xp.einsum("ijkl,i,j,k,l->", U, z, z, z, z) / 24 - lam * xp.sum(eta * z))

    return loss


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_derivative_equals_the_closed_form(backend):
    P = 4
    fam = PolyFamily([0.5, 1.0, 1.5, 2.0], [1.0, 0.3, 0.0, 0.0], k=[0.2, 0.0, 0.1, 0.0],
                     T={(0, 0, 1): 0.6, (0, 1, 2): -0.4, (3, 3, 3): 0.3},
                     U={(0, 0, 0, 0): 2.0, (0, 1, 2, 3): 0.7, (1, 1, 2, 2): -0.5}, Q=rotation(P, 11),
                     xc=np.array([0.3, -0.2, 0.5, 0.1]))
    build = nlpt.Problem.from_jax if backend == "jax" else nlpt.Problem.from_torch
    pb = build(poly_loss(backend, fam), fam.xc)
    assert pb.approximated == []
    assert {v["source"] for v in pb.derivative_report().values()} == {f"automatic differentiation ({backend})"}
    rng = np.random.default_rng(5)
    for _ in range(3):
        x, lam = rng.standard_normal(P), float(rng.uniform(0, 1))
        u, v, w = rng.standard_normal((3, P))
        pt = pb.at(x, lam)
        close(pt.loss(), fam.loss(x, lam), rtol=1e-12)
        close(pt.grad(), fam.grad(x, lam), rtol=1e-12, atol=1e-13)
        close(pt.hvp(v), fam.hvp(x, lam, v), rtol=1e-12, atol=1e-13)
        close(pt.grad_lam(), fam.grad_lam(x, lam), rtol=1e-12, atol=1e-13)
        close(pt.hvp_lam(v), fam.hvp_lam(x, lam, v), rtol=1e-12, atol=1e-13)
        close(pt.d3_vec(u, v), fam.d3_vec(x, lam, u, v), rtol=1e-12, atol=1e-13)
        close(pt.d3(u, v, w), fam.d3(x, lam, u, v, w), rtol=1e-12, atol=1e-13)
        close(pt.d4(u), fam.d4(x, lam, u), rtol=1e-12, atol=1e-13)
        close(pt.hessian(), fam.hessian(x, lam), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_the_dense_hessian(backend):
    # dense_max below P: no autodiff Hessian; the engine forms it from columns of hvp (P <= 1500),
    # with the same result
    fam = PolyFamily([0.5, 1.5, 2.0], [1.25, 0, 0], T={(0, 0, 0): 0.3}, U={(0, 0, 0, 0): 1.0}, Q=rotation(3, 2))
    build = nlpt.Problem.from_jax if backend == "jax" else nlpt.Problem.from_torch
    loss = poly_loss(backend, fam)  # one loss: JAX compiles its derivatives once for both families
    dense, free = build(loss, fam.xc), build(loss, fam.xc, dense_max=2)
    assert free.derivative_report()["hessian"] == {"source": "columns of hvp"}
    assert dense.derivative_report()["hessian"] == {"source": f"automatic differentiation ({backend})"}
    r1, r2 = nlpt.analyze(dense, switch=False), nlpt.analyze(free, switch=False)
    close(r2.threshold.lam_star_measured, r1.threshold.lam_star_measured)
    close(r2.threshold.lam_star_measured, 0.4, atol=1e-9)  # a0/s0
    close(r2.normal_form.rho, 0.3, rtol=1e-8)  # |g_xx/g_xxx| = 0.3/1


@needs["jax"]
def test_jax_compiles_once_per_loss():
    fam = PolyFamily([0.5, 1.5], [1.0, 0.0])
    loss = poly_loss("jax", fam)
    nlpt.Problem.from_jax(loss, fam.xc)
    fns = autodiff._JAX_CACHE[loss]
    nlpt.Problem.from_jax(loss, fam.xc, name="again")
    assert autodiff._JAX_CACHE[loss] is fns


@needs["jax"]
def test_jax_single_precision_is_refused():
    import jax.numpy as jnp

    X32 = jnp.asarray(X, dtype=jnp.float32)

    def loss(theta, lam):
        return 0.5 * jnp.mean((X32 @ theta) ** 2) + 0.5 * jnp.sum(theta ** 2)

    with pytest.raises(nlpt.NLPTInputError, match=r"^loss: computes in float32 \(expected float64"):
        nlpt.Problem.from_jax(loss, np.zeros(3))


@needs["jax"]
def test_jax_loss_errors_are_named():
    import jax.numpy as jnp

    def branching(theta, lam):
        return jnp.sum(theta ** 2) if theta[0] > 0 else 0.0

    with pytest.raises(nlpt.NLPTInputError, match=r"^loss: JAX could not trace"):
        nlpt.Problem.from_jax(branching, np.zeros(2))
    with pytest.raises(nlpt.NLPTInputError, match=r"^loss: expected a scalar loss\(theta, lam\), got an output of "
                                                   r"shape \(2,\)"):
        nlpt.Problem.from_jax(lambda th, lam: th ** 2, np.zeros(2))
    with pytest.raises(nlpt.NLPTInputError, match=r"^x0: expected a critical point"):
        nlpt.Problem.from_jax(lambda th, lam: jnp.sum((th - 1.0) ** 2), np.zeros(2))


@needs["torch"]
def test_torch_loss_errors_are_named():
    import torch

    X32 = torch.as_tensor(X, dtype=torch.float32)
    with pytest.raises(nlpt.NLPTInputError, match=r"^loss: expected a float64 result, got torch.float32"):
        nlpt.Problem.from_torch(lambda th, lam: torch.mean((X32 @ th.float()) ** 2), np.zeros(3))
    with pytest.raises(nlpt.NLPTInputError, match=r"^loss: expected a 0-dimensional torch tensor, got Tensor of "
                                                   r"shape \(2,\)"):
        nlpt.Problem.from_torch(lambda th, lam: th ** 2, np.zeros(2))
    with pytest.raises(nlpt.NLPTInputError, match=r"^loss: loss\(theta, lam\) raised RuntimeError"):
        nlpt.Problem.from_torch(lambda th, lam: torch.sum(torch.ones(3) @ th), np.zeros(2))


@pytest.mark.parametrize("backend, label", [("jax", "JAX"), ("torch", "PyTorch")])
def test_missing_backend_is_named(backend, label, monkeypatch):
    monkeypatch.setitem(sys.modules, backend, None)  # makes "import <backend>" fail
    build = nlpt.Problem.from_jax if backend == "jax" else nlpt.Problem.from_torch
    with pytest.raises(nlpt.NLPTInputError, match=rf"^backend: nlpt.Problem.from_{backend} needs {label}, which is "
                                                  rf"not installed here \(pip install 'nlpt-threshold\[{backend}\]'"):
        build(lambda th, lam: th @ th, np.zeros(2))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_arguments_checked_before_the_backend(backend, monkeypatch):
    monkeypatch.setitem(sys.modules, backend, None)
    build = nlpt.Problem.from_jax if backend == "jax" else nlpt.Problem.from_torch
    with pytest.raises(nlpt.NLPTInputError, match=r"^x0: expected a flat array of shape \(P,\)"):
        build(lambda th, lam: th @ th, np.zeros((2, 2)))
    with pytest.raises(nlpt.NLPTInputError, match=r"^loss: expected a callable loss\(theta, lam\), got int"):
        build(3, np.zeros(2))
    with pytest.raises(nlpt.NLPTInputError, match=r"^keywords: expected some of dense_max, name, shape, x0_tol .* "
                                                  r"got \['grad'\]"):
        build(lambda th, lam: th @ th, np.zeros(2), grad=lambda x, lam: x)
    with pytest.raises(nlpt.NLPTInputError, match=r"^dense_max: expected an int >= 0, got -1"):
        build(lambda th, lam: th @ th, np.zeros(2), dense_max=-1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shape_must_match_the_unknowns(backend):
    fam = PolyFamily([0.5, 1.5, 2.0, 2.5, 3.0, 3.5], [1.0] + [0.0] * 5)
    build = nlpt.Problem.from_jax if backend == "jax" else nlpt.Problem.from_torch
    loss = poly_loss(backend, fam)
    assert build(loss, fam.xc, shape=(2, 3)).native(np.arange(6.0)).shape == (2, 3)
    with pytest.raises(nlpt.NLPTInputError, match=r"^shape: expected positive ints whose product is the number of "
                                                  r"unknowns P = 6, got \(4, 2\)"):
        build(loss, fam.xc, shape=(4, 2))


@needs["jax"]
def test_mlp3_example_keeps_the_linear_endpoint_invariants():
    # examples/mlp3.py: with V fixed, f_0 = c^T W x (c = V^T a / m), the linear endpoint of SPEC 3:
    # floor alpha with multiplicity (m - 1) d.  Circulant V: the cyclic shift of the hidden units is a
    # symmetry fixing x0, so eta = 0, and the floor eigenspace K = {q (x) u : sum q = 0} is the
    # 2-dimensional real representation of Z_3 (times R^3): every equivariant slope matrix on it has
    # even multiplicities, so the softening rate has multiplicity 2.  A generic V breaks all of it
    # but the floor.
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "mlp3_example", Path(__file__).resolve().parents[1] / "examples" / "mlp3.py")
    mlp3 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mlp3)
    m, d, alpha = 3, 3, 1e-3
    for generic in (False, True):
        problem, details = mlp3.build(m, alpha, generic)
        assert details["grad_norm"] < 1e-12
        eig = np.linalg.eigvalsh(problem.at(problem.x0, 0.0).hessian())
        close(eig[: (m - 1) * d], alpha, rtol=1e-9)
        assert eig[(m - 1) * d] > 10 * alpha
        soft = problem.softening()
        if generic:
            assert soft.eta > 1e-6
        else:
            assert soft.eta < 1e-12
            assert soft.multiplicity == 2
