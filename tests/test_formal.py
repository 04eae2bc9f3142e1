"""The Lean formal layer (SPEC sections 6-7): manifest, sources, the check file, the checker's
report.

The static checks and the tests of the checker's pure-Python parts (import order, the check
file and its line map, message parsing, the verdict and exit status with a fake runner) run
everywhere, fast, without a toolchain. The kernel check itself is ``nlpt verify`` (about five
minutes); ``bash .ci/run`` runs it and then the tests marked below with the environment variable
``NLPT_VERIFY_REPORT`` naming its JSON report. Without that variable they are skipped with the
reason; with it, a missing report fails.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from nlpt import formal, leanwasm
from nlpt.cli import main

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
        "-- admit\n"
        '@[extern "f"] opaque f : Nat → Nat\n'
        "@[implemented_by f] def g (n : Nat) : Nat := n\n"
        "theorem c : True := Lean.ofReduceBool _ _ Lean.trustCompiler\n"
        'def s : String := "sorry in a string is fine"\n',
        encoding="utf-8",
    )
    hits = {(h.line, h.token) for h in formal.scan_forbidden(tmp_path)}
    assert hits == {(2, "sorry"), (3, "axiom"), (4, "axiom"), (5, "admit"), (6, "native_decide"),
                    (9, "extern"), (9, "opaque"), (10, "implemented_by"), (11, "ofReduceBool"),
                    (11, "trustCompiler")}


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


# -- the check file: import order, concatenation, line map -----------------------------------

def test_module_imports_reads_the_header_only():
    text = (
        "/- a comment -/\n"
        "import NLPT.Algebra\n"
        "-- between\n"
        "import NLPT.FinProd  -- trailing\n"
        "\n"
        "/-! doc -/\n"
        "import NLPT.NotHeader\n"
    )
    names, lines = formal.module_imports(text)
    assert names == ["NLPT.Algebra", "NLPT.FinProd"]
    assert lines == [2, 4]


def test_import_order_puts_every_module_after_its_imports():
    graph = {
        "NLPT": ["NLPT.C", "NLPT.B"],
        "NLPT.A": ["Init"],
        "NLPT.B": ["NLPT.A"],
        "NLPT.C": ["NLPT.B", "NLPT.A"],
    }
    order = formal.import_order(graph, ["NLPT"])
    assert order == ["NLPT.A", "NLPT.B", "NLPT.C", "NLPT"]
    for mod, deps in graph.items():
        for dep in deps:
            if dep in graph:
                assert order.index(dep) < order.index(mod)


def test_import_order_of_the_library_follows_the_import_lines():
    mods = formal.read_library(ROOT)
    graph = {n: formal.module_imports(t)[0] for n, (_r, t) in mods.items()}
    order = formal.import_order(graph, ["NLPT"])
    assert set(order) == set(mods) and order[-1] == "NLPT"
    for mod, deps in graph.items():
        for dep in deps:
            assert order.index(dep) < order.index(mod), (dep, mod)


def test_import_cycle_is_an_error_naming_it():
    graph = {"NLPT.A": ["NLPT.B"], "NLPT.B": ["NLPT.C"], "NLPT.C": ["NLPT.A"]}
    with pytest.raises(formal.ImportCycleError, match="NLPT.A -> NLPT.B -> NLPT.C -> NLPT.A"):
        formal.import_order(graph)


def _toy_library():
    return {
        "NLPT.A": ("lean/NLPT/A.lean", "/-! A -/\ntheorem a1 : True := trivial\ntheorem a2 : True := trivial\n"),
        "NLPT.B": ("lean/NLPT/B.lean", "import NLPT.A\nimport Std.Data\n/-! B -/\ntheorem b1 : True := trivial\n"),
        "NLPT": ("lean/NLPT.lean", "import NLPT.B\nimport NLPT.A\n/-! root -/\n"),
    }


def test_check_file_concatenates_in_import_order_with_sections_and_a_line_map():
    check = formal.build_check_file(_toy_library(), ["a1", "b1"], nonce="n0nce")
    lines = check.text.splitlines()
    assert check.modules == ["NLPT.A", "NLPT.B", "NLPT"]
    # lean.js echoes the first 200 characters of the file: they are one line
    assert len(lines[0]) > 200 and lines[0].startswith("--")
    assert "import Std.Data" in lines[:3]
    assert not any(re.match(r"^\s*import NLPT", ln) for ln in lines)
    assert lines.count("section") == lines.count("end") == 6
    # every source line maps back to its file and line
    for name, (rel, text) in _toy_library().items():
        for i, src in enumerate(text.splitlines(), start=1):
            if src.startswith("import"):
                continue
            j = next(k for k, ln in enumerate(lines, start=1) if ln == src and check.locate(k)[0] == rel)
            assert check.locate(j) == (rel, i)
    b1 = lines.index("theorem b1 : True := trivial") + 1
    assert check.locate(b1) == ("lean/NLPT/B.lean", 4)
    assert check.locate(1) == (None, None)
    # probes after the library, then the two controls
    assert "theorem nlptProbes_n0nce : True := trivial" in lines
    assert "#check a1" in lines and "#check b1" in lines
    false_line = next(k for k, ln in enumerate(lines, 1) if ln.startswith("theorem nlptControlFalse_n0nce"))
    sorry_line = next(k for k, ln in enumerate(lines, 1) if ln.startswith("theorem nlptControlSorry_n0nce"))
    assert check.locate(false_line) == (formal.CONTROL_FALSE, 1)
    assert check.locate(sorry_line) == (formal.CONTROL_SORRY, 1)
    assert "(2 : Nat) + 2 = 5" in lines[false_line - 1] and lines[sorry_line - 1].endswith(":= sorry")


def test_check_file_refuses_a_missing_library_module():
    lib = _toy_library()
    lib["NLPT.B"] = ("lean/NLPT/B.lean", "import NLPT.Gone\n/-! B -/\n")
    with pytest.raises(FileNotFoundError, match="NLPT.Gone"):
        formal.build_check_file(lib, [])


# -- reading the checker's output ------------------------------------------------------------

def _line_of(check, prefix):
    return next(k for k, ln in enumerate(check.text.splitlines(), 1) if ln.startswith(prefix))


def _fake_output(check, names, extra=(), false_ok=True, sorry_ok=True):
    """What lean.js prints for ``check``: debug lines, ``extra`` messages, the probes, the
    controls' messages."""
    name = formal.CHECK_NAME
    out = [
        "[DEBUG:A] lean_main entered, argc=2",
        "[DEBUG:F] Input file content (first 200 chars): " + check.text[:200].replace("\n", " "),
        "[DEBUG:FIND] Init.Data: found 1 parts",
        "  - /home/.cache/x/lib/Init/Data.olean",
    ]
    out += list(extra)
    out.append(f"{check.marker} : True")
    out += [f"{n} {{K : Type u}} [Field K] : True" for n in names]
    if false_ok:
        fl = _line_of(check, "theorem nlptControlFalse_")
        out += [f"{name}:{fl}:55: error: Tactic `decide` proved that the proposition", "  2 + 2 = 5", "is false"]
    if sorry_ok:
        sl = _line_of(check, "theorem nlptControlSorry_")
        out.append(f"{name}:{sl}:8: warning: declaration uses `sorry`")
    out.append("[DEBUG:G] done")
    return "\n".join(out) + "\n"


