"""The durable spool: events committed to SQLite until a destination acknowledges them.

Events are leased, then acknowledged (deleted) or released. A lease names
its owner (process id and a per-spool token); leases of processes that died
are released when a spool is opened, so a crash between lease and
acknowledgement loses nothing. Such events may already have arrived; when
they are delivered again they are counted as possible duplicates.

The database uses WAL with ``synchronous=NORMAL``: a committed event
survives the process being killed; ``fsync=True`` makes it survive power
loss too, at the cost of one fsync per commit. Files are created 0600.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..errors import ConfigurationError, SpoolError, SpoolFullError
from ..severity import Severity
from ..transports.base import EncodedEvent

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

SPOOL_FILENAME = "mozdef-spool.sqlite3"

_SEVERITIES = {severity.value: severity for severity in Severity}
_INSERT = "INSERT INTO events (destination, payload, severity, created) VALUES (?, ?, ?, ?)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    payload BLOB NOT NULL,
    severity TEXT NOT NULL,
    created REAL NOT NULL,
    lease_owner TEXT,
    leased_before INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_destination ON events (destination, lease_owner, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    payload BLOB NOT NULL,
    severity TEXT NOT NULL,
    created REAL NOT NULL,
    failed REAL NOT NULL,
    error TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class SpooledEvent:
    """A leased event: its row id, the event, when it was spooled, and whether
    an earlier holder may have delivered it already."""

    id: int
    event: EncodedEvent
    created: float
    maybe_duplicate: bool


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a destination refused for good, with the reason."""

    destination: str
    payload: bytes
    error: str
    failed_at: float
    severity: Severity = Severity.INFO


