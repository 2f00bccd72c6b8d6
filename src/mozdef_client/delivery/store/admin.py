"""Inspection and repair of a spool directory, for ``mozdef-client spool``.

What the command needs from the store, in a few functions on a directory.
They open the spool as one more process would: segments of clients that are
running stay theirs (they are counted and exported, but not purged); those
of clients that are gone are taken over.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ...errors import ConfigurationError, SpoolError
from ...transports.base import EncodedEvent
from . import records
from .files import open_file, read, read_all
from .segments import ACK_SUFFIX, LOCK_FILENAME, LOG_SUFFIX, SEGMENT_PREFIX, SPOOL_FILENAME
from .spool import Spool

__all__ = [
    "Backlog",
    "DeadLetterGroup",
    "SpoolStatus",
    "StoredEvent",
    "export_spool",
    "purge_spool",
    "requeue_dead_letters",
    "spool_path",
    "spool_status",
]


@dataclass(frozen=True, slots=True)
class Backlog:
    """The events waiting for one destination."""

    destination: str
    events: int
    bytes: int
    oldest: float  # when the oldest was spooled (time.time())


@dataclass(frozen=True, slots=True)
class DeadLetterGroup:
    """Dead letters of one destination refused for one reason."""

    destination: str
    reason: str
    events: int
    bytes: int


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    path: str
    pending: list[Backlog]
    dead_letters: list[DeadLetterGroup]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as it sits in the spool, for export."""

    destination: str
    payload: bytes
    created: float
    error: str | None  # a dead letter's reason; None for a pending event


def spool_path(directory: str) -> str:
    """The spool directory.

    Raises:
        SpoolError: there is no spool there.
    """
    path = os.path.expanduser(directory)
    if not any(os.path.isfile(os.path.join(path, n)) for n in (LOCK_FILENAME, SPOOL_FILENAME)):
        raise SpoolError(f"no spool in {directory} (no {LOCK_FILENAME})")
    return path


def _open(directory: str) -> Spool:
    try:
        return Spool(spool_path(directory), max_bytes=1 << 62)
    except ConfigurationError as exc:
        raise SpoolError(str(exc)) from exc


def _pending_records(directory: str) -> Iterator[tuple[str, records.EventRecord]]:
    """(destination, record) of every event not yet acknowledged, oldest segment first."""
    names = sorted(n for n in os.listdir(directory)
                   if n.startswith(SEGMENT_PREFIX) and n.endswith(LOG_SUFFIX))  # fmt: skip
    for name in names:
        stem = os.path.join(directory, name[: -len(LOG_SUFFIX)])
        try:
            fd = open_file(stem + LOG_SUFFIX, os.O_RDONLY)
        except (OSError, SpoolError):
            continue  # delivered and deleted meanwhile
        try:
            acked = _acknowledged(stem + ACK_SUFFIX)
            data = read_all(fd)
        finally:
            os.close(fd)
        for record in records.parse_events(data, 0, True):
            if isinstance(record, records.Corrupt):
                continue
            for destination in record.destinations:
                if record.offset >= acked.get(records.destination_key(destination), 0):
                    yield destination, record


def _acknowledged(path: str) -> dict[bytes, int]:
    try:
        fd = open_file(path, os.O_RDONLY)
    except (OSError, SpoolError):
        return {}
    try:
        slots = records.read_slots(read(fd, 0, records.PROGRESS_SIZE))
    finally:
        os.close(fd)
    return {found[1]: found[2] for found in slots[1:] if found is not None}


def spool_status(directory: str) -> SpoolStatus:
    """Pending events per destination (count, bytes, oldest) and dead letters by reason."""
    spool = _open(directory)
    try:
        backlog: dict[str, list[float]] = {}
        for destination, record in _pending_records(spool.path):
            entry = backlog.setdefault(destination, [0, 0, record.created])
            entry[0] += 1
            entry[1] += len(record.payload)
            entry[2] = min(entry[2], record.created)
        groups: collections.Counter[tuple[str, str]] = collections.Counter()
        sizes: collections.Counter[tuple[str, str]] = collections.Counter()
        for letter in spool.dead_letters():
            groups[letter.destination, letter.error] += 1
            sizes[letter.destination, letter.error] += len(letter.payload)
    finally:
        spool.close()
    return SpoolStatus(
        spool.path,
        [Backlog(d, int(n), int(b), float(o)) for d, (n, b, o) in sorted(backlog.items())],
        [DeadLetterGroup(d, e, n, sizes[d, e])
         for (d, e), n in sorted(groups.items(), key=lambda i: (i[0][0], -i[1], i[0][1]))],
    )  # fmt: skip


def requeue_dead_letters(directory: str, destination: str | None = None) -> int:
    """Move dead letters back into the queue of their destination; returns how many.

    Damaged records and corrupt spool records are never requeued.
    """
    spool = _open(directory)
    try:
        taken, _ = spool._letters.take(lambda letter: destination in (None, letter.destination))
        now = time.time()
        for index, letter in enumerate(taken):
            try:
                spool._append([letter.destination],
                              [EncodedEvent(letter.payload, letter.severity)], now,
                              admit=False)  # fmt: skip
            except SpoolError:
                spool._append_dead_letters(b"".join(
                    records.dead_letter_record(rest.destination, rest.payload, rest.severity,
                                               rest.created, rest.failed, rest.error)
                    for rest in taken[index:]
                ))  # fmt: skip
                raise
        return len(taken)
    finally:
        spool.close()  # the next durable client on the directory sends them


def purge_spool(
    directory: str, *, pending: bool, dead_letters: bool, destination: str | None = None
) -> tuple[int, int]:
    """Delete pending events and/or dead letters; returns (pending, dead letters) deleted.

    Events in the segments of clients still running are theirs and stay.
    """
    spool = _open(directory)
    purged_pending = purged_dead = 0
    try:
        if pending:
            purged_pending = _purge_pending(spool, destination)
        if dead_letters:
            taken, damaged = spool._letters.take(
                lambda letter: destination in (None, letter.destination), damaged_too=True
            )
            purged_dead = len(taken) + damaged
    finally:
        spool.close()
    return purged_pending, purged_dead


def _purge_pending(spool: Spool, destination: str | None) -> int:
    purged = 0
    with spool._lock:
        for segment in list(spool._owned.values()):
            for name, progress in segment.progress.items():
                if destination not in (None, name) or not progress.count:
                    continue
                purged += progress.count
                segment.pending_events -= progress.count
                segment.pending_bytes -= progress.bytes
                spool._own_bytes -= progress.bytes
                progress.count = progress.bytes = 0
                progress.leased.clear()
                progress.settled.clear()
                progress.acked = progress.cursor = segment.size
                spool._save_progress(segment, name)
            if segment.pending_events <= 0:
                del spool._owned[segment.name]
                spool._forget(segment, delete=True)
            else:
                segment.publish_totals()
    return purged


def export_spool(
    directory: str, *, dead_letters: bool, destination: str | None = None
) -> Iterator[StoredEvent]:
    """The pending events (or the dead letters), oldest first."""
    spool = _open(directory)
    try:
        if dead_letters:
            data = spool._letters.read()
            for found in records.parse_dead_letters(data):
                if isinstance(found, records.Corrupt) or found.corrupt:
                    continue  # bytes that are no event
                if destination in (None, found.destination):
                    yield StoredEvent(found.destination, found.payload, found.created, found.error)
            return
        for name, record in _pending_records(spool.path):
            if destination in (None, name):
                yield StoredEvent(name, record.payload, record.created, None)
    finally:
        spool.close()
