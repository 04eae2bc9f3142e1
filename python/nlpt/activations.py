"""Activations sigma and the homotopy s_lam (SPEC section 1).

Each activation is smooth with ``sigma(0) = 0`` and ``sigma'(0) = 1`` and provides its derivatives
of order 0..4 in closed form.  The homotopy is

    s_lam(z) = (1 - lam) z + lam sigma(z),   lam in [0, 1],

so ``s_lam^(k) = (1 - lam) id^(k) + lam sigma^(k)`` with ``id' = 1`` and ``id^(k) = 0`` for k >= 2,
and ``d/dlam s_lam^(k) = sigma^(k) - id^(k)``.

Built in:

* ``tanh`` (odd), ``sin`` (odd), ``erf`` = ``erf(sqrt(pi) z / 2)`` (odd, scaled so sigma'(0) = 1),
* ``silu2`` = ``2 z / (1 + exp(-z))`` (not odd; sigma''(0) = 1), which exercises the
  transcritical case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.special import erf as _erf
from scipy.special import expit as _expit

from ._validate import NLPTInputError, as_int

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "homotopy_derivatives", "lam_derivatives"]

MAX_ORDER = 4


@dataclass(frozen=True)
class Activation:
    """A smooth activation with closed-form derivatives.

    ``derivs(z, order)`` returns the list ``[sigma(z), sigma'(z), ..., sigma^(order)(z)]``.
    ``odd`` records whether sigma(-z) = -sigma(z); ``sigma2_at_0`` is sigma''(0).
    """

    name: str
    derivs_fn: Callable[[np.ndarray, int], list]
    odd: bool
    sigma2_at_0: float
    formula: str

    def derivs(self, z, order: int = MAX_ORDER) -> list:
        order = as_int("order", order, minimum=0)
        if order > MAX_ORDER:
            raise NLPTInputError(f"order: expected an integer in [0, {MAX_ORDER}], got {order}")
        return self.derivs_fn(np.asarray(z, dtype=float), order)

    def __call__(self, z) -> np.ndarray:
        return self.derivs(z, 0)[0]

    def __repr__(self) -> str:
        return f"Activation({self.name!r}: {self.formula})"


def _tanh(z: np.ndarray, order: int) -> list:
    t = np.tanh(z)
    out = [t]
    if order >= 1:
        t1 = 1.0 - t * t
        out.append(t1)
    if order >= 2:
        out.append(-2.0 * t * t1)
    if order >= 3:
        out.append(t1 * (6.0 * t * t - 2.0))
    if order >= 4:
        out.append(8.0 * t * t1 * (2.0 - 3.0 * t * t))
    return out


def _sin(z: np.ndarray, order: int) -> list:
    s, c = np.sin(z), np.cos(z)
    return [s, c, -s, -c, s][: order + 1]


_K_ERF = np.pi / 2.0


def _erf_scaled(z: np.ndarray, order: int) -> list:
    # sigma = erf(sqrt(pi) z / 2); sigma' = g = exp(-k z^2 / 2) with k = pi/2, g' = -k z g.
    out = [_erf(np.sqrt(np.pi) * z / 2.0)]
    if order >= 1:
        g = np.exp(-_K_ERF * z * z / 2.0)
        out.append(g)
    if order >= 2:
        out.append(-_K_ERF * z * g)
    if order >= 3:
        out.append(g * (_K_ERF**2 * z * z - _K_ERF))
    if order >= 4:
        out.append(g * (3.0 * _K_ERF**2 * z - _K_ERF**3 * z**3))
    return out


def _silu2(z: np.ndarray, order: int) -> list:
    # sigma = 2 z s(z), s the logistic; (z s)^(k) = k s^(k-1) + z s^(k).
    s = _expit(z)
    sd = [s]
    if order >= 1:
        s1 = s * (1.0 - s)
        sd.append(s1)
    if order >= 2:
        sd.append(s1 * (1.0 - 2.0 * s))
    if order >= 3:
        sd.append(s1 * (1.0 - 6.0 * s + 6.0 * s * s))
    if order >= 4:
        sd.append(s1 * (1.0 - 2.0 * s) * (1.0 - 12.0 * s + 12.0 * s * s))
    out = [2.0 * z * s]
    for k in range(1, order + 1):
        out.append(2.0 * (k * sd[k - 1] + z * sd[k]))
    return out


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", _tanh, True, 0.0, "tanh(z)"),
    "sin": Activation("sin", _sin, True, 0.0, "sin(z)"),
    "erf": Activation("erf", _erf_scaled, True, 0.0, "erf(sqrt(pi) z / 2)"),
    "silu2": Activation("silu2", _silu2, False, 1.0, "2 z / (1 + exp(-z))"),
}


def get_activation(activation) -> Activation:
    """Look an activation up by name (or pass an :class:`Activation` through)."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    raise NLPTInputError(
        f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}"
    )


def homotopy_derivatives(sigma_derivs: Sequence[np.ndarray], z: np.ndarray, lam: float) -> list:
    """``[s_lam^(k)(z) for k = 0..len-1]`` from sigma's derivatives at z (SPEC 1)."""
    out = []
    for k, sk in enumerate(sigma_derivs):
        ident = z if k == 0 else (1.0 if k == 1 else 0.0)
        out.append((1.0 - lam) * ident + lam * sk)
    return out


def lam_derivatives(sigma_derivs: Sequence[np.ndarray], z: np.ndarray) -> list:
    """``[d/dlam s_lam^(k)(z)] = [sigma^(k)(z) - id^(k)(z)]`` (independent of lam)."""
    out = []
    for k, sk in enumerate(sigma_derivs):
        ident = z if k == 0 else (1.0 if k == 1 else 0.0)
        out.append(sk - ident)
    return out
