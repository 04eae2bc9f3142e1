"""Exact reduction for repeated second-layer weights (SPEC 7): the group-reduced family.

If a takes k distinct values with group sizes ``g_1..g_k``, permuting neurons inside a group
leaves L invariant and fixes ``W*``; the branch continued from it stays on the fixed space
"rows equal within each group" (the Hessian restricted to that space is nonsingular there, so
the implicit function theorem applies in it).  :class:`ReducedProblem` is the family restricted
to that space, in **orthonormal coordinates** ``U_h = sqrt(g_h) w_h`` (k x d unknowns): the
embedding ``U -> W`` (rows ``w_h = U_h / sqrt(g_h)`` repeated over group h) is an isometry, so
its Hessian is the full Hessian compressed to the fixed space, arclengths and inner products
are those of the full model, and the loss, gradient and every derivative are the model's at the
embedded point (cost O(n k d) per product, whatever m).  In natural row coordinates the family
is a k-neuron model with output weights ``g_h a_h / m`` and regularizer
``(alpha/2) sum_h g_h |w_h|^2``; for uniform a (k = 1) it is one neuron with regularization
``beta = alpha m`` (SPEC 7), which is why ``lam*(m, alpha) = Lambda(alpha m)``.

**The rest of the spectrum** (transverse sectors, :meth:`ReducedProblem.sectors`): on the
within-group kernels ``{q (x) e : q supported on group h, sum q = 0}`` the full Hessian acts as
``q (x) T_h e`` with ``T_h = A_h / m + alpha I``, ``A_h = (a_h/n) sum_i r_i s''_lam(z_ih) x_i x_i^T``:
every eigenvalue of ``T_h`` (d x d) is an eigenvalue of the full Hessian with multiplicity
``g_h - 1``.  Together with the k d eigenvalues of the reduced Hessian these are all ``m d``.

**Crossings in a sector** (the uniform-a threshold is one: the (m-1)-fold crossing of
``alpha + mu_min(A)/m``) have their kernel outside the reduced coordinates.  Their normal form
(:func:`transverse_normal_form`) is computed two ways:

* scalars along the *axial* direction "one neuron leaves its group"
  (``(e_j - 1_h/g_h) (x) e`` normalised): the family with that neuron split off (k + 1 groups,
  :meth:`ReducedProblem.split`) contains the direction in its own coordinates, and the generic
  Lyapunov-Schmidt reduction of :mod:`nlpt.normal_form` runs there -- exact, because
  ``D^3L[u, u, .]`` of an axial u is invariant under the isotropy group and stays in that space.
  Branch switching runs on the same family.
* the S_g-equivariant tensors on the whole ``(g_h - 1) r``-fold kernel from d-dimensional
  quantities (:func:`equivariant_coefficients`): with ``S3 = sum_j q_aj q_bj q_cj`` and
  ``S4 = sum_j q_aj q_bj q_cj q_dj`` over an orthonormal basis ``q_a`` of the zero-sum vectors on
  the group, and e_alpha an orthonormal basis of the critical eigenspace E of T_h (r = dim E),

      Q = S3 (x) T3,      T3_abc = (1/n) sum_i r_i c s'''_i (e_a.x_i)(e_b.x_i)(e_c.x_i),
      C = sum over the 3 pairings delta delta (x) P + S4 (x) R,

  ``c = a_h / m``; ``P = T4g - h1 + h2 / g``, ``R = T4r - h2`` summed over the 3 pairings, with
  ``T4g = (1/n) sum c^2 s''^2 prod (e.x)``, ``T4r = (1/n) sum r c s'''' prod (e.x)``,
  ``h1 = <F, H_red^{-1} F>`` (the fixed-space part F of ``D^3L[u, u, .]``, H_red the reduced
  Hessian) and ``h2 = <w, T_h^+ w>``, ``w_ab = (1/n) sum r c s''' (e_a.x)(e_b.x) x`` (T_h^+ the
  inverse off E).  For a simple E: ``Q[q^3] = kappa sum q_j^3`` and
  ``C[q^4] = 3 P |q|^4 + R sum q_j^4``, so the axial scalars are ``g_xx = kappa (g - 2) /
  sqrt(g (g - 1))`` and ``g_xxx = 3 P + R (g^2 - 3 g + 3) / (g (g - 1))``; the tests hold these
  against the split-family reduction and the full engine.
"""

