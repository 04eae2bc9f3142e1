"""Families from automatic differentiation: ``nlpt.Problem.from_jax`` and ``nlpt.Problem.from_torch`` (SPEC 8).

Given any smooth ``loss(theta, lam) -> scalar`` (theta a flat 1-D array / tensor of length P, lam a
scalar), every derivative the engine consumes is built by automatic differentiation, in float64.
With ``g = d/dtheta loss`` (reverse mode):

==============  ==========================================  ==============================================
derivative      JAX (forward over reverse)                  PyTorch (reverse over reverse)
==============  ==========================================  ==============================================
``hvp``         ``H v = jvp(g, theta; v)``                  ``grad_theta <g, v>``
``grad_lam``    ``jvp(g, lam; 1)``                          ``grad_theta (d loss / d lam)``
``hvp_lam``     ``jvp(H v, lam; 1)``                        ``grad_theta (d/dlam <g, v>)``
``d3_vec``      ``D^3L[u, v, .] = jvp(H v, theta; u)``      ``grad_theta <H v, u>``
``d3``          ``<D^3L[u, v, .], w>``                      the same
``d4``          ``<jvp(D^3L[u, u, .], theta; u), u>``       ``<grad_theta <D^3L[u, u, .], u>, u>``
``hessian``     ``jacfwd(g)``                               ``jacrev(g)``
==============  ==========================================  ==============================================

(the PyTorch column uses the symmetry of mixed partial derivatives: ``torch.func``'s forward mode
costs several times its reverse mode on small problems).  The dense Hessian is formed when
``P <= dense_max`` (default :data:`nlpt.problem.DENSE_MAX`); above it the engine stays
matrix-free.

None of them is a finite difference, so :meth:`nlpt.Problem.derivative_report` says
``"automatic differentiation (jax)"`` (or ``(torch)``) for each and
:attr:`nlpt.Problem.approximated` is empty.

**JAX** (``pip install "nlpt-threshold[jax]"``, CPU build from PyPI): ``jax_enable_x64`` is
switched on (a process-wide JAX setting: arrays created afterwards default to float64), and the
nine functions are ``jax.jit``-compiled once per loss function and cached (the
:data:`CACHE_SIZE` most recent losses), so building a second family from the same loss -- another
``x0``, another ``name`` -- compiles nothing again.  Arrays the loss closes over must be float64:
an array converted *before* x64 was switched on (``jnp.asarray(X)`` at import time, or even a
numpy array the loss used in an earlier 32-bit JAX computation: JAX keeps the converted
constant) would silently round the loss to single precision, so the loss's jaxpr is inspected
once and a narrower floating dtype anywhere in it is an error naming the loss.  A script that
does JAX work of its own before building the family (finding ``x0``, say) should call
``jax.config.update("jax_enable_x64", True)`` first.  The loss must be traceable
(``jax.numpy``, no Python branching on values).

**PyTorch** (``pip install "nlpt-threshold[torch]"``, CPU): theta and lam are float64 CPU
tensors; the derivatives are ``torch.func`` transforms (``grad``, ``jacrev``) composed once per
family (eager: nothing to compile); during every call ``torch.get_default_dtype()`` is float64,
so tensors the loss creates itself (``torch.tensor(0.5)``) are float64 too, and a family with
``P <= DENSE_MAX`` runs on one torch thread (its products are too small to share; measured:
two threads on a busy 2-core machine made each call 20-40 times slower).  Tensors the loss
closes over must be float64 (``torch.as_tensor(X_numpy)`` keeps numpy's float64); a loss or
derivative that comes out in another dtype is an error naming the loss.  The loss must be a pure
function of its arguments (no in-place updates of them, no ``.item()``), as ``torch.func``
requires.

Neither backend is needed by the rest of the package: both are imported on the first call, and
a missing one is an :class:`nlpt.NLPTInputError` naming it and how to install it.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ._validate import NLPTInputError
from .problem import DENSE_MAX, Problem

__all__ = ["AutodiffProblem", "from_jax", "from_torch", "CACHE_SIZE"]

#: How many loss functions keep their compiled JAX derivatives.
CACHE_SIZE = 32

_KEYS = ("loss", "grad", "hvp", "grad_lam", "hvp_lam", "d3", "d3_vec", "d4", "hessian")
_NARROW = ("float16", "bfloat16", "float32", "complex64")


class _LRU(OrderedDict):
    def get_or_make(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > CACHE_SIZE:
            self.popitem(last=False)
        return value


_JAX_CACHE = _LRU()


class AutodiffProblem(Problem):
    """An :class:`nlpt.Problem` whose derivatives come from automatic differentiation.

    Built by :func:`from_jax` / :func:`from_torch` (``nlpt.Problem.from_jax`` /
    ``nlpt.Problem.from_torch``); ``backend`` is ``"jax"`` or ``"torch"``.  Everything else is
    the plain :class:`nlpt.Problem`: the engine sees no difference.
    """

    def __init__(self, x0, fns: dict, backend: str, *, shape=None, **kw):
        self.backend = backend
        super().__init__(x0, **fns, **kw)
        if shape is not None:
            self.shape = tuple(shape)

    def _probe_optional(self, pt, probe) -> None:
        """Nothing to probe: every derivative has its shape by construction (the loss's output is
        checked), and a first call would compile, under JAX, functions the analysis may not need."""

    def derivative_report(self) -> dict:
        how = f"automatic differentiation ({self.backend})"
        out = {k: {"source": how} for k in _KEYS}
        if self._fns["hessian"] is None:  # P > dense_max: the engine's own rule for the dense Hessian
            out["hessian"] = {"source": "columns of hvp" if self.size <= DENSE_MAX else "not formed (matrix-free)"}
        return out

    @property
    def approximated(self) -> list:
        return []


def _check_shape_arg(shape, size: int) -> tuple:
    try:
        shp = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise NLPTInputError(f"shape: expected a tuple of positive ints, got {shape!r}") from None
    if not shp or any(s < 1 for s in shp) or int(np.prod(shp)) != size:
        raise NLPTInputError(f"shape: expected positive ints whose product is the number of unknowns P = {size}, "
                             f"got {shape!r}")
    return shp


def _options(kw: dict, default_name: str, size: int):
    """(Problem keywords, shape, dense_max) from the keywords of from_jax / from_torch."""
    known = {"x0_tol", "name", "shape", "dense_max"}
    unknown = sorted(set(kw) - known)
    if unknown:
        raise NLPTInputError(f"keywords: expected some of {', '.join(sorted(known))} (every derivative is built by "
                             f"automatic differentiation), got {unknown}")
    dense_max = kw.get("dense_max", DENSE_MAX)
    if isinstance(dense_max, bool) or not isinstance(dense_max, (int, np.integer)) or dense_max < 0:
        raise NLPTInputError(f"dense_max: expected an int >= 0, got {dense_max!r}")
    out = {"name": kw.get("name", default_name)}
    if "x0_tol" in kw:
        out["x0_tol"] = kw["x0_tol"]
    shape = kw.get("shape")
    return out, None if shape is None else _check_shape_arg(shape, size), int(dense_max)


def _default_name(loss, backend: str) -> str:
    name = getattr(loss, "__name__", "")
    return name if name and name.isidentifier() else f"{backend} family"


def _flat_x0(x0) -> np.ndarray:
    """x0 as a flat float64 array, or an error naming x0 (before any backend work)."""
    if hasattr(x0, "detach"):  # a torch tensor
        x0 = x0.detach().cpu().numpy()
    try:
        arr = np.asarray(x0, dtype=float)
    except (TypeError, ValueError):
        raise NLPTInputError(f"x0: expected a flat array of shape (P,), got {type(x0).__name__}") from None
    if arr.ndim != 1 or arr.size < 1:
        raise NLPTInputError(f"x0: expected a flat array of shape (P,) with P >= 1 (theta is flat), got shape "
                             f"{arr.shape}")
    return arr


def _check_loss(loss):
    if not callable(loss):
        raise NLPTInputError(f"loss: expected a callable loss(theta, lam), got {type(loss).__name__}")


# -- JAX ------------------------------------------------------------------------------------------

def _import_jax():
    try:
        import jax
    except ImportError as exc:
        raise NLPTInputError(
            "backend: nlpt.Problem.from_jax needs JAX, which is not installed here "
            "(pip install 'nlpt-threshold[jax]', or pip install jax for the CPU build)") from exc
    jax.config.update("jax_enable_x64", True)
    return jax


def _jax_functions(jax, loss):
    """The nine jitted derivatives of ``loss`` (module docstring)."""
    jnp = jax.numpy
    g = jax.grad(loss, argnums=0)

    def hvp(th, lam, v):
        return jax.jvp(lambda t: g(t, lam), (th,), (v,))[1]

    def grad_lam(th, lam):
        return jax.jvp(lambda s: g(th, s), (lam,), (jnp.ones_like(lam),))[1]

    def hvp_lam(th, lam, v):
        return jax.jvp(lambda s: hvp(th, s, v), (lam,), (jnp.ones_like(lam),))[1]

    def d3_vec(th, lam, u, v):
        return jax.jvp(lambda t: hvp(t, lam, v), (th,), (u,))[1]

    def d3(th, lam, u, v, w):
        return jnp.vdot(d3_vec(th, lam, u, v), w)

    def d4(th, lam, u):
        return jnp.vdot(jax.jvp(lambda t: d3_vec(t, lam, u, u), (th,), (u,))[1], u)

    fns = dict(loss=loss, grad=g, hvp=hvp, grad_lam=grad_lam, hvp_lam=hvp_lam, d3=d3, d3_vec=d3_vec, d4=d4,
               hessian=jax.jacfwd(g, argnums=0))
    return {k: jax.jit(f) for k, f in fns.items()}


def _narrow_dtypes(jaxpr, found: set) -> None:
    """Floating dtypes narrower than float64 anywhere in a (closed) jaxpr, recursively."""
    inner = getattr(jaxpr, "jaxpr", jaxpr)
    for c in getattr(jaxpr, "consts", ()) or ():
        dt = str(getattr(c, "dtype", ""))
        if dt in _NARROW:
            found.add(dt)
    for var in list(getattr(inner, "constvars", ())) + list(getattr(inner, "invars", ())):
        dt = str(getattr(getattr(var, "aval", None), "dtype", ""))
        if dt in _NARROW:
            found.add(dt)
    for eqn in getattr(inner, "eqns", ()):
        for var in list(eqn.outvars) + [v for v in eqn.invars if hasattr(v, "aval")]:
            dt = str(getattr(var.aval, "dtype", ""))
            if dt in _NARROW:
                found.add(dt)
        for p in eqn.params.values():
            for sub in (p if isinstance(p, (tuple, list)) else (p,)):
                if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None), "eqns"):
                    _narrow_dtypes(sub, found)


def _jax_precision_check(jax, loss, th, lam) -> None:
    try:
        closed = jax.make_jaxpr(loss)(th, lam)
    except Exception as exc:  # not traceable: say so, naming the loss
        raise NLPTInputError(f"loss: JAX could not trace loss(theta, lam) ({type(exc).__name__}: {exc}); "
                             "write it with jax.numpy, without Python branching on values") from exc
    outs = getattr(closed, "out_avals", None)
    if outs is not None and (len(outs) != 1 or tuple(getattr(outs[0], "shape", ())) != ()):
        got = ", ".join(str(tuple(getattr(o, "shape", ()))) for o in outs)
        raise NLPTInputError(f"loss: expected a scalar loss(theta, lam), got an output of shape {got}")
    found: set = set()
    try:
        _narrow_dtypes(closed, found)
    except AttributeError:  # a jaxpr layout this walker does not know: no check rather than a false alarm
        return
    if found:
        raise NLPTInputError(
            f"loss: computes in {', '.join(sorted(found))} (expected float64 throughout): an array it uses was "
            "converted in single precision, by jax.numpy or by a JAX computation with the loss that ran before "
            "64-bit mode was on; call jax.config.update('jax_enable_x64', True) before any JAX work (in a fresh "
            "process), with the data as numpy float64 arrays")


def from_jax(loss, x0, **kw) -> AutodiffProblem:
    """A family with every derivative of ``loss(theta, lam)`` from JAX (module docstring).

    Parameters
    ----------
    loss : callable ``(theta, lam) -> scalar``
        Written with ``jax.numpy``; theta a flat float64 array of length P, lam a float64 scalar.
    x0 : (P,) array
        A critical point of ``loss(., 0)`` (checked as for :class:`nlpt.Problem`).
    x0_tol, name
        As for :class:`nlpt.Problem` (default name: the loss function's ``__name__``).
    shape : tuple of ints, optional
        The family's own shape of theta (product P), used to present results: the "rows" of
        the normal form's row-localized kernel directions are its first axis (default ``(P,)``).
    dense_max : int
        Largest P for which the dense Hessian is formed (default ``DENSE_MAX``).
    """
    _check_loss(loss)
    x0 = _flat_x0(x0)
    opts, shape, dense_max = _options(kw, _default_name(loss, "jax"), x0.size)
    jax = _import_jax()
    jnp = jax.numpy
    jitted = _JAX_CACHE.get_or_make(loss, lambda: _jax_functions(jax, loss))
    _jax_precision_check(jax, loss, jnp.asarray(x0), jnp.asarray(0.0))

    def wrap(key, scalar):
        f = jitted[key]

        def call(x, lam, *vecs):
            out = f(jnp.asarray(x, dtype=jnp.float64), jnp.asarray(lam, dtype=jnp.float64),
                    *(jnp.asarray(v, dtype=jnp.float64) for v in vecs))
            return float(out) if scalar else np.asarray(out, dtype=float)

        call.__name__ = key
        return call

    return _problem(wrap, x0, dense_max, "jax", shape, opts)


# -- PyTorch --------------------------------------------------------------------------------------

def _import_torch():
    try:
        import torch
        import torch.func  # noqa: F401
    except ImportError as exc:
        raise NLPTInputError(
            "backend: nlpt.Problem.from_torch needs PyTorch, which is not installed here "
            "(pip install 'nlpt-threshold[torch]', or a CPU build of torch)") from exc
    return torch


class _TorchCall:
    """Inside the block ``torch.get_default_dtype()`` is float64 and, for a dense-sized family,
    torch runs on one intra-op thread (both restored after; module docstring)."""

    def __init__(self, torch, one_thread: bool):
        self.torch, self.one_thread = torch, one_thread

    def __enter__(self):
        t = self.torch
        self.prev = t.get_default_dtype()
        t.set_default_dtype(t.float64)
        if self.one_thread:
            self.threads = t.get_num_threads()
            if self.threads != 1:
                t.set_num_threads(1)

    def __exit__(self, *exc):
        t = self.torch
        t.set_default_dtype(self.prev)
        if self.one_thread and self.threads != 1:
            t.set_num_threads(self.threads)
        return False


def _torch_functions(torch, loss):
    """The nine derivatives of ``loss`` as torch.func transforms, reverse mode only (module docstring)."""
    from torch.func import grad, jacrev

    g = grad(loss, argnums=0)

    def hvp(th, lam, v):
        return grad(lambda t: torch.dot(g(t, lam), v))(th)

    def grad_lam(th, lam):
        return grad(lambda t: grad(loss, argnums=1)(t, lam))(th)

    def hvp_lam(th, lam, v):
        return grad(lambda t: grad(lambda s: torch.dot(g(t, s), v))(lam))(th)

    def d3_vec(th, lam, u, v):
        return grad(lambda t: torch.dot(hvp(t, lam, v), u))(th)

    def d3(th, lam, u, v, w):
        return torch.dot(d3_vec(th, lam, u, v), w)

    def d4(th, lam, u):
        return torch.dot(grad(lambda t: torch.dot(d3_vec(t, lam, u, u), u))(th), u)

    return dict(loss=loss, grad=g, hvp=hvp, grad_lam=grad_lam, hvp_lam=hvp_lam, d3=d3, d3_vec=d3_vec, d4=d4,
                hessian=jacrev(g, argnums=0))


def _torch_dtype_check(torch, loss, th, lam) -> None:
    with _TorchCall(torch, False):
        try:
            val = loss(th, lam)
        except Exception as exc:
            raise NLPTInputError(f"loss: loss(theta, lam) raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(val, torch.Tensor) or val.ndim != 0:
        shape = f" of shape {tuple(val.shape)}" if isinstance(val, torch.Tensor) else ""
        raise NLPTInputError(f"loss: expected a 0-dimensional torch tensor, got {type(val).__name__}{shape}")
    if val.dtype != torch.float64:
        raise NLPTInputError(f"loss: expected a float64 result, got {val.dtype} (a tensor it uses is not float64: "
                             "build the data with torch.as_tensor(numpy_float64_array) or dtype=torch.float64)")


def from_torch(loss, x0, **kw) -> AutodiffProblem:
    """A family with every derivative of ``loss(theta, lam)`` from PyTorch (module docstring).

    ``loss`` takes a flat float64 CPU tensor theta and a 0-dimensional float64 tensor lam and
    returns a 0-dimensional tensor.  Keywords as for :func:`from_jax`.
    """
    _check_loss(loss)
    x0 = _flat_x0(x0)
    opts, shape, dense_max = _options(kw, _default_name(loss, "torch"), x0.size)
    torch = _import_torch()
    f64 = dict(dtype=torch.float64, device="cpu")
    _torch_dtype_check(torch, loss, torch.as_tensor(x0, **f64), torch.tensor(0.0, **f64))
    fns_t = _torch_functions(torch, loss)
    one_thread = x0.size <= DENSE_MAX

    def wrap(key, scalar):
        f = fns_t[key]

        def call(x, lam, *vecs):
            with _TorchCall(torch, one_thread):
                out = f(torch.as_tensor(np.asarray(x, dtype=float), **f64), torch.tensor(float(lam), **f64),
                        *(torch.as_tensor(np.asarray(v, dtype=float), **f64) for v in vecs))
            if out.dtype != torch.float64:
                raise NLPTInputError(f"loss: its {key} came out in {out.dtype}, expected float64")
            out = out.detach().numpy()
            return float(out) if scalar else np.array(out, dtype=float)

        call.__name__ = key
        return call

    return _problem(wrap, x0, dense_max, "torch", shape, opts)


def _problem(wrap, x0, dense_max: int, backend: str, shape, opts) -> "AutodiffProblem":
    """The family from the backend's wrapped derivatives (scalars for loss, d3, d4; the dense
    Hessian only up to ``dense_max`` unknowns)."""
    fns = {k: wrap(k, k in ("loss", "d3", "d4")) for k in _KEYS}
    if x0.size > dense_max:
        fns["hessian"] = None
    return AutodiffProblem(x0, fns, backend, shape=shape, **opts)
