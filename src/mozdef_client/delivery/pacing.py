"""The wait between a lane's retries, which a flush or close can cut short.

A lane backs off between tries as its :class:`~.retry.RetryPolicy` says.
While a flush or close with a deadline waits, the lane is *hurried*: it
retries every :data:`HURRY_INTERVAL` instead, so the last tries fit in the
deadline (or a short outage that has already ended would lose every queued
event at exit). A server's ``Retry-After`` is still honoured when it ends
before that deadline.
"""

from __future__ import annotations

import threading
import time

__all__ = ["HURRY_INTERVAL", "Pacer"]

#: While hurried, retries come this often instead of after the backoff.
HURRY_INTERVAL = 0.05


class Pacer:
    """One lane's backoff sleeps; ``stopped`` ends them for good."""

    def __init__(self, stopped: threading.Event) -> None:
        self._stopped = stopped
        self._nudge = threading.Event()  # cuts a sleep short (a flush or close began)
        self._hurry_until: float | None = None  # the latest deadline of a flush or close

    def hurry(self, deadline: float) -> None:
        """Until ``deadline``, retry every :data:`HURRY_INTERVAL` instead of backing off."""
        if self._hurry_until is None or deadline > self._hurry_until:
            self._hurry_until = deadline
        self._nudge.set()

    def relax(self, deadline: float) -> None:
        """The flush that asked for ``deadline`` is over (a later one still counts)."""
        if self._hurry_until == deadline:
            self._hurry_until = None

    def wake(self) -> None:
        self._nudge.set()

    def sleep(self, delay: float, asked: bool) -> bool:
        """Back off for ``delay`` seconds, less while hurried; True if the lane stopped.

        ``asked``: the delay is a server's ``Retry-After``, honoured while
        hurried when it ends before the deadline; any other wait is cut to
        :data:`HURRY_INTERVAL`.
        """
        end = time.monotonic() + delay
        while not self._stopped.is_set():
            now = time.monotonic()
            hurry_until = self._hurry_until
            if hurry_until is not None and now < hurry_until and (not asked or end > hurry_until):
                end = min(end, now + HURRY_INTERVAL)
            if now >= end:
                return False
            self._nudge.wait(end - now)
            self._nudge.clear()
        return True
