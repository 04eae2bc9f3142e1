"""Families defined in a user's Python file: ``nlpt threshold --family FILE.py:FUNCTION``.

:func:`load_family` imports ``FILE.py`` as a module of its own (the file's folder is not put on
``sys.path``), calls ``FUNCTION()`` with no arguments and checks that it returns an
:class:`nlpt.Problem`.  Every failure -- no such file, not a ``.py`` file, no such function, the
function raising, a wrong return type -- is an :class:`nlpt.NLPTInputError` naming ``family``.
The tutorial is ``docs/families.md``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ._validate import NLPTInputError
from .problem import Problem

__all__ = ["load_family", "parse_family_spec"]


def parse_family_spec(spec: str):
    """``(path, function name)`` from ``"FILE.py:FUNCTION"``."""
    if not isinstance(spec, str) or ":" not in spec:
        raise NLPTInputError(f"family: expected FILE.py:FUNCTION, got {spec!r}")
    path, name = spec.rsplit(":", 1)
    if not path.strip() or not name.strip():
        raise NLPTInputError(f"family: expected FILE.py:FUNCTION, got {spec!r}")
    if not name.isidentifier():
        raise NLPTInputError(f"family: expected a Python function name after ':', got {name!r}")
    p = Path(path)
    if p.suffix != ".py":
        raise NLPTInputError(f"family: expected a .py file before ':', got {path!r}")
    if p.is_dir():
        raise NLPTInputError(f"family: expected a .py file, got {path!r}, which is a folder")
    if not p.is_file():
        raise NLPTInputError(f"family: expected a readable .py file, got {path!r} (no such file)")
    return p, name


def load_family(spec: str) -> Problem:
    """The :class:`nlpt.Problem` that ``FUNCTION()`` in ``FILE.py`` returns (module docstring)."""
    path, name = parse_family_spec(spec)
    mod_name = f"nlpt_family_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[mod_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except NLPTInputError:
        raise
    except Exception as exc:
        raise NLPTInputError(f"family: importing {str(path)!r} raised {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, name, None)
    if not callable(fn):
        raise NLPTInputError(f"family: expected a function {name!r} in {str(path)!r}, got "
                             f"{'nothing of that name' if fn is None else type(fn).__name__}")
    try:
        problem = fn()
    except NLPTInputError:
        raise
    except Exception as exc:
        raise NLPTInputError(f"family: {name}() in {str(path)!r} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(problem, Problem):
        raise NLPTInputError(f"family: expected {name}() to return an nlpt.Problem, got {type(problem).__name__}")
    return problem
