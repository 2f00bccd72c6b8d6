"""What the parts of a spool share: the segments it owns, under one lock.

:class:`~.spool.Spool` is assembled from the writer (:mod:`.writer`), the
reader (:mod:`.reader`) and the takeover of dead processes' segments
(:mod:`.takeover`); each works on the state declared here.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from ...errors import SpoolError
from ...severity import Severity
from . import records
from .dead_letters import DeadLetterFile
from .segments import LOG_SUFFIX, Segment
from .sync import DiskSync, Fsync

__all__ = ["SpoolCore"]

logger = logging.getLogger("mozdef_client.delivery")


class SpoolCore:
    """The state of a spool and the bookkeeping every part of it does."""

    path: str
    _directory: str
    _max_bytes: int
    _min_free_bytes: int
    _fsync: Fsync
    _lock_timeout: float
    _segment_bytes: int
    _lock_fd: int
    _letters: DeadLetterFile

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._owned: dict[str, Segment] = {}
        self._current: Segment | None = None
        self._own_bytes = 0
        self._others_bytes = 0
        self._others_events = 0
        self._others_at = -1e9
        self._rescan_at = -1e9
        self._declined: set[str] = set()  # others' segments with nothing for us
        self._serving: set[str] | None = None  # destinations of the client, once known
        self._unchecked_room = 0  # bytes to append before the next free-space check
        self._layouts: dict[tuple[str, ...], tuple[tuple[str, ...], list[bytes]]] = {}
        self._fds: set[int] = set()
        self._sync = DiskSync(self._fsync, self._directory)

    def _file(self, name: str) -> str:
        return os.path.join(self._directory, name)

    def _own(self, segment: Segment) -> None:
        self._owned[segment.name] = segment
        self._fds.update((segment.fd, segment.ack_fd))

    def _forget(self, segment: Segment, *, delete: bool) -> None:
        self._fds.difference_update((segment.fd, segment.ack_fd))
        self._sync.closing(segment.fd)
        self._sync.closing(segment.ack_fd)
        segment.close(delete)

    def _save_progress(self, segment: Segment, destination: str) -> None:
        progress = segment.progress[destination]
        try:
            segment.write_progress(destination, progress)
        except OSError as exc:
            raise SpoolError(f"cannot write the spool {self.path}: {exc.strerror}") from exc

    def _append_dead_letters(self, data: bytes) -> None:
        self._letters.append(data)

    def _dead_letter_corrupt(
        self, destination: str, segment: str, corrupt: records.Corrupt
    ) -> None:
        reason = (
            f"corrupt record in the spool ({corrupt.reason}): {segment}{LOG_SUFFIX} "
            f"bytes {corrupt.offset}-{corrupt.end}, kept here, never sent"
        )
        logger.warning("the spool %s: %s", self.path, reason)
        record = records.dead_letter_record(destination, corrupt.data[:1024 * 1024],
                                            Severity.INFO, time.time(), time.time(), reason,
                                            corrupt=True)  # fmt: skip
        try:
            self._append_dead_letters(record)
        except SpoolError as exc:
            logger.warning("cannot keep the corrupt record as a dead letter: %s", exc)

    def _rescan(self, force: bool = False) -> None:
        """Take over the segments of processes that died (:mod:`.takeover`)."""
        raise NotImplementedError

    def _count_others(self) -> None:
        """Read what other processes' segments hold (:mod:`.writer`)."""
        raise NotImplementedError
