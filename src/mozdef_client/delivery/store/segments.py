"""A segment of the log as its owner sees it: the file, its progress file,
and each destination's progress through it; the names of the spool's files.

A segment is one writer process's append-only file (``seg-<time>-<pid>-<id>.log``)
with a 4 KiB progress file (``.ack``, :mod:`.records`) beside it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ...errors import SpoolError
from ...transports.base import EncodedEvent
from . import records
from .files import open_file, read

__all__ = [
    "ACK_SUFFIX",
    "DEAD_LETTERS_FILENAME",
    "LOCK_FILENAME",
    "LOG_SUFFIX",
    "SEGMENT_PREFIX",
    "SPOOL_FILENAME",
    "TMP_PREFIX",
    "Progress",
    "Segment",
    "SpooledEvent",
    "layout",
    "read_totals",
]

#: The SQLite spool of mozdef_client 2.0 and earlier, migrated on first open.
SPOOL_FILENAME = "mozdef-spool.sqlite3"
LOCK_FILENAME = "mozdef-spool.lock"
DEAD_LETTERS_FILENAME = "dead-letters.log"
SEGMENT_PREFIX = "seg-"
LOG_SUFFIX = ".log"
ACK_SUFFIX = ".ack"
TMP_PREFIX = ".tmp-"

_ZERO_KEY = b"\0" * 8


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


class Progress:
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


class Segment:
    """A segment file this spool owns (holds the lock of), with its progress file."""

    def __init__(self, directory: str, name: str, fd: int, ack_fd: int, size: int) -> None:
        self.name = name
        self.log_path = os.path.join(directory, name + LOG_SUFFIX)
        self.ack_path = os.path.join(directory, name + ACK_SUFFIX)
        self.fd = fd
        self.ack_fd = ack_fd
        self.size = size
        self.progress: dict[str, Progress] = {}
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

    def write_progress(self, destination: str, progress: Progress) -> None:
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


def layout(key: tuple[str, ...]) -> tuple[tuple[str, ...], list[bytes]]:
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


def read_totals(path: str) -> tuple[int, int] | None:
    """The pending (bytes, events) another process published in a progress file."""
    try:
        fd = open_file(path, os.O_RDONLY)
    except (OSError, SpoolError):
        return None
    try:
        slot = records.read_slots(read(fd, 0, records.SLOT_SIZE))[0]
    except OSError:
        return None
    finally:
        os.close(fd)
    return (slot[2], slot[3]) if slot is not None else None
