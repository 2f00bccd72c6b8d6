"""The writing side of the spool: appends to this process's segment, the
byte cap (shared with other processes) and the free-space floor.

``append`` is one ``os.write`` of a checksummed record to the end of the
current segment (``O_APPEND``): once it returns, the event is in the page
cache and survives the process being killed at any instant; the ``fsync``
mode (:mod:`.sync`) says when it also reaches the disk.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Sequence

from ...errors import SpoolError, SpoolFullError
from ...transports.base import EncodedEvent
from . import records
from .core import SpoolCore
from .files import open_file, try_lock
from .segments import (
    ACK_SUFFIX,
    LOG_SUFFIX,
    SEGMENT_PREFIX,
    TMP_PREFIX,
    Progress,
    Segment,
    layout,
    read_totals,
)

__all__ = ["SEGMENT_BYTES", "SpoolWriter"]

SEGMENT_BYTES = 16 * 1024 * 1024  # a segment is closed for appends past this size
_RECYCLE_BYTES = 1024 * 1024  # an all-delivered current segment this big is replaced
_OTHERS_SECONDS = 0.05  # how stale other processes' pending bytes may be under the cap
_PUBLISH_SECONDS = 0.02  # how often an appending process tells others its pending bytes


class SpoolWriter(SpoolCore):
    """Appends events to the segment this process writes."""

    def append(self, destinations: Sequence[str], events: Sequence[EncodedEvent]) -> None:
        """Spool ``events`` for each of ``destinations``; all or nothing.

        Raises:
            SpoolFullError: the spool would pass its byte cap.
            SpoolError: the disk is (nearly) full, read-only, or the spool is unusable.
        """
        self._append(destinations, events, time.time(), admit=True)

    def _append(
        self,
        destinations: Sequence[str],
        events: Sequence[EncodedEvent],
        created: float,
        *,
        admit: bool,
    ) -> tuple[Segment, int]:
        """Append; returns the segment and the end of the records written."""
        key = tuple(destinations)
        if len(events) == 1:
            size = len(events[0].payload) * len(key)
        else:
            size = sum(len(e.payload) for e in events) * len(key)
        with self._lock:
            if admit:
                self._admit(size)
            found = self._layouts.get(key)
            if found is None:
                found = self._layouts[key] = layout(key)
            segment = self._writable(found[0])
            fields = found[1]
            if len(events) == 1 and len(fields) == 1:
                event = events[0]
                data = records.event_record(created, event.severity, fields[0], event.payload)
            else:
                data = b"".join(records.event_record(created, e.severity, field, e.payload)
                                for field in fields for e in events)  # fmt: skip
            try:
                written = os.write(segment.fd, data)
                if written != len(data):  # a full disk mid-write: take the piece back
                    os.ftruncate(segment.fd, segment.size)
                    raise OSError(28, "No space left on device (short write)")
                self._sync.appended(segment.fd)
            except OSError as exc:
                raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc
            segment.size += written
            count = len(events)
            each = size // len(key) if key else 0
            for name in key:
                progress = segment.progress[name]
                progress.count += count
                progress.bytes += each
            segment.pending_events += count * len(key)
            segment.pending_bytes += size
            self._own_bytes += size
            if abs(created - segment.published_at) > _PUBLISH_SECONDS:
                # Others' view of the cap, a few milliseconds behind at most.
                segment.published_at = created
                with contextlib.suppress(OSError):
                    segment.publish_totals()
            return segment, segment.size

    def _admit(self, size: int) -> None:
        """Refuse ``size`` more bytes past the cap or the free-space reserve."""
        now = time.monotonic()
        over = self._own_bytes + self._others_bytes + size > self._max_bytes
        if over or now - self._others_at > _OTHERS_SECONDS:
            self._count_others()
            if self._own_bytes + self._others_bytes + size > self._max_bytes:
                raise SpoolFullError(
                    f"the spool {self.path} is at its cap of {self._max_bytes} bytes"
                )
        if size >= self._unchecked_room:
            self._unchecked_room = self._room_on_disk(size)
        self._unchecked_room -= size

    def _writable(self, key: tuple[str, ...]) -> Segment:
        """The segment to append to, with a progress slot for each destination."""
        segment = self._current
        if segment is not None and key in segment.ready:
            if segment.size < self._segment_bytes and not (
                segment.pending_events == 0 and segment.size >= _RECYCLE_BYTES
            ):
                return segment
        elif segment is not None and (
            len(segment.used_slots) + len(key) <= records.MAX_SLOTS
            and segment.size < self._segment_bytes
        ):
            self._add_destinations(segment, key)
            return segment
        if segment is not None:
            self._current = None
            if segment.pending_events == 0:
                del self._owned[segment.name]
                self._forget(segment, delete=True)
        segment = self._create_segment()
        self._add_destinations(segment, key)
        self._current = segment
        return segment

    def _add_destinations(self, segment: Segment, key: tuple[str, ...]) -> None:
        for name in key:
            if name not in segment.progress:
                slot = segment.free_slot()
                assert slot is not None  # checked by the caller
                progress = Progress(slot, segment.size, 0)
                progress.cursor = segment.size
                try:
                    segment.write_progress(name, progress)
                except OSError as exc:
                    segment.used_slots.discard(slot)
                    raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc
                segment.progress[name] = progress
        segment.ready.add(key)

    def _create_segment(self) -> Segment:
        name = f"{SEGMENT_PREFIX}{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = self._file(TMP_PREFIX + name + LOG_SUFFIX)
        ack_path = self._file(name + ACK_SUFFIX)
        fd = ack_fd = -1
        try:
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
            fd = open_file(tmp, flags | os.O_APPEND)
            try_lock(fd)  # a new file: nobody else can have it
            ack_fd = open_file(ack_path, flags)
            zeros = b"\0" * records.PROGRESS_SIZE
            if os.write(ack_fd, zeros) != len(zeros):
                raise OSError(28, "No space left on device (short write)")
            # Renamed only once locked: another spool never adopts a new segment.
            os.rename(tmp, self._file(name + LOG_SUFFIX))
            self._sync.created(ack_fd)
        except OSError as exc:
            for path, handle in ((tmp, fd), (ack_path, ack_fd)):
                if handle >= 0:
                    self._sync.closing(handle)
                    os.close(handle)
                    with contextlib.suppress(OSError):
                        os.unlink(path)
            raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc
        segment = Segment(self._directory, name, fd, ack_fd, 0)
        self._own(segment)
        return segment

    def _count_others(self) -> None:
        """Read what other processes' segments hold (their published totals)."""
        self._others_at = time.monotonic()
        total_bytes = total_events = 0
        try:
            names = os.listdir(self._directory)
        except OSError:
            return
        for entry in names:
            if not (entry.startswith(SEGMENT_PREFIX) and entry.endswith(ACK_SUFFIX)):
                continue
            if entry[: -len(ACK_SUFFIX)] in self._owned:
                continue
            totals = read_totals(self._file(entry))
            if totals is not None:
                total_bytes += totals[0]
                total_events += totals[1]
        self._others_bytes, self._others_events = total_bytes, total_events

    def _room_on_disk(self, size: int) -> int:
        """Check the disk has room for ``size`` bytes and the reserve; returns how
        many more bytes may be written before checking again."""
        if not self._min_free_bytes:
            return 1 << 62
        try:
            disk = os.statvfs(self._directory)
        except OSError:
            return 0  # the write itself will say what is wrong
        free = disk.f_bavail * disk.f_frsize
        if free < size + self._min_free_bytes:
            raise SpoolError(
                f"the disk of the spool {self.path} is nearly full ({free} bytes free); "
                f"{self._min_free_bytes} bytes are kept free so that it can drain"
            )
        # Check again after a quarter of the headroom: other programs write too.
        return (free - self._min_free_bytes) // 4
