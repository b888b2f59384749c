"""A progress indicator for the command line: one status line on stderr, only on a terminal.

Each phase of a command (reading, computing, writing) shows ``user_ops: ⠋ computing metrics (2.1 s)``
on a single line that a background thread redraws ten times a second, and clears when the command
ends, so the terminal is left clean and redirected output (a file, a pipe, CI logs) never sees it.

Examples
--------
>>> import io
>>> progress = Progress(io.StringIO(), enabled=True)  # a StringIO is no terminal: nothing is drawn
>>> with progress.phase("computing"):
...     pass
>>> progress.enabled
False
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Progress"]

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_ASCII_FRAMES = "|/-\\"
_INTERVAL = 0.1  # seconds between redraws


class Progress:
    """Phase messages with a spinner and the elapsed time, drawn on ``stream`` when it is a terminal.

    Parameters
    ----------
    stream:
        Where to draw (the command line passes ``sys.stderr``).
    enabled:
        ``False`` (``--quiet``) draws nothing; ``True`` draws only if ``stream.isatty()``.
    prog:
        The program name shown at the start of the line.
    """

    def __init__(self, stream: TextIO, *, enabled: bool = True, prog: str = "user_ops") -> None:
        self.stream = stream
        self.enabled = enabled and _is_terminal(stream)
        self.prog = prog
        self._frames = _FRAMES if _can_encode(stream, _FRAMES) else _ASCII_FRAMES
        self._lock = threading.Lock()
        self._width = 0

    @contextmanager
    def phase(self, message: str) -> Iterator[None]:
        """Show ``message`` with a spinner while the ``with`` block runs, then clear the line."""
        if not self.enabled:
            yield
            return
        done = threading.Event()
        start = time.perf_counter()
        self._draw(message, 0, 0.0)
        ticker = threading.Thread(target=self._tick, args=(message, start, done), daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            self._clear()

    def _tick(self, message: str, start: float, done: threading.Event) -> None:
        frame = 0
        while not done.wait(_INTERVAL):
            frame += 1
            self._draw(message, frame, time.perf_counter() - start)

    def _draw(self, message: str, frame: int, seconds: float) -> None:
        spinner = self._frames[frame % len(self._frames)]
        line = f"{self.prog}: {spinner} {message} ({seconds:.1f} s)"
        with self._lock:
            self.stream.write("\r" + line + " " * max(0, self._width - len(line)))
            self.stream.flush()
            self._width = len(line)

    def _clear(self) -> None:
        with self._lock:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


def _can_encode(stream: TextIO, text: str) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