from __future__ import annotations

import numpy as np

from ._validate import NLPTInputError
from .linear import sigma_matrix
from .model import Model, check_model
from .problem import DENSE_MAX, Problem, Sector, sector_kernel
from .twolayer import EvaluationPoint, model_morse_tol

__all__ = ["ReducedProblem", "group_structure", "in_group_subspace", "transverse_normal_form",
           "transverse_switch", "equivariant_coefficients", "helmert_basis", "EXPAND_MAX"]

#: Largest number of floats an expansion to full coordinates may produce (4 GB).
EXPAND_MAX = 5 * 10**8


def group_structure(a: np.ndarray):
    """``(groups, sizes)``: index arrays of equal entries of a, in order of first occurrence."""
    a = np.asarray(a, dtype=float)
    vals, first, inverse, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True)
    members = np.split(np.argsort(np.ravel(inverse), kind="stable"), np.cumsum(counts)[:-1])  # O(m log m)
    order = np.argsort(first)
    groups = [members[g] for g in order]
    return groups, counts[order].astype(int)


def in_group_subspace(model: Model, W: np.ndarray, rtol: float = 1e-12) -> bool:
    """Whether the rows of W are equal within every group of equal a."""
    groups, _ = group_structure(model.a)
    scale = max(1.0, float(np.max(np.abs(W))))
    return all(np.max(np.abs(W[g] - W[g[0]])) <= rtol * scale for g in groups)


def helmert_basis(g: int) -> np.ndarray:
    """Orthonormal basis (g-1, g) of the zero-sum vectors in R^g (Helmert's contrasts)."""
    Q = np.zeros((g - 1, g))
    for a in range(1, g):
        Q[a - 1, :a] = 1.0 / np.sqrt(a * (a + 1))
        Q[a - 1, a] = -a / np.sqrt(a * (a + 1))
    return Q


class ReducedPoint(EvaluationPoint):
    """The reduced family at ``(U, lam)``: the inner k-neuron evaluation behind the protocol."""

    def __init__(self, problem: "ReducedProblem", x: np.ndarray, lam: float):
        super().__init__(problem, x, lam)
        self.gam = problem.gamma[:, None]
        self.ev = problem.inner.at(self.gam * problem.native(x), lam)
        self._sectors = None

    def _nat(self, v):
        v = np.asarray(v, dtype=float)
        return self.gam * np.reshape(v, v.shape[:-1] + tuple(self.problem.shape))

    def _out(self, arr, shape):
        return (self.gam * arr).reshape(shape)

    def hessian(self):
        if self.problem.size > DENSE_MAX:
            return None
        sc = np.repeat(self.problem.gamma, self.problem.model.d)
        return sc[:, None] * self.ev.hessian() * sc[None, :]

    def blocks(self) -> np.ndarray:
        """``A_h / m`` for every group (k, d, d): ``(1/n) sum_i r_i (a_h/m) s''(z_ih) x_i x_i^T``."""
        mdl = self.problem.inner
        B = np.einsum("ih,ik,il->hkl", self.ev.RCS2, mdl.X, mdl.X) / mdl.n
        return B / self.problem.sizes[:, None, None]


