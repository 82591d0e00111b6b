"""A deadline for reading a request body, so a client that stalls or trickles cannot hold a worker
thread (gunicorn's gthread workers have only `--threads` each) for longer than the body timeout.

A body is read with blocking socket reads, and gunicorn's reader loops over them until it has the
bytes it was asked for. `BodyDeadline` gives the client socket a read timeout, so a stall raises
once it has lasted that long, and a watchdog thread (one per process) cuts the timeout to nothing
when the deadline passes, so a client sending a byte now and then fails at its next wait. Either
way the read raises and the caller answers 408. The socket's own timeout comes back afterwards.

gunicorn and Werkzeug's development server put the client socket in the WSGI environ; under
another server (or the test client) there is none and reads are not bounded here.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from types import TracebackType
from typing import Any

CUT = 1e-6  # the socket timeout once the deadline has passed: the next wait fails at once
SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")


def client_socket(environ: dict[str, Any]) -> socket.socket | None:
    """The request's client socket as the server passes it, or None."""
    for key in SOCKET_KEYS:
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


class BodyDeadline:
    """The time a request body has to arrive in, from entering the `with` block on."""

    def __init__(self, sock: socket.socket | None, seconds: float) -> None:
        self.sock = sock
        self.seconds = seconds
        self.due = math.inf
        self._previous: float | None = None

    def hang_up(self) -> None:
        """Stop reading from the client: the server's drain of the rest of the body and its wait
        for a next request on the connection then end at once, so the connection closes after
        the answer (gunicorn 23 would otherwise drain a trickling body for as long as it lasts)."""
        if self.sock is not None:
            with contextlib.suppress(OSError):  # already closed
                self.sock.shutdown(socket.SHUT_RD)

    @property
    def passed(self) -> bool:
        """True once the deadline is over (a read that failed by now failed for lack of time)."""
        return time.monotonic() >= self.due

    def __enter__(self) -> BodyDeadline:
        self.due = time.monotonic() + self.seconds
        if self.sock is not None:
            self._previous = self.sock.gettimeout()
            self.sock.settimeout(self.seconds)
            _WATCHDOG[0].watch(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.sock is not None:
            _WATCHDOG[0].forget(self)  # after this the watchdog no longer touches the socket
            with contextlib.suppress(OSError):  # closed meanwhile: nothing to restore
                self.sock.settimeout(self._previous)


class _Watchdog:
    """One thread that cuts the socket timeout of every watched deadline that has passed."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._watched: set[BodyDeadline] = set()
        self._next_due = math.inf  # what the thread sleeps until
        self._thread: threading.Thread | None = None

    def watch(self, deadline: BodyDeadline) -> None:
        """Cut `deadline`'s socket when it passes, unless forgotten first."""
        with self._wake:
            self._watched.add(deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="nnfunc-body-deadlines")
                self._thread.daemon = True
                self._thread.start()
            if deadline.due < self._next_due:  # usually not: deadlines come in order
                self._wake.notify()

    def forget(self, deadline: BodyDeadline) -> None:
        """Stop watching `deadline` (its body is read, or its read failed)."""
        with self._wake:
            self._watched.discard(deadline)

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                for deadline in [d for d in self._watched if d.due <= now]:
                    self._watched.discard(deadline)
                    with contextlib.suppress(OSError):  # closed by the server meanwhile
                        deadline.sock.settimeout(CUT)  # type: ignore[union-attr]
                self._next_due = min((d.due for d in self._watched), default=math.inf)
                wait = None if self._next_due == math.inf else self._next_due - now
                self._wake.wait(wait)


_WATCHDOG = [_Watchdog()]


def _new_watchdog_after_fork() -> None:
    """A forked worker starts with no watchdog thread: give it a fresh one (and a fresh lock)."""
    _WATCHDOG[0] = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_watchdog_after_fork)
