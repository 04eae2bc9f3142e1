"""The README's promises: its Python example runs, its test command is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_verify_says_not_checked_without_a_toolchain(capsys, monkeypatch, tmp_path):
    """`nlpt verify` never claims the formal layer was checked where no Lean is installed."""
    from nlpt import formal
    from nlpt.cli import main

    monkeypatch.setenv("NLPT_LEAN_HOME", str(tmp_path))
    monkeypatch.setattr(formal.shutil, "which", lambda _name: None)
    assert main(["verify"]) == 3
    out = capsys.readouterr().out
    assert "not checked here" in out and "nlpt verify --install" in out