class ReducedProblem(Problem):
    """The two-layer model on the group-symmetric subspace (module docstring).

    Parameters
    ----------
    model : Model
    W0 : (m, d) array, optional
        The critical point at lam = 0 (default W*); its rows must be equal within each group.
    groups : list of index arrays, optional
        A partition of the neurons into groups of equal a (default: all equal values together);
        :meth:`split` uses it to isolate one neuron.
    """

    engine = "reduced"

    def __init__(self, model: Model, W0=None, groups=None):
        model = check_model(model)
        if groups is None:
            groups, sizes = group_structure(model.a)
        else:
            sizes = np.array([len(g) for g in groups], dtype=int)
        self._set_groups(model, groups, sizes)
        self.x0 = (np.sqrt(sizes)[:, None] * self._rows0(W0)).ravel()

    def _set_groups(self, model: Model, groups, sizes) -> None:
        """The group partition and the inner k-neuron model it reduces to (SPEC 7)."""
        self.model = model
        self.groups, self.sizes = groups, sizes
        self.values = np.array([model.a[g[0]] for g in groups], dtype=float)
        self.gamma = 1.0 / np.sqrt(sizes.astype(float))
        k, d = len(groups), model.d
        inner = Model(model.X, model.y, k, a=k * sizes * self.values / model.m, alpha=model.alpha,
                      activation=model.activation)
        inner.reg = sizes.astype(float)
        self.inner = inner
        self.size, self.shape = k * d, (k, d)
        self.name = "two-layer model, group-reduced"
        self._fd = {}

    def _rows0(self, W0) -> np.ndarray:
        mdl = self.model
        if W0 is not None:
            W0 = mdl.check_W(W0, "W0")
            if not in_group_subspace(mdl, W0):
                raise NLPTInputError("W0: expected rows equal within each group of equal a for the reduced "
                                     "engine (use engine='full' for other starting points)")
            return np.array([W0[g[0]] for g in self.groups])
        na2 = float(np.sum(self.sizes * self.values**2))
        if na2 == 0.0:
            return np.zeros(self.shape)
        b = mdl.X.T @ mdl.y / mdl.n
        v = np.linalg.solve(sigma_matrix(mdl) + (mdl.alpha * mdl.m**2 / na2) * np.eye(mdl.d), b)
        return (mdl.m / na2) * np.outer(self.values, v)

    # -- protocol ------------------------------------------------------------------------------
    def at(self, x, lam) -> ReducedPoint:
        return ReducedPoint(self, self.check_x(x), lam)

    @property
    def floor(self) -> float:
        return self.model.alpha

    def morse_tol(self) -> float:
        return model_morse_tol(self.model.alpha)

    def default_n_eigs(self) -> int:
        return self.size

    def expanded_n_eigs(self) -> int:
        mdl = self.model
        return int(min(mdl.size, max(self.size, (int(self.sizes.max()) - 1) * mdl.d + 1, 8), 256))

    def derivative_report(self) -> dict:
        return {k: {"source": "closed form"} for k in
                ("loss", "grad", "hvp", "grad_lam", "hvp_lam", "d3", "d3_vec", "d4", "hessian")}

    def describe(self) -> dict:
        mdl = self.model
        return {"engine": self.engine, "name": self.name, "size": mdl.size, "m": mdl.m, "d": mdl.d, "n": mdl.n,
                "unknowns": self.size, "groups": len(self.groups), "group_sizes": [int(g) for g in self.sizes],
                "group_values": [float(v) for v in self.values]}

    def sectors(self, pt: ReducedPoint) -> list:
        """``T_h = A_h/m + alpha I`` with multiplicity ``g_h - 1`` for every group of size >= 2."""
        if pt._sectors is None:
            B = pt.blocks()
            eye = self.model.alpha * np.eye(self.model.d)
            pt._sectors = [Sector(f"group {h}", B[h] + eye, int(g) - 1)
                           for h, g in enumerate(self.sizes) if g >= 2]
        return pt._sectors

    def sector_derivatives(self, pt: ReducedPoint, tangent) -> list:
        """``(d/ds T_h, term scale)`` along ``tangent = (dU, dlam)`` (closed form, module docstring)."""
        ev, mdl = pt.ev, self.inner
        t = np.asarray(tangent, dtype=float)
        dW = pt.gam * self.native(t[:-1])
        dlam = float(t[-1])
        ev._ensure(3)
        L, df = ev._lam_parts()
        Pz = mdl.X @ dW.T  # (n, k)
        c = mdl.c
        dr = (ev.S[1] * c * Pz).sum(axis=1) + dlam * df
        ds2 = ev.S[3] * Pz + dlam * L[2]
        t1 = dr[:, None] * c * ev.S[2]
        t2 = ev.r[:, None] * c * ds2
        xx = np.sum(mdl.X * mdl.X, axis=1)
        out = []
        for h, g in enumerate(self.sizes):
            if g < 2:
                continue
            D = np.einsum("i,ik,il->kl", t1[:, h] + t2[:, h], mdl.X, mdl.X) / (mdl.n * g)
            scale = float(np.sum((np.abs(t1[:, h]) + np.abs(t2[:, h])) * xx)) / (mdl.n * g)
            out.append((0.5 * (D + D.T), scale))
        return out

    # -- the full coordinates -------------------------------------------------------------------
    def _group_of(self) -> np.ndarray:
        if not hasattr(self, "_gof"):
            gof = np.empty(self.model.m, dtype=int)
            for h, g in enumerate(self.groups):
                gof[g] = h
            self._gof = gof
        return self._gof

    def _guard(self, count: int, what: str) -> None:
        if count > EXPAND_MAX:
            raise NLPTInputError(
                f"{what}: expanding to the model's full coordinates would need {8 * count / 2**30:.1f} GiB "
                f"(m = {self.model.m}); the reduced result holds the same information in k x d = "
                f"{self.size} coordinates (branch.x, result.x_c)")

    def full_points(self, X) -> np.ndarray:
        X = np.asarray(X)
        self._guard(len(X) * self.model.size, "W")
        rows = X.reshape(len(X), *self.shape) * self.gamma[None, :, None]
        return rows[:, self._group_of()]

    def full_vector(self, x) -> np.ndarray:
        self._guard(self.model.size, "W")
        return (self.gamma[:, None] * self.native(x))[self._group_of()]

    def kernel_basis_full(self, h: int, E: np.ndarray) -> np.ndarray:
        """Orthonormal basis ``q_a (x) e_alpha`` (in this order) of the within-group kernel of
        group h times span(E), in full coordinates: shape ((g-1) r, m, d)."""
        g = int(self.sizes[h])
        r = E.shape[1]
        self._guard((g - 1) * r * self.model.size, "critical_vectors")
        Q = helmert_basis(g)
        out = np.zeros(((g - 1) * r, self.model.m, self.model.d))
        rows = self.groups[h]
        for a in range(g - 1):
            for al in range(r):
                out[a * r + al, rows, :] = Q[a][:, None] * E[:, al][None, :]
        return out

    # -- isolating one neuron -------------------------------------------------------------------
    def split(self, h: int) -> "ReducedProblem":
        """The family with the first neuron of group h in a group of its own (k + 1 groups)."""
        g = self.groups[h]
        if len(g) < 2:
            raise NLPTInputError(f"h: expected a group of size >= 2 to split, got group {h} of size {len(g)}")
        groups = list(self.groups[:h]) + [g[:1], g[1:]] + list(self.groups[h + 1:])
        out = ReducedProblem.__new__(ReducedProblem)
        out._init_groups(self.model, groups, self._rows_of(self.x0), h)
        return out

    def _rows_of(self, x) -> np.ndarray:
        return self.gamma[:, None] * self.native(x)

    def _init_groups(self, model, groups, rows_parent, h):
        """Set up a split family from the parent's natural rows (without any m-length array)."""
        self._set_groups(model, groups, np.array([len(g) for g in groups], dtype=int))
        rows = np.insert(rows_parent, h, rows_parent[h], axis=0)
        self.x0 = (np.sqrt(self.sizes)[:, None] * rows).ravel()

    def split_coords(self, x, h: int) -> np.ndarray:
        """A point of this family in the coordinates of :meth:`split` (h)."""
        rows = self._rows_of(x)
        rows = np.insert(rows, h, rows[h], axis=0)
        g = self.sizes.copy()
        gs = np.insert(g, h, 1)
        gs[h + 1] = g[h] - 1
        return (np.sqrt(gs)[:, None] * rows).ravel()

    def axial(self, h: int, E: np.ndarray) -> np.ndarray:
        """Unit axial directions ``(e_j - 1/g) (x) e_alpha`` in :meth:`split` (h) coordinates, (r, P + d)."""
        g = int(self.sizes[h])
        k, d = len(self.groups) + 1, self.model.d
        out = np.zeros((E.shape[1], k, d))
        out[:, h, :] = np.sqrt((g - 1) / g) * E.T
        out[:, h + 1, :] = -np.sqrt(1.0 / g) * E.T
        return out.reshape(E.shape[1], -1)


