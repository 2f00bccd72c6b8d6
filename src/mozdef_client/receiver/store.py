"""Where the development receiver puts what arrives: files, a database, the console.

Each class is a *sink*: called with the events of one request, from that
request's thread, so each holds a lock. The JSONL file holds the documents
exactly as MozDef would store them, one a line, so it can be replayed with
``mozdef-client send --jsonl``. The SQLite database also keeps when and where
each event arrived and what the format check found.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from .intake import ReceivedEvent

__all__ = [
    "ConsolePrinter",
    "JSONLStore",
    "SQLiteStore",
    "Stores",
    "Tally",
    "category_and_severity",
    "describe_event",
    "printable",
    "summary_of",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT,
    category TEXT,
    severity TEXT,
    summary TEXT,
    errors TEXT NOT NULL,
    warnings TEXT NOT NULL,
    document TEXT NOT NULL
)
"""


def _dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + "Z"


def _create_private(path: Path) -> None:
    """Create ``path`` readable by its owner only (events may hold secrets)."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


class JSONLStore:
    """Appends each event's document to a newline-delimited JSON file (created 0600)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        _create_private(self.path)
        self._file = self.path.open("ab")

    def __call__(self, events: Sequence[ReceivedEvent]) -> None:
        self.write(events)

    def write(self, events: Sequence[ReceivedEvent]) -> None:
        """Append the events, all or none: a failed write is cut off again."""
        data = "".join(_dumps(event.document) + "\n" for event in events).encode()
        with self._lock:
            end = self._file.seek(0, os.SEEK_END)
            try:
                self._file.write(data)
                self._file.flush()
            except BaseException:
                # A full disk mid-write: leave no half line for the next append.
                with contextlib.suppress(OSError):
                    self._file.truncate(end)
                raise

    def close(self) -> None:
        with self._lock:
            self._file.close()


class SQLiteStore:
    """Inserts each event, with its arrival details and findings, into SQLite.

    The table is ``events``; ``document``, ``errors`` and ``warnings`` are JSON
    text, so ``json_extract(document, '$.details.username')`` works in queries.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        # SQLite gives its -wal and -shm files the database file's mode.
        _create_private(self.path)
        self._db = sqlite3.connect(
            str(self.path), timeout=busy_timeout, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")  # readers may look while it serves
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def __call__(self, events: Sequence[ReceivedEvent]) -> None:
        with self.transaction(events):
            pass

    @contextlib.contextmanager
    def transaction(self, events: Sequence[ReceivedEvent]) -> Iterator[None]:
        """Insert the events; commit when the block ends, roll back if it raises.

        ``BEGIN IMMEDIATE`` takes the write lock first, so a database locked by
        another program fails here, before anything else stores the events.
        """
        rows = [_row(event) for event in events]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO events (received_at, path, kind, category, severity, summary,"
                    " errors, warnings, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Stores:
    """The JSONL file and the SQLite database as one sink: both take a request's
    events or neither does, so a client retrying a refused request (500) leaves
    no duplicates behind.

    The SQLite transaction is opened first (a locked database fails before the
    file is touched), the file is appended, then the transaction commits.
    """

    def __init__(self, jsonl: JSONLStore | None, sqlite: SQLiteStore | None) -> None:
        self.jsonl = jsonl
        self.sqlite = sqlite

    def __call__(self, events: Sequence[ReceivedEvent]) -> None:
        if self.sqlite is None:
            if self.jsonl is not None:
                self.jsonl.write(events)
            return
        with self.sqlite.transaction(events):
            if self.jsonl is not None:
                self.jsonl.write(events)

    def close(self) -> None:
        for store in (self.jsonl, self.sqlite):
            if store is not None:
                store.close()


def _row(event: ReceivedEvent) -> tuple[Any, ...]:
    document = event.document if isinstance(event.document, dict) else {}
    return (
        _iso(event.received_at),
        event.path,
        event.kind.value if event.kind is not None else None,
        _text(document.get("category")),
        _text(document.get("severity")),
        _text(document.get("summary") or document.get("description")),
        _dumps(list(event.errors)),
        _dumps(list(event.warnings)),
        _dumps(event.document),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_UNPRINTABLE = re.compile(
    r"[^\S ]|[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\\x1b``): what a sender
    puts in an event must not move the cursor, recolour or retitle the console."""
    return _UNPRINTABLE.sub(_escape, text)


def category_and_severity(event: ReceivedEvent) -> tuple[str, str]:
    """The category and severity an event is shown and counted under ("-": none)."""
    if event.kind is not None and event.kind.value == "vulnerability":
        return "vulnerability", "-"
    if event.path.startswith("/custom/"):
        return event.path[len("/custom/") :], "-"
    document = event.document if isinstance(event.document, dict) else {}
    return str(document.get("category", "-")), str(document.get("severity", "-"))


def summary_of(event: ReceivedEvent) -> str:
    """The event's summary (a vulnerability's description) on one line, unescaped."""
    document = event.document if isinstance(event.document, dict) else {}
    if event.kind is not None and event.kind.value == "vulnerability":
        summary = str(document.get("description", ""))
    elif event.path.startswith("/custom/"):
        summary = _dumps(event.document)
    else:
        summary = str(document.get("summary", "")) if document else _dumps(event.document)
    return " ".join(summary.split())  # one line, whatever the sender put in it


def describe_event(event: ReceivedEvent) -> str:
    """One readable line: arrival time, severity, category, summary (escaped)."""
    arrived = time.strftime("%H:%M:%S", time.localtime(event.received_at))
    category, severity = category_and_severity(event)
    summary = summary_of(event)
    if len(summary) > 120:
        summary = summary[:119] + "…"
    return printable(f"{arrived} {severity:<9} {category:<16} {summary}")


class ConsolePrinter:
    """Prints each event on one line as it arrives, its findings indented below."""

    def __init__(self, out: TextIO, *, show_warnings: bool = True) -> None:
        self._out = out
        self._show_warnings = show_warnings
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[ReceivedEvent]) -> None:
        lines = []
        for event in events:
            lines.append(describe_event(event))
            lines.extend(f"    error: {printable(error)}" for error in event.errors)
            if self._show_warnings and event.warnings:
                lines.append("    warning: " + printable("; ".join(event.warnings)))
        with self._lock:
            self._out.write("\n".join(lines) + "\n")
            self._out.flush()


class Tally:
    """Counts of received events by category and by severity, for ``serve``'s closing summary."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.categories: collections.Counter[str] = collections.Counter()
        self.severities: collections.Counter[str] = collections.Counter()

    def __call__(self, events: Sequence[ReceivedEvent]) -> None:
        with self._lock:
            for event in events:
                category, severity = category_and_severity(event)
                self.categories[category] += 1
                self.severities[severity] += 1

    def summary(self) -> str:
        with self._lock:
            lines = []
            for label, counts in (("category", self.categories), ("severity", self.severities)):
                if counts:
                    listed = ", ".join(f"{printable(n)} {c}" for n, c in counts.most_common())
                    lines.append(f"  by {label}: {listed}\n")
        return "".join(lines)
