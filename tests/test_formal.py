"""The Lean formal layer (SPEC section 6): manifest, sources, audit file and the build itself.

The static checks run everywhere. The build runs only where ``lake`` is on PATH; elsewhere the
test is skipped with the reason "formal layer not built here: lake not found" (never passed).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from nlpt import formal

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def manifest():
    return formal.load_manifest(ROOT)


def test_find_lean_root_is_repository_root():
    # In a source checkout or editable install the package sits at <root>/python/nlpt.
    found = formal.find_lean_root()
    if found is None:
        pytest.skip("package is not installed from a source checkout")
    assert found == ROOT


def test_manifest_entries_are_well_formed(manifest):
    assert manifest, "the manifest lists no theorem"
    names = [e["lean_name"] for e in manifest]
    assert len(names) == len(set(names)), "duplicate lean_name in the manifest"
    for entry in manifest:
        assert set(entry) == {"lean_name", "file", "claim", "python_test"}, entry
        assert entry["lean_name"].startswith("NLPT."), entry
        assert entry["file"] in formal.HEADLINE_MODULES, entry
        assert entry["claim"].strip(), entry
        assert re.fullmatch(r"tests/test_\w+\.py::test_\w+", entry["python_test"]), entry


def test_every_manifest_theorem_is_declared_in_its_file(manifest):
    declared = {(d.name, d.file) for d in formal.declared_theorems(ROOT) if not d.private}
    for entry in manifest:
        assert (entry["lean_name"], entry["file"]) in declared, entry["lean_name"]


def test_every_headline_theorem_is_in_the_manifest(manifest):
    # Rule: every non-private `theorem` in a headline module is a headline theorem.
    listed = {e["lean_name"] for e in manifest}
    headline = formal.declared_theorems(ROOT, files=formal.HEADLINE_MODULES)
    public = {d.name for d in headline if not d.private}
    assert public, "no theorem found in the headline modules"
    assert public - listed == set(), f"headline theorems missing from the manifest: {public - listed}"


def test_manifest_python_tests_exist(manifest):
    for entry in manifest:
        path, func = entry["python_test"].split("::")
        test_file = ROOT / path
        assert test_file.parent == ROOT / "tests", entry["python_test"]
        assert test_file.is_file(), f"{path} does not exist"
        source = test_file.read_text(encoding="utf-8")
        assert re.search(rf"^def {func}\(", source, re.M), f"{entry['python_test']} not defined"


def test_no_forbidden_tokens_in_lean_sources():
    assert formal.scan_forbidden(ROOT) == []


def test_scan_forbidden_finds_what_it_should(tmp_path):
    lean = tmp_path / "lean"
    lean.mkdir()
    (lean / "Bad.lean").write_text(
        "/-! The word sorry in a comment is fine, and so are axioms. -/\n"
        "theorem a : True := by sorry\n"
        "axiom bad : False\n"
        "private axiom worse : False\n"
        "theorem b : True := by admit\n"
        "example : 1 = 1 := by native_decide\n"
        "#print axioms a\n"
        "-- admit\n",
        encoding="utf-8",
    )
    hits = {(h.line, h.token) for h in formal.scan_forbidden(tmp_path)}
    assert hits == {(2, "sorry"), (3, "axiom"), (4, "axiom"), (5, "admit"), (6, "native_decide")}


def test_declared_theorems_are_fully_qualified(tmp_path):
    lean = tmp_path / "lean"
    lean.mkdir()
    (lean / "N.lean").write_text(
        "/-! doc -/\n"
        "namespace A\n"
        "theorem x : True := trivial\n"
        "namespace B.C\n"
        "section\n"
        "private theorem y : True := trivial\n"
        "end\n"
        "theorem _root_.z : True := trivial\n"
        "end B.C\n"
        "/-- doc\ntheorem fake : True := trivial\n-/\n"
        "theorem w : True := trivial\n"
        "end A\n",
        encoding="utf-8",
    )
    got = {(d.name, d.private) for d in formal.declared_theorems(tmp_path)}
    assert got == {("A.x", False), ("A.B.C.y", True), ("z", False), ("A.w", False)}


def test_audit_prints_axioms_of_every_headline_theorem(manifest):
    audit = (ROOT / formal.AUDIT_PATH).read_text(encoding="utf-8")
    printed = set(re.findall(r"^#print axioms (\S+)\s*$", audit, re.M))
    assert {e["lean_name"] for e in manifest} <= printed
    assert audit.splitlines()[0] == "import NLPT"


def test_every_lean_file_has_a_module_docstring():
    # Lean requires `import`s first, so the module docstring is the first thing after them.
    files = sorted((ROOT / "lean").rglob("*.lean"))
    assert files
    for path in files:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        body = [ln for ln in lines if not ln.startswith("import ")]
        assert body and body[0].startswith("/-!"), f"{path} does not open with a /-! docstring"


def test_root_module_imports_every_module():
    root_module = (ROOT / "lean" / "NLPT.lean").read_text(encoding="utf-8")
    imported = set(re.findall(r"^import (\S+)", root_module, re.M))
    modules = {
        "NLPT." + p.relative_to(ROOT / "lean" / "NLPT").with_suffix("").as_posix().replace("/", ".")
        for p in (ROOT / "lean" / "NLPT").rglob("*.lean")
    }
    assert modules == imported


def test_toolchain_is_pinned():
    assert (ROOT / "lean-toolchain").read_text(encoding="utf-8").strip() == "leanprover/lean4:v4.28.0"


def test_lakefile_depends_on_lean_core_only():
    text = (ROOT / "lakefile.lean").read_text(encoding="utf-8")
    assert not re.search(r"\brequire\b", formal.strip_comments(text))
    assert re.search(r'srcDir\s*:=\s*"lean"', text)
    lakefile = text
    assert re.search(r"^lean_lib\s+NLPT\b", lakefile, re.M)


def test_manifest_is_valid_json_list():
    data = json.loads((ROOT / formal.MANIFEST_PATH).read_text(encoding="utf-8"))
    assert isinstance(data, list)


def test_parse_axioms_reads_print_axioms_output():
    out = (
        "'NLPT.a' depends on axioms: [propext,\n Classical.choice, Quot.sound]\n"
        "'NLPT.b' does not depend on any axioms\n"
        "'NLPT.c' depends on axioms: [sorryAx]\n"
    )
    got = formal.parse_axioms(out)
    assert got == {
        "NLPT.a": ("propext", "Classical.choice", "Quot.sound"),
        "NLPT.b": (),
        "NLPT.c": ("sorryAx",),
    }
    result = formal.VerifyResult("built", axioms=got)
    assert result.nonstandard_axioms == {"NLPT.c": ("sorryAx",)}


def test_verify_reports_not_built_without_lake(monkeypatch):
    monkeypatch.setattr(formal.shutil, "which", lambda _name: None)
    result = formal.verify(ROOT)
    assert result.status == "not built here"
    assert result.reason == "formal layer not built here: lake not found"
    assert not result.ok


def test_lean_build_and_axiom_audit():
    if shutil.which("lake") is None:
        pytest.skip("formal layer not built here: lake not found")
    result = formal.verify(ROOT)
    assert result.status == "built", f"{result.reason}\n{result.output[-4000:]}"
    assert result.nonstandard_axioms == {}
