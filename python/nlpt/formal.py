"""The Lean 4 formal layer: manifest, source checks and the build-and-audit driver.

The algebraic core of the paper (SPEC section 6) is proved in Lean 4 under ``lean/`` at the
repository root (library ``NLPT``, Lean core only, toolchain pinned in ``lean-toolchain``).
This module is the Python side of that layer:

* :func:`find_lean_root` locates the Lake project (present in a source checkout or an editable
  install, absent from a wheel);
* :func:`load_manifest` reads ``lean/manifest.json``, which ties every headline theorem to the
  paper's claim and to the Python property test that checks the same invariant numerically;
* :func:`declared_theorems` and :func:`scan_forbidden` read the Lean sources without Lean, so the
  test suite can hold manifest and sources in agreement and reject ``sorry``, ``admit``, new
  ``axiom`` declarations and ``native_decide`` anywhere under ``lean/``;
* :func:`verify` runs ``lake build`` and the axiom audit ``lake env lean lean/Audit.lean`` when
  ``lake`` is on ``PATH``, and otherwise reports the layer as *not built here*, never as passed.

Only the standard library is used, so this module imports without the numerical stack.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "HEADLINE_MODULES",
    "STANDARD_AXIOMS",
    "Declaration",
    "ForbiddenHit",
    "VerifyResult",
    "find_lean_root",
    "load_manifest",
    "strip_comments",
    "scan_forbidden",
    "declared_theorems",
    "parse_axioms",
    "verify",
]

#: Modules whose non-private theorems are headline theorems and must all be in the manifest.
HEADLINE_MODULES: tuple[str, ...] = (
    "lean/NLPT/KernelDim.lean",
    "lean/NLPT/GaussNewton.lean",
    "lean/NLPT/Floor.lean",
    "lean/NLPT/Threshold.lean",
    "lean/NLPT/NormalForm.lean",
)

#: The axioms Lean's kernel and core library rest on; nothing else may appear in the audit.
STANDARD_AXIOMS: frozenset[str] = frozenset({"propext", "Classical.choice", "Quot.sound"})

MANIFEST_PATH = "lean/manifest.json"
AUDIT_PATH = "lean/Audit.lean"

_MODIFIERS = r"(?:(?:private|protected|noncomputable|partial|unsafe|nonrec)\s+)*"
_ATTRS = r"(?:@\[[^\]]*\]\s*)*"
_AXIOM_DECL = re.compile(r"^\s*" + _ATTRS + _MODIFIERS + r"axiom\b")
_OPAQUE_DECL = re.compile(r"^\s*" + _ATTRS + _MODIFIERS + r"opaque\b")
_WORD_TOKENS = re.compile(r"\b(sorry|admit|native_decide|implemented_by)\b")
_THEOREM = re.compile(
    r"^\s*" + _ATTRS + r"(?P<mods>(?:(?:private|protected|noncomputable)\s+)*)"
    r"theorem\s+(?P<name>[^\s(:{\[⦃]+)"
)
_NAMESPACE = re.compile(r"^\s*namespace\s+(?P<name>\S+)")
_SECTION = re.compile(r"^\s*(?:noncomputable\s+)?section\b\s*(?P<name>[^\s-]*)")
_END = re.compile(r"^\s*end\b\s*(?P<name>[^\s-]*)")


@dataclass(frozen=True)
class Declaration:
    """A ``theorem`` found in a Lean source file, with its fully qualified name."""

    name: str
    file: str
    line: int
    private: bool


@dataclass(frozen=True)
class ForbiddenHit:
    """A forbidden token in the formal layer: file (relative to the root), line, token."""

    file: str
    line: int
    token: str


@dataclass
class VerifyResult:
    """Outcome of :func:`verify`.

    ``status`` is ``"built"`` (``lake build`` succeeded and the audit shows only standard
    axioms for every manifest theorem), ``"failed"``, or ``"not built here"`` (no Lake project
    or no ``lake`` on ``PATH``; the layer was not checked). ``axioms`` maps each audited theorem
    to the axioms it depends on.
    """

    status: str
    reason: str = ""
    output: str = ""
    axioms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "built"

    @property
    def nonstandard_axioms(self) -> dict[str, tuple[str, ...]]:
        """Theorems whose audit lists an axiom outside :data:`STANDARD_AXIOMS`."""
        return {
            name: tuple(a for a in axs if a not in STANDARD_AXIOMS)
            for name, axs in self.axioms.items()
            if any(a not in STANDARD_AXIOMS for a in axs)
        }

    def __repr__(self) -> str:
        extra = f", reason={self.reason!r}" if self.reason else ""
        return f"VerifyResult(status={self.status!r}{extra}, theorems_audited={len(self.axioms)})"


def find_lean_root() -> Path | None:
    """The repository root holding ``lakefile.lean``, or ``None`` (e.g. a non-editable install).

    The package lives at ``<root>/python/nlpt``; the Lake project sits at ``<root>``.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / "lakefile.lean").is_file() and (root / "lean").is_dir():
        return root
    return None


