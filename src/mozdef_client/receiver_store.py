"""Where the development receiver puts what arrives: files, a database, the console.

Each class is a *sink*: called with the events of one request, from that
request's thread, so each holds a lock. The JSONL file holds the documents
exactly as MozDef would store them, one a line, so it can be replayed with
``mozdef-client send --jsonl``. The SQLite database also keeps when and where
each event arrived and what the format check found.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .receiver import ReceivedEvent

__all__ = ["ConsolePrinter", "JSONLStore", "SQLiteStore", "describe_event"]

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


class JSONLStore:
    """Appends each event's document to a newline-delimited JSON file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def __call__(self, events: Sequence[ReceivedEvent]) -> None:
        text = "".join(_dumps(event.document) + "\n" for event in events)
        with self._lock:
            self._file.write(text)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class SQLiteStore:
    """Inserts each event, with its arrival details and findings, into SQLite.

    The table is ``events``; ``document``, ``errors`` and ``warnings`` are JSON
    text, so ``json_extract(document, '$.details.username')`` works in queries.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")  # readers may look while it serves
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def __call__(self, events: Sequence[ReceivedEvent]) -> None:
        rows = [_row(event) for event in events]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO events (received_at, path, kind, category, severity, summary,"
                    " errors, warnings, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


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


def describe_event(event: ReceivedEvent) -> str:
    """One readable line: arrival time, severity, category, summary."""
    document = event.document if isinstance(event.document, dict) else {}
    arrived = time.strftime("%H:%M:%S", time.localtime(event.received_at))
    if event.kind is not None and event.kind.value == "vulnerability":
        category = "vulnerability"
        severity = "-"
        summary = str(document.get("description", ""))
    elif event.path.startswith("/custom/"):
        category = event.path[len("/custom/") :]
        severity = "-"
        summary = _dumps(event.document)
    else:
        category = str(document.get("category", "-"))
        severity = str(document.get("severity", "-"))
        summary = str(document.get("summary", "")) if document else _dumps(event.document)
    summary = " ".join(summary.split())  # one line, whatever the sender put in it
    if len(summary) > 120:
        summary = summary[:119] + "…"
    return f"{arrived} {severity:<9} {category:<16} {summary}"


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
            lines.extend(f"    error: {error}" for error in event.errors)
            if self._show_warnings and event.warnings:
                lines.append("    warning: " + "; ".join(event.warnings))
        with self._lock:
            self._out.write("\n".join(lines) + "\n")
            self._out.flush()
