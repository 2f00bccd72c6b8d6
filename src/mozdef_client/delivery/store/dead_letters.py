"""The spool's dead letters: one file shared by every process on the directory.

Appends take a shared ``flock`` (each is one ``write``: they do not mix);
taking letters out rewrites the file under the exclusive one. A damaged
record stays (for inspection) until purged: replaying it would send garbage.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import SpoolError
from ...severity import Severity
from . import records
from .files import locked, read_all
from .sync import DiskSync

__all__ = ["DeadLetter", "DeadLetterFile"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a destination refused for good, with the reason."""

    destination: str
    payload: bytes
    error: str
    failed_at: float
    severity: Severity = Severity.INFO


class DeadLetterFile:
    """``dead-letters.log`` of one spool directory, through one open descriptor."""

    def __init__(self, fd: int, path: str, lock_timeout: float, sync: DiskSync) -> None:
        self.fd = fd
        self._path = path  # the spool's, for messages
        self._timeout = lock_timeout
        self._sync = sync

    def append(self, data: bytes) -> None:
        """Append encoded dead letter records.

        Raises:
            SpoolError: the disk is full, or another process held the lock too long.
        """
        if not data:
            return
        with locked(self.fd, False, self._timeout, f"the dead letters of {self._path}"):
            try:
                written = os.write(self.fd, data)
                self._sync.appended(self.fd)
            except OSError as exc:
                raise SpoolError(f"cannot write the spool {self._path}: {exc.strerror}") from exc
        if written != len(data):  # the checksum marks the piece written as damage
            raise SpoolError(f"cannot write the spool {self._path}: the disk is full")

    def read(self) -> bytes:
        """The file's bytes, read under the shared lock."""
        with locked(self.fd, False, self._timeout, f"the dead letters of {self._path}"):
            return read_all(self.fd)

    def letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first; damaged ones say so in ``error``."""
        return [as_dead_letter(found) for found in records.parse_dead_letters(self.read())]

    def take(
        self,
        wanted: Callable[[records.DeadLetterRecord], bool],
        *,
        damaged_too: bool = False,
    ) -> tuple[list[records.DeadLetterRecord], int]:
        """Remove the dead letters ``wanted`` selects (damaged ones only if
        ``damaged_too``: replaying them would send garbage); returns them and how
        many were damaged and taken."""
        with locked(self.fd, True, self._timeout, f"the dead letters of {self._path}"):
            data = read_all(self.fd)
            taken: list[records.DeadLetterRecord] = []
            kept: list[bytes] = []
            damaged = 0
            for found in records.parse_dead_letters(data):
                if isinstance(found, records.Corrupt) or found.corrupt:
                    if damaged_too and (isinstance(found, records.Corrupt) or wanted(found)):
                        damaged += 1
                    else:
                        kept.append(record_bytes(found))
                    continue
                if wanted(found):
                    taken.append(found)
                else:
                    kept.append(record_bytes(found))
            if taken or damaged:
                try:
                    rest = b"".join(kept)
                    os.ftruncate(self.fd, 0)
                    if rest:
                        os.write(self.fd, rest)  # no more than was there: the space is free
                except OSError as exc:
                    raise SpoolError(
                        f"cannot write the spool {self._path}: {exc.strerror}"
                    ) from exc
        return taken, damaged


def as_dead_letter(found: records.DeadLetterRecord | records.Corrupt) -> DeadLetter:
    if isinstance(found, records.Corrupt):
        return DeadLetter("", found.data, f"damaged dead letter record ({found.reason})", 0.0)
    return DeadLetter(found.destination, found.payload, found.error, found.failed,
                      found.severity)  # fmt: skip


def record_bytes(found: records.DeadLetterRecord | records.Corrupt) -> bytes:
    if isinstance(found, records.Corrupt):
        return records.dead_letter_record(
            "", found.data, Severity.INFO, 0.0, time.time(),
            f"damaged dead letter record ({found.reason})", corrupt=True,
        )  # fmt: skip
    return records.dead_letter_record(found.destination, found.payload, found.severity,
                                      found.created, found.failed, found.error,
                                      corrupt=found.corrupt)  # fmt: skip
