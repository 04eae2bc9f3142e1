"""Running independent cases: in this process, in local worker processes, or on a Dask cluster.

All three executors take the same tasks ``(index, args, key)`` and a dict ``shared`` of large
objects (the data sets) by key, call ``fn(args, shared[key])`` once per task, and report every
outcome as soon as it is known through ``on_outcome(index, kind, value)``:

* ``kind == "ok"``: ``value`` is what ``fn`` returned;
* ``kind == "error"``: ``fn`` raised an exception; ``value`` is ``"ExceptionType: message"``;
* ``kind == "worker died"``: the process running the task died (killed, out of memory, a crash in
  native code); ``value`` says how.  The other tasks go on.

**Local worker processes** (:func:`run_processes`) are this module's own small pool rather than
:class:`concurrent.futures.ProcessPoolExecutor`, whose workers could stay blocked on a pipe after an
interrupt.  Workers are started with the ``spawn`` method (a fresh interpreter: no threads or locks
inherited from the parent), talk to the parent over one pipe each, ignore SIGINT (the parent
decides), die with the parent (``PR_SET_PDEATHSIG`` on Linux, a watchdog thread elsewhere), and
are killed and joined by the parent on every way out of :func:`run_processes`: normal end, an
exception, KeyboardInterrupt, or :class:`SignalExit` raised by :func:`exit_on_signals`.  A worker
that dies is replaced; its task is that task's failure.  With ``spawn``, a script that calls the
pool must guard its entry point with ``if __name__ == "__main__":`` (the ``nlpt`` command does).

**Dask** (:func:`run_dask`, optional extra ``[dask]``): the tasks are submitted to a
``distributed`` scheduler, the shared objects scattered once, and outcomes streamed in completion
order (``distributed.as_completed``).  A task whose worker dies more often than the scheduler's
``allowed-failures`` is reported as ``"worker died"``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ._validate import NLPTInputError

__all__ = ["SignalExit", "exit_on_signals", "deferred_signals", "run_serial", "run_processes", "run_dask"]

_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


class SignalExit(BaseException):
    """A termination signal (SIGTERM by default) received while :func:`exit_on_signals` is active.

    Like KeyboardInterrupt it is a BaseException, so ``except Exception`` does not swallow it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


#: Python-level deferral: while ``depth > 0`` the handlers of :func:`exit_on_signals` only note
#: the signal; it is raised when the outermost :func:`deferred_signals` block ends.  (Blocking
#: the signal in the kernel is not enough: one that arrived just before the block has already
#: been noted by the interpreter, which runs the handler at its next bytecode.)
_DEFER = {"depth": 0, "pending": None}


def _raise_for(signum: int):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SignalExit(signum)


@contextlib.contextmanager
def exit_on_signals(signums=(signal.SIGINT, signal.SIGTERM)):
    """Turn SIGINT into KeyboardInterrupt and the other given signals into :class:`SignalExit` in
    the main thread (a no-op elsewhere), both held back inside :func:`deferred_signals`.

    SIGTERM's default action would kill the process without cleanup, leaving its worker
    processes behind.  A signal that is ignored when the block starts (a background job of a
    non-interactive shell ignores SIGINT) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if _DEFER["depth"]:
            _DEFER["pending"] = _DEFER["pending"] or signum
            return
        _raise_for(signum)

    old = {}
    for s in signums:
        if signal.getsignal(s) is not signal.SIG_IGN:
            old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred_signals():
    """Hold SIGINT and SIGTERM back while the block runs, so that an interrupt never lands in the
    middle of writing a record or of a pipe transfer: blocked in the kernel (``pthread_sigmask``)
    and, for the handlers of :func:`exit_on_signals`, noted and raised at the end of the block."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    _DEFER["depth"] += 1
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # held signals reach the handler (noted)
        _DEFER["depth"] -= 1
        pending = _DEFER["pending"] if _DEFER["depth"] == 0 else None
        if pending is not None:
            _DEFER["pending"] = None
            _raise_for(pending)


