"""One case end to end: threshold, normal form and branch switching (SPEC 4-5, 7, 8).

:func:`analyze` takes a :class:`nlpt.Model` (run on the engine ``engine`` picks:
:mod:`nlpt.engine`) or any :class:`nlpt.Problem`, and runs :func:`nlpt.find_threshold`; if the
lowest Hessian eigenvalue crosses zero it computes the Lyapunov–Schmidt normal form at the
crossing and follows the bifurcated branches a little way:

* a cluster in the family's own coordinates: :func:`nlpt.normal_form.normal_form` (``Phi`` =
  the critical eigenvectors, with the branch tangent) and
  :func:`nlpt.normal_form.switch_branches`;
* a cluster in a transverse sector of the group-reduced model (the uniform-a threshold):
  :func:`nlpt.reduced.transverse_normal_form` and :func:`nlpt.reduced.transverse_switch`
  (axial scalars and branches on the family with one neuron split off, tensors in closed form).

:meth:`Analysis.to_dict` is the one JSON object that ``nlpt threshold --json`` prints and that
the width sweep stores per case; ``engine`` says which implementation produced it.

**Folds.**  When the threshold is a fold (status ``"fold"``: non-uniform a, an imperfect
bifurcation), the Lyapunov–Schmidt normal form of a crossing does not apply: ``normal_form`` is
None, ``normal_form_error`` says "fold (saddle-node): normal form of a crossing not applicable",
no branches are switched, and the saddle-node coefficients of the reduced equation
``g(xi, mu) = g_mu mu + g_xx xi^2 / 2 + ...`` (xi along the kernel vector phi, mu = lam - lam_fold)
are reported instead (``saddle_node``):
``g_mu = <phi, d/dlam grad L>`` (nonzero: the fold is a genuine turning point, the bordered
Jacobian is regular) and ``g_xx = D^3L[phi, phi, phi]`` (nonzero: quadratic fold).  Critical points
exist near the fold only where ``-g_mu mu / g_xx >= 0``, i.e. for ``lam < lam_fold`` when
``g_mu g_xx > 0`` (the branch turns back) and for ``lam > lam_fold`` otherwise; locally
``lam - lam_fold ~ -(g_xx / (2 g_mu)) xi^2``.  Both are one O(n m d) product each.

**Morse index across a crossing.**  If the k eigenvalues of the near-zero cluster cross zero
transversally in the same direction — the k x k slope matrix
``S = Phi^T (dH/dlam) Phi + D^3L[Phi, Phi, t]`` is definite — and no other eigenvalue is near zero,
then by continuity of the spectrum (first-order perturbation of the cluster by ``mu S``) the Morse
index changes by exactly k: ``morse_after - morse_before = k`` when S is negative definite.  The
``handle`` entry of the JSON object records this: the index change, the multiplicity and whether
the slope matrix is definite (``transversal``); a change different from k signals that the
cluster was not resolved (a nearby eigenvalue, a truncated cluster or a non-transversal crossing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import NLPTInputError, as_int
from .corrector import newton_at_lam
from .engine import select_problem
from .normal_form import NormalFormResult, normal_form, switch_branches
from .problem import Problem
from .threshold import ThresholdResult, find_threshold

__all__ = ["Analysis", "analyze", "saddle_node"]

FOLD_NOTE = "fold (saddle-node): normal form of a crossing not applicable"


@dataclass
class Analysis:
    """Threshold, normal form and bifurcated branches of one family.

    ``normal_form`` is None and ``branches`` empty unless ``threshold.status == "crossing"``;
    ``normal_form_error`` holds the reason when the normal form could not be computed (or does not
    apply: a fold).  ``saddle_node`` holds ``g_mu``, ``g_xx`` and the side of the fold on which
    the branch lives when the threshold is a fold (module docstring).
    """

    threshold: ThresholdResult
    normal_form: NormalFormResult | None
    branches: list = field(default_factory=list)
    normal_form_error: str | None = None
    local_morse: tuple | None = None
    saddle_node: dict | None = None
    family: dict | None = None

    @property
    def status(self) -> str:
        return self.threshold.status

    @property
    def engine(self) -> str:
        return self.threshold.engine

    def handle(self) -> dict | None:
        """The Morse-index change at the crossing against the multiplicity (module docstring)."""
        t = self.threshold
        if t.status not in ("crossing", "fold") or t.morse_before is None or t.morse_after is None:
            return None
        out = {"index_before": t.morse_before, "index_after": t.morse_after,
               "index_change": t.morse_after - t.morse_before, "multiplicity": t.multiplicity,
               "transversal": None}
        if self.saddle_node is not None:  # a fold is transversal when g_mu != 0 and g_xx != 0
            out["transversal"] = bool(self.saddle_node["nondegenerate"])
        if self.normal_form is not None:
            s = self.normal_form.slope_eigenvalues
            out["transversal"] = bool(np.all(s < 0) or np.all(s > 0))
        if self.local_morse is not None:
            out["index_before_local"], out["index_after_local"], out["delta"] = self.local_morse
            if None not in self.local_morse[:2]:
                out["index_change_local"] = self.local_morse[1] - self.local_morse[0]
        return out

    def to_dict(self, tensors: bool = True) -> dict:
        """One JSON-able object: the threshold fields, ``normal_form``, ``bifurcated_branches``, ``handle``.

        ``tensors=False`` leaves out the reduced quadratic and cubic tensors (k^3 and k^4 numbers
        for a k-fold kernel)."""
        out = self.threshold.to_dict()
        out["family"] = self.family
        out["normal_form"] = None if self.normal_form is None else self.normal_form.to_dict(tensors=tensors)
        out["normal_form_error"] = self.normal_form_error
        out["saddle_node"] = self.saddle_node
        out["bifurcated_branches"] = [b.to_dict() for b in self.branches]
        out["handle"] = self.handle()
        return out

    def __repr__(self) -> str:
        t = self.threshold
        nf = self.normal_form
        desc = "none" if nf is None else f"{nf.classification}, rho={nf.rho:.3g}"
        if self.saddle_node is not None:
            desc = f"saddle-node, g_mu={self.saddle_node['g_mu']:.3g}, g_xx={self.saddle_node['g_xx']:.3g}"
        return (f"Analysis(engine={t.engine!r}, status={t.status!r}, lam_star_pred={t.lam_star_pred}, "
                f"lam_star_measured={t.lam_star_measured}, multiplicity={t.multiplicity}, "
                f"morse={t.morse_before}->{t.morse_after}, normal_form={desc}, branches={len(self.branches)})")


def analyze(model, lam_max=1.0, *, tol=1e-10, switch: bool = True, n_steps: int = 3,
            n_directions: int = 1, dlam=None, normal_form_options: dict | None = None, engine: str = "auto",
            W0=None, progress=None, **threshold_options) -> Analysis:
    """Threshold (SPEC 4), normal form and branch switching (SPEC 5) of one family.

    Parameters
    ----------
    model : Model or Problem
    lam_max : float in (0, 1]
        End of the continuation.
    tol : float
        Tolerance in lam of the refined special points (:func:`nlpt.find_threshold`).
    switch : bool
        Follow the bifurcated branches (:func:`nlpt.normal_form.switch_branches`).
    n_steps, n_directions, dlam
        Passed to :func:`switch_branches`.
    normal_form_options : dict, optional
        Keyword arguments of :func:`nlpt.normal_form.normal_form`.
    engine : "auto" | "reduced" | "full"
        For a Model: which implementation (:mod:`nlpt.engine`).
    progress : callable, optional
        Called with a dict after every accepted continuation point (:func:`nlpt.continue_branch`).
    **threshold_options
        Further keyword arguments of :func:`find_threshold` (:class:`nlpt.ContinuationPar` fields).

    Returns
    -------
    Analysis
        A failure of the normal form or of branch switching is recorded (``normal_form_error``,
        each branch's ``message``), never raised; bad input raises ``NLPTInputError``.
    """
    n_steps = as_int("n_steps", n_steps)
    n_directions = as_int("n_directions", n_directions)
    if normal_form_options is not None and not isinstance(normal_form_options, dict):
        raise NLPTInputError(f"normal_form_options: expected a dict, got {type(normal_form_options).__name__}")
    problem = select_problem(model, engine, W0=W0)
    thr = find_threshold(problem, lam_max, tol=tol, progress=progress, **threshold_options)
    # problem.describe() is taken last: its derivative report holds the error estimates of every
    # finite-difference fallback the analysis used, the normal form's included
    if thr.status == "fold" and thr.x_c is not None:
        sn = saddle_node(problem, thr)
        return Analysis(thr, None, [], normal_form_error=FOLD_NOTE, saddle_node=sn, family=problem.describe())
    if thr.status != "crossing" or thr.x_c is None:
        return Analysis(thr, None, [], family=problem.describe())
    sw = dict(dlam=dlam, n_steps=n_steps, n_directions=n_directions) if switch else None
    try:
        nf, branches = _local_analysis(problem, thr, normal_form_options or {}, sw)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        if isinstance(exc, NLPTInputError) and normal_form_options:
            raise
        return Analysis(thr, None, [], normal_form_error=f"normal form failed: {exc}", family=problem.describe())
    local = _local_morse(problem, thr, nf)
    return Analysis(thr, nf, branches, local_morse=local, family=problem.describe())


def _local_analysis(problem: Problem, thr: ThresholdResult, nf_options: dict, sw):
    """(normal form, bifurcated branches) at the crossing, on the family where its kernel lives."""
    where = thr.critical_sector
    if where == "mixed":
        raise ValueError("the near-zero cluster spans the family's own coordinates and a transverse sector "
                         "(or several sectors); the normal form of such a coincidence is not computed")
    if where == "own":
        nf = normal_form(problem, problem.native(thr.x_c), thr.lam_c, thr.Phi_x.reshape((-1,) + tuple(problem.shape)),
                         problem.native(thr.tangent_x), **nf_options)
        branches = [] if sw is None else switch_branches(problem, problem.native(thr.x_c), thr.lam_c,
                                                         nf.Phi_x.reshape((-1,) + tuple(problem.shape)), nf, **sw)
        return nf, branches
    from .reduced import transverse_normal_form, transverse_switch

    h = int(where.split()[-1])
    nf, sp, Phi = transverse_normal_form(problem, thr.x_c, thr.lam_c, h, thr.tangent_x, thr.zero_tol, **nf_options)
    branches = [] if sw is None else transverse_switch(sp, problem.split_coords(thr.x_c, h), thr.lam_c, Phi, nf, **sw)
    return nf, branches


def _local_morse(problem: Problem, thr: ThresholdResult, nf: NormalFormResult):
    """Morse indices of the full Hessian on the followed branch at lam_c -+ delta (module docstring)."""
    lam_c = thr.lam_c
    delta = max(min(0.01 * lam_c, 1e-3), 1e-9)
    smin = float(np.min(np.abs(nf.slope_eigenvalues)))
    tol = 0.1 * delta * smin
    k = max(problem.default_n_eigs(), 1)
    out = []
    for sgn in (-1.0, 1.0):
        lam = lam_c + sgn * delta
        if not 0.0 <= lam <= 1.0:
            out.append(None)
            continue
        c = newton_at_lam(problem, thr.x_c + sgn * delta * thr.tangent_x, lam, 1e-12 * max(1.0, _gscale(problem)), 30)
        if not c.converged:
            out.append(None)
            continue
        out.append(problem.spectrum(c.pt, k, tol).morse)
    return out[0], out[1], delta


def _gscale(problem):
    from .corrector import grad_scale

    return grad_scale(problem)


def saddle_node(model, thr: ThresholdResult) -> dict:
    """Saddle-node coefficients at a fold (module docstring): ``g_mu = <phi, d/dlam grad L>``,
    ``g_xx = D^3L[phi, phi, phi]`` at ``(x_c, lam_c)``, phi the lowest critical vector, oriented
    so that ``g_mu >= 0`` (both are odd in phi; an eigensolver's sign is arbitrary).

    ``nondegenerate`` is True when both are nonzero against their scales (``|d/dlam grad|`` and
    ``||D^3L[phi, phi, .]||``, relative 1e-8); ``branch_side`` is ``"lam < lam_fold"`` when
    ``g_mu g_xx > 0`` (solutions of ``g_mu mu + g_xx xi^2 / 2 = 0`` need ``mu <= 0``), else
    ``"lam > lam_fold"``; ``curvature = -g_xx / (2 g_mu)`` gives ``lam - lam_fold ~ curvature xi^2``.
    """
    problem = thr.problem if thr.problem is not None else select_problem(model)
    phi = thr.Phi_x[0]
    pt = problem.at(thr.x_c, thr.lam_c)
    gl = pt.grad_lam()
    g_mu = float(phi @ gl)
    d3v = pt.d3_vec(phi, phi)
    g_xx = float(d3v @ phi)
    if g_mu < 0 or (g_mu == 0 and g_xx < 0):  # phi -> -phi flips both: orient phi so that g_mu >= 0
        g_mu, g_xx = -g_mu, -g_xx
    nondeg = abs(g_mu) > 1e-8 * float(np.linalg.norm(gl)) and abs(g_xx) > 1e-8 * float(np.linalg.norm(d3v))
    return {
        "lam_fold": float(thr.lam_c),
        "g_mu": g_mu,
        "g_xx": g_xx,
        "curvature": -g_xx / (2.0 * g_mu) if g_mu != 0 else None,
        "branch_side": "lam < lam_fold" if g_mu * g_xx > 0 else "lam > lam_fold",
        "nondegenerate": bool(nondeg),
    }
