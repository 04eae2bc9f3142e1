"""Progress on a terminal: one status line on stderr, rewritten in place.

Shown only when the stream is a terminal and not switched off (``--quiet``); when stderr is a
file or a pipe nothing is written, so logs and captured output stay clean.  The threshold
analysis reports through the engine's ``progress`` hook (a dict per accepted branch point:
``stage``, ``lam``, ``points``, ``eigensolves``), the sweep once per finished case.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Reporter", "is_terminal"]


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Reporter:
    """A status line ``prefix: text`` on ``stream`` (default stderr), at most every ``interval``
    seconds; ``enabled`` defaults to whether the stream is a terminal."""

    def __init__(self, prefix: str, stream=None, enabled: bool | None = None, interval: float = 0.1):
        self.prefix = prefix
        self.stream = sys.stderr if stream is None else stream
        self.enabled = is_terminal(self.stream) if enabled is None else bool(enabled)
        self.interval = interval
        self.t0 = time.monotonic()
        self._last = -float("inf")
        self._shown = False

    def update(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        line = f"{self.prefix}: {text}  [{now - self.t0:.1f} s]"
        try:
            self.stream.write("\r" + line + "\x1b[K")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
            return
        self._shown = True

    def close(self) -> None:
        """Erase the status line (the final output follows on a clean line)."""
        if self._shown:
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._shown = False

    def continuation(self, info: dict) -> None:
        """The engine's ``progress`` hook: lam reached, branch points, eigen-solves."""
        self.update(f"{info.get('stage', 'continuation')}: lam {info['lam']:.6g}, {info['points']} points, "
                    f"{info['eigensolves']} eigen-solves")
