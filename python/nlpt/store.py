"""The output folder of ``nlpt reproduce``: checked before anything is computed, one line per
finished case appended at once, results written whole at the end, and a manifest of the files.

* :func:`check_out` refuses an empty path, a file, a path below a file and a folder that cannot
  be written (tested by creating and removing a probe folder: permission bits do not tell root's
  story on read-only or virtual file systems), and creates nothing.
* :meth:`RunFolder.open` creates the folder.  Unless resuming, it first removes what an earlier
  run wrote there: the files its ``manifest.json`` lists, ``cases.jsonl``, and files named like
  nlpt's own outputs (``results.*``, ``summary.csv``, ``table.*``, ``eigenvalues_*.png``,
  ``threshold_vs_width*.png``, ``branch_*.png``); nothing else in the folder is touched.  So the
  folder always holds one run, and no plot of an earlier run survives beside this run's results.
* :meth:`RunFolder.append` writes one JSON line per finished case to ``cases.jsonl`` with a single
  ``write`` followed by ``fsync``, with SIGINT/SIGTERM held back meanwhile: an interrupt keeps
  every finished case and never leaves half a line.
* :meth:`RunFolder.write_text`/:meth:`RunFolder.write_with` write through a temporary file and
  ``os.replace``; :meth:`RunFolder.finish` removes files of the previous manifest this run did not
  write (after ``--resume``) and writes ``manifest.json`` last: a folder without a manifest holds
  an unfinished run.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import tempfile
from pathlib import Path

from ._jsonio import atomic_write_bytes, atomic_write_text, dumps, file_mode
from ._validate import NLPTInputError
from .executors import deferred_signals

__all__ = ["CASES", "MANIFEST", "OWN_PATTERNS", "check_out", "RunFolder", "read_cases", "atomic_output"]

CASES = "cases.jsonl"
MANIFEST = "manifest.json"
#: Names of nlpt's own output files: an earlier run's copies are removed before a new run.
OWN_PATTERNS = ("results.json", "results.csv", "summary.csv", "table.txt", "table.md", MANIFEST,
                "lambda.json", "lambda.csv", "eigenvalues_*.png", "threshold_vs_width*.png", "branch_*.png",
                "lambda_vs_beta.png")


def check_out(path) -> Path:
    """The output folder, validated (module docstring); raises NLPTInputError naming ``out``."""
    if path is None or not str(path).strip():
        raise NLPTInputError(f"out: expected a folder path, got an empty string {str(path or '')!r}")
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise NLPTInputError(f"out: expected a folder, got {str(path)!r}, which is a file")
    base = p
    while not base.exists():
        if base.parent == base:
            break
        base = base.parent
    if not base.is_dir():
        raise NLPTInputError(f"out: expected a folder, got {str(path)!r}, below the file {str(base)!r}")
    try:
        probe = tempfile.mkdtemp(prefix=".nlpt-write-check-", dir=base)
        os.rmdir(probe)
    except OSError as exc:
        where = "" if base == p else f" (its parent {str(base)!r} exists)"
        raise NLPTInputError(
            f"out: expected a writable folder, got {str(path)!r}{where}: {exc.strerror or exc}"
        ) from None
    return p


def atomic_output(path, draw) -> Path:
    """``draw(tmp)`` writes a file (a plot) to a temporary path beside ``path`` with the same
    suffix, which then replaces ``path``: a reader never sees half a figure."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.fchmod(fd, file_mode())
    os.close(fd)
    try:
        draw(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def read_cases(path) -> tuple[list, int]:
    """The records of a ``cases.jsonl`` file and the number of lines that were not JSON objects
    (a line cut short by a crash)."""
    records, bad = [], 0
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(rec, dict) and "config_hash" in rec:
                records.append(rec)
            else:
                bad += 1
    return records, bad


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class RunFolder:
    """An output folder in use by one run (module docstring)."""

    def __init__(self, path):
        self.path = check_out(path)
        self.written: list = []
        self._fd = None
        self._previous: list = []

    # -- start -----------------------------------------------------------------------------------
    def _manifest_files(self) -> list:
        try:
            man = json.loads((self.path / MANIFEST).read_text())
            return [f["name"] for f in man.get("files", []) if isinstance(f, dict) and "name" in f]
        except (OSError, ValueError, AttributeError, TypeError):
            return []

    def _own_files(self) -> list:
        names = set(self._manifest_files())
        with contextlib.suppress(OSError):
            for entry in self.path.iterdir():
                if entry.is_file() and any(fnmatch.fnmatchcase(entry.name, pat) for pat in OWN_PATTERNS):
                    names.add(entry.name)
        # Only plain names inside the folder: a manifest never sends a removal elsewhere.
        return sorted(n for n in names if n and Path(n).name == n)

    def open(self, resume: bool = False) -> dict:
        """Create the folder, clear an earlier run unless ``resume``, and open ``cases.jsonl`` for
        appending.  Returns the finished records already there by config hash (``resume``)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NLPTInputError(f"out: expected a writable folder, got {str(self.path)!r}: {exc.strerror}") from None
        done = {}
        cases = self.path / CASES
        if resume:
            self._previous = self._manifest_files()
            if cases.is_file():
                records, _ = read_cases(cases)
                for rec in records:  # the last record of a configuration wins
                    done[rec["config_hash"]] = rec
        else:
            for name in self._own_files() + [CASES]:
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    (self.path / name).unlink()
        self._fd = os.open(cases, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        size = os.fstat(self._fd).st_size
        if size:
            with open(cases, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":  # a line cut short by a crash: end it, it is skipped on reading
                    os.write(self._fd, b"\n")
        return done

    # -- during ----------------------------------------------------------------------------------
    def append(self, record: dict) -> None:
        """One line, written and fsync'ed with interrupts held back."""
        data = (dumps(record, indent=None) + "\n").encode("utf-8")
        with deferred_signals():
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- end -------------------------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        p = atomic_write_text(self.path / name, text)
        self.written.append(name)
        return p

    def write_bytes(self, name: str, data: bytes) -> Path:
        p = atomic_write_bytes(self.path / name, data)
        self.written.append(name)
        return p

    def write_with(self, name: str, draw) -> Path:
        """``draw(path)`` writes a file (a plot) to a temporary path beside ``name``, which then
        replaces ``name``."""
        target = atomic_output(self.path / name, draw)
        self.written.append(name)
        return target

    def finish(self, provenance: dict, cases: dict) -> Path:
        """Remove stale files of the previous manifest, then write ``manifest.json``."""
        self.close()
        keep = set(self.written) | {CASES, MANIFEST}
        for name in self._previous:
            if name not in keep and Path(name).name == name:
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    (self.path / name).unlink()
        files = []
        for name in [CASES] + self.written:
            p = self.path / name
            files.append({"name": name, "bytes": p.stat().st_size, "sha256": _sha256(p)})
        man = {"provenance": provenance, "cases": cases, "files": files}
        return atomic_write_text(self.path / MANIFEST, dumps(man) + "\n")
