"""Continuation parameters as one object (SPEC 4; BifurcationKit's ``ContinuationPar``).

:class:`ContinuationPar` holds every step, tolerance and limit of :func:`nlpt.continue_branch`
and of the event refinement (:mod:`nlpt.events`), with documented defaults.  Keyword arguments
of :func:`nlpt.continue_branch`, :func:`nlpt.find_threshold` and :func:`nlpt.analyze` with these
names override the defaults; :meth:`ContinuationPar.validated` checks them once, at the boundary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ._validate import NLPTInputError, as_float, as_int

__all__ = ["ContinuationPar", "continuation_par"]


@dataclass(frozen=True)
class ContinuationPar:
    """Steps, tolerances and limits of the continuation (defaults in brackets).

    Steps
        ``ds0`` first step in lam [min(0.01, ds_max), then capped by ``first_step_fraction``];
        ``ds_min`` smallest arclength step, below it the step collapses [1e-7];
        ``ds_max`` largest step in lam per point [0.05]; ``grow`` growth factor after an easy
        convergence (at most 3 Newton iterations) [1.5]; ``dW_rtol`` cap on the displacement in
        x per step, relative to ``max(|x|, 1)`` [0.05]; ``first_step_fraction``: while lam is
        below twice the predicted threshold, steps in lam are at most this fraction of it, so
        that a crossing near the prediction is approached in several points [0.2].
    Corrector
        ``newton_tol`` on ``|grad|`` [None: 1e-10 times the family's gradient scale
        :func:`nlpt.continuation.grad_scale`, at least its round-off level]; ``newton_maxiter`` [15].
    Guards
        ``jump_rtol``: a corrected point farther than ``jump_rtol * h`` from its prediction is
        rejected [0.5]; ``eig_rtol``, ``eig_atol``: the lowest eigenvalue must lie within
        ``eig_rtol |predicted change| + eig_atol * floor`` of its secant prediction [0.5, 0.05];
        ``dip_rtol``: fold-pair guard below ``dip_rtol * floor`` [0.25; 0 switches it off].
    Ends
        ``max_steps`` [5000]; ``max_folds`` folds followed before stopping ``after_fold``
        points later [1, 4; None follows every fold].
    Spectra
        ``n_eigs`` own eigenvalues tracked per point [None: the family's default];
        ``morse_tol`` [None: the family's default, e.g. min(1e-12, 1e-7 alpha) for the model].
    Events
        ``tol`` in lam of every refined special point [1e-10]; ``zero_rtol``: eigenvalues with
        ``|lambda| <= zero_rtol * floor + |lambda_c|`` form the near-zero cluster [1e-3];
        ``max_subdivisions``: how often an interval whose Morse change disagrees with the
        cluster at its refined crossing is split before the disagreement is reported [12].
    """

    ds0: float | None = None
    ds_min: float = 1e-7
    ds_max: float = 0.05
    grow: float = 1.5
    dW_rtol: float = 0.05
    first_step_fraction: float = 0.2
    newton_tol: float | None = None
    newton_maxiter: int = 15
    jump_rtol: float = 0.5
    eig_rtol: float = 0.5
    eig_atol: float = 0.05
    dip_rtol: float = 0.25
    max_steps: int = 5000
    max_folds: int | None = 1
    after_fold: int = 4
    n_eigs: int | None = None
    morse_tol: float | None = None
    tol: float = 1e-10
    zero_rtol: float = 1e-3
    max_subdivisions: int = 12

    def validated(self) -> "ContinuationPar":
        """A copy with every field checked (NLPTInputError naming the field) and ``ds0`` set."""
        pos = lambda k: as_float(k, getattr(self, k), minimum=0.0, strict=True)  # noqa: E731
        nonneg = lambda k: as_float(k, getattr(self, k), minimum=0.0)  # noqa: E731
        vals = {k: pos(k) for k in ("ds_min", "ds_max", "dW_rtol", "first_step_fraction", "jump_rtol",
                                     "eig_atol", "tol")}
        vals.update({k: nonneg(k) for k in ("eig_rtol", "dip_rtol", "zero_rtol")})
        vals["grow"] = as_float("grow", self.grow, minimum=1.0)
        for k in ("newton_maxiter", "max_steps", "after_fold"):
            vals[k] = as_int(k, getattr(self, k))
        vals["max_subdivisions"] = as_int("max_subdivisions", self.max_subdivisions, minimum=0)
        vals["max_folds"] = None if self.max_folds is None else as_int("max_folds", self.max_folds)
        vals["n_eigs"] = None if self.n_eigs is None else as_int("n_eigs", self.n_eigs)
        vals["newton_tol"] = None if self.newton_tol is None else pos("newton_tol")
        vals["morse_tol"] = None if self.morse_tol is None else nonneg("morse_tol")
        ds0 = min(0.01, vals["ds_max"]) if self.ds0 is None else pos("ds0")
        if not vals["ds_min"] <= ds0 <= vals["ds_max"]:
            raise NLPTInputError(
                f"ds0: expected ds_min <= ds0 <= ds_max, got ds_min={vals['ds_min']}, ds0={ds0}, ds_max={vals['ds_max']}")
        return replace(self, ds0=ds0, **vals)

    def to_dict(self) -> dict:
        return asdict(self)


_FIELDS = {f.name for f in fields(ContinuationPar)}


def continuation_par(par: ContinuationPar | None = None, **options) -> ContinuationPar:
    """``par`` (default :class:`ContinuationPar`) with ``options`` applied, validated.

    Unknown option names are an error listing the known ones.
    """
    if par is not None and not isinstance(par, ContinuationPar):
        raise NLPTInputError(f"par: expected an nlpt.ContinuationPar, got {type(par).__name__}")
    unknown = sorted(set(options) - _FIELDS)
    if unknown:
        raise NLPTInputError(
            f"continuation_options: expected keywords of ContinuationPar ({', '.join(sorted(_FIELDS))}), got {unknown}")
    return replace(par or ContinuationPar(), **options).validated()
