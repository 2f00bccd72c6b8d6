"""Sharing a spool directory: taking over the segments of processes that died.

Each process delivers the segments it wrote, holding their ``flock`` while
it lives. A segment whose lock is free belongs to a process that is gone:
the next spool that finds it (at start, and every few seconds while
running) locks it, reads each destination's progress, and delivers the
rest. Events a lease of the dead owner had reached are flagged as possible
duplicates; records torn by a crash become dead letters.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import time
from collections.abc import Sequence

from ...errors import SpoolError
from . import records
from .core import SpoolCore
from .files import open_file, read, remove_if_stale, try_lock
from .segments import ACK_SUFFIX, LOG_SUFFIX, SEGMENT_PREFIX, TMP_PREFIX, Progress, Segment

__all__ = ["RESCAN_SECONDS", "SpoolTakeover"]

logger = logging.getLogger("mozdef_client.delivery")

RESCAN_SECONDS = 2.0  # how often a spool looks for segments of dead processes


class SpoolTakeover(SpoolCore):
    """Adopts dead processes' segments; leaves others' destinations to their clients."""

    def held_for_others(self, destinations: Sequence[str]) -> dict[str, int]:
        """Tell the spool whom it delivers for; returns the events waiting here
        for other destinations, which it leaves to a client that has them."""
        held: collections.Counter[str] = collections.Counter()
        with self._lock:
            self._serving = set(destinations)
            for segment in list(self._owned.values()):
                ours = False
                for name, progress in segment.progress.items():
                    if name in self._serving:
                        ours = ours or progress.count > 0
                    elif progress.count:
                        held[name] += progress.count
                if not ours and segment is not self._current:
                    del self._owned[segment.name]
                    self._own_bytes -= segment.pending_bytes
                    self._declined.add(segment.name)
                    self._forget(segment, delete=segment.pending_events == 0)
        return dict(held)

    def _rescan(self, force: bool = False) -> None:
        """Adopt the segments of processes that died (their lock is free)."""
        now = time.monotonic()
        if not force and now - self._rescan_at < RESCAN_SECONDS:
            return
        self._rescan_at = now
        try:
            names = sorted(os.listdir(self._directory))
        except OSError:
            return
        for entry in names:
            if entry.startswith(TMP_PREFIX) or (
                entry.endswith(ACK_SUFFIX) and entry[: -len(ACK_SUFFIX)] + LOG_SUFFIX not in names
            ):
                remove_if_stale(self._file(entry))
                continue
            if not (entry.startswith(SEGMENT_PREFIX) and entry.endswith(LOG_SUFFIX)):
                continue
            name = entry[: -len(LOG_SUFFIX)]
            damaged: list[records.Corrupt] = []
            owner = ""
            with self._lock:
                if name in self._owned or name in self._declined:
                    continue
                segment = self._adopt(name)
                if segment is None:
                    continue
                serving = self._serving
                wanted = serving is None or any(
                    progress.count for d, progress in segment.progress.items() if d in serving
                )
                if segment.pending_events == 0:
                    self._forget(segment, delete=True)
                elif wanted:
                    self._own(segment)
                    self._own_bytes += segment.pending_bytes
                    damaged = list(segment.corrupt)
                    if len(segment.progress) == 1:  # whose it was, if it can be known
                        owner = next(iter(segment.progress))
                else:
                    self._declined.add(name)
                    self._forget(segment, delete=False)
            for corrupt in damaged:  # a torn write at a crash, or damage
                self._dead_letter_corrupt(owner, name, corrupt)

    def _adopt(self, name: str) -> Segment | None:
        """Lock a dead process's segment and read where its destinations are."""
        try:
            fd = open_file(self._file(name + LOG_SUFFIX), os.O_RDWR | os.O_APPEND)
        except (OSError, SpoolError):
            return None
        if not try_lock(fd) or os.fstat(fd).st_nlink == 0:  # alive, or just deleted
            os.close(fd)
            return None
        try:
            ack_fd = open_file(self._file(name + ACK_SUFFIX), os.O_RDWR | os.O_CREAT)
            progress_data = read(ack_fd, 0, records.PROGRESS_SIZE)
            if len(progress_data) < records.PROGRESS_SIZE:  # its creator died midway
                os.pwrite(ack_fd, b"\0" * (records.PROGRESS_SIZE - len(progress_data)),
                          len(progress_data))  # fmt: skip
            size = os.fstat(fd).st_size
        except (OSError, SpoolError) as exc:
            logger.warning("cannot take over the spool segment %s: %s", name, exc)
            os.close(fd)
            return None
        segment = Segment(self._directory, name, fd, ack_fd, size)
        slots = records.read_slots(progress_data)
        totals = slots[0]
        segment.totals_seq = totals[0] if totals else 0
        by_key: dict[bytes, tuple[int, int, int, int]] = {}
        for slot, found in enumerate(slots[1:], start=1):
            if found is not None:
                segment.used_slots.add(slot)
                seq, key, acked, mark = found
                by_key[key] = (slot, seq, acked, mark)
        start = min((found[2] for found in by_key.values()), default=0)
        data = read(fd, start, size - start) if size > start else b""
        for record in records.parse_events(data, start, True):
            if isinstance(record, records.Corrupt):
                segment.corrupt.append(record)
                segment.reported_corrupt.add(record.offset)
                continue
            for destination in record.destinations:
                progress = segment.progress.get(destination)
                if progress is None:
                    slot, seq, acked, mark = by_key.get(records.destination_key(destination),
                                                        (0, 0, 0, 0))  # fmt: skip
                    if slot == 0:
                        slot = segment.free_slot() or 0
                    progress = segment.progress[destination] = Progress(slot, acked, mark, seq)
                if record.offset >= progress.acked:
                    progress.count += 1
                    progress.bytes += len(record.payload)
                    segment.pending_events += 1
                    segment.pending_bytes += len(record.payload)
        with contextlib.suppress(OSError):
            segment.publish_totals()
        return segment
