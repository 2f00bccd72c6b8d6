"""The spool's fsync modes: when appended events are forced to the disk.

``os.fdatasync`` is wrapped (the real call still runs) to see which file each
call syncs and from which thread: a power cut cannot be staged in a test,
but what reaches the disk is exactly what these calls flush.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from pathlib import Path

import pytest

from delivery_helpers import fast, numbers_of, send_numbered, wait_until
from mozdef_client import Client
from mozdef_client.delivery import DeliveryOptions
from mozdef_client.delivery.spool import FSYNC_INTERVAL, Spool
from mozdef_client.errors import ConfigurationError
from mozdef_client.severity import Severity
from mozdef_client.transports.base import EncodedEvent

DEST = "http://127.0.0.1:9/events"
SYNC_THREAD = "mozdef-spool-fsync"


class Syncs:
    """Every fdatasync call: the inode it synced and the thread that called it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[int, str]] = []
        real = os.fdatasync

        def fdatasync(fd: int) -> None:
            self.calls.append((os.fstat(fd).st_ino, threading.current_thread().name))
            real(fd)

        monkeypatch.setattr(os, "fdatasync", fdatasync)

    def of(self, path: Path) -> list[str]:
        """The threads that synced ``path``, in order."""
        inode = path.stat().st_ino
        return [thread for synced, thread in self.calls if synced == inode]


def segment_of(directory: Path) -> Path:
    (segment,) = directory.glob("seg-*.log")
    return segment


def event(n: int) -> list[EncodedEvent]:
    return [EncodedEvent(b'{"n":%d}' % n, Severity.INFO)]


def test_interval_mode_syncs_the_segment_from_its_thread_at_most_once_an_interval(
    tmp_path, monkeypatch
):
    syncs = Syncs(monkeypatch)
    spool = Spool(str(tmp_path), max_bytes=10_000_000, fsync="interval")
    try:
        for n in range(100):
            spool.append([DEST], event(n))
        segment = segment_of(tmp_path)
        assert syncs.of(segment) == []  # append() did not wait for the disk

        wait_until(lambda: syncs.of(segment), timeout=FSYNC_INTERVAL * 3,
                   message="the interval sync")  # fmt: skip
        assert syncs.of(segment) == [SYNC_THREAD]

        # Appending all the time: one sync per interval, not one per append.
        started = time.monotonic()
        appended = 0
        while time.monotonic() - started < FSYNC_INTERVAL * 2.5:
            spool.append([DEST], event(appended))
            appended += 1
            time.sleep(0.001)
        assert 2 <= len(syncs.of(segment)) <= 4 < appended
        assert set(syncs.of(segment)) == {SYNC_THREAD}
    finally:
        spool.close()


def test_interval_mode_syncs_what_is_left_at_close_and_stops_its_thread(tmp_path, monkeypatch):
    syncs = Syncs(monkeypatch)
    spool = Spool(str(tmp_path), max_bytes=10_000_000, fsync="interval")
    spool.append([DEST], event(1))
    segment = segment_of(tmp_path)
    assert syncs.of(segment) == []
    spool.close()  # well within the first interval
    assert len(syncs.of(segment)) == 1
    assert SYNC_THREAD not in {thread.name for thread in threading.enumerate()}


def test_interval_mode_syncs_dead_letters_too(tmp_path, monkeypatch):
    syncs = Syncs(monkeypatch)
    spool = Spool(str(tmp_path), max_bytes=10_000_000, fsync="interval")
    try:
        spool.add_dead_letters(DEST, event(1), "refused")
        letters = tmp_path / "dead-letters.log"
        wait_until(lambda: syncs.of(letters), timeout=FSYNC_INTERVAL * 3,
                   message="the interval sync")  # fmt: skip
        assert syncs.of(letters) == [SYNC_THREAD]
    finally:
        spool.close()


@pytest.mark.parametrize("fsync", [True, "always"])
def test_always_mode_syncs_every_append_before_it_returns(tmp_path, monkeypatch, fsync):
    syncs = Syncs(monkeypatch)
    spool = Spool(str(tmp_path), max_bytes=10_000_000, fsync=fsync)
    try:
        for n in range(5):
            spool.append([DEST], event(n))
            assert len(syncs.of(segment_of(tmp_path))) == n + 1
        assert set(syncs.of(segment_of(tmp_path))) == {threading.current_thread().name}
    finally:
        spool.close()


def test_the_default_never_forces_the_disk(tmp_path, monkeypatch):
    syncs = Syncs(monkeypatch)
    spool = Spool(str(tmp_path), max_bytes=10_000_000)
    for n in range(5):
        spool.append([DEST], event(n))
    spool.add_dead_letters(DEST, event(9), "refused")
    spool.close()
    assert syncs.calls == []


def test_durable_client_with_fsync_interval_syncs_its_spool(receiver, tmp_path, monkeypatch):
    syncs = Syncs(monkeypatch)
    client = Client(receiver.url, mode="durable", spool_dir=str(tmp_path),
                    delivery=fast(fsync="interval"))  # fmt: skip
    try:
        send_numbered(client, range(50))
        segment = segment_of(tmp_path)
        wait_until(lambda: syncs.of(segment), timeout=FSYNC_INTERVAL * 3,
                   message="the interval sync")  # fmt: skip
        assert set(syncs.of(segment)) == {SYNC_THREAD}
        assert client.flush(timeout=10) == 0
        assert sorted(numbers_of(receiver.events)) == list(range(50))
    finally:
        client.close(timeout=5)


@pytest.mark.parametrize("fsync", [False, True, "always", "interval"])
def test_fsync_accepts_its_modes(fsync):
    assert DeliveryOptions(fsync=fsync).fsync == fsync


@pytest.mark.parametrize("fsync", ["sometimes", "Always", 1, 0, None, 1.0])
def test_fsync_refuses_anything_else_naming_the_modes(fsync):
    with pytest.raises(ConfigurationError, match=r"fsync must be False, True .*'interval'"):
        DeliveryOptions(fsync=fsync)


def test_interval_mode_in_a_forked_child_syncs_the_childs_own_segment(tmp_path, monkeypatch):
    syncs = Syncs(monkeypatch)
    spool = Spool(str(tmp_path), max_bytes=10_000_000, fsync="interval")
    try:
        spool.append([DEST], event(1))  # the parent's sync thread runs
        parent_segment = segment_of(tmp_path)
        with warnings.catch_warnings():  # 3.12+ warns about fork() with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            code = 1
            try:
                spool.reset_after_fork()  # what the pipeline's fork hook does
                spool.append([DEST], event(2))
                (child_segment,) = set(tmp_path.glob("seg-*.log")) - {parent_segment}
                wait_until(lambda: syncs.of(child_segment), timeout=FSYNC_INTERVAL * 3)
                spool.close()
                code = 0 if set(syncs.of(child_segment)) == {SYNC_THREAD} else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child's segment was not synced"
        wait_until(lambda: syncs.of(parent_segment), timeout=FSYNC_INTERVAL * 3)
    finally:
        spool.close()
