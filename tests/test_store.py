"""The output folder: validation before creation, appended records, atomic files, the manifest."""

from __future__ import annotations

import json

import pytest

from nlpt import NLPTInputError
from nlpt.store import CASES, RunFolder, check_out, read_cases


def test_check_out_creates_nothing(tmp_path):
    target = tmp_path / "a" / "b"
    assert check_out(target) == target
    assert not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []  # the write probe is removed


@pytest.mark.parametrize("bad, fragment", [("", "empty string"), ("   ", "empty string")])
def test_check_out_refuses_empty(bad, fragment):
    with pytest.raises(NLPTInputError, match=f"^out: .*{fragment}"):
        check_out(bad)


def test_check_out_refuses_a_file_and_below_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NLPTInputError, match="which is a file"):
        check_out(tmp_path / "f")
    with pytest.raises(NLPTInputError, match="below the file"):
        check_out(tmp_path / "f" / "sub")


def test_records_survive_a_line_cut_short(tmp_path):
    folder = RunFolder(tmp_path / "o")
    folder.open()
    folder.append({"config_hash": "h1", "result": {"status": "crossing"}})
    folder.close()
    with open(tmp_path / "o" / CASES, "ab") as f:
        f.write(b'{"config_hash": "h2", "res')  # a crash in the middle of a line
    again = RunFolder(tmp_path / "o")
    done = again.open(resume=True)
    assert set(done) == {"h1"}
    again.append({"config_hash": "h3", "result": {"status": "fold"}})
    again.close()
    records, bad = read_cases(tmp_path / "o" / CASES)
    assert [r["config_hash"] for r in records] == ["h1", "h3"] and bad == 1


def test_without_resume_the_previous_run_is_cleared_but_not_other_files(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("user")
    (out / "eigenvalues_alpha1e-05.png").write_bytes(b"old plot")
    (out / "listed.dat").write_text("old")
    (out / "manifest.json").write_text(json.dumps({"files": [{"name": "listed.dat"}, {"name": "../escape"}]}))
    (out / CASES).write_text('{"config_hash": "x", "result": {}}\n')
    (tmp_path / "escape").write_text("outside")
    folder = RunFolder(out)
    assert folder.open(resume=False) == {}
    folder.close()
    assert sorted(p.name for p in out.iterdir()) == [CASES, "keep.txt"]
    assert (out / CASES).read_text() == ""
    assert (tmp_path / "escape").read_text() == "outside"  # a manifest never sends a removal elsewhere


def test_finish_lists_the_files_and_removes_stale_ones_after_resume(tmp_path):
    out = tmp_path / "o"
    f1 = RunFolder(out)
    f1.open()
    f1.write_text("a.txt", "1")
    f1.write_text("b.txt", "2")
    f1.finish({"p": 1}, {"planned": 0})
    f2 = RunFolder(out)
    f2.open(resume=True)
    f2.write_text("a.txt", "3")
    f2.finish({"p": 2}, {"planned": 0})
    assert not (out / "b.txt").exists()
    man = json.loads((out / "manifest.json").read_text())
    assert [f["name"] for f in man["files"]] == [CASES, "a.txt"]
    assert oct((out / "a.txt").stat().st_mode & 0o777) != oct(0o600)  # umask, not mkstemp's 0600