def test_parse_messages_maps_positions_and_reads_the_probes():
    check = formal.build_check_file(_toy_library(), ["a1", "b1"], nonce="abc")
    b1 = _line_of(check, "theorem b1")
    extra = [f"{formal.CHECK_NAME}:{b1}:8: error(lean.unknownIdentifier): Unknown constant `x`", "  more text"]
    msgs, probes = formal.parse_messages(_fake_output(check, ["a1"], extra), check)
    errors = [m for m in msgs if m.severity == "error"]
    assert (errors[0].file, errors[0].line, errors[0].col) == ("lean/NLPT/B.lean", 4, 8)
    assert errors[0].text == "Unknown constant `x`\n  more text"
    assert errors[1].file == formal.CONTROL_FALSE and "is false" in errors[1].text
    assert [m.file for m in msgs if m.is_sorry] == [formal.CONTROL_SORRY]
    assert formal.probed_names(probes, ["a1", "b1"]) == ["a1"]
    assert not any("DEBUG" in m.text or "olean" in m.text for m in msgs)


def test_probe_output_without_the_nonce_is_not_read():
    # a source cannot print the probe output itself: the marker is named by a nonce
    check = formal.build_check_file(_toy_library(), ["a1"], nonce="secret")
    fake = "nlptProbes_guess : True\na1 : True\n"
    _msgs, probes = formal.parse_messages(fake, check)
    assert probes == []


def test_strip_debug_drops_debug_lines_and_their_continuations():
    out = "[DEBUG:A] x\n  - /home/a.olean\n\nfoo.lean:1:0: error: bad\n[DEBUG:B] y\n"
    assert formal.strip_debug(out) == "foo.lean:1:0: error: bad"


# -- the verdict -----------------------------------------------------------------------------

