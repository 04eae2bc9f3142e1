"""Local bifurcation analysis at a crossing: Lyapunov–Schmidt normal form and branch switching (SPEC 5).

At a point ``(W_c, lam_c)`` of the followed critical branch where the Hessian ``H = D^2 L_lam_c(W_c)``
has a kernel spanned by the orthonormal ``Phi = (phi_1, ..., phi_k)``, write
``W = W_b(lam) + sum_a xi_a phi_a + w`` with ``W_b`` the followed branch, ``mu = lam - lam_c`` and
``w`` in the complement of ``Phi``.  Solving the complement equations for ``w(xi, mu)`` leaves the
reduced (bifurcation) equation ``g(xi, mu) = Phi^T grad L_lam(W) = 0`` on ``R^k``.  Because the
reduction is taken relative to the followed branch, ``g(0, mu) = 0`` for every mu, and its Taylor
coefficients are

* ``g_xx = D^3L[phi, phi, phi]``  (quadratic tensor ``Q_abc = D^3L[phi_a, phi_b, phi_c]`` for k > 1),
* ``g_xxx = D^4L[phi^4] - 3 <D^3L[phi, phi, .], H^+ D^3L[phi, phi, .]>``  (cubic tensor
  ``C_abcd = D^4L[phi_a, phi_b, phi_c, phi_d] - sum over the 3 pairings
  <D^3L[phi_a, phi_b, .], H^+ D^3L[phi_c, phi_d, .]>``), ``H^+`` the inverse of H on ``Phi``'s
  orthogonal complement (the quadratic part of ``w`` is ``-H^+ D^3L[xi, xi, .] / 2``),
* ``g_xmu = phi^T (dH/dlam) phi + D^3L[phi, phi, t]`` with ``t = dW_b/dlam`` the tangent of the
  followed branch at the crossing: the slope of the critical eigenvalue along the branch (first-order
  perturbation theory).  For k > 1 it is the k x k *slope matrix* ``S_ab = phi_a^T (dH/dlam) phi_b +
  D^3L[phi_a, phi_b, t]``.

The truncated reduced function of a simple kernel is

    g(xi, mu) = g_xmu mu xi + g_xx xi^2 / 2 + g_xxx xi^3 / 6,

whose nontrivial zeros are (SPEC 6, ``NormalForm``):

* transcritical (``g_xx != 0``): ``xi = -2 g_xmu mu / g_xx``, on both sides of the crossing;
* pitchfork (``g_xx = 0``, ``g_xxx != 0``): ``xi^2 = -6 g_xmu mu / g_xxx``, i.e. two branches
  ``xi = +-sqrt(-6 g_xmu mu / g_xxx)``, which exist only for mu with ``sign(mu) = -sign(g_xmu g_xxx)``.

**Convention (criticality).**  A pitchfork is called *supercritical* when its bifurcated branches
exist for ``mu > 0`` (beyond the crossing, lam > lam_c), i.e. ``g_xmu g_xxx < 0``, and *subcritical*
when they exist for ``mu < 0`` (before it), i.e. ``g_xmu g_xxx > 0``.  On this problem the critical
eigenvalue decreases through zero (``g_xmu < 0``), so supercritical means ``g_xxx > 0``.  The
criticality of a transcritical point is ``None`` (its branch lives on both sides).

**Classification thresholds.**  ``g_xx`` is negligible when ``|g_xx| <= xx_rtol ||D^3L[phi, phi, .]||``
(``g_xx`` is one component of that vector, so this is a relative size; default ``xx_rtol = 1e-8``,
round-off level for exact symmetry zeros), or when ``rho <= xi_resolution``: the crossing point's
coordinate along phi is only determined to ``delta = resolution_factor sqrt(2 ||H phi|| / |g_xxx|)``
(shifting W_c by delta phi moves the critical eigenvalue by about ``g_xxx delta^2 / 2``, invisible
below the residual ``||H phi||``), and such a shift changes g_xx by ``g_xxx delta``; default
``resolution_factor = 3``.  The crossing's lam is itself only known to a tolerance, and a drift
delta can be traded against it (the eigenvalue ``g_xmu mu + g_xxx delta^2 / 2`` stays zero), so the
resolution is floored at ``xi_floor max(1, ||W_c||_F)`` (default ``xi_floor = 1e-4``): a symmetric
pitchfork located by Newton solves at a nearly singular Hessian drifts by 1e-6..1e-5 along phi on
the default data, while genuine transcritical points there have rho >= 1e-2.  ``g_xxx`` is negligible when it is below ``xxx_rtol``
times ``|D^4L[phi^4]| + 3 |<D^3L[phi,phi,.], H^+ D^3L[phi,phi,.]>|`` (its two terms cancel).
Then: ``"transcritical"`` if g_xx is not negligible, else ``"pitchfork"`` if g_xxx is not, else
``"degenerate"``.  ``rho = |g_xx / g_xxx|`` has the units of xi (a distance in W, Frobenius norm);
the point is flagged ``near_pitchfork`` when ``rho < near_pitchfork_tol`` (default 1e-2): on scales
of xi well above rho the cubic term dominates and the branches look like a pitchfork's.

**Multiple kernels (k > 1).**  With uniform a the followed branch is S_m-symmetric (all rows equal)
and the kernel is ``{q (x) u : sum_j q_j = 0}`` (the standard representation of S_m, k = m - 1).
The quadratic and cubic tensors are computed (vectorised) when ``k <= k_max_quadratic`` (default 24)
and ``k <= k_max_cubic`` (default 12); above that they are skipped and the result says so.  The
scalars ``g_xx, g_xxx, g_xmu, rho`` are then reported along *row-localized kernel directions*: for
row j, the unit kernel vector ``u_j`` with the largest mass in row j (top eigenvector of the k x k
Gram matrix of the rows j of Phi).  For the S_m kernel, ``u_j = (e_j - 1/m) (x) u`` normalised: "one
neuron leaves the others", the axial directions whose 1-D fixed-point subspaces (isotropy
S_{m-1}) carry equivariant branches; along them the scalar reduction ``g(t u_j)`` is the exact
reduced equation.  There ``Q[u_j,u_j,u_j] = kappa sum_j q_j^3 = kappa (m - 2) / sqrt(m (m - 1))``,
which vanishes for m = 2 (the swap symmetry maps phi to -phi: a pitchfork by symmetry, any
activation) and generically not for m >= 3 — an S_m-symmetric crossing with m >= 3 has
transcritical axial branches whatever the parity of sigma.  The summary scalars of the result are
those of the first direction (``directions[0]``).

**Tangent.**  At the crossing H is singular, so ``t`` solves ``H t = -dgrad/dlam`` only up to a
kernel component, which the followed branch decides.  Pass ``tangent`` (the branch's own dW/dlam)
when it is known; otherwise ``t = -H^+ dgrad/dlam`` with zero kernel component is used, which is
exact for the S_m-symmetric branch of uniform a (its tangent lies in the symmetric subspace,
orthogonal to K) and for any branch whose tangent is orthogonal to the kernel.

**What the default data show** (``default_data()``, alpha = 1e-5, uniform a; reproduced by the
tests where a theorem backs it).  m = 2: ``g_xx = 0`` by the swap symmetry for tanh, sin, erf *and*
silu2 — a pitchfork (sin supercritical; tanh, erf, silu2 subcritical).  m = 3, 5, ..., 100:
transcritical along the axial directions with rho = 0.15..0.33 for all four activations (tanh
0.23/0.28, sin 0.18/0.24, erf 0.26/0.33, silu2 0.17/0.16 at m = 3/5).  So the parity of sigma does
*not* make rho small here: the S_m symmetry decides.  Odd sigma kills the quadratic coefficient
only where L is itself even, e.g. at W = 0 for data closed under x -> -x.

**Any family.**  Everything here consumes the :class:`nlpt.Problem` protocol only: ``hvp``,
``hvp_lam``, ``d3_vec``, ``d4``, ``grad_lam`` at a :class:`nlpt.problem.Point`, and the family's
own linear algebra.  A :class:`nlpt.Model` passed in is run as the full model
(:class:`nlpt.twolayer.ModelProblem`), so ``W_c``, ``Phi`` and ``tangent`` keep their (m, d)
shapes; for other families they have the family's shape.  "Rows" of the row-localized
directions are the first axis of that shape (single coordinates for a flat family).  The
reduced tensors use the family's :meth:`nlpt.Problem.reduced_tensors` (vectorised closed forms
for the model, ``d3_vec`` and polarized ``d4`` in general).  For crossings in a transverse
sector of the group-reduced model the normal form is :func:`nlpt.reduced.transverse_normal_form`,
which runs this module on a family with one neuron split off its group.

``dH/dlam`` is exact for the model: ``(d/dlam H) V`` in closed form (:meth:`nlpt.Evaluation.hvp_lam`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import LinearOperator, minres

from ._validate import NLPTInputError, as_float, as_int
from .activations import homotopy_derivatives
from .model import Model
from .problem import Problem

__all__ = [
    "DirectionReduction",
    "NormalFormResult",
    "BifurcatedBranch",
    "normal_form",
    "switch_branches",
    "pitchfork_roots",
    "transcritical_root",
    "classify",
    "reduced_tensors",
]

XX_RTOL = 1e-8
XXX_RTOL = 1e-8
NEAR_PITCHFORK_TOL = 1e-2
K_MAX_QUADRATIC = 24
K_MAX_CUBIC = 12
RESOLUTION_FACTOR = 3.0
XI_FLOOR = 1e-4


# -- truncated reduced equation ------------------------------------------------------------------

def pitchfork_roots(g_xmu: float, g_xxx: float, mu: float) -> tuple:
    """Nonzero roots of ``g_xmu mu xi + g_xxx xi^3 / 6``: ``xi = +-sqrt(-6 g_xmu mu / g_xxx)``.

    Returns ``(+xi, -xi)`` when ``-6 g_xmu mu / g_xxx > 0``, else ``()`` (no real nonzero root).
    """
    if g_xxx == 0.0:
        return ()
    s = -6.0 * g_xmu * mu / g_xxx
    if not s > 0.0:
        return ()
    r = float(np.sqrt(s))
    return (r, -r)


def transcritical_root(g_xmu: float, g_xx: float, mu: float):
    """The nonzero root ``xi = -2 g_xmu mu / g_xx`` of ``g_xmu mu xi + g_xx xi^2 / 2`` (None if g_xx = 0)."""
    if g_xx == 0.0:
        return None
    return float(-2.0 * g_xmu * mu / g_xx)


def classify(g_xx: float, g_xxx: float, g_xmu: float, xx_scale: float, xxx_scale: float,
             xx_rtol: float = XX_RTOL, xxx_rtol: float = XXX_RTOL, xi_resolution: float = 0.0):
    """(classification, criticality) from the coefficients and the scales they are judged against.

    ``g_xx`` counts as zero when ``|g_xx| <= xx_rtol * xx_scale`` or when
    ``rho = |g_xx/g_xxx| <= xi_resolution`` (the base point's kernel coordinate is only known to
    that resolution, and a shift delta along phi changes g_xx by g_xxx delta).  ``g_xxx`` counts as
    zero when ``|g_xxx| <= xxx_rtol * xxx_scale``.  See the module docstring for the convention.
    """
    xxx_zero = abs(g_xxx) <= xxx_rtol * xxx_scale
    xx_zero = abs(g_xx) <= xx_rtol * xx_scale or (not xxx_zero and abs(g_xx) <= xi_resolution * abs(g_xxx))
    if not xx_zero:
        return "transcritical", None
    if xxx_zero:
        return "degenerate", None
    if g_xmu == 0.0:
        return "pitchfork", None
    return "pitchfork", ("supercritical" if g_xmu * g_xxx < 0 else "subcritical")


# -- result objects -------------------------------------------------------------------------------

@dataclass
class DirectionReduction:
    """The scalar reduced equation along one unit kernel direction ``u = sum_a coeffs_a phi_a``."""

    label: str
    g_xx: float
    g_xxx: float
    g_xmu: float
    rho: float
    classification: str
    criticality: str | None
    d4_term: float
    correction_term: float
    xx_scale: float
    xi_resolution: float
    coeffs: np.ndarray = field(repr=False)
    u: np.ndarray = field(repr=False)
    problem: object = field(default=None, repr=False)

    @property
    def vector(self) -> np.ndarray:
        """The unit kernel direction in the model's full shape (the family's shape otherwise)."""
        return self.u if self.problem is None else self.problem.full_vector(self.u)

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "g_xx": self.g_xx,
            "g_xxx": self.g_xxx,
            "g_xmu": self.g_xmu,
            "rho": _json_float(self.rho),
            "classification": self.classification,
            "criticality": self.criticality,
            "d4_term": self.d4_term,
            "correction_term": self.correction_term,
            "xx_scale": self.xx_scale,
            "xi_resolution": _json_float(self.xi_resolution),
        }


@dataclass
class NormalFormResult:
    """Normal form at (W_c, lam_c); summary scalars are those of ``directions[0]`` (SPEC 5)."""

    lam_c: float
    multiplicity: int
    classification: str
    criticality: str | None
    g_xx: float
    g_xxx: float
    g_xmu: float
    rho: float
    near_pitchfork: bool
    near_pitchfork_tol: float
    directions: list = field(repr=False)
    slope_matrix: np.ndarray = field(repr=False)
    slope_eigenvalues: np.ndarray = field(repr=False)
    quadratic_tensor: np.ndarray | None = field(repr=False)
    cubic_tensor: np.ndarray | None = field(repr=False)
    quadratic_norm: float | None = None
    cubic_norm: float | None = None
    tensors_message: str = ""
    tangent_source: str = ""
    tangent_residual: float = float("nan")
    kernel_residual: float = float("nan")
    complement_min_abs_eig: float = float("nan")
    message: str = ""
    x_c: np.ndarray = field(default=None, repr=False)
    Phi_x: np.ndarray = field(default=None, repr=False)
    tangent_x: np.ndarray = field(default=None, repr=False)
    slope_multiplicity: int = 1
    equivariant: dict | None = None
    engine: str = "full"
    problem: object = field(default=None, repr=False)

    def _full(self, x):
        return x if self.problem is None else self.problem.full_vector(x)

    @property
    def W_c(self) -> np.ndarray:
        """The crossing point in the model's full shape (m, d) (the family's shape otherwise)."""
        return self._full(self.x_c)

    @property
    def Phi(self) -> np.ndarray:
        """The kernel vectors the reduction ran on, (k, m, d) (axial ones for a sector crossing)."""
        return np.stack([self._full(v) for v in self.Phi_x])

    @property
    def tangent(self) -> np.ndarray:
        """dW/dlam of the followed branch at the crossing, in the full shape."""
        return self._full(self.tangent_x)

    def to_dict(self, tensors: bool = True) -> dict:
        """JSON-able dict; tensors (nested lists) included when computed and ``tensors`` is True."""
        out = {
            "lam_c": self.lam_c,
            "multiplicity": self.multiplicity,
            "classification": self.classification,
            "criticality": self.criticality,
            "g_xx": self.g_xx,
            "g_xxx": self.g_xxx,
            "g_xmu": self.g_xmu,
            "rho": _json_float(self.rho),
            "near_pitchfork": bool(self.near_pitchfork),
            "near_pitchfork_tol": self.near_pitchfork_tol,
            "slope_eigenvalues": [float(x) for x in self.slope_eigenvalues],
            "quadratic_norm": self.quadratic_norm,
            "cubic_norm": self.cubic_norm,
            "tensors_message": self.tensors_message,
            "tangent_source": self.tangent_source,
            "tangent_residual": _json_float(self.tangent_residual),
            "kernel_residual": _json_float(self.kernel_residual),
            "complement_min_abs_eig": _json_float(self.complement_min_abs_eig),
            "directions": [d.to_dict() for d in self.directions],
            "slope_multiplicity": int(self.slope_multiplicity),
            "equivariant": self.equivariant,
            "engine": self.engine,
            "message": self.message,
        }
        if tensors and self.multiplicity > 1:
            out["quadratic_tensor"] = None if self.quadratic_tensor is None else self.quadratic_tensor.tolist()
            out["cubic_tensor"] = None if self.cubic_tensor is None else self.cubic_tensor.tolist()
        return out


@dataclass
class BifurcatedBranch:
    """A bifurcated branch followed a little way from the crossing (SPEC 5, branch switching).

    Parameterised by the kernel coordinate ``xi = <W - W_c, u>`` along the unit kernel direction
    ``u`` (``direction``); ``side`` is the sign of ``mu = lam - lam_c`` on which it was started.
    ``predicted_xi``/``predicted_lams`` are the truncated normal form's values, ``lams`` and ``W``
    the Newton-corrected points (``converged[i]`` says whether point i met the tolerance).
    """

    direction: str
    kind: str
    side: str
    xi: np.ndarray
    predicted_xi: np.ndarray
    predicted_lams: np.ndarray
    lams: np.ndarray
    grad_norms: np.ndarray
    morse: list
    lowest_eigenvalues: list = field(repr=False)
    converged: bool = False
    message: str = ""
    x: list = field(default_factory=list, repr=False)
    u: np.ndarray = field(default=None, repr=False)
    problem: object = field(default=None, repr=False)

    def _full(self, v):
        return v if self.problem is None else self.problem.full_vector(v)

    @property
    def W(self) -> list:
        """The corrected points in the model's full shape (the family's shape otherwise)."""
        return [self._full(v) for v in self.x]

    @property
    def vector(self) -> np.ndarray:
        return self._full(self.u)

    def to_dict(self, include_W: bool = False) -> dict:
        out = {
            "direction": self.direction,
            "kind": self.kind,
            "side": self.side,
            "xi": [float(x) for x in self.xi],
            "predicted_xi": [float(x) for x in self.predicted_xi],
            "predicted_lams": [float(x) for x in self.predicted_lams],
            "lams": [float(x) for x in self.lams],
            "grad_norms": [float(x) for x in self.grad_norms],
            "morse": [int(x) for x in self.morse],
            "lowest_eigenvalues": [[float(v) for v in e] for e in self.lowest_eigenvalues],
            "converged": bool(self.converged),
            "message": self.message,
        }
        if include_W:
            out["W"] = [w.tolist() for w in self.W]
        return out


def _json_float(x):
    x = float(x)
    return x if np.isfinite(x) else None


# -- the family behind a call -----------------------------------------------------------------

def as_family(obj) -> Problem:
    """A :class:`nlpt.Problem` for ``obj``: itself, or the full model of a :class:`nlpt.Model`."""
    if isinstance(obj, Problem):
        return obj
    if isinstance(obj, Model):
        from .twolayer import ModelProblem

        return ModelProblem(obj)
    raise NLPTInputError(f"model: expected an nlpt.Model or nlpt.Problem, got {type(obj).__name__}")


def _check_Phi(problem: Problem, Phi) -> np.ndarray:
    """Phi as (k, P) orthonormal rows; the family's shape (one vector) is read as k = 1."""
    shape = tuple(problem.shape)
    want = f"(k, {', '.join(str(s) for s in shape)})"
    try:
        arr = np.asarray(Phi, dtype=float)
    except (TypeError, ValueError):
        raise NLPTInputError(f"Phi: expected an array of shape {want}, got {type(Phi).__name__}") from None
    if arr.shape == shape:
        arr = arr[None]
    if arr.ndim != len(shape) + 1 or arr.shape[1:] != shape or arr.shape[0] < 1:
        raise NLPTInputError(f"Phi: expected an array of shape {want} with k >= 1, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise NLPTInputError("Phi: expected finite values")
    F = arr.reshape(arr.shape[0], -1)
    gram = F @ F.T
    if not np.allclose(gram, np.eye(arr.shape[0]), atol=1e-8):
        raise NLPTInputError(f"Phi: expected orthonormal kernel vectors, got a Gram matrix off the identity by "
                             f"{float(np.max(np.abs(gram - np.eye(arr.shape[0])))):.2e}")
    return F


# -- linear algebra on the complement of the kernel ---------------------------------------------

class _ComplementSolver:
    """Solves ``H x = b`` on the orthogonal complement of span(Phi) (``x, b`` orthogonal to Phi).

    Dense (the family forms its Hessian): eigen-decomposition of ``Qc^T H Qc`` with Qc an
    orthonormal basis of the complement.  Otherwise MINRES on the projected operator
    ``Pi H Pi`` (singular on span(Phi), consistent for b in the complement).
    """

    def __init__(self, pt, F: np.ndarray, method: str = "auto"):
        self.pt = pt
        self.F = F  # (P, k), orthonormal columns
        H = pt.hessian() if method != "minres" else None
        self.method = "dense" if H is not None else "minres"
        if self.method == "dense":
            Qfull, _ = np.linalg.qr(F, mode="complete")
            self.Qc = Qfull[:, F.shape[1]:]
            Hc = self.Qc.T @ H @ self.Qc
            self.w, self.V = np.linalg.eigh(0.5 * (Hc + Hc.T))
            self.min_abs_eig = float(np.min(np.abs(self.w))) if self.w.size else float("inf")
        else:
            self.min_abs_eig = float("nan")

    def project(self, b: np.ndarray) -> np.ndarray:
        return b - self.F @ (self.F.T @ b)

    def solve(self, B: np.ndarray) -> np.ndarray:
        """x = H^+ b for the columns of B (P,) or (P, r)."""
        B = np.asarray(B, dtype=float)
        vec = B.ndim == 1
        B2 = B[:, None] if vec else B
        if self.method == "dense":
            X = self.Qc @ (self.V @ ((self.V.T @ (self.Qc.T @ B2)) / self.w[:, None]))
        else:
            P = B2.shape[0]

            def mv(x):
                return self.project(self.pt.hvp(self.project(x)))

            op = LinearOperator((P, P), matvec=mv, rmatvec=mv, dtype=float)
            X = np.column_stack([self.project(minres(op, self.project(b), rtol=1e-12, maxiter=10 * P)[0])
                                 for b in B2.T])
        return X[:, 0] if vec else X

    def solve_projected(self, B: np.ndarray) -> np.ndarray:
        """``Pi H^+ Pi B``: what the Lyapunov-Schmidt correction terms need."""
        return self.project(self.solve(self.project(B)))


def _dH_dlam_apply(model: Model, W: np.ndarray, lam: float, V: np.ndarray) -> np.ndarray:
    """(dH/dlam) V at fixed W, for V of shape (k, m, d) (closed form)."""
    return model.at(W, lam).hvp_lam(V)


# -- vectorised multilinear forms of the model on the kernel -------------------------------------

def _homotopy_parts(ev):
    mdl = ev.model
    sig = mdl.activation.derivs(ev.Z, 4)
    S = homotopy_derivatives(sig, ev.Z, ev.lam)
    S = [np.broadcast_to(s, ev.Z.shape) if np.ndim(s) == 0 else s for s in S]
    return [s * mdl.c for s in S]  # c_j s^(k)(z_ij), (n, m)


def model_reduced_tensors(ev, Phi: np.ndarray, solve, cubic: bool = True):
    """Quadratic ``Q_abc = D^3L[phi_a, phi_b, phi_c]`` and cubic ``C_abcd`` tensors of the model.

    ``C_abcd = D^4L[phi_a..phi_d] - (G[ab,cd] + G[ac,bd] + G[ad,bc])`` with
    ``G[ab,cd] = <D^3L[phi_a, phi_b, .], H^+ D^3L[phi_c, phi_d, .]>`` (SPEC 5); ``solve(B)`` applies
    ``Pi H^+ Pi`` to the columns of B.  Vectorised over data points and kernel indices: cost
    O(n m k^3) for Q and O(n m k^4) for C.  Phi has shape (k, m, d).  Returns ``(Q, C)``.
    """
    model = ev.model
    k = Phi.shape[0]
    n = model.n
    CS = _homotopy_parts(ev)
    P = np.einsum("il,ajl->aij", model.X, Phi)  # (k, n, m): phi_a[j] . x_i
    r = ev.r
    D1 = np.einsum("ij,aij->ai", CS[1], P)  # (k, n)
    PP = P[:, None] * P[None, :]  # (k, k, n, m)
    D2 = np.einsum("ij,abij->abi", CS[2], PP)  # (k, k, n)
    D3r = np.einsum("abij,cij->abc", PP * (r[:, None] * CS[3]), P)  # sum_i r_i D3f_abc,i
    t = np.einsum("abi,ci->abc", D2, D1)
    Q = (t + t.transpose(0, 2, 1) + t.transpose(2, 0, 1) + D3r) / n
    if not cubic:
        return Q, None
    D3f = np.einsum("abij,cij->abci", PP * CS[3], P)  # (k, k, k, n)
    t2 = np.einsum("abi,cdi->abcd", D2, D2)
    t3 = np.einsum("abci,di->abcd", D3f, D1)
    PPf = PP.reshape(k * k, -1)
    D4r = (PPf * (r[:, None] * CS[4]).ravel()) @ PPf.T
    D4 = (t2 + t2.transpose(0, 2, 1, 3) + t2.transpose(0, 3, 2, 1)
          + t3 + t3.transpose(0, 1, 3, 2) + t3.transpose(0, 3, 2, 1) + t3.transpose(3, 1, 2, 0)
          + D4r.reshape(k, k, k, k)) / n
    iu = np.triu_indices(k)
    vecs = np.stack([ev.d3_vec(Phi[a], Phi[b]).ravel() for a, b in zip(*iu)], axis=1)
    Gp = vecs.T @ solve(vecs)
    Gp = 0.5 * (Gp + Gp.T)
    pair = np.zeros((k, k), dtype=int)
    pair[iu] = np.arange(len(iu[0]))
    pair[(iu[1], iu[0])] = np.arange(len(iu[0]))
    G = Gp[pair[:, :, None, None], pair[None, None, :, :]]  # G[a,b,c,d] = G[ab, cd]
    C = D4 - (G + G.transpose(0, 2, 1, 3) + G.transpose(0, 3, 2, 1))
    return Q, C


def reduced_tensors(model, W_c, lam_c, Phi, *, cubic: bool = True, solver=None):
    """Quadratic and cubic tensors on span(Phi) at ``(W_c, lam_c)`` (see
    :meth:`nlpt.Problem.reduced_tensors`); ``model`` a Model or Problem, Phi of shape (k, ...)."""
    problem = as_family(model)
    pt = problem.at(problem.check_x(W_c, "W_c"), lam_c)
    F = _check_Phi(problem, Phi) if solver is None else np.asarray(Phi, dtype=float).reshape(len(Phi), -1)
    cs = solver if solver is not None else _ComplementSolver(pt, F.T)
    return problem.reduced_tensors(pt, F, cs.solve_projected, cubic=cubic)


# -- row-localized kernel directions -------------------------------------------------------------

def _row_directions(Phi: np.ndarray, n_directions: int) -> list:
    """Row-localized unit kernel directions (see module docstring), as (label, coeffs).

    ``Phi`` has shape (k, rows, cols): rows are the first axis of the family's shape."""
    k, m, _ = Phi.shape
    if k == 1:
        return [("phi", np.ones(1))]
    cands = []
    for j in range(m):
        # top eigenvector of the row-j Gram matrix B B^T = top left singular vector of B (k x cols)
        U, sv, _ = np.linalg.svd(Phi[:, j, :], full_matrices=False)
        cands.append((float(sv[0] ** 2), j, U[:, 0]))
    cands.sort(key=lambda c: (-round(c[0], 10), c[1]))
    out, vecs = [], []
    for mass, j, xi in cands:
        u = np.tensordot(xi, Phi, axes=1)
        row = u[j]
        if row[np.argmax(np.abs(row))] < 0:
            xi, u = -xi, -u
        if any(abs(float(np.sum(u * v))) > 1 - 1e-8 for v in vecs):
            continue
        out.append((f"row {j}", xi))
        vecs.append(u)
        if len(out) >= n_directions:
            break
    return out


def _reduce_along(pt, solver, u: np.ndarray, label: str, coeffs, g_xmu: float, opts: dict):
    """The scalar reduction along the unit kernel vector u (flat)."""
    b = pt.d3_vec(u, u)
    g_xx, d4 = float(b @ u), float(pt.d4(u))
    bp = solver.project(b)
    corr = float(bp @ solver.project(solver.solve(bp)))
    g_xxx = d4 - 3.0 * corr
    xx_scale = float(np.linalg.norm(b))
    xxx_scale = abs(d4) + 3.0 * abs(corr)
    # ||H u|| bounds the critical eigenvalue at x_c; a shift delta along u moves it by about
    # g_xxx delta^2 / 2, so the kernel coordinate of x_c is resolved only to sqrt(2 ||H u|| / |g_xxx|).
    res = float(np.linalg.norm(pt.hvp(u)))
    xi_res = opts["resolution_factor"] * np.sqrt(2.0 * res / abs(g_xxx)) if g_xxx != 0.0 else float("inf")
    xi_res = max(xi_res, opts["xi_floor"] * max(1.0, float(np.linalg.norm(pt.x))))
    cls, crit = classify(g_xx, g_xxx, g_xmu, xx_scale, xxx_scale, opts["xx_rtol"], opts["xxx_rtol"], xi_res)
    rho = abs(g_xx / g_xxx) if g_xxx != 0.0 else float("inf")
    return DirectionReduction(label, g_xx, g_xxx, float(g_xmu), rho, cls, crit, d4, corr, xx_scale, xi_res,
                              np.asarray(coeffs, dtype=float), u, pt.problem)


def _options(n_directions, k_max_quadratic, k_max_cubic, xx_rtol, xxx_rtol, near_pitchfork_tol,
             resolution_factor, xi_floor, solver) -> dict:
    if solver not in ("auto", "dense", "minres"):
        raise NLPTInputError(f"solver: expected 'auto', 'dense' or 'minres', got {solver!r}")
    return dict(
        n_directions=as_int("n_directions", n_directions),
        k_max_quadratic=as_int("k_max_quadratic", k_max_quadratic, minimum=0),
        k_max_cubic=as_int("k_max_cubic", k_max_cubic, minimum=0),
        xx_rtol=as_float("xx_rtol", xx_rtol, minimum=0.0),
        xxx_rtol=as_float("xxx_rtol", xxx_rtol, minimum=0.0),
        near_pitchfork_tol=as_float("near_pitchfork_tol", near_pitchfork_tol, minimum=0.0),
        resolution_factor=as_float("resolution_factor", resolution_factor, minimum=0.0),
        xi_floor=as_float("xi_floor", xi_floor, minimum=0.0),
        solver=solver,
    )


# -- the normal form -----------------------------------------------------------------------------

def normal_form(model, W_c, lam_c, Phi, tangent=None, *, n_directions: int = 3,
                k_max_quadratic: int = K_MAX_QUADRATIC, k_max_cubic: int = K_MAX_CUBIC,
                xx_rtol: float = XX_RTOL, xxx_rtol: float = XXX_RTOL,
                near_pitchfork_tol: float = NEAR_PITCHFORK_TOL, resolution_factor: float = RESOLUTION_FACTOR,
                xi_floor: float = XI_FLOOR, solver: str = "auto") -> NormalFormResult:
    """Lyapunov–Schmidt normal form at (W_c, lam_c) with orthonormal kernel basis Phi (SPEC 5).

    Parameters
    ----------
    model : Model or Problem
    W_c : array of the family's shape ((m, d) for the model)
        The critical point at the crossing (grad L(W_c, lam_c) ~ 0).
    lam_c : float in [0, 1]
    Phi : (k, ...) array
        Orthonormal basis of the (near-)kernel of H at (W_c, lam_c); one vector is read as k = 1.
    tangent : array of the family's shape, optional
        dW/dlam of the followed branch at the crossing; default ``-H^+ dgrad/dlam`` (zero kernel
        component; see the module docstring).
    n_directions : int
        For k > 1, how many row-localized kernel directions to reduce along (default 3).
    k_max_quadratic, k_max_cubic : int
        Largest k for which the quadratic / cubic tensors are computed (defaults 24, 12).
    xx_rtol, xxx_rtol, near_pitchfork_tol, resolution_factor, xi_floor : float
        Classification thresholds (module docstring).
    solver : "auto" | "dense" | "minres"
        How ``H^+`` is applied (dense where the family forms its Hessian).

    Returns
    -------
    NormalFormResult
        ``g_xx, g_xxx, g_xmu, rho, classification, criticality`` along ``directions[0]``; the
        slope matrix and its eigenvalues; the tensors for k > 1 when within the caps.
    """
    problem = as_family(model)
    x_c = problem.check_x(W_c, "W_c")
    pt = problem.at(x_c, lam_c)
    F = _check_Phi(problem, Phi)
    opts = _options(n_directions, k_max_quadratic, k_max_cubic, xx_rtol, xxx_rtol, near_pitchfork_tol,
                    resolution_factor, xi_floor, solver)
    cs = _ComplementSolver(pt, F.T, opts["solver"])
    gl = pt.grad_lam()
    if tangent is None:
        t = -cs.solve(cs.project(gl))
        tangent_source = "computed: -H^+ dgrad/dlam, kernel component set to zero"
    else:
        t = problem.check_x(tangent, "tangent")
        tangent_source = f"given (kernel component {float(np.linalg.norm(F @ t)):.3e})"
    return _assemble(problem, pt, F, cs, t, tangent_source, opts)


def _slope_matrix(pt, F: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``S_ab = phi_a^T (dH/dlam) phi_b + D^3L[phi_a, phi_b, t]``, symmetrised."""
    dH = pt.hvp_lam(F)
    mixed = np.stack([pt.d3_vec(F[a], t) for a in range(F.shape[0])])
    S = F @ dH.T + F @ mixed.T
    return 0.5 * (S + S.T)


def _assemble(problem, pt, F, cs, t, tangent_source, opts) -> NormalFormResult:
    k = F.shape[0]
    notes = []
    gl = pt.grad_lam()
    tangent_residual = float(np.linalg.norm(pt.hvp(t) + gl))
    kernel_residual = float(np.max(np.linalg.norm(pt.hvp(F), axis=1)))
    proj_gl = float(np.linalg.norm(F @ gl))
    if proj_gl > 1e-6 * max(1.0, float(np.linalg.norm(gl))):
        notes.append(f"Phi^T dgrad/dlam = {proj_gl:.2e} is not small: no smooth branch passes through "
                     "this point transversally (imperfect bifurcation or fold)")
    S = _slope_matrix(pt, F, t)
    slope_eigs = np.linalg.eigvalsh(S)
    shape = tuple(problem.shape)
    Phi3 = F.reshape((k, shape[0], -1))
    dirs = []
    for label, xi in _row_directions(Phi3, opts["n_directions"]):
        u = xi @ F
        dirs.append(_reduce_along(pt, cs, u, label, xi, float(xi @ S @ xi), opts))
    Q = C = qn = cn = None
    if k > 1:
        Q, C, qn, cn, tmsg = _tensors(problem, pt, F, cs, opts)
        notes.insert(0, f"{k}-fold kernel: scalars along {len(dirs)} row-localized direction(s), "
                        f"first {dirs[0].label!r}; slope matrix eigenvalues in "
                        f"[{slope_eigs[0]:.3e}, {slope_eigs[-1]:.3e}]")
    else:
        tmsg = "simple kernel"
    return _result(problem, pt, F, t, dirs, S, slope_eigs, Q, C, qn, cn, tmsg, tangent_source,
                   tangent_residual, kernel_residual, cs.min_abs_eig, notes, opts)


def _tensors(problem, pt, F, cs, opts):
    k = F.shape[0]
    if k > opts["k_max_quadratic"]:
        return None, None, None, None, (f"tensors skipped (k = {k} > k_max_quadratic = {opts['k_max_quadratic']}); "
                                        "scalars along row-localized kernel directions only")
    Q, C = problem.reduced_tensors(pt, F, cs.solve_projected, cubic=k <= opts["k_max_cubic"])
    qn = float(np.linalg.norm(Q))
    cn = None if C is None else float(np.linalg.norm(C))
    tmsg = "quadratic and cubic tensors computed" if C is not None else (
        f"quadratic tensor computed; cubic tensor skipped (k = {k} > k_max_cubic = {opts['k_max_cubic']})")
    return Q, C, qn, cn, tmsg


def _result(problem, pt, F, t, dirs, S, slope_eigs, Q, C, qn, cn, tmsg, tangent_source, tangent_residual,
            kernel_residual, min_abs, notes, opts) -> NormalFormResult:
    k = F.shape[0]
    d0 = dirs[0]
    near = bool(d0.rho < opts["near_pitchfork_tol"])
    head = f"{d0.classification}" + (f" ({d0.criticality})" if d0.criticality else "")
    head += f", rho = |g_xx/g_xxx| = {d0.rho:.3e}" + (" (near-pitchfork)" if near else "")
    return NormalFormResult(
        lam_c=float(pt.lam), multiplicity=k, classification=d0.classification, criticality=d0.criticality,
        g_xx=d0.g_xx, g_xxx=d0.g_xxx, g_xmu=d0.g_xmu, rho=d0.rho, near_pitchfork=near,
        near_pitchfork_tol=opts["near_pitchfork_tol"], directions=dirs, slope_matrix=S, slope_eigenvalues=slope_eigs,
        quadratic_tensor=Q, cubic_tensor=C, quadratic_norm=qn, cubic_norm=cn, tensors_message=tmsg,
        tangent_source=tangent_source, tangent_residual=tangent_residual, kernel_residual=kernel_residual,
        complement_min_abs_eig=min_abs, message="; ".join([head] + notes),
        x_c=pt.x.copy(), Phi_x=F.copy(), tangent_x=np.asarray(t, dtype=float).copy(),
        engine=problem.engine, problem=problem,
    )


# -- branch switching ----------------------------------------------------------------------------

def _bordered_newton(problem: Problem, x0: np.ndarray, lam0: float, x_c: np.ndarray, u: np.ndarray, xi: float,
                     tol: float, maxiter: int):
    """Solve ``grad L(x, lam) = 0``, ``<x - x_c, u> = xi`` for (x, lam) by Newton.

    The bordered Jacobian ``[[H, dgrad/dlam], [u^T, 0]]`` is nonsingular on a bifurcated branch
    away from the crossing (xi != 0); fixing the kernel coordinate keeps the iterate off the
    followed branch, whose kernel coordinate stays near 0.
    """
    border = np.append(u, 0.0)
    x, lam = x0.copy(), float(lam0)
    gn = float("nan")
    for it in range(maxiter + 1):
        if not 0.0 <= lam <= 1.0:
            return x, lam, False, it, float("nan"), f"lam = {lam:.4g} left [0, 1]"
        pt = problem.at(x, lam)
        g = pt.grad()
        c = float(u @ (x - x_c)) - xi
        gn = float(np.linalg.norm(g))
        if gn <= tol and abs(c) <= 1e-12 * max(1.0, abs(xi)):
            return x, lam, True, it, gn, "converged"
        if it == maxiter:
            break
        step = -problem.bordered_solve(pt, border, g, c)
        if not np.all(np.isfinite(step)):
            return x, lam, False, it, gn, "non-finite Newton step"
        x = x + step[:-1]
        lam = lam + float(step[-1])
    return x, lam, False, maxiter, gn, f"no convergence in {maxiter} iterations (||grad|| = {gn:.3e})"


def _spectrum_info(problem: Problem, x, lam, n_low: int = 3):
    pt = problem.at(x, lam)
    spec = problem.spectrum(pt, min(max(n_low, problem.default_n_eigs()), problem.size), problem.morse_tol())
    return spec.morse, spec.lowest(n_low)


def _starts(red, dlam0: float, auto: bool, xi_max: float):
    """(kind, [(side, sign, xi0)], dlam) of the truncated normal form along one direction."""
    dlam = dlam0
    if auto and red.classification == "transcritical" and red.g_xx != 0.0:
        xi0 = abs(transcritical_root(red.g_xmu, red.g_xx, dlam))
        if xi0 > xi_max:
            dlam *= xi_max / xi0
    elif auto and red.classification == "pitchfork":
        roots = pitchfork_roots(red.g_xmu, red.g_xxx, dlam) or pitchfork_roots(red.g_xmu, red.g_xxx, -dlam)
        if roots and abs(roots[0]) > xi_max:
            dlam *= (xi_max / abs(roots[0])) ** 2
    if red.classification == "transcritical":
        return "transcritical", [("mu>0", 1.0, transcritical_root(red.g_xmu, red.g_xx, dlam)),
                                 ("mu<0", -1.0, transcritical_root(red.g_xmu, red.g_xx, -dlam))], dlam
    if red.classification == "pitchfork":
        sgn = 1.0 if pitchfork_roots(red.g_xmu, red.g_xxx, dlam) else -1.0
        side = "mu>0" if sgn > 0 else "mu<0"
        return "pitchfork", [(side, sgn, x) for x in pitchfork_roots(red.g_xmu, red.g_xxx, sgn * dlam)], dlam
    return None, [], dlam


def _follow(problem, x_c, lam_c, t, u, red, kind, side, sgn, xi0, dlam, n_steps, tol, maxiter):
    """One bifurcated branch, ``n_steps`` Newton-corrected points (see :func:`switch_branches`)."""
    label = f"{red.label} {'+' if xi0 > 0 else '-'}xi ({side})"
    xs = [xi0 * ((i + 1) if kind == "transcritical" else np.sqrt(i + 1)) for i in range(n_steps)]
    mus = [sgn * dlam * (i + 1) for i in range(n_steps)]
    pts_xi, pts_x, pts_lam = [0.0], [x_c], [lam_c]
    got = dict(xi=[], lams=[], gn=[], morse=[], low=[], x=[])
    ok, msg = True, "converged"
    for i, (xi, mu) in enumerate(zip(xs, mus)):
        if i == 0:
            xp, lp = x_c + mu * t + xi * u, lam_c + mu
        else:
            xp, lp = _extrapolate(pts_xi[-3:], pts_x[-3:], pts_lam[-3:], xi)
        lp = min(max(lp, 0.0), 1.0)
        x, lam, conv, _, gn, m_ = _bordered_newton(problem, xp, lp, x_c, u, xi, tol, maxiter)
        if not conv:
            ok, msg = False, f"step {i} (xi = {xi:.3e}): {m_}"
            break
        morse, low = _spectrum_info(problem, x, lam)
        for key, val in (("xi", xi), ("lams", lam), ("gn", gn), ("morse", morse), ("low", low), ("x", x)):
            got[key].append(val)
        pts_xi.append(xi), pts_x.append(x), pts_lam.append(lam)
    return BifurcatedBranch(
        direction=label, kind=kind, side=side, xi=np.array(got["xi"]), predicted_xi=np.array(xs),
        predicted_lams=lam_c + np.array(mus), lams=np.array(got["lams"]), grad_norms=np.array(got["gn"]),
        morse=got["morse"], lowest_eigenvalues=got["low"], converged=ok and len(got["xi"]) == n_steps,
        message=msg, x=list(got["x"]), u=u, problem=problem)


def switch_branches(model, W_c, lam_c, Phi, nf: NormalFormResult, *, dlam=None, n_steps: int = 3,
                    n_directions: int = 1, tol: float = 1e-10, maxiter: int = 30) -> list:
    """Follow the bifurcated branches a little way from (W_c, lam_c) (SPEC 5, branch switching).

    For each of the first ``n_directions`` kernel directions u of ``nf.directions`` (k = 1: phi;
    k > 1: the row-localized directions, symmetry-equivalent for uniform a), start from the
    truncated normal form along u:

    * transcritical: ``xi = -2 g_xmu mu / g_xx`` (:func:`transcritical_root`) on both sides
      ``mu = +-dlam`` -- two half-branches, one each side;
    * pitchfork: ``xi = +-sqrt(-6 g_xmu mu / g_xxx)`` (:func:`pitchfork_roots`) at
      ``mu = dlam`` on the side where the root is real -- two branches, xi > 0 and xi < 0;

    predict ``W = W_c + mu t + xi u`` (t the branch tangent of ``nf``) and Newton-correct (W, lam)
    with the kernel coordinate ``<W - W_c, u> = xi`` held fixed (a bordered system), so that the
    solve cannot fall back onto the followed branch.  Then take ``n_steps - 1`` further steps in
    xi chosen so that the predicted |mu| grows by dlam per step (``xi_i = xi_0 (i+1)``
    transcritical, ``xi_0 sqrt(i+1)`` pitchfork), predicting by quadratic extrapolation in xi
    through the last points (starting with the crossing itself).  Morse indices are those of the
    full Hessian (transverse sectors included for reduced families).

    ``dlam`` defaults to ``min(0.1 lam_c, 0.01)`` (at least 1e-6), so that the mu < 0 side stays in
    [0, 1], reduced where needed so that the first predicted ``|xi| <= 0.05 max(1, ||W_c||_F)``
    (the truncated normal form is only trusted close to the crossing).  Returns a list of
    :class:`BifurcatedBranch` (empty for a degenerate normal form); a failed Newton solve stops
    that branch and is reported in its ``message``.
    """
    problem = as_family(model)
    x_c = problem.check_x(W_c, "W_c")
    problem.at(x_c, lam_c)
    _check_Phi(problem, Phi)
    n_steps = as_int("n_steps", n_steps)
    n_directions = as_int("n_directions", n_directions)
    tol = as_float("tol", tol, minimum=0.0, strict=True)
    maxiter = as_int("maxiter", maxiter)
    auto = dlam is None
    dlam0 = max(min(0.1 * lam_c, 0.01), 1e-6) if auto else as_float("dlam", dlam, minimum=0.0, strict=True)
    xi_max = 0.05 * max(1.0, float(np.linalg.norm(x_c)))
    t = np.zeros(problem.size) if nf.tangent_x is None else np.ravel(nf.tangent_x)
    out = []
    for red in nf.directions[:n_directions]:
        u = np.ravel(red.u)
        kind, starts, dl = _starts(red, dlam0, auto, xi_max)
        for side, sgn, xi0 in starts:
            if xi0 is None or xi0 == 0.0:
                continue
            out.append(_follow(problem, x_c, lam_c, t, u, red, kind, side, sgn, xi0, dl, n_steps, tol, maxiter))
    return out


def _extrapolate(xs, Ws, lams, x):
    """Lagrange extrapolation in xi of (W, lam) through the given points (up to quadratic)."""
    xs = list(xs)
    Wn = np.zeros_like(Ws[0])
    ln = 0.0
    for i, xi_i in enumerate(xs):
        w = 1.0
        for j, xj in enumerate(xs):
            if j != i:
                w *= (x - xj) / (xi_i - xj)
        Wn = Wn + w * Ws[i]
        ln += w * lams[i]
    return Wn, ln
