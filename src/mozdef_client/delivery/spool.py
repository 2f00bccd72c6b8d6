"""The durable spool: an append-only segment log per writer process.

``append`` is one ``os.write`` of a checksummed record to the end of this
process's segment file (``O_APPEND``): once it returns, the event is in the
page cache and survives the process being killed at any instant. With
``fsync=True`` each append is also flushed to the disk (power loss), at a
measured cost (docs/delivery.md).

Several processes may share a directory. Each owns the segments it writes
(an ``flock`` held while it lives) and delivers them; the segments of a
process that died are taken over by the next spool that finds them
unlocked. Progress is kept per segment and destination in a small
preallocated file (:mod:`.spool_records`): the acknowledged offset, and how
far a lease reached (events past the acknowledged offset and before that
mark may have been delivered by a dead owner, so they are flagged as
possible duplicates). A segment is deleted once every destination has
acknowledged all of it. Dead letters live in one shared file.

Why not SQLite any more: one commit per event could not reach the
throughput and latency durable mode needs (see docs/delivery.md).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..errors import ConfigurationError, SpoolError, SpoolFullError
from ..severity import Severity
from ..transports.base import EncodedEvent
from . import spool_records as records
from .spool_files import check_directory, forget_locks_after_fork, locked, open_file

__all__ = [
    "Backlog",
    "DeadLetter",
    "DeadLetterGroup",
    "Spool",
    "SpoolStatus",
    "SpooledEvent",
    "StoredEvent",
    "export_spool",
    "purge_spool",
    "requeue_dead_letters",
    "spool_path",
    "spool_status",
]

logger = logging.getLogger("mozdef_client.delivery")

#: The SQLite spool of mozdef_client 2.0 and earlier, migrated on first open.
SPOOL_FILENAME = "mozdef-spool.sqlite3"
LOCK_FILENAME = "mozdef-spool.lock"
DEAD_LETTERS_FILENAME = "dead-letters.log"
SEGMENT_PREFIX = "seg-"
LOG_SUFFIX = ".log"
ACK_SUFFIX = ".ack"
_TMP_PREFIX = ".tmp-"

_SEGMENT_BYTES = 16 * 1024 * 1024  # a segment is closed for appends past this size
_RECYCLE_BYTES = 1024 * 1024  # an all-delivered current segment this big is replaced
_RESCAN_SECONDS = 2.0  # how often a spool looks for segments of dead processes
_OTHERS_SECONDS = 0.05  # how stale other processes' pending bytes may be under the cap
_STALE_TMP_SECONDS = 60.0
_READ_AHEAD = 64 * 1024
_ZERO_KEY = b"\0" * 8
_PUBLISH_SECONDS = 0.02  # how often an appending process tells others its pending bytes


@dataclass(frozen=True, slots=True)
class SpooledEvent:
    """A leased event: where it is, the event, when it was spooled, and
    whether an earlier holder may have delivered it already."""

    id: int  # its offset in the segment
    event: EncodedEvent
    created: float
    maybe_duplicate: bool
    destination: str = ""
    segment: str = ""
    end: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a destination refused for good, with the reason."""

    destination: str
    payload: bytes
    error: str
    failed_at: float
    severity: Severity = Severity.INFO


class _Progress:
    """One destination's progress through one segment (this process's view)."""

    __slots__ = ("acked", "bytes", "count", "cursor", "dup", "dup_until", "leased", "seq",
                 "settled", "slot")  # fmt: skip

    def __init__(self, slot: int, acked: int, dup_until: int, seq: int = 0) -> None:
        self.slot = slot
        self.seq = seq
        self.acked = acked  # every record for it before this offset is settled
        self.cursor = acked  # where the next lease reads
        self.leased: dict[int, int] = {}  # offset -> end, leased and not settled
        self.settled: set[int] = set()  # settled offsets past ``acked`` (out of order)
        self.dup_until = dup_until  # records before this a dead owner may have sent
        self.dup: dict[int, int] = {}  # released, maybe delivered: offset -> end
        self.count = 0  # records for it not settled
        self.bytes = 0  # their payload bytes

    def mark(self) -> int:
        """How far events may have been delivered: persisted for the next owner."""
        return max(self.dup_until, max(self.leased.values(), default=0),
                   max(self.dup.values(), default=0))  # fmt: skip