def test_evaluate_clean_run():
    check = formal.build_check_file(_toy_library(), ["a1", "b1"], nonce="abc")
    report = formal.evaluate(check, _fake_output(check, ["a1", "b1"]), 1, ["a1", "b1"], [])
    assert report.status == "clean" and report.exit_status == 0, report.problems
    assert report.accepted == ["a1", "b1"]
    assert report.controls["false_theorem"]["rejected"] and report.controls["sorry"]["reported"]
    assert report.audit == formal.STATIC_AUDIT
    assert "0 errors, 0 sorry" in report.summary()


def test_evaluate_reports_an_error_with_file_and_line_and_rejects_the_theorem():
    check = formal.build_check_file(_toy_library(), ["a1", "a2"], nonce="abc")
    a2 = _line_of(check, "theorem a2")
    extra = [f"{formal.CHECK_NAME}:{a2}:30: error: type mismatch"]
    spans = {"a1": ("lean/NLPT/A.lean", 2, 2), "a2": ("lean/NLPT/A.lean", 3, 3)}
    report = formal.evaluate(check, _fake_output(check, ["a1", "a2"], extra), 1, ["a1", "a2"], [], spans)
    assert report.exit_status == 1
    assert report.problems[0] == "lean/NLPT/A.lean:3: error: type mismatch"
    assert report.accepted == ["a1"]
    assert any(p.startswith("a2: headline theorem not accepted") for p in report.problems)


def test_evaluate_fails_on_sorry_in_the_sources():
    check = formal.build_check_file(_toy_library(), ["a1"], nonce="abc")
    a1 = _line_of(check, "theorem a1")
    extra = [f"{formal.CHECK_NAME}:{a1}:8: warning: declaration uses `sorry`"]
    report = formal.evaluate(check, _fake_output(check, ["a1"], extra), 0, ["a1"], [])
    assert report.exit_status == 1
    assert report.sorries and report.problems[0].startswith("lean/NLPT/A.lean:2: warning: declaration uses")


@pytest.mark.parametrize("false_ok, sorry_ok", [(False, True), (True, False), (False, False)])
def test_evaluate_checker_cannot_fail(false_ok, sorry_ok):
    check = formal.build_check_file(_toy_library(), ["a1"], nonce="abc")
    out = _fake_output(check, ["a1"], false_ok=false_ok, sorry_ok=sorry_ok)
    report = formal.evaluate(check, out, 1 if false_ok else 0, ["a1"], [])
    assert report.exit_status == 1
    assert any("checker cannot fail" in p for p in report.problems)
    assert not report.controls["ok"]


def test_evaluate_fails_when_lean_dies_without_a_message():
    check = formal.build_check_file(_toy_library(), ["a1"], nonce="abc")
    report = formal.evaluate(check, "[DEBUG:A] start\n", 137, ["a1"], [])
    assert report.exit_status == 1
    assert any("exited with status 137" in p for p in report.problems)


def test_evaluate_lists_forbidden_tokens():
    check = formal.build_check_file(_toy_library(), ["a1"], nonce="abc")
    hit = formal.ForbiddenHit("lean/NLPT/A.lean", 7, "native_decide")
    report = formal.evaluate(check, _fake_output(check, ["a1"]), 1, ["a1"], [hit])
    assert "lean/NLPT/A.lean:7: forbidden token `native_decide`" in report.problems


def test_theorem_spans_run_to_the_next_theorem(tmp_path):
    (tmp_path / "lean").mkdir()
    (tmp_path / "lean" / "A.lean").write_text(
        "/-! A -/\ntheorem x : True :=\n  trivial\n\ntheorem y : True := trivial\n", encoding="utf-8")
    assert formal.theorem_spans(tmp_path) == {"x": ("lean/A.lean", 2, 4), "y": ("lean/A.lean", 5, 5)}


# -- verify with a fake toolchain and runner; exit statuses ----------------------------------

def _fake_toolchain(tmp_path):
    return leanwasm.Toolchain(root=tmp_path, node=tmp_path / "node", lean_js=tmp_path / "lean.js",
                              lib=tmp_path / "lib", version="4.28.0-pre", commit="38f3c0c4" * 5,
                              version_line="Lean (version 4.28.0-pre, wasm, commit x, Release)",
                              node_version=leanwasm.NODE_VERSION)


