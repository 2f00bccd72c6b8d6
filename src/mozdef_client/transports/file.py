"""File transport: appends newline-delimited JSON to a file, or writes to stdout.

An event counts as delivered once it is written and flushed. Useful for
debugging, for shipping through another log forwarder, and in tests.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence

from ..errors import PermanentError, RetryableError
from ._failures import CATCH_ALL, Rule, os_detail, translating
from .base import EncodedEvent

__all__ = ["FILE_FAILURES", "FileTransport"]

#: Foreign exceptions of appending to a file or standard output (first match).
FILE_FAILURES = (
    Rule((IsADirectoryError, NotADirectoryError, PermissionError), PermanentError, "cannot write"),
    Rule((OSError,), RetryableError, "cannot write"),
    CATCH_ALL,
)


class FileTransport:
    """Appends one JSON event per line to ``path`` (``"-"`` means stdout)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self.name = "stdout" if path == "-" else f"file://{os.path.abspath(path)}"
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileTransport({self._path!r})"

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        data = b"".join(event.payload + b"\n" for event in batch)
        with translating(FILE_FAILURES, self.name, detail=os_detail), self._lock:
            if self._path == "-":
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                return
            # One write of the whole batch in append mode: concurrent
            # writers never interleave inside a line.
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _write_whole(fd, data)
            finally:
                os.close(fd)

    def close(self) -> None:
        pass


def _write_whole(fd: int, data: bytes) -> None:
    """Write all of ``data`` or nothing: a full disk must not leave half a line."""
    start = os.fstat(fd).st_size
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
    except OSError:
        os.ftruncate(fd, start)
        raise