class _Segment:
    """A segment file this spool owns (holds the lock of), with its progress file."""

    def __init__(self, directory: str, name: str, fd: int, ack_fd: int, size: int) -> None:
        self.name = name
        self.log_path = os.path.join(directory, name + LOG_SUFFIX)
        self.ack_path = os.path.join(directory, name + ACK_SUFFIX)
        self.fd = fd
        self.ack_fd = ack_fd
        self.size = size
        self.progress: dict[str, _Progress] = {}
        self.ready: set[tuple[str, ...]] = set()  # destination lists with slots
        self.used_slots: set[int] = set()
        self.totals_seq = 0
        self.published_at = 0.0
        self.pending_events = 0
        self.pending_bytes = 0  # payload bytes times destinations still to deliver
        self.reported_corrupt: set[int] = set()
        self.corrupt: list[records.Corrupt] = []  # found when it was adopted

    def free_slot(self) -> int | None:
        for slot in range(1, records.MAX_SLOTS + 1):
            if slot not in self.used_slots:
                self.used_slots.add(slot)
                return slot
        return None

    def write_progress(self, destination: str, progress: _Progress) -> None:
        progress.seq += 1
        half = records.pack_half(progress.seq, records.destination_key(destination),
                                 progress.acked, progress.mark())  # fmt: skip
        os.pwrite(self.ack_fd, half, records.half_position(progress.slot, progress.seq))

    def publish_totals(self) -> None:
        self.totals_seq += 1
        half = records.pack_half(self.totals_seq, _ZERO_KEY, self.pending_bytes,
                                 self.pending_events)  # fmt: skip
        os.pwrite(self.ack_fd, half, records.half_position(0, self.totals_seq))

    def close(self, delete: bool) -> None:
        if delete:  # while still holding the lock: nobody adopts it meanwhile
            for path in (self.log_path, self.ack_path):
                with contextlib.suppress(OSError):
                    os.unlink(path)
        for fd in (self.fd, self.ack_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class Spool:
    """A spool directory shared by a client's destinations (and other processes)."""

    def __init__(
        self,
        directory: str,
        *,
        max_bytes: int,
        min_free_bytes: int = 0,
        fsync: bool = False,
        lock_timeout: float = 10.0,
    ) -> None:
        self.path = directory
        self._directory = directory
        self._max_bytes = max_bytes
        self._min_free_bytes = min_free_bytes
        self._fsync = fsync
        self._lock_timeout = lock_timeout
        self._segment_bytes = max(64 * 1024, min(_SEGMENT_BYTES, max_bytes // 8))
        check_directory(directory)
        self._reset()
        self._finalizer = weakref.finalize(self, _close_fds, self._fds)
        self._finalizer.atexit = False  # the pipeline's exit close still needs them
        try:
            self._open_shared_files()
            with locked(self._lock_fd, True, lock_timeout, f"the spool {directory}"):
                if os.path.lexists(self._file(SPOOL_FILENAME)):
                    from .spool_migrate import migrate_sqlite_spool

                    migrate_sqlite_spool(self, self._file(SPOOL_FILENAME))
                self._rescan(force=True)
        except OSError as exc:
            self.close()
            self._finalizer()
            raise ConfigurationError(f"cannot open the spool {directory}: {exc}") from exc
        except BaseException:
            self.close()
            self._finalizer()
            raise

    def _open_shared_files(self) -> None:
        self._lock_fd = open_file(self._file(LOCK_FILENAME), os.O_RDWR | os.O_CREAT)
        self._fds.add(self._lock_fd)
        self._dead_fd = open_file(self._file(DEAD_LETTERS_FILENAME),
                                  os.O_RDWR | os.O_APPEND | os.O_CREAT)  # fmt: skip
        self._fds.add(self._dead_fd)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._owned: dict[str, _Segment] = {}
        self._current: _Segment | None = None
        self._own_bytes = 0
        self._others_bytes = 0
        self._others_events = 0
        self._others_at = -1e9
        self._rescan_at = -1e9
        self._declined: set[str] = set()  # others' segments with nothing for us
        self._serving: set[str] | None = None  # destinations of the client, once known
        self._unchecked_room = 0  # bytes to append before the next free-space check
        self._layouts: dict[tuple[str, ...], tuple[tuple[str, ...], list[bytes]]] = {}
        self._fds: set[int] = set()

    def _file(self, name: str) -> str:
        return os.path.join(self._directory, name)

    def reset_after_fork(self) -> None:
        """In a forked child: the parent keeps its segments; the child starts its own."""
        inherited, serving, declined = self._fds, self._serving, self._declined
        self._reset()
        self._serving, self._declined = serving, declined
        forget_locks_after_fork()
        # Closing the child's copies leaves the parent's locks held (flock
        # belongs to the open file, which the parent still has open).
        _close_fds(inherited)
        self._finalizer = weakref.finalize(self, _close_fds, self._fds)
        self._finalizer.atexit = False
        self._open_shared_files()

    # -- writing ---------------------------------------------------------

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
    ) -> tuple[_Segment, int]:
        """Append; returns the segment and the end of the records written."""
        key = tuple(destinations)
        if len(events) == 1:
            size = len(events[0].payload) * len(key)
        else:
            size = sum(len(e.payload) for e in events) * len(key)
        with self._lock:
            if admit:
                self._admit(size)
            layout = self._layouts.get(key)
            if layout is None:
                layout = self._layouts[key] = _layout(key)
            segment = self._writable(layout[0])
            fields = layout[1]
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
                if self._fsync:
                    os.fdatasync(segment.fd)
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

    def _writable(self, key: tuple[str, ...]) -> _Segment:
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

    def _add_destinations(self, segment: _Segment, key: tuple[str, ...]) -> None:
        for name in key:
            if name not in segment.progress:
                slot = segment.free_slot()
                assert slot is not None  # checked by the caller
                progress = _Progress(slot, segment.size, 0)
                progress.cursor = segment.size
                try:
                    segment.write_progress(name, progress)
                except OSError as exc:
                    segment.used_slots.discard(slot)
                    raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc
                segment.progress[name] = progress
        segment.ready.add(key)

    def _create_segment(self) -> _Segment:
        name = f"{SEGMENT_PREFIX}{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = self._file(_TMP_PREFIX + name + LOG_SUFFIX)
        ack_path = self._file(name + ACK_SUFFIX)
        fd = ack_fd = -1
        try:
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
            fd = open_file(tmp, flags | os.O_APPEND)
            _try_lock(fd)  # a new file: nobody else can have it
            ack_fd = open_file(ack_path, flags)
            zeros = b"\0" * records.PROGRESS_SIZE
            if os.write(ack_fd, zeros) != len(zeros):
                raise OSError(28, "No space left on device (short write)")
            if self._fsync:
                os.fsync(ack_fd)
            # Renamed only once locked: another spool never adopts a new segment.
            os.rename(tmp, self._file(name + LOG_SUFFIX))
            if self._fsync:
                _fsync_directory(self._directory)
        except OSError as exc:
            for path, handle in ((tmp, fd), (ack_path, ack_fd)):
                if handle >= 0:
                    os.close(handle)
                    with contextlib.suppress(OSError):
                        os.unlink(path)
            raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc
        segment = _Segment(self._directory, name, fd, ack_fd, 0)
        self._own(segment)
        return segment

    def _own(self, segment: _Segment) -> None:
        self._owned[segment.name] = segment
        self._fds.update((segment.fd, segment.ack_fd))

    def _forget(self, segment: _Segment, *, delete: bool) -> None:
        self._fds.difference_update((segment.fd, segment.ack_fd))
        segment.close(delete)

    # -- the worker's side -------------------------------------------------

    def lease(self, destination: str, max_events: int, max_bytes: int) -> list[SpooledEvent]:
        """Lease the oldest unleased events of ``destination``, up to the limits.

        Records that are damaged or undecodable are moved to the dead letters
        (with the reason) on the way: they never block the destination.
        """
        self._rescan()
        leased: list[SpooledEvent] = []
        size = 0
        damaged: list[tuple[_Segment, records.Corrupt]] = []
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
                want = min(max_bytes - size, (max_events - len(leased)) * 2048) + _READ_AHEAD
                data = _read(segment.fd, start, min(stop - start, want))
                reached_end = start + len(data) >= stop
                parsed = records.scan_events(data, start, final and reached_end)
                if not parsed and not reached_end:  # one record longer than the read
                    data = _read(segment.fd, start, stop - start)
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

    def _dead_letter_corrupt(
        self, destination: str, segment: str, corrupt: records.Corrupt
    ) -> None:
        reason = (
            f"corrupt record in the spool ({corrupt.reason}): {segment}{LOG_SUFFIX} "
            f"bytes {corrupt.offset}-{corrupt.end}, kept here, never sent"
        )
        logger.warning("the spool %s: %s", self.path, reason)
        record = records.dead_letter_record(destination, corrupt.data[:1024 * 1024],
                                            Severity.INFO, time.time(), time.time(), reason,
                                            corrupt=True)  # fmt: skip
        try:
            self._append_dead_letters(record)
        except SpoolError as exc:
            logger.warning("cannot keep the corrupt record as a dead letter: %s", exc)

    def _save_progress(self, segment: _Segment, destination: str) -> None:
        progress = segment.progress[destination]
        try:
            segment.write_progress(destination, progress)
        except OSError as exc:
            raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc

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
        touched: set[tuple[_Segment, str]] = set()
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

    def dead_letter(self, destination: str, items: Sequence[SpooledEvent], error: str) -> None:
        """Move events a destination refused for good to the dead letters."""
        now = time.time()
        self._append_dead_letters(b"".join(
            records.dead_letter_record(destination, e.event.payload, e.event.severity,
                                       e.created, now, error)
            for e in items
        ))  # fmt: skip
        # A crash right here leaves the events both dead-lettered and pending:
        # they are sent again, flagged as possible duplicates.
        self._settle(items)

    def add_dead_letters(
        self, destination: str, events: Sequence[EncodedEvent], error: str
    ) -> None:
        """Record dead letters that never were in a segment."""
        now = time.time()
        self._append_dead_letters(b"".join(
            records.dead_letter_record(destination, e.payload, e.severity, now, now, error)
            for e in events
        ))  # fmt: skip

    def _append_dead_letters(self, data: bytes) -> None:
        if not data:
            return
        with locked(self._dead_fd, False, self._lock_timeout, f"the dead letters of {self.path}"):
            try:
                written = os.write(self._dead_fd, data)
                if self._fsync:
                    os.fdatasync(self._dead_fd)
            except OSError as exc:
                raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc
        if written != len(data):  # the checksum marks the piece written as damage
            raise SpoolError(f"cannot write the spool {self.path}: the disk is full")

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first; damaged ones say so in ``error``."""
        with locked(self._dead_fd, False, self._lock_timeout, f"the dead letters of {self.path}"):
            data = _read_all(self._dead_fd)
        return [_as_dead_letter(found) for found in records.parse_dead_letters(data)]

    def take_dead_letters(self) -> list[DeadLetter]:
        """Remove and return every dead letter (to replay them).

        Damaged records and corrupt spool records stay: replaying them would
        deliver garbage.
        """
        taken, _ = _take_dead_letters(self._dead_fd, self._lock_timeout, self.path,
                                      lambda letter: True)  # fmt: skip
        return [_as_dead_letter(letter) for letter in taken]

    def pending(self, destination: str | None = None) -> int:
        """Events this spool will deliver (for one destination), or, without one,
        every event waiting in the directory (other processes' included)."""
        with self._lock:
            if destination is not None:
                return sum(
                    progress.count
                    for segment in self._owned.values()
                    if (progress := segment.progress.get(destination)) is not None
                )
            self._count_others()
            own = sum(segment.pending_events for segment in self._owned.values())
            return own + self._others_events

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

    def close(self) -> None:
        """Let go of every segment (deleting those fully delivered) and file.

        A spool used again after ``close`` starts a new segment.
        """
        with self._lock:
            if self._pid != os.getpid():
                return
            for segment in self._owned.values():
                self._forget(segment, delete=segment.pending_events == 0)
            self._owned.clear()
            self._current = None
            self._own_bytes = 0
            self._rescan_at = -1e9

    # -- other processes' segments ---------------------------------------------

    def _rescan(self, force: bool = False) -> None:
        """Adopt the segments of processes that died (their lock is free)."""
        now = time.monotonic()
        if not force and now - self._rescan_at < _RESCAN_SECONDS:
            return
        self._rescan_at = now
        try:
            names = sorted(os.listdir(self._directory))
        except OSError:
            return
        for entry in names:
            if entry.startswith(_TMP_PREFIX) or (
                entry.endswith(ACK_SUFFIX) and entry[: -len(ACK_SUFFIX)] + LOG_SUFFIX not in names
            ):
                _remove_if_stale(self._file(entry))
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

    def _adopt(self, name: str) -> _Segment | None:
        """Lock a dead process's segment and read where its destinations are."""
        try:
            fd = open_file(self._file(name + LOG_SUFFIX), os.O_RDWR | os.O_APPEND)
        except (OSError, SpoolError):
            return None
        if not _try_lock(fd) or os.fstat(fd).st_nlink == 0:  # alive, or just deleted
            os.close(fd)
            return None
        try:
            ack_fd = open_file(self._file(name + ACK_SUFFIX), os.O_RDWR | os.O_CREAT)
            progress_data = _read(ack_fd, 0, records.PROGRESS_SIZE)
            if len(progress_data) < records.PROGRESS_SIZE:  # its creator died midway
                os.pwrite(ack_fd, b"\0" * (records.PROGRESS_SIZE - len(progress_data)),
                          len(progress_data))  # fmt: skip
            size = os.fstat(fd).st_size
        except (OSError, SpoolError) as exc:
            logger.warning("cannot take over the spool segment %s: %s", name, exc)
            os.close(fd)
            return None
        segment = _Segment(self._directory, name, fd, ack_fd, size)
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
        data = _read(fd, start, size - start) if size > start else b""
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
                    progress = segment.progress[destination] = _Progress(slot, acked, mark, seq)
                if record.offset >= progress.acked:
                    progress.count += 1
                    progress.bytes += len(record.payload)
                    segment.pending_events += 1
                    segment.pending_bytes += len(record.payload)
        with contextlib.suppress(OSError):
            segment.publish_totals()
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
            totals = _read_totals(self._file(entry))
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


# -- helpers ---------------------------------------------------------------------


def _layout(key: tuple[str, ...]) -> tuple[tuple[str, ...], list[bytes]]:
    """The distinct destinations of ``key``, and the destination field of each
    record an event needs: one, or more when a destination is named twice
    (each occurrence is a delivery of its own, as with two lanes of one name)."""
    fields: list[bytes] = []
    remaining = list(key)
    while remaining:
        distinct = tuple(dict.fromkeys(remaining))
        fields.append("\n".join(distinct).encode())
        for name in distinct:
            remaining.remove(name)
    return tuple(dict.fromkeys(key)), fields


def _close_fds(fds: set[int]) -> None:
    for fd in list(fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def _try_lock(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read(fd: int, offset: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_all(fd: int) -> bytes:
    return _read(fd, 0, os.fstat(fd).st_size)


def _read_totals(path: str) -> tuple[int, int] | None:
    try:
        fd = open_file(path, os.O_RDONLY)
    except (OSError, SpoolError):
        return None
    try:
        slot = records.read_slots(_read(fd, 0, records.SLOT_SIZE))[0]
    except OSError:
        return None
    finally:
        os.close(fd)
    return (slot[2], slot[3]) if slot is not None else None


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_if_stale(path: str) -> None:
    """A file a process left while creating a segment (it died midway)."""
    with contextlib.suppress(OSError):
        if time.time() - os.lstat(path).st_mtime > _STALE_TMP_SECONDS:
            os.unlink(path)


def _as_dead_letter(found: records.DeadLetterRecord | records.Corrupt) -> DeadLetter:
    if isinstance(found, records.Corrupt):
        return DeadLetter("", found.data, f"damaged dead letter record ({found.reason})", 0.0)
    return DeadLetter(found.destination, found.payload, found.error, found.failed,
                      found.severity)  # fmt: skip


def _take_dead_letters(
    fd: int,
    timeout: float,
    path: str,
    wanted: Callable[[records.DeadLetterRecord], bool],
    *,
    damaged_too: bool = False,
) -> tuple[list[records.DeadLetterRecord], int]:
    """Remove the dead letters ``wanted`` selects (damaged ones only if
    ``damaged_too``: replaying them would send garbage); returns them and how
    many were damaged and taken."""
    with locked(fd, True, timeout, f"the dead letters of {path}"):
        data = _read_all(fd)
        taken: list[records.DeadLetterRecord] = []
        kept: list[bytes] = []
        damaged = 0
        for found in records.parse_dead_letters(data):
            if isinstance(found, records.Corrupt) or found.corrupt:
                if damaged_too and (isinstance(found, records.Corrupt) or wanted(found)):
                    damaged += 1
                else:
                    kept.append(_record_bytes(found))
                continue
            if wanted(found):
                taken.append(found)
            else:
                kept.append(_record_bytes(found))
        if taken or damaged:
            try:
                rest = b"".join(kept)
                os.ftruncate(fd, 0)
                if rest:
                    os.write(fd, rest)  # no more than was there: the space is free
            except OSError as exc:
                raise SpoolError(f"cannot write the spool {path}: {exc.strerror}") from exc
    return taken, damaged


def _record_bytes(found: records.DeadLetterRecord | records.Corrupt) -> bytes:
    if isinstance(found, records.Corrupt):
        return records.dead_letter_record(
            "", found.data, Severity.INFO, 0.0, time.time(),
            f"damaged dead letter record ({found.reason})", corrupt=True,
        )  # fmt: skip
    return records.dead_letter_record(found.destination, found.payload, found.severity,
                                      found.created, found.failed, found.error,
                                      corrupt=found.corrupt)  # fmt: skip


from .spool_admin import (  # noqa: E402  (they build on the Spool above)
    Backlog,
    DeadLetterGroup,
    SpoolStatus,
    StoredEvent,
    export_spool,
    purge_spool,
    requeue_dead_letters,
    spool_path,
    spool_status,
)