def critical_eigenspace(problem: ReducedProblem, pt: ReducedPoint, h: int, zero_tol: float) -> np.ndarray:
    """Orthonormal eigenvectors E (d, r) of ``T_h`` with ``|eigenvalue| <= zero_tol``."""
    return sector_kernel(problem, pt, f"group {h}", zero_tol)


def equivariant_coefficients(problem: ReducedProblem, pt: ReducedPoint, h: int, E: np.ndarray) -> dict:
    """T3, P, R (module docstring) for group h and the critical eigenspace E (d, r)."""
    mdl = problem.model
    ev = pt.ev
    ev._ensure(4)
    X, n = mdl.X, mdl.n
    g = int(problem.sizes[h])
    c = float(problem.values[h]) / mdl.m
    S = ev.S
    r = ev.r
    Pe = X @ E  # (n, r)
    s2, s3, s4 = S[2][:, h], S[3][:, h], S[4][:, h]
    T3 = np.einsum("i,ia,ib,ic->abc", r * c * s3, Pe, Pe, Pe) / n
    T4g = np.einsum("i,ia,ib,ic,id->abcd", c * c * s2 * s2, Pe, Pe, Pe, Pe) / n
    T4r = np.einsum("i,ia,ib,ic,id->abcd", r * c * s4, Pe, Pe, Pe, Pe) / n
    w = np.einsum("i,ia,ib,il->abl", r * c * s3, Pe, Pe, X) / n  # (r, r, d)
    # Fixed-space part of D^3L[q_a (x) e_al, q_a (x) e_be, .] in the reduced coordinates.
    cs1 = (problem.values / mdl.m)[None, :] * S[1]  # (n, k): c_h' s'_ih'
    F = np.einsum("i,ia,ib,ih,il->abhl", c * s2, Pe, Pe, cs1, X) / n * np.sqrt(problem.sizes)[None, None, :, None]
    F[:, :, h, :] += w / np.sqrt(g)
    kd = problem.size
    Ff = F.reshape(E.shape[1] ** 2, kd)
    H = pt.hessian()
    h1 = (Ff @ np.linalg.solve(H, Ff.T)).reshape((E.shape[1],) * 4)
    sec = [s for s in problem.sectors(pt) if s.label == f"group {h}"][0]
    lam_T, V = np.linalg.eigh(sec.matrix)
    off = np.ones(len(lam_T), dtype=bool)
    off[np.argmax(np.abs(V.T @ E), axis=0)] = False
    Tplus = (V[:, off] / lam_T[off]) @ V[:, off].T
    h2 = np.einsum("abl,lm,cdm->abcd", w, Tplus, w)
    P = T4g - h1 + h2 / g
    R = T4r - (h2 + h2.transpose(0, 2, 1, 3) + h2.transpose(0, 3, 2, 1))
    out = {"group": int(h), "group_size": g, "r": int(E.shape[1]), "T3": T3, "P": P, "R": R, "h1": h1, "h2": h2,
           "T4g": T4g, "T4r": T4r}
    return out


