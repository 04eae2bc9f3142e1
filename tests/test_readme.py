"""The README's promises: its Python example runs, its test command is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _blocks(lang: str) -> list:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_python_example_runs(capsys):
    (code,) = _blocks("python")
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.split()
    # the example prints the kernel dimension twice: numeric and proven (m-1) d = 9
    assert out[:2] == ["9", "9"]


def test_ci_runs_the_readme_test_command():
    cmds = [line.strip() for block in _blocks("bash") for line in block.splitlines() if "pytest" in line]
    assert cmds, "README names a test command"
    ci = (ROOT / ".ci" / "run").read_text()
    install, test = (part.strip() for part in cmds[0].split("&&"))
    assert install.replace("pip install", "python -m pip install --quiet") in ci
    assert test in ci


def test_verify_reports_not_built_without_lake(capsys, monkeypatch):
    """`nlpt verify` never claims the formal layer was checked where lake is absent."""
    import shutil

    from nlpt.cli import main

    if shutil.which("lake"):
        pytest.skip("lake is installed here; tests/test_formal.py builds the formal layer")
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "not built here" in out and "lake not found" in out
