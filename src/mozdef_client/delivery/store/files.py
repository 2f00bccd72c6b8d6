"""The spool directory's safety checks, and opening, locking and reading its files.

The spool does not trust its directory: it refuses a directory another user
owns or others may write to (they could plant or swap files), never follows
a symlink where one of its files should be, and creates every file 0600.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import threading
import time
from collections.abc import Iterator

from ...errors import ConfigurationError, SpoolError

__all__ = [
    "check_directory",
    "close_fds",
    "forget_locks_after_fork",
    "fsync_directory",
    "locked",
    "open_file",
    "read",
    "read_all",
    "remove_if_stale",
    "try_lock",
]

_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


def check_directory(directory: str) -> None:
    """Create ``directory`` (0700) if need be; refuse one that is not safe."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.stat(directory)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the spool in {directory!r}: {exc.strerror}"
        ) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"cannot create the spool in {directory!r}: not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigurationError(f"cannot create the spool in {directory!r}: it is not writable")
    if info.st_uid != os.geteuid():
        raise SpoolError(
            f"the spool directory {directory} belongs to uid {info.st_uid}, not to this "
            f"process's user (uid {os.geteuid()}): another user could read or plant events "
            f"there; use a directory of this user's own (or chown it)"
        )
    if info.st_mode & 0o022:
        raise SpoolError(
            f"the spool directory {directory} may be written by other users (mode "
            f"{stat.S_IMODE(info.st_mode):04o}): they could plant or swap spool files; "
            f"run chmod 700 {directory}"
        )


def open_file(path: str, flags: int) -> int:
    """Open a spool file: never through a symlink, created 0600, kept 0600."""
    try:
        fd = os.open(path, flags | _OPEN_FLAGS, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SpoolError(f"refusing the spool file {path}: it is a symlink") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpoolError(f"refusing the spool file {path}: not a regular file")
        if info.st_uid != os.geteuid():
            raise SpoolError(f"refusing the spool file {path}: it belongs to uid {info.st_uid}")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o600)  # an older version's or a permissive copy's file
    except BaseException:
        os.close(fd)
        raise
    return fd


# One OS lock per open file description: threads of one process take turns
# here first, since flock() from two threads on the same descriptor would
# only convert the lock, not exclude.
_THREAD_LOCKS: dict[int, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def locked(fd: int, exclusive: bool, timeout: float, what: str) -> Iterator[None]:
    """Hold ``flock`` on ``fd``, waiting at most ``timeout`` seconds for it.

    Raises:
        SpoolError: another process held the lock all that time.
    """
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(fd, threading.Lock())
    if not thread_lock.acquire(timeout=timeout):
        raise SpoolError(f"{what} was locked by another thread for more than {timeout} s")
    try:
        operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, operation)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SpoolError(
                        f"{what} was locked by another process for more than {timeout} s "
                        f"(DeliveryOptions.spool_lock_timeout)"
                    ) from None
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        thread_lock.release()


def forget_locks_after_fork() -> None:
    """In a forked child: a lock another thread held at the fork is no one's now."""
    global _THREAD_LOCKS_GUARD
    _THREAD_LOCKS_GUARD = threading.Lock()
    _THREAD_LOCKS.clear()


def try_lock(fd: int) -> bool:
    """Take the exclusive ``flock`` of ``fd`` if nobody holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def close_fds(fds: set[int]) -> None:
    for fd in list(fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def read(fd: int, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes at ``offset`` (fewer only at the end of the file)."""
    chunks = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_all(fd: int) -> bytes:
    return read(fd, 0, os.fstat(fd).st_size)


def fsync_directory(directory: str) -> None:
    """Make a file created or renamed in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_STALE_TMP_SECONDS = 60.0


def remove_if_stale(path: str) -> None:
    """A file a process left while creating a segment (it died midway)."""
    with contextlib.suppress(OSError):
        if time.time() - os.lstat(path).st_mtime > _STALE_TMP_SECONDS:
            os.unlink(path)
