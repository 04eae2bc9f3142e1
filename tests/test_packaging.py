"""Packaging promises: the distribution name in every install hint, floors that .ci/run tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = (ROOT / "pyproject.toml").read_text()


def _declared_floors() -> dict:
    """``{package: floor}`` of every ``name>=version`` requirement in pyproject.toml."""
    return {name.lower(): ver for name, ver in re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)', PYPROJECT)}


def test_distribution_name_and_command():
    assert re.search(r'^name = "nlpt-threshold"$', PYPROJECT, flags=re.M)
    assert 'nlpt = "nlpt.cli:main"' in PYPROJECT


def test_every_install_hint_names_the_distribution():
    sources = list((ROOT / "python" / "nlpt").glob("*.py")) + list((ROOT / "benchmarks").glob("*.py"))
    sources += [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    hints = []
    for path in sources:
        for line in path.read_text().splitlines():
            for hint in re.findall(r"pip install[^`\n)]*", line):
                hints.append((path.name, hint))
    assert hints
    for name, hint in hints:
        target = hint.split("pip install", 1)[1]
        # a local path (".", ".[plot]", -e .) or the distribution; never the unrelated PyPI 'nlpt'
        assert "nlpt-threshold" in target or re.search(r"""(^|\s)(-e\s+)?['"]?\.""", target), (name, hint)
        assert not re.search(r"""['"\s]nlpt\[""", " " + target), (name, hint)


def test_floor_pins_equal_the_declared_floors():
    pins = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, ver = line.split("==")
            pins[name.lower()] = ver
    floors = _declared_floors()
    declared = {k: v for k, v in floors.items() if k not in ("setuptools",)}
    for name, floor in declared.items():
        if name in ("jax", "torch"):  # the benchmark and autodiff extras are not part of the floor step
            continue
        assert name in pins, f"{name}>={floor} is declared but .ci/floors.txt does not test it"
        pin = tuple(int(x) for x in pins[name].split("."))
        want = tuple(int(x) for x in floor.split("."))
        assert pin[: len(want)] == want and all(x == 0 for x in pin[len(want):]), (name, pins[name], floor)


def test_requires_python_is_what_is_tested():
    lo, hi = re.search(r'requires-python = ">=3\.(\d+),<3\.(\d+)"', PYPROJECT).groups()
    tested = {int(v) for v in re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', PYPROJECT)}
    assert tested == set(range(int(lo), int(hi)))
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"(3, {lo})" in ci  # the floor step runs on the oldest supported Python


def test_license_is_an_spdx_expression():
    assert re.search(r'^license = "MIT"$', PYPROJECT, flags=re.M)
    assert 'license-files = ["LICENSE"]' in PYPROJECT