def _resolve_root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    found = find_lean_root()
    if found is None:
        raise FileNotFoundError(
            "the Lean formal layer is not available: no lakefile.lean next to this package "
            "(install from a source checkout with `pip install -e .`)"
        )
    return found


def load_manifest(root: str | Path | None = None) -> list[dict[str, str]]:
    """The manifest entries: ``lean_name``, ``file``, ``claim``, ``python_test`` for each
    headline theorem."""
    path = _resolve_root(root) / MANIFEST_PATH
    with path.open(encoding="utf-8") as fh:
        entries = json.load(fh)
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of objects, got {type(entries).__name__}")
    return entries


def strip_comments(text: str) -> str:
    """``text`` with Lean comments (``--`` lines, nested ``/- -/`` blocks, doc comments) and
    string literals blanked out; newlines are kept so line numbers stay valid."""
    out: list[str] = []
    i, n, depth = 0, len(text), 0
    in_string = False
    while i < n:
        c = text[i]
        if depth > 0:
            if text.startswith("/-", i):
                depth += 1
                out.append("  ")
                i += 2
            elif text.startswith("-/", i):
                depth -= 1
                out.append("  ")
                i += 2
            else:
                out.append("\n" if c == "\n" else " ")
                i += 1
        elif in_string:
            if c == "\\" and i + 1 < n:
                out.append("  " if text[i + 1] != "\n" else " \n")
                i += 2
                continue
            if c == '"':
                in_string = False
            out.append("\n" if c == "\n" else " ")
            i += 1
        elif text.startswith("/-", i):
            depth = 1
            out.append("  ")
            i += 2
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j == -1 else j
            out.append(" " * (j - i))
            i = j
        elif c == '"':
            in_string = True
            out.append(" ")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _lean_files(root: Path) -> list[Path]:
    return sorted((root / "lean").rglob("*.lean"))


def scan_forbidden(root: str | Path | None = None) -> list[ForbiddenHit]:
    """Every ``sorry``, ``admit``, ``native_decide``, ``implemented_by`` (as words) and every
    ``axiom``/``opaque`` declaration in the Lean sources under ``lean/`` (comments excluded; the
    ``axioms`` of ``#print axioms`` is not a declaration and is not reported)."""
    base = _resolve_root(root)
    hits: list[ForbiddenHit] = []
    for path in _lean_files(base):
        rel = path.relative_to(base).as_posix()
        code = strip_comments(path.read_text(encoding="utf-8"))
        for lineno, line in enumerate(code.splitlines(), start=1):
            for m in _WORD_TOKENS.finditer(line):
                hits.append(ForbiddenHit(rel, lineno, m.group(1)))
            if _AXIOM_DECL.match(line):
                hits.append(ForbiddenHit(rel, lineno, "axiom"))
            if _OPAQUE_DECL.match(line):
                hits.append(ForbiddenHit(rel, lineno, "opaque"))
    return hits


