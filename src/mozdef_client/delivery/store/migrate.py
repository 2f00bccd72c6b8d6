"""Moving the SQLite spool of mozdef_client 2.0 and earlier into the segment log.

Done once, by the first spool opened on the directory, under the directory's
lock: pending events (with their creation time, and flagged as possible
duplicates if a lease had reached them) and dead letters move over, the new
files are flushed to disk, then the database is deleted. A crash between the
flush and the delete sends the migrated events twice (the next start migrates
again); nothing is lost.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import urllib.request
from typing import TYPE_CHECKING

from ...errors import ConfigurationError, SpoolError
from ...severity import Severity
from ...transports.base import EncodedEvent
from . import records

if TYPE_CHECKING:
    from .segments import Segment
    from .spool import Spool

__all__ = ["migrate_sqlite_spool"]

_SEVERITIES = {severity.value: severity for severity in Severity}


def migrate_sqlite_spool(spool: Spool, path: str) -> int:
    """Move the database at ``path`` into ``spool``; returns the events moved."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        raise SpoolError(f"refusing the old spool file {path}: not a regular file of this user")
    events, letters = _read(path)
    marks: dict[str, tuple[Segment, int]] = {}  # the end of the last row a lease reached
    moved = 0
    for destination, payload, severity, created, leased_before in events:
        level = _SEVERITIES.get(severity)
        if level is None or not isinstance(payload, bytes) or not isinstance(destination, str):
            reason = f"undecodable row in the old spool: severity {severity!r}"
            letters.append((str(destination), bytes(payload or b""), "INFO", created, created,
                            reason))  # fmt: skip
            continue
        segment, end = spool._append([destination], [EncodedEvent(payload, level)],
                                     float(created), admit=False)  # fmt: skip
        moved += 1
        if leased_before:
            marks[destination] = segment, end
    for destination, (segment, mark) in marks.items():
        segment.progress[destination].dup_until = mark
        spool._save_progress(segment, destination)
    data = b"".join(
        records.dead_letter_record(str(d), bytes(p), _SEVERITIES.get(s, Severity.INFO),
                                   float(c), float(f), str(e))
        for d, p, s, c, f, e in letters
    )  # fmt: skip
    spool._append_dead_letters(data)
    with contextlib.suppress(OSError):  # on disk before the database goes
        for segment in list(spool._owned.values()):
            os.fsync(segment.fd)
            os.fsync(segment.ack_fd)
        os.fsync(spool._letters.fd)
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)
    return moved


def _read(path: str) -> tuple[list[tuple], list[tuple]]:  # type: ignore[type-arg]
    uri = "file:" + urllib.request.pathname2url(os.path.abspath(path)) + "?mode=rw"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            events: list[tuple] = []  # type: ignore[type-arg]
            letters: list[tuple] = []  # type: ignore[type-arg]
            if "events" in tables:
                events = db.execute("SELECT destination, payload, severity, created, "
                                    "leased_before FROM events ORDER BY id").fetchall()  # fmt: skip
            if "dead_letters" in tables:
                letters = db.execute("SELECT destination, payload, severity, created, failed, "
                                     "error FROM dead_letters ORDER BY id").fetchall()  # fmt: skip
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ConfigurationError(f"cannot open the spool {path}: {exc}") from exc
    return events, letters