def axial_scalars(coef: dict) -> tuple:
    """``(g_xx, g_xxx)`` along the axial direction of a simple E from the equivariant coefficients."""
    g = coef["group_size"]
    s3 = (g - 2) / np.sqrt(g * (g - 1))
    s4 = (g * g - 3 * g + 3) / (g * (g - 1))
    kappa = float(coef["T3"][0, 0, 0])
    return kappa * s3, 3.0 * float(coef["P"][0, 0, 0, 0]) + float(coef["R"][0, 0, 0, 0]) * s4


def kernel_tensors(coef: dict, cubic: bool = True):
    """Q and C on the basis ``q_a (x) e_alpha`` (Helmert q, index ``a r + alpha``)."""
    g, r = coef["group_size"], coef["r"]
    Q = helmert_basis(g)
    S3 = np.einsum("aj,bj,cj->abc", Q, Q, Q)
    Qt = np.einsum("abc,xyz->axbycz", S3, coef["T3"]).reshape(((g - 1) * r,) * 3)
    if not cubic:
        return Qt, None
    S4 = np.einsum("aj,bj,cj,dj->abcd", Q, Q, Q, Q)
    I = np.eye(g - 1)
    P = coef["P"]
    C = (np.einsum("ab,cd,xyzw->axbyczdw", I, I, P)
         + np.einsum("ac,bd,xzyw->axbyczdw", I, I, P)
         + np.einsum("ad,bc,xwyz->axbyczdw", I, I, P)
         + np.einsum("abcd,xyzw->axbyczdw", S4, coef["R"]))
    return Qt, C.reshape(((g - 1) * r,) * 4)


