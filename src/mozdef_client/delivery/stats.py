"""Delivery counters, and the snapshot ``Client.stats()`` returns.

Each destination counts its own events (a :class:`Counters` per lane); the
client counts ``submitted``. A snapshot gives both: the per-destination
figures in ``Stats.destinations`` and their sums at the top level.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Counters", "DestinationStats", "Stats", "summarize"]

# Orders errors across destinations, so the top-level last_error is the latest.
# next() on an itertools.count is atomic under the GIL.
_ERROR_CLOCK = itertools.count(1)


def _empty() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, kw_only=True)
class DestinationStats:
    """A point-in-time view of one destination's delivery.

    ``dropped`` maps each reason (``queue_full``, ``closed``, ``spool_full``,
    ``spool_error``; ``unavailable`` for a transport set to drop rather than
    fail) to the events this destination lost for it.
    """

    delivered: int = 0
    retried: int = 0
    dropped: Mapping[str, int] = field(default_factory=_empty)
    dead_lettered: int = 0
    duplicates: int = 0
    pending_memory: int = 0
    pending_spool: int = 0
    last_error: str | None = None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


@dataclass(frozen=True, kw_only=True)
class Stats:
    """A point-in-time view of a client's delivery.

    ``submitted`` counts ``send()`` calls (and replayed dead letters); the
    other counts are of events, summed over destinations (an event sent to
    two destinations counts twice in ``delivered``); ``destinations`` has
    them per destination name. ``dropped`` maps each reason (``queue_full``,
    ``closed``, ``spool_full``, ``spool_error``) to a count. Events older
    than ``max_age`` are dead-lettered, not dropped. ``duplicates`` counts
    events sent again after a crash between delivery and acknowledgement
    (at-least-once allows them). ``last_error`` is the latest error of any
    destination. ``spool_other_destinations`` counts the events the spool
    held, when the client started, for destinations the client does not have.
    """

    submitted: int = 0
    delivered: int = 0
    retried: int = 0
    dropped: Mapping[str, int] = field(default_factory=_empty)
    dead_lettered: int = 0
    duplicates: int = 0
    pending_memory: int = 0
    pending_spool: int = 0
    last_error: str | None = None
    spool_other_destinations: int = 0
    destinations: Mapping[str, DestinationStats] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


class Counters:
    """Thread-safe counters of one destination (or, for ``submitted``, of a client)."""

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
        self.last_error_at = 0  # a tick of _ERROR_CLOCK

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
            self.last_error_at = next(_ERROR_CLOCK)

    def stamped_snapshot(
        self, pending_memory: int, pending_spool: int
    ) -> tuple[int, DestinationStats]:
        """A destination's snapshot, and when its last error happened (for :func:`summarize`)."""
        with self._lock:
            return self.last_error_at, DestinationStats(
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


def summarize(
    submitted: Counters,
    destinations: Iterable[tuple[str, tuple[int, DestinationStats]]],
    *,
    spool_other_destinations: int = 0,
) -> Stats:
    """The client's snapshot: ``submitted`` from the client's counters, the rest
    per destination and summed.

    ``destinations`` holds (name, :meth:`Counters.stamped_snapshot`) per lane;
    lanes that share a name are added up under it.
    """
    stamped: dict[str, tuple[int, DestinationStats]] = {}
    for name, (stamp, snapshot) in destinations:
        if name in stamped:
            stamp, snapshot = _add(stamped[name], (stamp, snapshot))
        stamped[name] = stamp, snapshot
    per = {name: snapshot for name, (_, snapshot) in stamped.items()}
    latest = max(stamped.values(), key=lambda pair: pair[0], default=(0, DestinationStats()))
    return Stats(
        submitted=submitted.submitted,
        delivered=sum(d.delivered for d in per.values()),
        retried=sum(d.retried for d in per.values()),
        dropped=MappingProxyType(dict(sum((Counter(d.dropped) for d in per.values()), Counter()))),
        dead_lettered=sum(d.dead_lettered for d in per.values()),
        duplicates=sum(d.duplicates for d in per.values()),
        pending_memory=sum(d.pending_memory for d in per.values()),
        pending_spool=sum(d.pending_spool for d in per.values()),
        last_error=latest[1].last_error,
        spool_other_destinations=spool_other_destinations,
        destinations=MappingProxyType(per),
    )


def _add(
    first: tuple[int, DestinationStats], second: tuple[int, DestinationStats]
) -> tuple[int, DestinationStats]:
    a, b = first[1], second[1]
    last = max(first, second, key=lambda pair: pair[0])
    return last[0], DestinationStats(
        delivered=a.delivered + b.delivered,
        retried=a.retried + b.retried,
        dropped=MappingProxyType(dict(Counter(a.dropped) + Counter(b.dropped))),
        dead_lettered=a.dead_lettered + b.dead_lettered,
        duplicates=a.duplicates + b.duplicates,
        pending_memory=a.pending_memory + b.pending_memory,
        # Spool rows belong to the name, not the lane: both lanes see them all.
        pending_spool=max(a.pending_spool, b.pending_spool),
        last_error=last[1].last_error,
    )
