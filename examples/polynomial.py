"""A two-parameter polynomial family with numpy callables: the tutorial's first example (docs/families.md).

    L(x, y; lam) = (1 - 2 lam) x^2 / 2 + 3 y^2 / 2 + eps x^3 / 6 + x^4 / 24 + b x^2 y / 2

with eps = 0.05, b = 0.5.  (x, y) = (0, 0) is critical for every lam.  Its Hessian there is
diag(1 - 2 lam, 3): the floor is 1, the x-mode softens at the rate -2, so lam*_pred = 1/2, and it
crosses zero exactly there (Morse index 0 -> 1).  At the crossing, along phi = (1, 0):
g_xx = D^3L[phi^3] = eps, g_xxx = D^4L[phi^4] - 3 <D^3L[phi, phi, .], H^+ D^3L[phi, phi, .]>
= 1 - 3 b^2 / 3 = 0.75, g_xmu = -2: transcritical, rho = |g_xx / g_xxx| = 0.0667.

Only the four required callables are given; the engine approximates the rest by finite
differences and says so (``family.derivatives`` of the result).

    nlpt threshold --family examples/polynomial.py:family
"""

from __future__ import annotations

import numpy as np

import nlpt

EPS, B = 0.05, 0.5


def loss(p, lam):
    x, y = p
    return float((1 - 2 * lam) * x * x / 2 + 3 * y * y / 2 + EPS * x ** 3 / 6 + x ** 4 / 24 + B * x * x * y / 2)


def grad(p, lam):
    x, y = p
    return np.array([(1 - 2 * lam) * x + EPS * x * x / 2 + x ** 3 / 6 + B * x * y, 3 * y + B * x * x / 2])


def hvp(p, lam, v):
    x, y = p
    H = np.array([[1 - 2 * lam + EPS * x + x * x / 2 + B * y, B * x], [B * x, 3.0]])
    return H @ v


def grad_lam(p, lam):
    return np.array([-2 * p[0], 0.0])


def family():
    return nlpt.Problem(np.zeros(2), loss=loss, grad=grad, hvp=hvp, grad_lam=grad_lam, name="polynomial")


if __name__ == "__main__":
    res = nlpt.analyze(family())
    print(res)
    print(res.threshold.message)
    print(res.normal_form.message)
