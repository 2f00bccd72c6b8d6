"""When what the spool appends reaches the disk: the ``fsync`` option.

- ``False`` (the default): never forced. An appended event is in the page
  cache and survives the process being killed at any instant; a power cut
  can lose what the kernel had not written back yet (about 30 s on Linux).
- ``True`` or ``"always"``: an ``fdatasync`` after every append, before
  ``send()`` returns; a new segment also syncs its progress file and the
  directory. Power-loss safe, and the slowest (docs/delivery.md).
- ``"interval"``: a thread of the spool syncs the files appended to at most
  every ``interval`` seconds (like Redis's ``appendfsync everysec``), so a
  power cut loses at most the events of the last interval (plus the time one
  sync takes) while ``send()`` costs about what it costs without fsync.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Literal, TypeAlias

from ...errors import ConfigurationError
from .files import fsync_directory

__all__ = ["FSYNC_INTERVAL", "FSYNC_MODES", "DiskSync", "Fsync"]

logger = logging.getLogger("mozdef_client.delivery")

Fsync: TypeAlias = bool | Literal["always", "interval"]
FSYNC_MODES: tuple[Fsync, ...] = (False, True, "always", "interval")
#: Seconds between two syncs in ``"interval"`` mode: what a power cut may lose.
FSYNC_INTERVAL = 1.0


def check_fsync(value: object, what: str = "fsync") -> None:
    """Raise ``ConfigurationError`` unless ``value`` is one of the modes."""
    if not any(
        value is mode or (isinstance(mode, str) and value == mode) for mode in FSYNC_MODES
    ):  # fmt: skip  (1 == True, but 1 is no mode)
        raise ConfigurationError(
            f"{what} must be False, True (or 'always': every append) or 'interval' "
            f"(at most every {FSYNC_INTERVAL:g} s), not {value!r}"
        )


class DiskSync:
    """Syncs the spool's files as its ``fsync`` mode says.

    In ``"interval"`` mode the appending thread only notes which file it
    wrote (a set lookup); the sync thread duplicates those descriptors under
    its lock and syncs the copies, so a file the spool closes meanwhile (a
    segment delivered, or replaced) is still synced, and ``send()`` never
    waits for the disk.
    """

    def __init__(self, fsync: Fsync, directory: str, interval: float = FSYNC_INTERVAL) -> None:
        check_fsync(fsync)
        self.each = fsync is True or fsync == "always"  # before every append returns
        self.later = fsync == "interval"
        self.interval = interval
        self._directory = directory
        self._lock = threading.Lock()
        self._dirty: set[int] = set()
        self._closed: list[int] = []  # copies of written files closed since the last sync
        self._copies: list[int] = []  # the copies a sync is working on
        self._directory_dirty = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def appended(self, fd: int) -> None:
        """After a write to ``fd``: sync it now (``always``) or soon (``interval``).

        Raises:
            OSError: the sync failed (``always``).
        """
        if self.each:
            os.fdatasync(fd)
        elif self.later and fd not in self._dirty:
            self._note(fd)

    def created(self, fd: int) -> None:
        """After a new file was written and named in the directory."""
        if self.each:
            os.fsync(fd)
            fsync_directory(self._directory)
        elif self.later:
            self._note(fd, directory=True)

    def closing(self, fd: int) -> None:
        """Before the spool closes ``fd``: what was written to it still gets synced."""
        if self.later and fd in self._dirty:
            with self._lock:
                if fd in self._dirty:
                    self._dirty.discard(fd)
                    with contextlib.suppress(OSError):
                        self._closed.append(os.dup(fd))

    def sync(self) -> None:
        """Sync every file written since the last sync (``interval`` mode)."""
        with self._lock:
            copies = self._copies = self._closed
            self._closed = []
            for fd in self._dirty:
                with contextlib.suppress(OSError):
                    copies.append(os.dup(fd))
            self._dirty.clear()
            directory, self._directory_dirty = self._directory_dirty, False
        try:
            for fd in copies:
                os.fdatasync(fd)
            if directory:
                fsync_directory(self._directory)
        except OSError as exc:
            logger.warning("cannot sync the spool %s to disk: %s", self._directory, exc)
        finally:
            while copies:  # out of the list first: a forked child never closes a stranger
                with contextlib.suppress(OSError):
                    os.close(copies.pop())

    def forget_after_fork(self) -> None:
        """In a forked child: close the copies inherited from the parent.

        A copy shares the parent's open file, and so its ``flock``: kept, it
        would stop the next process from taking the segment over once the
        parent is gone. No lock here: the parent's sync thread may have held it.
        """
        for fd in [*self._closed, *self._copies]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._closed, self._copies = [], []

    def stop(self) -> None:
        """Sync what is left and stop the sync thread (it starts again when needed)."""
        with self._lock:
            thread, self._thread = self._thread, None
            stop, self._stop = self._stop, threading.Event()
        stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if self.later:
            self.sync()

    def _note(self, fd: int, directory: bool = False) -> None:
        with self._lock:
            self._dirty.add(fd)
            self._directory_dirty = self._directory_dirty or directory
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                                name="mozdef-spool-fsync", daemon=True)  # fmt: skip
                self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self.sync()
