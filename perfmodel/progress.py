"""Progress of the steps that take more than a few seconds, for the command line.

Library code says what it is doing -- :func:`step` (``reading observations``) and
:func:`advance` (``cell 12 of 40``) -- and shows nothing by itself: a script or a
notebook calling the library sees no progress. The command line switches it on
with :func:`shown` (``perfmodel --quiet`` leaves it off). Progress goes to stderr,
so stdout stays machine-readable:

* on a terminal, one line that is rewritten in place (``\\r``) and ended when the
  command finishes;
* otherwise (a log file, a pipe, CI), plain lines ``[perfmodel] reading
  observations…``; counted steps print at most one line every
  :data:`PLAIN_INTERVAL` seconds (plus the first and the last), so a 40-cell
  notebook does not flood a log.

Messages are keys of the text catalogue (``progress.*``) in the language given
to :func:`shown`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TextIO

from perfmodel.text import check_lang, say

__all__ = ["PLAIN_INTERVAL", "PREFIX", "advance", "shown", "step"]

PREFIX = "[perfmodel] "
PLAIN_INTERVAL = 5.0
"""Seconds between two plain lines of the same counted step (not on a terminal)."""


@dataclass
class _Display:
    stream: TextIO
    lang: str
    live: bool  # a terminal: rewrite one line
    width: int = 0  # length of the line shown (live), to blank it when a shorter one follows
    last_key: str = ""
    last_time: float = field(default=-float("inf"))

    def show(self, text: str, *, key: str, counted: bool, final: bool) -> None:
        line = PREFIX + text
        if self.live:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            now = time.monotonic()
            repeated = counted and key == self.last_key and not final
            if repeated and now - self.last_time < PLAIN_INTERVAL:
                return
            self.stream.write(line + "\n")
            self.last_key, self.last_time = key, now
        self.stream.flush()

    def close(self) -> None:
        if self.live and self.width:
            self.stream.write("\r" + " " * self.width + "\r")  # leave the terminal clean
            self.stream.flush()


_display: ContextVar[_Display | None] = ContextVar("perfmodel_progress", default=None)


def _words(key: str, lang: str, values: dict[str, Any]) -> str:
    return say(f"progress.{key}", lang, **values)


def step(key: str, /, **values: Any) -> None:
    """Say that a step begins: the catalogue message ``progress.<key>`` filled with ``values``.

    Parameters
    ----------
    key
        The message key without ``progress.``, e.g. ``"reading"``.
    **values
        The message's placeholders.
    """
    display = _display.get()
    if display is not None:
        display.show(_words(key, display.lang, values), key=key, counted=False, final=False)


def advance(key: str, current: int, total: int, /, **values: Any) -> None:
    """Say how far a counted step is: item ``current`` of ``total`` (1-based).

    The message ``progress.<key>`` gets ``current`` and ``total`` besides ``values``.
    """
    display = _display.get()
    if display is not None:
        text = _words(key, display.lang, {**values, "current": current, "total": total})
        display.show(text, key=key, counted=True, final=current >= total)


@contextlib.contextmanager
def shown(*, enabled: bool = True, lang: str = "en", stream: TextIO | None = None) -> Iterator[None]:
    """Show the progress of the library calls made inside the ``with`` block.

    Parameters
    ----------
    enabled
        ``False`` (``--quiet``): show nothing.
    lang
        Language of the messages, ``zh`` or ``en``.
    stream
        Where to write (default: ``sys.stderr`` at the time of the call). A
        terminal gets one updating line, anything else plain lines.
    """
    lang = check_lang(lang)
    if not enabled:
        token = _display.set(None)
        try:
            yield
        finally:
            _display.reset(token)
        return
    out = stream if stream is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    display = _Display(out, lang, live=bool(isatty and isatty()))
    token = _display.set(display)
    try:
        yield
    finally:
        _display.reset(token)
        with contextlib.suppress(OSError, ValueError):
            display.close()