def declared_theorems(root: str | Path | None = None, files=None) -> list[Declaration]:
    """The ``theorem`` declarations of the Lean sources, with names qualified by the enclosing
    ``namespace`` blocks (``_root_.`` prefixes honoured). ``files`` restricts the scan to paths
    relative to the root; by default every file under ``lean/`` is read."""
    base = _resolve_root(root)
    paths = [base / f for f in files] if files is not None else _lean_files(base)
    decls: list[Declaration] = []
    for path in paths:
        rel = path.relative_to(base).as_posix()
        code = strip_comments(path.read_text(encoding="utf-8"))
        scopes: list[tuple[str, str]] = []  # ("namespace" | "section", name)
        for lineno, line in enumerate(code.splitlines(), start=1):
            m = _NAMESPACE.match(line)
            if m:
                scopes.append(("namespace", m.group("name")))
                continue
            m = _SECTION.match(line)
            if m:
                scopes.append(("section", m.group("name")))
                continue
            m = _END.match(line)
            if m:
                if scopes:
                    scopes.pop()
                continue
            m = _THEOREM.match(line)
            if m:
                name = m.group("name")
                if name.startswith("_root_."):
                    qualified = name[len("_root_.") :]
                else:
                    prefix = ".".join(s for kind, s in scopes if kind == "namespace")
                    qualified = f"{prefix}.{name}" if prefix else name
                decls.append(
                    Declaration(qualified, rel, lineno, "private" in m.group("mods").split())
                )
    return decls


_DEPENDS = re.compile(r"'(?P<name>[^']+)'\s+depends on axioms:\s*\[(?P<axioms>[^\]]*)\]", re.S)
_NO_AXIOMS = re.compile(r"'(?P<name>[^']+)'\s+does not depend on any axioms")


def parse_axioms(output: str) -> dict[str, tuple[str, ...]]:
    """Parse the messages of ``#print axioms``: theorem name → axioms it depends on."""
    found: dict[str, tuple[str, ...]] = {}
    for m in _DEPENDS.finditer(output):
        axioms = tuple(a.strip() for a in m.group("axioms").replace("\n", " ").split(",") if a.strip())
        found[m.group("name")] = axioms
    for m in _NO_AXIOMS.finditer(output):
        found[m.group("name")] = ()
    return found


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc.returncode, (proc.stdout or "") + (proc.stderr or "")


def verify(root: str | Path | None = None, timeout: float = 1800.0) -> VerifyResult:
    """Build the formal layer and audit its axioms.

    Runs ``lake build`` and then ``lake env lean lean/Audit.lean`` in the repository root
    (``timeout`` seconds each). Returns status ``"built"`` only if both succeed and every
    manifest theorem is reported with standard axioms alone; ``"failed"`` otherwise, with the
    reason; ``"not built here"`` when there is no Lake project or no ``lake`` on ``PATH``.
    """
    base = Path(root) if root is not None else find_lean_root()
    if base is None or not (base / "lakefile.lean").is_file():
        return VerifyResult(
            "not built here",
            "formal layer not built here: no lakefile.lean beside this installation "
            "(install from a clone with `pip install -e .`, or run `lake build` in the clone)",
        )
    lake = shutil.which("lake")
    if lake is None:
        return VerifyResult("not built here", "formal layer not built here: lake not found")
    log: list[str] = []
    try:
        code, out = _run([lake, "build"], base, timeout)
        log.append("$ lake build\n" + out)
        if code != 0:
            return VerifyResult("failed", f"lake build exited with {code}", "\n".join(log))
        code, out = _run([lake, "env", "lean", AUDIT_PATH], base, timeout)
        log.append(f"$ lake env lean {AUDIT_PATH}\n" + out)
    except subprocess.TimeoutExpired as exc:
        log.append(str(exc))
        return VerifyResult("failed", f"timed out after {timeout:g} s", "\n".join(log))
    output = "\n".join(log)
    axioms = parse_axioms(out)
    if code != 0:
        return VerifyResult("failed", f"axiom audit exited with {code}", output, axioms)
    missing = [e["lean_name"] for e in load_manifest(base) if e["lean_name"] not in axioms]
    if missing:
        return VerifyResult(
            "failed", "axiom audit does not cover: " + ", ".join(missing), output, axioms
        )
    result = VerifyResult("built", "", output, axioms)
    bad = result.nonstandard_axioms
    if bad:
        result.status = "failed"
        result.reason = "non-standard axioms: " + "; ".join(
            f"{name}: {', '.join(axs)}" for name, axs in sorted(bad.items())
        )
    return result