@contextlib.contextmanager
def _ignoring_interrupts():
    """Cleanup must not be cut short by a second signal: ignore SIGINT/SIGTERM while it runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in _INTERRUPTS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _interrupts_blocked_for_start():
    """Start a child process with SIGINT and SIGTERM blocked from its first instruction: the signal
    mask survives fork and exec, so a Ctrl-C reaching the whole process group while the child
    imports numpy stays pending there, and the worker discards it when it sets SIGINT to ignored
    (:func:`_worker_main`) before unblocking.  The parent holds interrupts back meanwhile
    (:func:`deferred_signals`) and raises one that arrived once the start is complete.

    The parent's SIGINT disposition is never set to ignored, not even for the start: the mask
    blocks the signal in the main thread only, and a process-directed signal is delivered to any
    thread that does not block it (numpy's BLAS threads) and, while ignored, dropped there.
    multiprocessing's resource tracker is started first: its start unblocks both signals in the
    calling thread, which would leave the child without the mask."""
    try:  # started here, outside the window: its first start unblocks SIGINT/SIGTERM in this thread
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    except (ImportError, AttributeError, OSError):
        pass
    with deferred_signals():
        yield


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# -- in this process -----------------------------------------------------------------------------

def run_serial(fn, tasks, shared: dict, on_outcome) -> None:
    """Run the tasks one after the other in this process."""
    for index, args, key in tasks:
        try:
            value = fn(args, shared[key])
        except Exception as exc:  # a failing case is that case's outcome; interrupts propagate
            on_outcome(index, "error", _error_text(exc))
        else:
            on_outcome(index, "ok", value)


# -- local worker processes ----------------------------------------------------------------------

def _die_with_parent(parent_pid: int) -> None:
    """Arrange for this worker to be killed when its parent dies, however the parent dies."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)

    def watchdog():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watchdog, name="nlpt-parent-watchdog", daemon=True).start()


def _worker_main(conn, parent_pid: int, fn, initializer) -> None:
    """Worker loop: receive ``(index, args, key, shared_or_None)``, send ``(index, kind, value)``;
    ``None`` or a closed pipe ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # before unblocking: a SIGINT pending since the start is dropped
    if hasattr(signal, "pthread_sigmask"):  # the mask blocked in the parent during the start may be inherited
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)
    _die_with_parent(parent_pid)
    if initializer is not None:
        initializer()
    cache = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        index, args, key, obj = msg
        if obj is not None:
            cache[key] = obj
        try:
            out = (index, "ok", fn(args, cache[key]))
        except Exception as exc:
            out = (index, "error", _error_text(exc))
        try:
            conn.send(out)
        except (OSError, ValueError):
            return


def _recv(conn):
    """``conn.recv()`` with SIGINT/SIGTERM held back: an exception raised by a signal handler inside
    multiprocessing's pickling (a BytesIO whose buffer is exported) crashed CPython 3.12.1 at exit
    ("deallocated BytesIO object has exported buffers", then a segmentation fault).  The data is
    already there (``poll``), so the wait is short; sends are guarded the same way."""
    with deferred_signals():
        return conn.recv()


@dataclass
class _Worker:
    proc: object
    conn: object
    task: tuple | None = None
    keys: set = field(default_factory=set)


def _death_text(proc) -> str:
    code = proc.exitcode
    if code is None:
        return "the worker process running this case stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process running this case died ({name}: killed, out of memory, or a crash)"
    return f"the worker process running this case exited with status {code}"


def run_processes(fn, tasks, shared: dict, on_outcome, jobs: int, initializer=None) -> None:
    """Run the tasks on ``jobs`` spawned worker processes (module docstring).

    ``fn`` and ``initializer`` must be importable module-level functions (they are pickled by
    reference).  Each worker receives each shared object at most once."""
    import multiprocessing
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("spawn")
    pending = deque(tasks)
    workers: list[_Worker] = []
    starts = 0
    max_starts = 2 * len(pending) + jobs

    def start() -> _Worker:
        nonlocal starts
        starts += 1
        if starts > max_starts:
            raise RuntimeError(f"worker processes keep dying before they take a task ({starts - 1} started)")
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_worker_main, args=(child_conn, os.getpid(), fn, initializer),
                           name="nlpt-worker", daemon=True)
        w = _Worker(proc, parent_conn)
        with _interrupts_blocked_for_start():  # an interrupt during the start is delivered once w is known
            proc.start()
            workers.append(w)
        child_conn.close()
        return w

    def assign(w: _Worker) -> bool:
        """Give ``w`` the next task; False when the worker is gone (the task goes back)."""
        index, args, key = task = pending.popleft()
        try:
            with deferred_signals():  # see _recv
                w.conn.send((index, args, key, None if key in w.keys else shared[key]))
        except (OSError, ValueError):
            pending.appendleft(task)
            return False
        w.keys.add(key)
        w.task = task
        return True

    def retire(w: _Worker) -> None:
        workers.remove(w)
        with contextlib.suppress(OSError, ValueError):
            w.conn.close()

    def feed(w: _Worker) -> None:
        """Give ``w`` work, replacing it while it turns out to be dead."""
        while pending:
            if assign(w):
                return
            w.proc.join(1.0)
            retire(w)
            w = start()
        with contextlib.suppress(OSError, ValueError), deferred_signals():
            w.conn.send(None)
        w.proc.join(2.0)
        if w.proc.is_alive():
            w.proc.kill()
            w.proc.join(2.0)
        retire(w)

    try:
        for _ in range(min(jobs, len(pending))):
            start()
        for w in list(workers):
            feed(w)
        while workers:
            busy = {w.conn: w for w in workers if w.task is not None}
            sentinels = {w.proc.sentinel: w for w in busy.values()}
            if not busy:
                break
            for obj in wait(list(busy) + list(sentinels)):
                w = busy.get(obj) or sentinels.get(obj)
                if w not in workers or w.task is None:
                    continue  # already handled through its other handle
                try:
                    index, kind, value = _recv(w.conn) if w.conn.poll() else (None, None, None)
                except (EOFError, OSError):
                    index = None
                task, w.task = w.task, None
                if index is None:  # the pipe closed or the process ended without an answer
                    w.proc.join(1.0)
                    on_outcome(task[0], "worker died", _death_text(w.proc))
                    retire(w)
                    if pending:
                        feed(start())
                    continue
                on_outcome(index, kind, value)
                feed(w)
    finally:
        with _ignoring_interrupts():
            for w in workers:
                if w.proc.is_alive():
                    w.proc.kill()
            for w in workers:
                w.proc.join(2.0)
                with contextlib.suppress(OSError, ValueError):
                    w.conn.close()


# -- Dask ----------------------------------------------------------------------------------------

def _dask_call(fn, args, obj):
    return fn(args, obj)


def _nlpt_version():
    import nlpt

    return nlpt.__version__


def import_distributed():
    """The ``distributed`` module, or an NLPTInputError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise NLPTInputError(
            "executor: expected the Dask scheduler client 'distributed' for --executor dask "
            "(pip install 'nlpt-threshold[dask]'), got ImportError"
        ) from None
    return distributed


