"""Data sets, data files and second-layer weights."""

from __future__ import annotations

import numpy as np
import pytest

import nlpt
from nlpt.data import DataFileError


def test_default_data_is_the_seeded_teacher():
    """SPEC 1: X ~ N(0, I), beta ~ N(0, I), y = tanh(2 beta.x) + 0.1 eps, drawn in that order."""
    X, y = nlpt.default_data(n=50, d=4, seed=7)
    rng = np.random.default_rng(7)
    X2 = rng.standard_normal((50, 4))
    beta = rng.standard_normal(4)
    eps = rng.standard_normal(50)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_allclose(y, np.tanh(2 * X2 @ beta) + 0.1 * eps, rtol=0, atol=0)


def test_default_data_reproducible_and_seed_dependent():
    a = nlpt.default_data(seed=3)
    b = nlpt.default_data(seed=3)
    c = nlpt.default_data(seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_npz_and_csv_round_trip(tmp_path):
    X, y = nlpt.default_data(n=20, d=3, seed=1)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    X1, y1 = nlpt.load_data(tmp_path / "d.npz")
    np.testing.assert_array_equal(X1, X)
    np.testing.assert_array_equal(y1, y)
    np.savetxt(tmp_path / "d.csv", np.column_stack([X, y]), delimiter=",", header="x1,x2,x3,y", comments="")
    X2, y2 = nlpt.load_data(tmp_path / "d.csv")
    np.testing.assert_allclose(X2, X, rtol=1e-15)
    np.testing.assert_allclose(y2, y, rtol=1e-15)


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("missing.npz", None, "no such file"),
        ("d.txt", "1,2\n", ".npz or .csv"),
        ("bad.npz", b"not a zip", "readable .npz"),
        ("bad.csv", "a,b\nc,d\ne,f\n", "numeric .csv"),
        ("one.csv", "1\n2\n", "at least 2 columns"),
        ("nan.csv", "1,2\nnan,3\n", "finite"),
    ],
)
def test_unreadable_data_files(tmp_path, name, content, fragment):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif content is not None:
        p.write_text(content)
    with pytest.raises(DataFileError) as err:
        nlpt.load_data(p)
    assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_npz_without_y(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.ones((3, 2)))
    with pytest.raises(DataFileError, match="'X' and 'y'"):
        nlpt.load_data(tmp_path / "d.npz")


def test_make_a(tmp_path):
    np.testing.assert_array_equal(nlpt.make_a("uniform", 4), np.ones(4))
    r1, r2 = nlpt.make_a("random", 5, seed=2), nlpt.make_a("random", 5, seed=2)
    np.testing.assert_array_equal(r1, r2)
    assert np.all((r1 >= 0.5) & (r1 <= 1.5))
    np.savetxt(tmp_path / "a.txt", [1.0, -2.0, 0.5])
    np.testing.assert_array_equal(nlpt.make_a(tmp_path / "a.txt", 3), [1.0, -2.0, 0.5])
    with pytest.raises(nlpt.NLPTInputError, match=r"^a: expected shape \(4,\)"):
        nlpt.make_a(tmp_path / "a.txt", 4)
    with pytest.raises(DataFileError, match="^a:"):
        nlpt.make_a("nonexistent-file.txt", 3)