def _lean_runner(oops_file=None):
    """A stand-in for lean.js: reads the check file, rejects the controls, prints the probes,
    and rejects every `theorem oops` as Lean would."""

    def run(cmd, cwd, env, timeout):
        assert cmd[-1] == formal.CHECK_NAME and env["LEAN_PATH"]
        text = (Path(cwd) / formal.CHECK_NAME).read_text(encoding="utf-8")
        lines = text.splitlines()
        nonce = re.search(r"theorem nlptProbes_(\w+) :", text).group(1)
        names = [ln.split()[1] for ln in lines if ln.startswith("#check ") and "nlptProbes" not in ln]
        extra = [f"{formal.CHECK_NAME}:{k}:34: error: type mismatch\n  rfl" for k, ln in enumerate(lines, 1)
                 if ln.startswith("theorem oops")]
        check = formal.CheckFile(text, [], [], names, nonce)
        return 1, _fake_output(check, names, extra)

    return run


def test_verify_with_a_fake_runner_is_clean_on_the_sources(tmp_path, monkeypatch):
    report = formal.check_wasm(ROOT, _fake_toolchain(tmp_path), runner=_lean_runner())
    assert report.status == "clean", report.problems
    assert set(report.accepted) == {e["lean_name"] for e in formal.load_manifest(ROOT)}
    assert report.toolchain["lean_version"] == "4.28.0-pre"
    assert report.modules[-1] == "NLPT" and "NLPT.Symmetry" in report.modules


def test_an_oops_theorem_gives_exit_1_naming_file_and_line(tmp_path, monkeypatch, capsys):
    import shutil

    clone = tmp_path / "repo"
    shutil.copytree(ROOT / "lean", clone / "lean")
    shutil.copy(ROOT / "lakefile.lean", clone / "lakefile.lean")
    path = clone / "lean" / "NLPT" / "Floor.lean"
    text = path.read_text(encoding="utf-8").splitlines()
    at = text.index("end NLPT")
    text.insert(at, "theorem oops : (1 : Rat) = 2 := rfl")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    tc = _fake_toolchain(tmp_path)
    monkeypatch.setattr(leanwasm, "find_toolchain", lambda *a, **k: tc)
    monkeypatch.setattr(formal, "find_lean_root", lambda: clone)
    monkeypatch.setattr(formal.shutil, "which", lambda _n: None)
    monkeypatch.setattr(formal, "_subprocess_runner", _lean_runner())
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert f"problem: lean/NLPT/Floor.lean:{at + 1}: error: type mismatch" in out


def test_verify_exits_3_without_a_toolchain(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NLPT_LEAN_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(formal.shutil, "which", lambda _n: None)
    report = formal.verify(ROOT)
    assert report.status == "not checked" and report.exit_status == 3 and not report.ok
    assert main(["verify"]) == 3
    out = capsys.readouterr().out
    assert "not checked here" in out and "nlpt verify --install" in out
    assert main(["verify", "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "not checked" and data["exit_status"] == 3


def test_report_json_round_trip(tmp_path):
    report = formal.check_wasm(ROOT, _fake_toolchain(tmp_path), runner=_lean_runner())
    data = json.loads(json.dumps(report.to_dict()))
    assert data["exit_status"] == 0 and data["summary"] == report.summary()
    assert {"errors", "warnings", "sorries", "accepted", "headline", "controls", "toolchain", "seconds"} <= set(data)


# -- the kernel check's report (bash .ci/run sets NLPT_VERIFY_REPORT) -------------------------

@pytest.fixture(scope="module")
def kernel_report():
    path = os.environ.get("NLPT_VERIFY_REPORT")
    if not path:
        pytest.skip("no kernel check report: run `nlpt verify --report FILE` and set NLPT_VERIFY_REPORT=FILE "
                    "(bash .ci/run does both)")
    p = Path(path)
    assert p.is_file(), f"NLPT_VERIFY_REPORT={path}: the report of `nlpt verify` is missing"
    return json.loads(p.read_text(encoding="utf-8"))


def test_lean_build_and_axiom_audit(kernel_report):
    r = kernel_report
    assert r["status"] == "clean" and r["exit_status"] == 0, r["problems"]
    assert r["errors"] == [] and r["sorries"] == []
    if r["toolchain"].get("kind") != "lake":
        assert r["controls"]["false_theorem"]["rejected"], "checker cannot fail: false theorem accepted"
        assert r["controls"]["sorry"]["reported"], "checker cannot fail: sorry not reported"
        assert r["audit"] == formal.STATIC_AUDIT
    assert r["toolchain"]["lean_version"] and r["toolchain"]["lean_commit"]


def test_kernel_report_bridge_manifest_equals_accepted(kernel_report, manifest):
    names = {e["lean_name"] for e in manifest}
    accepted = set(kernel_report["accepted"])
    assert names - accepted == set(), f"manifest theorems the checker did not accept: {names - accepted}"
    assert accepted - names == set(), f"accepted headline theorems missing from the manifest: {accepted - names}"