def dask_client(scheduler: str | None, n_workers: int = 1, timeout: float = 10.0):
    """A ``distributed.Client`` connected to ``scheduler`` (an address such as
    ``tcp://host:8786``), or to a new ``LocalCluster`` of ``n_workers`` single-threaded worker
    processes when ``scheduler`` is None; the workers must be able to import this nlpt."""
    distributed = import_distributed()
    from . import __version__

    cluster = None
    try:
        if scheduler is None:
            cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise NLPTInputError(
            f"scheduler: expected the address of a running Dask scheduler, got {scheduler!r} ({exc})"
        ) from None
    client._nlpt_cluster = cluster
    try:
        found = client.run(_nlpt_version)
    except Exception as exc:
        close_dask(client)
        raise NLPTInputError(
            f"scheduler: expected workers that can import nlpt (pip install nlpt-threshold=={__version__} "
            f"on every worker), got {_error_text(exc)}"
        ) from None
    if not found:
        close_dask(client)
        raise NLPTInputError(f"scheduler: expected at least one worker connected to {scheduler!r}, got none")
    other = sorted({v for v in found.values() if v != __version__})
    if other:
        print(f"nlpt: warning: Dask workers run nlpt {', '.join(other)}, this process {__version__}",
              file=sys.stderr)
    return client


def close_dask(client) -> None:
    cluster = getattr(client, "_nlpt_cluster", None)
    with contextlib.suppress(Exception):
        client.close(timeout=5)
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=5)


def run_dask(fn, tasks, shared: dict, on_outcome, client) -> None:
    """Run the tasks on a Dask cluster through ``client`` (module docstring)."""
    distributed = import_distributed()
    futures = {}
    try:
        handles = {key: client.scatter(obj, broadcast=True) for key, obj in shared.items()}
        for index, args, key in tasks:
            fut = client.submit(_dask_call, fn, args, handles[key], pure=False, key=f"nlpt-case-{index}-{os.urandom(4).hex()}")
            futures[fut] = index
        for fut in distributed.as_completed(list(futures)):
            index = futures[fut]
            if fut.status == "finished":
                on_outcome(index, "ok", fut.result())
                continue
            try:
                exc = fut.exception()
            except Exception as err:  # cancelled futures raise here
                exc = err
            if isinstance(exc, distributed.KilledWorker) or type(exc).__name__ in ("KilledWorker", "CancelledError"):
                on_outcome(index, "worker died", f"the Dask worker running this case died ({_error_text(exc)})")
            else:
                on_outcome(index, "error", _error_text(exc))
    finally:
        with _ignoring_interrupts():
            if futures:
                with contextlib.suppress(Exception):
                    client.cancel(list(futures), force=True)
