"""The durable spool: an append-only segment log per writer process.

:class:`Spool` puts together the writer (:mod:`.writer`: appends, byte cap,
free-space floor), the reader (:mod:`.reader`: leases, acknowledgements,
progress), the takeover of dead processes' segments (:mod:`.takeover`) and
the dead letters (:mod:`.dead_letters`); it opens, forks and closes them.

Several processes may share a directory. Each owns the segments it writes
(an ``flock`` held while it lives) and delivers them; the segments of a
process that died are taken over by the next spool that finds them
unlocked. Progress is kept per segment and destination in a small
preallocated file (:mod:`.records`): the acknowledged offset, and how far a
lease reached (events past the acknowledged offset and before that mark may
have been delivered by a dead owner, so they are flagged as possible
duplicates). A segment is deleted once every destination has acknowledged
all of it.

Why not SQLite any more: one commit per event could not reach the
throughput and latency durable mode needs (see docs/delivery.md).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Sequence

from ...errors import ConfigurationError
from ...transports.base import EncodedEvent
from . import records
from .dead_letters import DeadLetter, DeadLetterFile, as_dead_letter
from .files import check_directory, close_fds, forget_locks_after_fork, locked, open_file
from .reader import SpoolReader
from .segments import DEAD_LETTERS_FILENAME, LOCK_FILENAME, SPOOL_FILENAME, SpooledEvent
from .sync import DiskSync, Fsync, check_fsync
from .takeover import SpoolTakeover
from .writer import SEGMENT_BYTES, SpoolWriter

__all__ = ["Spool"]


class Spool(SpoolWriter, SpoolReader, SpoolTakeover):
    """A spool directory shared by a client's destinations (and other processes).

    ``fsync``: ``False`` (survives the process being killed), ``True`` or
    ``"always"`` (an fdatasync per append: survives a power cut), or
    ``"interval"`` (synced at most every second by a thread: a power cut
    loses at most the last second); see :mod:`.sync`.
    """

    def __init__(
        self,
        directory: str,
        *,
        max_bytes: int,
        min_free_bytes: int = 0,
        fsync: Fsync = False,
        lock_timeout: float = 10.0,
    ) -> None:
        check_fsync(fsync)
        self.path = directory
        self._directory = directory
        self._max_bytes = max_bytes
        self._min_free_bytes = min_free_bytes
        self._fsync = fsync
        self._lock_timeout = lock_timeout
        self._segment_bytes = max(64 * 1024, min(SEGMENT_BYTES, max_bytes // 8))
        check_directory(directory)
        self._reset()
        self._finalizer = weakref.finalize(self, _release, self._fds, self._sync)
        self._finalizer.atexit = False  # the pipeline's exit close still needs them
        try:
            self._open_shared_files()
            with locked(self._lock_fd, True, lock_timeout, f"the spool {directory}"):
                if os.path.lexists(self._file(SPOOL_FILENAME)):
                    from .migrate import migrate_sqlite_spool

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
        dead_fd = open_file(self._file(DEAD_LETTERS_FILENAME),
                            os.O_RDWR | os.O_APPEND | os.O_CREAT)  # fmt: skip
        self._fds.add(dead_fd)
        self._letters = DeadLetterFile(dead_fd, self.path, self._lock_timeout, self._sync)

    def reset_after_fork(self) -> None:
        """In a forked child: the parent keeps its segments; the child starts its own."""
        inherited, serving, declined = self._fds, self._serving, self._declined
        self._finalizer.detach()  # the parent's sync state is not the child's to stop
        self._sync.forget_after_fork()
        self._reset()
        self._serving, self._declined = serving, declined
        forget_locks_after_fork()
        # Closing the child's copies leaves the parent's locks held (flock
        # belongs to the open file, which the parent still has open).
        close_fds(inherited)
        self._finalizer = weakref.finalize(self, _release, self._fds, self._sync)
        self._finalizer.atexit = False
        self._open_shared_files()

    # -- dead letters ------------------------------------------------------

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

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first; damaged ones say so in ``error``."""
        return self._letters.letters()

    def take_dead_letters(self) -> list[DeadLetter]:
        """Remove and return every dead letter (to replay them).

        Damaged records and corrupt spool records stay: replaying them would
        deliver garbage.
        """
        taken, _ = self._letters.take(lambda letter: True)
        return [as_dead_letter(letter) for letter in taken]

    # -- the whole spool ---------------------------------------------------

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
        self._sync.stop()  # what "interval" had not synced yet, before the files go


def _release(fds: set[int], sync: DiskSync) -> None:
    """A spool nobody closed was collected: stop its sync thread, close its files."""
    sync.stop()
    close_fds(fds)
