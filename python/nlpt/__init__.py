"""nlpt: companion package to *The Non-Linearity Perturbation Threshold* (arXiv 2604.01334).

A two-layer network ``f_lam(x; W) = (1/m) sum_j a_j s_lam(w_j . x)`` with the activation homotopy
``s_lam = (1 - lam) id + lam sigma`` and Tikhonov-regularized squared loss.  The package computes
the loss and its exact derivatives, the linear-endpoint invariants (kernel dimension (m-1)d,
regularization floor alpha), the softening rate lambda_1'(0), the continuation of the critical
branch, the measured and predicted threshold lam*, normal forms and Morse indices.
"""

from ._validate import NLPTInputError
from .activations import ACTIVATIONS, Activation, get_activation
from .data import DataFileError, default_data, load_data, make_a
from .linear import (
    LinearEndpoint,
    closed_form_spectrum,
    critical_point,
    kernel_basis,
    kernel_dim_theory,
    linear_endpoint,
)
from .model import Evaluation, Model
from .softening import SofteningResult, imperfection, predicted_threshold, softening_rate
from .problem import Problem, Softening
from .twolayer import ModelProblem
from .reduced import ReducedProblem
from .engine import select_problem
from .params import ContinuationPar
from .continuation import Branch, SpecialPoint, continue_branch
from .threshold import ThresholdResult, find_threshold
from .normal_form import NormalFormResult, normal_form, switch_branches
from .analysis import Analysis, analyze
from .sweep import SweepResult, width_sweep

__version__ = "0.1.0"

__all__ = [
    "NLPTInputError",
    "DataFileError",
    "Activation",
    "ACTIVATIONS",
    "get_activation",
    "default_data",
    "load_data",
    "make_a",
    "Model",
    "Evaluation",
    "LinearEndpoint",
    "linear_endpoint",
    "critical_point",
    "closed_form_spectrum",
    "kernel_basis",
    "kernel_dim_theory",
    "SofteningResult",
    "softening_rate",
    "predicted_threshold",
    "imperfection",
    "Problem",
    "Softening",
    "ModelProblem",
    "ReducedProblem",
    "select_problem",
    "ContinuationPar",
    "Branch",
    "SpecialPoint",
    "ThresholdResult",
    "continue_branch",
    "find_threshold",
    "NormalFormResult",
    "normal_form",
    "switch_branches",
    "Analysis",
    "analyze",
    "SweepResult",
    "width_sweep",
]