def transverse_normal_form(problem: ReducedProblem, x_c, lam_c: float, h: int, tangent, zero_tol: float,
                           **options):
    """Normal form of a crossing in the sector of group h (module docstring).

    Returns ``(NormalFormResult, split family, Phi in split coordinates)``; the result's scalars
    are those of the axial direction (computed on the split family), its tensors those of the
    whole kernel (closed form, when ``(g_h - 1) r`` is within the caps of
    :func:`nlpt.normal_form.normal_form`), ``multiplicity = (g_h - 1) r``, and ``equivariant``
    holds the coefficients T3, P, R with the closed-form axial scalars beside the split ones.
    """
    from .normal_form import K_MAX_CUBIC, K_MAX_QUADRATIC, normal_form

    pt = problem.at(x_c, lam_c)
    E = critical_eigenspace(problem, pt, h, zero_tol)
    sp = problem.split(h)
    xs = problem.split_coords(x_c, h)
    ts = problem.split_coords(tangent, h)
    Phi = problem.axial(h, E)
    nf = normal_form(sp, xs, lam_c, Phi.reshape((len(Phi),) + sp.shape), ts.reshape(sp.shape), **options)
    coef = equivariant_coefficients(problem, pt, h, E)
    g, r = int(problem.sizes[h]), E.shape[1]
    kdim = (g - 1) * r
    kq = options.get("k_max_quadratic", K_MAX_QUADRATIC)
    kc = options.get("k_max_cubic", K_MAX_CUBIC)
    nf.quadratic_tensor = nf.cubic_tensor = nf.quadratic_norm = nf.cubic_norm = None
    if 1 < kdim <= kq:
        nf.quadratic_tensor, nf.cubic_tensor = kernel_tensors(coef, cubic=kdim <= kc)
        nf.quadratic_norm = float(np.linalg.norm(nf.quadratic_tensor))
        nf.cubic_norm = None if nf.cubic_tensor is None else float(np.linalg.norm(nf.cubic_tensor))
        nf.tensors_message = ("quadratic and cubic tensors computed (closed form, S_g-equivariant)"
                              if nf.cubic_tensor is not None else
                              f"quadratic tensor computed (closed form); cubic tensor skipped (k = {kdim} > k_max_cubic = {kc})")
    elif kdim > kq:
        nf.tensors_message = (f"tensors not materialized (k = {kdim} > k_max_quadratic = {kq}); the S_g-equivariant "
                              "coefficients T3, P, R determine them (equivariant)")
    _finish_transverse(nf, problem, sp, h, g, r, coef)
    return nf, sp, Phi


def _finish_transverse(nf, problem, sp, h, g, r, coef):
    nf.multiplicity = (g - 1) * r
    nf.slope_multiplicity = g - 1
    nf.engine = "reduced"
    j = int(problem.groups[h][0])
    for red in nf.directions:
        red.label = f"axial: neuron {j} leaves group {h}" + (f" ({red.label})" if red.label != "phi" else "")
    eq = {"group": int(h), "group_size": g, "critical_dimension": r,
          "T3": coef["T3"].tolist(), "P": coef["P"].tolist(), "R": coef["R"].tolist()}
    if r == 1:
        gxx, gxxx = axial_scalars(coef)
        eq.update(kappa=float(coef["T3"][0, 0, 0]), g_xx_closed_form=gxx, g_xxx_closed_form=gxxx)
    nf.equivariant = eq
    nf.message = (f"{nf.multiplicity}-fold kernel (group {h} of size {g}, S_{g}-symmetric): scalars along the "
                  f"axial direction (neuron {j} leaves the group); " + nf.message)


def transverse_switch(sp: ReducedProblem, xs, lam_c: float, Phi, nf, **options) -> list:
    """Bifurcated branches of a sector crossing, followed on the split family."""
    from .normal_form import switch_branches

    return switch_branches(sp, xs, lam_c, Phi.reshape((len(Phi),) + sp.shape), nf, **options)
