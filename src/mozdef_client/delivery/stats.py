"""Delivery counters, and the snapshot ``Client.stats()`` returns."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Counters", "Stats"]


@dataclass(frozen=True, kw_only=True)
class Stats:
    """A point-in-time view of a client's delivery.

    ``submitted`` counts ``send()`` calls (and replayed dead letters); the
    other counts are of events, summed over destinations (an event sent to
    two destinations counts twice in ``delivered``). ``dropped`` maps each
    reason (``queue_full``, ``closed``, ``spool_full``, ``spool_error``) to a
    count. Events older than ``max_age`` are dead-lettered, not dropped.
    ``duplicates`` counts events sent again after a crash between delivery
    and acknowledgement (at-least-once allows them).
    """

    submitted: int = 0
    delivered: int = 0
    retried: int = 0
    dropped: Mapping[str, int] = field(default_factory=dict)
    dead_lettered: int = 0
    duplicates: int = 0
    pending_memory: int = 0
    pending_spool: int = 0
    last_error: str | None = None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


class Counters:
    """Thread-safe counters behind :class:`Stats`."""

    def __init__(self) -> None:
        self._zero()

    def _zero(self) -> None:
        self._lock = threading.Lock()
        self.submitted = 0
        self.delivered = 0
        self.retried = 0
        self.dead_lettered = 0
        self.duplicates = 0
        self.dropped: Counter[str] = Counter()
        self.last_error: str | None = None

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + count)

    def add_submitted(self) -> None:
        """``add("submitted")`` without the lookups by name: once per send()."""
        with self._lock:
            self.submitted += 1

    def drop(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self.dropped[reason] += count

    def error(self, message: str) -> None:
        with self._lock:
            self.last_error = message

    def snapshot(self, *, pending_memory: int, pending_spool: int) -> Stats:
        with self._lock:
            return Stats(
                submitted=self.submitted,
                delivered=self.delivered,
                retried=self.retried,
                dropped=MappingProxyType(dict(self.dropped)),
                dead_lettered=self.dead_lettered,
                duplicates=self.duplicates,
                pending_memory=pending_memory,
                pending_spool=pending_spool,
                last_error=self.last_error,
            )

    def reset_after_fork(self) -> None:
        # A forked child starts from zero: its stats describe its own events,
        # while the parent goes on delivering (and counting) what it queued.
        self._zero()
