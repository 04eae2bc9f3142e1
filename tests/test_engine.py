"""Which engine runs, and the full engine's limits (SPEC 7, issue of scale)."""

from __future__ import annotations

import numpy as np
import pytest

import nlpt
from nlpt.cli import main
from nlpt.spectral import DENSE_MAX

X0, Y0 = nlpt.default_data()


def test_full_engine_above_dense_max_forms_no_dense_hessian(no_dense_hessian):
    """Random a at m d > DENSE_MAX: continuation, refinement and the threshold analysis run on
    products only (forming a dense Hessian raises here)."""
    m = DENSE_MAX // 3 + 10
    model = nlpt.Model(X0, Y0, m, a=nlpt.make_a("random", m, seed=2), alpha=1e-5)
    res = nlpt.analyze(model, lam_max=0.01)
    assert res.engine == "full" and model.size > DENSE_MAX
    br = res.threshold.branch
    assert br.completed and len(br) >= 2
    assert np.all(br.grad_norms <= res.threshold.newton_tol)


def test_refusal_is_one_line_and_exit_2(monkeypatch, capsys):
    """nlpt threshold on a case the full engine cannot hold ends with exit 2 and one line naming m."""
    import nlpt.engine as eng

    monkeypatch.setattr(eng, "memory_available", lambda: 2.0**30)
    code = main(["threshold", "--m", "100000", "--a", "random", "--alpha", "1e-5", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "m: the full engine needs about" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_reduced_engine_at_a_million_neurons_matches_five():
    """The Done-when of the reduction: m = 10^6, alpha = 5e-11 gives the lam* of m = 5, alpha = 1e-5
    (alpha m = 5e-5) to 1e-10, in the reduced engine's k d = 3 unknowns."""
    big = nlpt.find_threshold(nlpt.Model(X0, Y0, 10**6, alpha=5e-11))
    small = nlpt.find_threshold(nlpt.Model(X0, Y0, 5, alpha=1e-5))
    assert big.engine == small.engine == "reduced"
    assert abs(big.lam_star_measured - small.lam_star_measured) <= 1e-10
    assert big.multiplicity == 10**6 - 1 and big.morse_after == 10**6 - 1
    with pytest.raises(nlpt.NLPTInputError, match="critical_vectors: expanding"):
        big.critical_vectors
