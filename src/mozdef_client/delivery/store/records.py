"""The spool's on-disk formats: framed records, and the fixed-size progress file.

A record is ``[u32 length][u32 crc32][body]``; the checksum covers the body,
so a torn write (power loss mid-record) or a damaged byte is detected and
never handed to a destination. Bodies:

- event: ``[f64 created][u8 severity][u16 n][n bytes destinations][payload]``,
  the destinations joined by newlines (one record serves them all);
- dead letter: ``[f64 created][f64 failed][u8 severity][u8 corrupt]
  [u16 n][u32 m][n bytes destination][m bytes error][payload]``.

The progress file of a segment is 4 KiB written at creation and afterwards
only overwritten in place, so recording an acknowledgement never needs a new
disk block (a full disk cannot stop a spool from draining). Slot 0 holds the
segment's pending totals, slots 1-63 one destination each; every slot has
two 32-byte halves written alternately, each with a checksum and a sequence
number, so a torn overwrite leaves the previous state readable.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from ...severity import Severity

__all__ = [
    "PROGRESS_SIZE",
    "Corrupt",
    "DeadLetterRecord",
    "EventRecord",
    "dead_letter_record",
    "destination_key",
    "event_record",
    "parse_dead_letters",
    "parse_events",
]

_FRAME = struct.Struct("<II")
_EVENT = struct.Struct("<dBH")
_DEAD = struct.Struct("<ddBBHI")
_HALF = struct.Struct("<II8sQQ")  # crc, seq, key, first value, second value
FRAME_SIZE = _FRAME.size
MAX_RECORD = 256 * 1024 * 1024  # a length past this is damage, not an event
PROGRESS_SIZE = 4096
SLOT_SIZE = 64
MAX_SLOTS = PROGRESS_SIZE // SLOT_SIZE - 1  # slot 0 is the segment's totals

SEVERITIES = list(Severity)
_SEVERITY_INDEX = {severity: index for index, severity in enumerate(SEVERITIES)}


def destination_key(destination: str) -> bytes:
    """8 bytes naming a destination in a progress slot."""
    return hashlib.blake2b(destination.encode(), digest_size=8).digest()


def event_record(created: float, severity: Severity, destinations: bytes, payload: bytes) -> bytes:
    body = (
        _EVENT.pack(created, _SEVERITY_INDEX[severity], len(destinations)) + destinations + payload
    )
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def dead_letter_record(
    destination: str,
    payload: bytes,
    severity: Severity,
    created: float,
    failed: float,
    error: str,
    *,
    corrupt: bool = False,
) -> bytes:
    dest, err = destination.encode(), error.encode("utf-8", "replace")
    head = _DEAD.pack(created, failed, _SEVERITY_INDEX[severity], int(corrupt), len(dest), len(err))
    body = head + dest + err + payload
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


@dataclass(frozen=True, slots=True)
class EventRecord:
    offset: int
    end: int
    destinations: tuple[str, ...]
    created: float
    severity: Severity
    payload: bytes


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    destination: str
    payload: bytes
    severity: Severity
    created: float
    failed: float
    error: str
    corrupt: bool


@dataclass(frozen=True, slots=True)
class Corrupt:
    """Bytes that are no valid record: [offset, end) and why."""

    offset: int
    end: int
    reason: str
    data: bytes


_DESTINATIONS_CACHE: dict[bytes, tuple[str, ...]] = {}


def _destinations(raw: bytes) -> tuple[str, ...]:
    found = _DESTINATIONS_CACHE.get(raw)
    if found is None:
        found = tuple(raw.decode().split("\n"))  # UnicodeDecodeError: the caller's
        if len(_DESTINATIONS_CACHE) < 1024:
            _DESTINATIONS_CACHE[raw] = found
    return found


def _frames(data: bytes, base: int, final: bool) -> Iterator[tuple[int, int, bytes] | Corrupt]:
    """(offset, end, body) of each whole record in ``data`` (which starts at
    file offset ``base``), or :class:`Corrupt` for bytes that are none.

    An incomplete record at the end is left for the next read unless
    ``final`` (nothing more will ever be appended: it is a torn write).
    """
    pos, size = 0, len(data)
    while pos + FRAME_SIZE <= size:
        length, crc = _FRAME.unpack_from(data, pos)
        end = pos + FRAME_SIZE + length
        if length <= MAX_RECORD and end <= size:
            body = data[pos + FRAME_SIZE : end]
            if zlib.crc32(body) == crc:
                yield base + pos, base + end, body
                pos = end
                continue
        elif length <= MAX_RECORD and not final:
            return  # the rest of this record is not read yet
        # Damage: find the next offset where a whole record checks out.
        found = _resync(data, pos + 1)
        if found is None and not final:
            return  # maybe a record is still being written after the damage
        stop = found if found is not None else size
        reason = "checksum mismatch" if stop < size or end <= size else "torn write"
        yield Corrupt(base + pos, base + stop, reason, data[pos:stop])
        if found is None:
            return
        pos = found
    if final and pos < size:
        yield Corrupt(base + pos, base + size, "torn write", data[pos:])


def _resync(data: bytes, start: int) -> int | None:
    size = len(data)
    for pos in range(start, size - FRAME_SIZE + 1):
        length, crc = _FRAME.unpack_from(data, pos)
        end = pos + FRAME_SIZE + length
        whole = 0 < length <= MAX_RECORD and end <= size
        if whole and zlib.crc32(data[pos + FRAME_SIZE : end]) == crc:
            return pos
    return None


def parse_events(data: bytes, base: int, final: bool) -> Iterator[EventRecord | Corrupt]:
    """The event records in ``data``, read from file offset ``base``."""
    for frame in _frames(data, base, final):
        if isinstance(frame, Corrupt):
            yield frame
            continue
        offset, end, body = frame
        try:
            created, severity, n = _EVENT.unpack_from(body)
            start = _EVENT.size + n
            if start > len(body):
                raise ValueError("destinations past the record's end")
            destinations = _destinations(body[_EVENT.size : start])
            level = SEVERITIES[severity]
            yield EventRecord(offset, end, destinations, created, level, body[start:])
        except (ValueError, IndexError, struct.error) as exc:  # UnicodeDecodeError is a ValueError
            yield Corrupt(offset, end, f"undecodable record: {exc}", body)


Scanned = tuple[int, int, tuple[str, ...], float, Severity, bytes]


def scan_events(data: bytes, base: int, final: bool) -> list[Scanned | Corrupt]:
    """:func:`parse_events` for the worker's hot path: (offset, end, destinations,
    created, severity, payload) tuples, one copy of each payload."""
    found: list[Scanned | Corrupt] = []
    view = memoryview(data)
    frame, event, crc32, head = _FRAME.unpack_from, _EVENT.unpack_from, zlib.crc32, _EVENT.size
    pos, size = 0, len(data)
    while pos + FRAME_SIZE <= size:
        length, crc = frame(data, pos)
        body = pos + FRAME_SIZE
        end = body + length
        if length < head or end > size or crc32(view[body:end]) != crc:
            break  # damage, or a record not read whole: the careful path
        created, severity, n = event(data, body)
        start = body + head + n
        if start > end or severity >= len(SEVERITIES):
            break
        try:
            destinations = _destinations(data[body + head : start])
        except UnicodeDecodeError:
            break
        found.append((base + pos, base + end, destinations, created, SEVERITIES[severity],
                      data[start:end]))  # fmt: skip
        pos = end
    if pos < size:
        for record in parse_events(data[pos:], base + pos, final):
            if isinstance(record, Corrupt):
                found.append(record)
            else:
                found.append((record.offset, record.end, record.destinations, record.created,
                              record.severity, record.payload))  # fmt: skip
    return found


def parse_dead_letters(data: bytes) -> Iterator[DeadLetterRecord | Corrupt]:
    for frame in _frames(data, 0, True):
        if isinstance(frame, Corrupt):
            yield frame
            continue
        _, _, body = frame
        try:
            created, failed, severity, corrupt, n, m = _DEAD.unpack_from(body)
            start = _DEAD.size + n + m
            if start > len(body):
                raise ValueError("fields past the record's end")
            destination = body[_DEAD.size : _DEAD.size + n].decode()
            error = body[_DEAD.size + n : start].decode("utf-8", "replace")
            yield DeadLetterRecord(
                destination, body[start:], SEVERITIES[severity], created, failed, error,
                bool(corrupt),
            )  # fmt: skip
        except (ValueError, IndexError, struct.error) as exc:
            yield Corrupt(0, len(body), f"undecodable dead letter: {exc}", body)


# -- the progress file --------------------------------------------------------


def pack_half(seq: int, key: bytes, first: int, second: int) -> bytes:
    rest = _HALF.pack(0, seq, key, first, second)[4:]
    return struct.pack("<I", zlib.crc32(rest)) + rest


def half_position(slot: int, seq: int) -> int:
    return slot * SLOT_SIZE + (seq % 2) * (SLOT_SIZE // 2)


def read_slots(data: bytes) -> list[tuple[int, bytes, int, int] | None]:
    """Each slot's newest valid half: (seq, key, first, second), or None."""
    slots: list[tuple[int, bytes, int, int] | None] = []
    for slot in range(MAX_SLOTS + 1):
        best: tuple[int, bytes, int, int] | None = None
        for half in (0, 1):
            start = slot * SLOT_SIZE + half * (SLOT_SIZE // 2)
            chunk = data[start : start + SLOT_SIZE // 2]
            if len(chunk) < _HALF.size:
                continue
            crc, seq, key, first, second = _HALF.unpack(chunk)
            if seq == 0 or zlib.crc32(chunk[4:]) != crc:
                continue
            if best is None or seq > best[0]:
                best = (seq, key, first, second)
        slots.append(best)
    return slots