class Spool:
    """An SQLite spool shared by a client's destinations (one file per directory)."""

    def __init__(
        self, directory: str, *, max_bytes: int, min_free_bytes: int = 0, fsync: bool = False
    ) -> None:
        self.path = os.path.join(directory, SPOOL_FILENAME)
        self._directory = directory
        self._max_bytes = max_bytes
        self._min_free_bytes = min_free_bytes
        self._fsync = fsync
        self._prepare_directory()
        self._reset()
        try:
            self._connection().executescript(_SCHEMA)
            with self._write() as db:
                self._release_dead_owners(db)
                self._bytes = int(
                    db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events").fetchone()[0]
                )
        except (sqlite3.Error, SpoolError) as exc:
            # Not a database, damaged, or the disk is full: say so, not sqlite3's bare words.
            self.close()
            raise ConfigurationError(f"cannot open the spool {self.path}: {exc}") from exc

    def _reset(self) -> None:
        self._owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        _LIVE_OWNERS.add(self._owner)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        # Writers of this process take turns here, where a waiting thread is
        # woken at once, rather than in SQLite's busy handler, which sleeps
        # in steps of milliseconds between tries.
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []  # every thread's, to close them all
        self._bytes_lock = threading.Lock()
        self._unchecked_room = 0  # bytes to append before the next free-space check

    def reset_after_fork(self) -> None:
        # SQLite connections must not cross fork(): the child opens its own,
        # under its own lease owner. It must not even close the parent's (that
        # is using them too), so they are kept, unused, for the child's life.
        _FORKED_AWAY.append((self._local, self._connections))
        self._reset()

    def _prepare_directory(self) -> None:
        try:
            os.makedirs(self._directory, mode=0o700, exist_ok=True)
            if not os.path.exists(self.path):
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the spool in {self._directory!r}: {exc.strerror}"
            ) from exc
        if not os.access(self._directory, os.W_OK) or not os.access(self.path, os.W_OK):
            raise ConfigurationError(f"the spool directory {self._directory!r} is not writable")

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or self._pid != os.getpid():
            # A thread's own connection; isolation_level=None: we say BEGIN.
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)  # fmt: skip
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self._fsync else 'NORMAL'}")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; SQLite's failures come out as :class:`SpoolError`.

        A full disk shows up here (often at COMMIT), as do a read-only or
        damaged database and a lock held too long by another process.
        """
        try:
            db = self._connection()
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open the spool {self.path}: {exc}") from exc
        try:
            with self._write_lock:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:  # an error in the body, or a failed COMMIT
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise SpoolError(f"cannot write the spool {self.path}: {exc}") from exc
            raise

    def _write_one(self, statement: str, row: tuple[object, ...]) -> None:
        """One statement in its own (implicit) transaction, errors as SpoolError."""
        try:
            db = self._connection()
            with self._write_lock:
                db.execute(statement, row)
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot write the spool {self.path}: {exc}") from exc

    # -- writing ---------------------------------------------------------

    def append(self, destinations: Sequence[str], events: Sequence[EncodedEvent]) -> None:
        """Commit ``events`` for each of ``destinations``; all or nothing.

        Raises:
            SpoolFullError: the spool would pass its byte cap.
            SpoolError: the disk is (nearly) full, read-only, or the database is damaged.
        """
        size = sum(len(e.payload) for e in events) * len(destinations)
        with self._bytes_lock:
            if self._bytes + size > self._max_bytes:
                raise SpoolFullError(
                    f"the spool {self.path} is at its cap of {self._max_bytes} bytes"
                )
            if size >= self._unchecked_room:
                self._unchecked_room = self._room_on_disk(size)
            self._unchecked_room -= size
            self._bytes += size
        now = time.time()
        rows = [(d, e.payload, e.severity.value, now) for d in destinations for e in events]
        try:
            if len(rows) == 1:
                # One statement is its own transaction in autocommit mode: the
                # usual durable send() costs one SQLite call, not three.
                self._write_one(_INSERT, rows[0])
            else:
                with self._write() as db:
                    db.executemany(_INSERT, rows)
        except SpoolError:
            with self._bytes_lock:
                self._bytes -= size
            raise

    # -- the worker's side -------------------------------------------------

    def lease(self, destination: str, max_events: int, max_bytes: int) -> list[SpooledEvent]:
        """Lease the oldest unleased events of ``destination``, up to the limits."""
        with self._write() as db:
            rows = db.execute(
                "SELECT id, payload, severity, created, leased_before FROM events "
                "WHERE destination = ? AND lease_owner IS NULL ORDER BY id LIMIT ?",
                (destination, max_events),
            ).fetchall()
            leased: list[SpooledEvent] = []
            size = 0
            for row_id, payload, severity, created, leased_before in rows:
                if leased and size + len(payload) > max_bytes:
                    break
                size += len(payload)
                event = EncodedEvent(bytes(payload), _SEVERITIES[severity])
                leased.append(SpooledEvent(row_id, event, created, bool(leased_before)))
            if leased:
                # The rows selected are exactly this destination's unleased rows
                # from the first id to the last (we hold the write lock), so one
                # range update leases them all.
                db.execute(
                    "UPDATE events SET lease_owner = ?, leased_before = 1 "
                    "WHERE destination = ? AND lease_owner IS NULL AND id BETWEEN ? AND ?",
                    (self._owner, destination, leased[0].id, leased[-1].id),
                )
        return leased

    def ack(self, items: Iterable[SpooledEvent], destination: str | None = None) -> None:
        """The destination has these events: delete them.

        Given ``destination``, a whole lease goes in one range delete, much
        cheaper than a delete per row (the write lock is held for less time).
        """
        items = sorted(items, key=lambda e: e.id)
        if not items:
            return
        with self._write() as db:
            in_range = (destination, self._owner, items[0].id, items[-1].id)
            whole_lease = destination is not None and db.execute(
                "SELECT COUNT(*) FROM events WHERE destination = ? AND lease_owner = ? "
                "AND id BETWEEN ? AND ?",
                in_range,
            ).fetchone()[0] == len(items)
            if whole_lease:
                db.execute(
                    "DELETE FROM events WHERE destination = ? AND lease_owner = ? "
                    "AND id BETWEEN ? AND ?",
                    in_range,
                )
            else:
                db.executemany("DELETE FROM events WHERE id = ?", [(e.id,) for e in items])
        self._forget_bytes(items)

    def release(self, items: Iterable[SpooledEvent], *, maybe_delivered: bool = False) -> None:
        """Give leased events back to be sent again.

        Events this lease did not deliver stay flagged if an earlier, dead
        holder may have delivered them; ``maybe_delivered`` flags them all
        (whether this holder delivered them is unknown).
        """
        with self._write() as db:
            db.executemany(
                "UPDATE events SET lease_owner = NULL, leased_before = ? WHERE id = ?",
                [(int(maybe_delivered or e.maybe_duplicate), e.id) for e in items],
            )

    def dead_letter(self, destination: str, items: Sequence[SpooledEvent], error: str) -> None:
        """Move events a destination refused for good to the dead-letter table."""
        now = time.time()
        with self._write() as db:
            db.executemany(
                "INSERT INTO dead_letters (destination, payload, severity, created, failed, error)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(destination, e.event.payload, e.event.severity.value, e.created, now, error)
                 for e in items],
            )  # fmt: skip
            db.executemany("DELETE FROM events WHERE id = ?", [(e.id,) for e in items])
        self._forget_bytes(items)

    def add_dead_letters(
        self, destination: str, events: Sequence[EncodedEvent], error: str
    ) -> None:
        """Record dead letters that never were in the events table."""
        now = time.time()
        with self._write() as db:
            db.executemany(
                "INSERT INTO dead_letters (destination, payload, severity, created, failed, error)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(destination, e.payload, e.severity.value, now, now, error) for e in events],
            )

    def dead_letters(self) -> list[DeadLetter]:
        rows = (
            self._connection()
            .execute(
                "SELECT destination, payload, error, failed, severity FROM dead_letters ORDER BY id"
            )
            .fetchall()
        )
        return [DeadLetter(d, bytes(p), e, f, Severity(s)) for d, p, e, f, s in rows]

    def take_dead_letters(self) -> list[DeadLetter]:
        """Remove and return every dead letter (to replay them)."""
        with self._write() as db:
            rows = db.execute(
                "SELECT destination, payload, error, failed, severity FROM dead_letters ORDER BY id"
            ).fetchall()
            db.execute("DELETE FROM dead_letters")
        return [DeadLetter(d, bytes(p), e, f, Severity(s)) for d, p, e, f, s in rows]

    def pending(self, destination: str | None = None) -> int:
        """Events waiting in the spool (for one destination, or all)."""
        db = self._connection()
        if destination is None:
            return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        query = "SELECT COUNT(*) FROM events WHERE destination = ?"
        return int(db.execute(query, (destination,)).fetchone()[0])

    def close(self) -> None:
        """Close every thread's connection (the workers have stopped by now).

        A spool used again after ``close`` opens new connections.
        """
        _LIVE_OWNERS.discard(self._owner)
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        if self._pid == os.getpid():
            for db in connections:
                db.close()

    def _room_on_disk(self, size: int) -> int:
        """Check the disk has room for ``size`` bytes and the reserve; returns how
        many more bytes may be written before checking again.

        A spool that filled its disk to the last byte could not even record
        deliveries (SQLite writes those too), so it would never drain.
        """
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
        # Check again after a quarter of the headroom: SQLite writes each event
        # twice (log, then database), and other programs write to the disk too.
        return (free - self._min_free_bytes) // 4

    def _forget_bytes(self, items: Sequence[SpooledEvent]) -> None:
        with self._bytes_lock:
            self._bytes -= sum(len(e.event.payload) for e in items)

    def _release_dead_owners(self, db: sqlite3.Connection) -> None:
        owners = [row[0] for row in db.execute(
            "SELECT DISTINCT lease_owner FROM events WHERE lease_owner IS NOT NULL"
        )]  # fmt: skip
        dead = [owner for owner in owners if not _process_alive(owner)]
        # leased_before stays 1: these may have arrived before the crash.
        db.executemany("UPDATE events SET lease_owner = NULL WHERE lease_owner = ?",
                       [(owner,) for owner in dead])  # fmt: skip


# In a forked child: the parent's SQLite connections, never to be touched.
_FORKED_AWAY: list[object] = []

# Lease owners of the spools open in this process. A lease that names this
# process's pid but none of these was left by an earlier process that had the
# same pid (common in containers, where the program is often pid 1).
_LIVE_OWNERS: set[str] = set()


def _process_alive(owner: str) -> bool:
    try:
        pid = int(owner.split(":", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return owner in _LIVE_OWNERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- inspection and repair, for ``mozdef-client spool`` ------------------------
# What the command needs from the store, in a few functions on a directory, so
# that another store needs only these rewritten. They open the database as a
# second user would, while a sender may be using it.


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
    """The spool's database file in ``directory``.

    Raises:
        SpoolError: there is no spool there.
    """
    path = os.path.join(os.path.expanduser(directory), SPOOL_FILENAME)
    if not os.path.isfile(path):
        raise SpoolError(f"no spool in {directory} (no {SPOOL_FILENAME})")
    return path


@contextlib.contextmanager
def _open_existing(directory: str) -> Iterator[sqlite3.Connection]:
    path = spool_path(directory)
    try:
        db = sqlite3.connect(path, timeout=10, isolation_level=None)
    except sqlite3.Error as exc:
        raise SpoolError(f"cannot open the spool {path}: {exc}") from exc
    try:
        yield db
    except sqlite3.Error as exc:
        raise SpoolError(f"cannot use the spool {path}: {exc}") from exc
    finally:
        db.close()


def _where(destination: str | None) -> tuple[str, tuple[str, ...]]:
    return ("WHERE destination = ?", (destination,)) if destination is not None else ("", ())


def spool_status(directory: str) -> SpoolStatus:
    """Pending events per destination (count, bytes, oldest) and dead letters by reason."""
    with _open_existing(directory) as db:
        pending = db.execute(
            "SELECT destination, COUNT(*), SUM(LENGTH(payload)), MIN(created) FROM events "
            "GROUP BY destination ORDER BY destination"
        ).fetchall()
        dead = db.execute(
            "SELECT destination, error, COUNT(*), SUM(LENGTH(payload)) FROM dead_letters "
            "GROUP BY destination, error ORDER BY destination, COUNT(*) DESC, error"
        ).fetchall()
    return SpoolStatus(
        spool_path(directory),
        [Backlog(d, int(n), int(b), float(o)) for d, n, b, o in pending],
        [DeadLetterGroup(d, e, int(n), int(b)) for d, e, n, b in dead],
    )


def requeue_dead_letters(directory: str, destination: str | None = None) -> int:
    """Move dead letters back into the queue of their destination; returns how many."""
    where, args = _where(destination)
    with _open_existing(directory) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            moved = db.execute(
                "INSERT INTO events (destination, payload, severity, created) "
                f"SELECT destination, payload, severity, ? FROM dead_letters {where} ORDER BY id",
                (time.time(), *args),
            ).rowcount
            db.execute(f"DELETE FROM dead_letters {where}", args)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return int(moved)


def purge_spool(
    directory: str, *, pending: bool, dead_letters: bool, destination: str | None = None
) -> tuple[int, int]:
    """Delete pending events and/or dead letters; returns (pending, dead letters) deleted."""
    where, args = _where(destination)
    counts = [0, 0]
    with _open_existing(directory) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            for index, (wanted, table) in enumerate(
                ((pending, "events"), (dead_letters, "dead_letters"))
            ):
                if wanted:
                    counts[index] = db.execute(f"DELETE FROM {table} {where}", args).rowcount
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return counts[0], counts[1]


def export_spool(
    directory: str, *, dead_letters: bool, destination: str | None = None
) -> Iterator[StoredEvent]:
    """The pending events (or the dead letters), oldest first."""
    where, args = _where(destination)
    with _open_existing(directory) as db:
        if dead_letters:
            query = f"SELECT destination, payload, created, error FROM dead_letters {where}"
        else:
            query = f"SELECT destination, payload, created, NULL FROM events {where}"
        for d, payload, created, error in db.execute(query + " ORDER BY id", args):
            yield StoredEvent(d, bytes(payload), float(created), error)
