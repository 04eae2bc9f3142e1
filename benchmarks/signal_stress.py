"""Signal stress test of ``nlpt reproduce --jobs 2`` (Linux): many interrupts at random moments.

    python benchmarks/signal_stress.py                 # 50 tries of SIGTERM to the main process
    python benchmarks/signal_stress.py --tries 20 --signal INT --group
    python benchmarks/signal_stress.py --after-worker --min-delay 0 --max-delay 1.5

Each run starts ``nlpt reproduce`` (default widths 3 5 10 20, alphas 1e-5 1e-4, two worker
processes) in its own process group, sends the signal after a random delay (uniform in
``[--min-delay, --max-delay]`` seconds; the workers take about a second to start), and checks:
exit status 128 + signal, the main process gone and no process of its group left within 2 s of
the signal, every line of ``cases.jsonl`` a whole JSON record, and nothing on stderr but nlpt's
one line (no traceback from a worker).  A run that finishes before its
signal is not a try: runs go on until ``--tries`` were signalled.  Prints one line per run and a
summary; the exit status is 1 if any try failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _sigint_default():
    """In the child before exec: SIGINT at its default, even when this script was started with it
    ignored (a background job of a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def group_members(pgid: int) -> list:
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(d.name))
    return out


def workers(pgid: int) -> list:
    out = []
    for pid in group_members(pgid):
        try:
            if pid != pgid and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
        except OSError:
            pass
    return out


def one_try(out: Path, sig: int, group: bool, delay: float, after_worker: bool = False, limit: float = 2.0) -> dict:
    cmd = [sys.executable, "-m", "nlpt", "reproduce", "--m", "3", "5", "10", "20", "--alphas", "1e-5", "1e-4",
           "--jobs", "2", "--no-plots", "--quiet", "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                         preexec_fn=_sigint_default)
    t_start = time.monotonic()
    while after_worker and not workers(p.pid) and p.poll() is None and time.monotonic() - t_start < 60:
        time.sleep(0.002)
    time.sleep(delay)
    t0 = time.monotonic()
    if p.poll() is not None:
        return {"skipped": True}
    cases = out / "cases.jsonl"
    (os.killpg if group else os.kill)(p.pid, sig)
    try:
        code = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    exited = time.monotonic() - t0
    left = group_members(p.pid)
    while left and time.monotonic() - t0 < limit:
        time.sleep(0.01)
        left = group_members(p.pid)
    gone = time.monotonic() - t0
    if left or code is None:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    err = p.stderr.read().decode(errors="replace").strip().splitlines()
    p.stderr.close()
    clean = len(err) <= 1 and "Traceback" not in "".join(err)  # nlpt's one line, nothing from a worker
    whole, lines = True, 0
    if cases.exists():
        for line in cases.read_text().splitlines():
            if line.strip():
                lines += 1
                try:
                    json.loads(line)
                except ValueError:
                    whole = False
    # Ended by Python's own handling of the signal (status -sig, which a shell shows as 128 + sig):
    # the signal came before nlpt installed its handler -- while Python imports numpy and scipy, no
    # output folder and no worker yet; SIGTERM then kills, SIGINT prints Python's KeyboardInterrupt
    # traceback -- or after the run had written its manifest and the handler was gone.
    early = not cases.exists()
    default = code == -sig and (early or (out / "manifest.json").exists())
    if early:
        clean = True
    if code == 0 and (out / "manifest.json").exists() and not left:
        return {"skipped": True}  # it was ending as the signal was sent: the sweep finished, not a try
    ok = (code == 128 + sig or default) and not left and gone < limit and whole and clean
    return {"skipped": False, "ok": ok, "default": default, "code": code, "exited": exited, "gone": gone, "left": left, "cases": lines,
            "whole": whole, "stderr": err}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tries", type=int, default=50)
    ap.add_argument("--signal", choices=["TERM", "INT"], default="TERM")
    ap.add_argument("--group", action="store_true", help="signal the whole process group, not the main process")
    ap.add_argument("--min-delay", type=float, default=0.3)
    ap.add_argument("--max-delay", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--after-worker", action="store_true",
                    help="count the delay from the moment the first worker process exists (aims at the workers' start)")
    args = ap.parse_args()
    if not sys.platform.startswith("linux"):
        print("signal_stress: Linux only (process groups are read from /proc)")
        return 0
    sig = getattr(signal, f"SIG{args.signal}")
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        k = 0
        # A run that finished before its signal is not a try; go on until --tries runs were signalled.
        while sum(not r["skipped"] for r in results) < args.tries and k < 3 * args.tries:
            k += 1
            delay = rng.uniform(args.min_delay, args.max_delay)
            r = one_try(Path(tmp) / f"o{k}", sig, args.group, delay, args.after_worker)
            results.append(r)
            if r["skipped"]:
                print(f"run {k:3d}: delay {delay:.2f} s: finished before the signal (not a try)")
                continue
            print(f"run {k:3d}: delay {delay:.2f} s: exit {r['code']} after {r['exited']:.3f} s, group gone after "
                  f"{r['gone']:.3f} s, {r['cases']} cases kept, {'ok' if r['ok'] else 'FAILED'}"
                  + (f" (left: {r['left']})" if r["left"] else "")
                  + ("" if r["ok"] else f" stderr: {r['stderr'][-3:]}"))
    counted = [r for r in results if not r["skipped"]]
    ok = sum(r["ok"] for r in counted)
    default = sum(r["default"] for r in counted)
    worst = max((r["gone"] for r in counted), default=0.0)
    when = f"{args.min_delay:g}-{args.max_delay:g} s after " + ("the first worker started" if args.after_worker else "the start")
    print(f"SIG{args.signal} to {'the process group' if args.group else 'the main process'} ({when}): {ok} of {len(counted)} "
          f"tries ok (no process left within 2 s, whole records, exit {128 + sig}; {default} of them killed by the "
          f"default action before nlpt's handler was installed or after the run had finished); slowest {worst:.3f} s")
    return 0 if ok == len(counted) else 1


if __name__ == "__main__":
    sys.exit(main())
