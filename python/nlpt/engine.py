"""Which implementation of the family a computation runs on (SPEC 7, 8).

* ``"full"`` -- :class:`nlpt.twolayer.ModelProblem`, the model in its m d coordinates;
* ``"reduced"`` -- :class:`nlpt.reduced.ReducedProblem`, the model on the subspace where rows
  are equal within each group of equal second-layer weights (k d coordinates, k the number of
  distinct values of a), with the full Hessian's other eigenvalues in transverse sectors;
* ``"auto"`` (default) -- reduced where a has a repeated value, the reduced Hessian is small
  enough to handle densely (k d <= DENSE_MAX) and the starting point lies in the reduced
  subspace; full otherwise.

A :class:`nlpt.Problem` passed in is used as it is.  Before any work, the full engine's memory
estimate (:meth:`nlpt.twolayer.ModelProblem.memory_estimate`) is held against the memory
available, and a case that does not fit is refused with a message saying what to do instead.
"""

from __future__ import annotations

import numpy as np

from ._validate import NLPTInputError
from .model import Model, check_model
from .problem import DENSE_MAX, Problem
from .reduced import ReducedProblem, in_group_subspace
from .twolayer import ModelProblem, max_group_size, memory_available

__all__ = ["ENGINES", "select_problem", "auto_engine"]

ENGINES = ("auto", "reduced", "full")

#: Fraction of the available memory a case may plan to use.
MEMORY_FRACTION = 0.8


def auto_engine(model: Model, W0=None) -> str:
    """``"reduced"`` or ``"full"`` by the rule of the module docstring."""
    _, counts = np.unique(model.a, return_counts=True)
    if counts.max() < 2 or len(counts) * model.d > DENSE_MAX:
        return "full"
    if W0 is not None and not in_group_subspace(model, model.check_W(W0, "W0")):
        return "full"
    return "reduced"


def _check_alpha(model: Model) -> None:
    if model.alpha <= 0:
        raise NLPTInputError(
            f"model.alpha: expected alpha > 0 (at alpha = 0 the Hessian at (W*, 0) is singular and the "
            f"branch is not locally unique), got {model.alpha}")


def _check_memory(problem: ModelProblem) -> None:
    need = problem.memory_estimate(problem.default_n_eigs())
    have = memory_available()
    if need > MEMORY_FRACTION * have:
        mdl = problem.model
        hint = ("; a has repeated values, so --engine reduced (engine='reduced') needs memory independent of m"
                if max_group_size(mdl.a) >= 2 else "; try a smaller m, n or d")
        raise NLPTInputError(
            f"m: the full engine needs about {need / 2**30:.1f} GiB for m = {mdl.m}, d = {mdl.d}, n = {mdl.n} "
            f"(P = {problem.size} unknowns), more than {MEMORY_FRACTION:.0%} of the {have / 2**30:.1f} GiB "
            f"available{hint}")


def select_problem(obj, engine: str = "auto", W0=None) -> Problem:
    """The :class:`nlpt.Problem` a computation on ``obj`` (a Model or a Problem) runs on."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise NLPTInputError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    if isinstance(obj, Problem):
        if W0 is not None:
            raise NLPTInputError("W0: expected None for a Problem (its critical point x0 is given at construction)")
        if engine != "auto" and engine != obj.engine:
            raise NLPTInputError(f"engine: expected 'auto' or {obj.engine!r} for this problem, got {engine!r}")
        return obj
    model = check_model(obj)
    _check_alpha(model)
    if engine == "auto":
        engine = auto_engine(model, W0)
    if engine == "reduced":
        return ReducedProblem(model, W0=W0)
    problem = ModelProblem(model, W0=W0)
    _check_memory(problem)
    return problem


def engine_of(obj) -> str:
    """The engine name of a Problem, or the one ``"auto"`` picks for a Model."""
    if isinstance(obj, Problem):
        return obj.engine
    return auto_engine(check_model(obj))
