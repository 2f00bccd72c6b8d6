"""The delivering side of the spool: leases of events for a destination,
and settling them (acknowledged, dead-lettered) or giving them back.

A lease reads the owned segments oldest first from the destination's cursor,
in large sequential chunks. Recording a delivery overwrites the
destination's progress slot in place (:mod:`.records`): it never needs new
disk space, so a spool on a full disk still drains. A segment every
destination has settled is deleted.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from ...errors import SpoolError
from ...transports.base import EncodedEvent
from . import records
from .core import SpoolCore
from .files import read
from .segments import Segment, SpooledEvent

__all__ = ["SpoolReader"]

READ_AHEAD = 64 * 1024


class SpoolReader(SpoolCore):
    """Leases events to a destination's worker and records what became of them."""

    def lease(self, destination: str, max_events: int, max_bytes: int) -> list[SpooledEvent]:
        """Lease the oldest unleased events of ``destination``, up to the limits.

        Records that are damaged or undecodable are moved to the dead letters
        (with the reason) on the way: they never block the destination.
        """
        self._rescan()
        leased: list[SpooledEvent] = []
        size = 0
        damaged: list[tuple[Segment, records.Corrupt]] = []
        with self._lock:
            segments = sorted(self._owned.values(), key=lambda s: s.name)
        for segment in segments:
            touched = False
            while len(leased) < max_events and (not leased or size < max_bytes):
                with self._lock:
                    progress = segment.progress.get(destination)
                    if (
                        progress is None
                        or progress.count <= len(progress.leased)
                        or self._owned.get(segment.name) is not segment
                    ):
                        break
                    start, stop = progress.cursor, segment.size
                    final = segment is not self._current
                if start >= stop:
                    break
                # Enough for the batch, not much more: parsing is the cost.
                want = min(max_bytes - size, (max_events - len(leased)) * 2048) + READ_AHEAD
                data = read(segment.fd, start, min(stop - start, want))
                reached_end = start + len(data) >= stop
                parsed = records.scan_events(data, start, final and reached_end)
                if not parsed and not reached_end:  # one record longer than the read
                    data = read(segment.fd, start, stop - start)
                    parsed = records.scan_events(data, start, final)
                with self._lock:
                    if progress.cursor != start or self._owned.get(segment.name) is not segment:
                        continue  # released or settled meanwhile: read again
                    full = False
                    taken, settled, dup = progress.leased, progress.settled, progress.dup
                    for record in parsed:
                        if isinstance(record, records.Corrupt):
                            if record.offset not in segment.reported_corrupt:
                                segment.reported_corrupt.add(record.offset)
                                damaged.append((segment, record))
                            progress.cursor = record.end
                            continue
                        offset, end, destinations, created, severity, payload = record
                        if destination not in destinations or offset in taken or offset in settled:
                            progress.cursor = end
                            continue
                        fits = len(leased) < max_events and size + len(payload) <= max_bytes
                        if leased and not fits:
                            full = True
                            break
                        duplicate = offset < progress.dup_until
                        if dup and dup.pop(offset, None) is not None:
                            duplicate = True
                        taken[offset] = end
                        event = EncodedEvent(payload, severity)
                        leased.append(SpooledEvent(offset, event, created, duplicate,
                                                   destination, segment.name, end))  # fmt: skip
                        size += len(payload)
                        progress.cursor = end
                        touched = True
                    if full or progress.cursor == start:
                        break  # the limits, or only an incomplete record so far
            if touched:
                with self._lock:
                    self._save_progress(segment, destination)
            if len(leased) >= max_events or (leased and size >= max_bytes):
                break
        for segment, corrupt in damaged:
            self._dead_letter_corrupt(destination, segment.name, corrupt)
        return leased

    def ack(self, items: Iterable[SpooledEvent], destination: str | None = None) -> None:
        """The destination has these events: settle them (never needs new disk space)."""
        self._settle(items)

    def _settle(self, items: Iterable[SpooledEvent]) -> None:
        groups: dict[tuple[str, str], list[SpooledEvent]] = collections.defaultdict(list)
        for item in items:
            groups[item.segment, item.destination].append(item)
        with self._lock:
            for (name, destination), group in groups.items():
                segment = self._owned.get(name)
                progress = segment.progress.get(destination) if segment is not None else None
                if segment is None or progress is None:
                    continue  # settled and deleted already (an owed update done twice)
                for item in group:
                    progress.leased.pop(item.id, None)
                    progress.dup.pop(item.id, None)
                    if item.id < progress.acked or item.id in progress.settled:
                        continue
                    progress.settled.add(item.id)
                    size = len(item.event.payload)
                    progress.count -= 1
                    progress.bytes -= size
                    segment.pending_events -= 1
                    segment.pending_bytes -= size
                    self._own_bytes -= size
                progress.acked = min([progress.cursor, *progress.leased])
                progress.settled = {o for o in progress.settled if o >= progress.acked}
                try:
                    segment.write_progress(destination, progress)
                    segment.publish_totals()
                except OSError as exc:
                    raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc
                if segment.pending_events == 0 and segment is not self._current:
                    del self._owned[name]
                    self._forget(segment, delete=True)

    def release(self, items: Iterable[SpooledEvent], *, maybe_delivered: bool = False) -> None:
        """Give leased events back to be sent again.

        Events this lease did not deliver stay flagged if an earlier, dead
        holder may have delivered them; ``maybe_delivered`` flags them all
        (whether this holder delivered them is unknown).
        """
        touched: set[tuple[Segment, str]] = set()
        with self._lock:
            for item in items:
                segment = self._owned.get(item.segment)
                progress = segment.progress.get(item.destination) if segment else None
                if segment is None or progress is None:
                    continue
                if progress.leased.pop(item.id, None) is None:
                    continue
                if maybe_delivered or item.maybe_duplicate:
                    progress.dup[item.id] = item.end
                progress.cursor = min(progress.cursor, item.id)
                touched.add((segment, item.destination))
            for segment, destination in touched:
                self._save_progress(segment, destination)
