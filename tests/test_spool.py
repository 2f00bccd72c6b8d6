"""The spool (segment log): lease, acknowledge, release, crashes between the steps, caps, files.

Crashes are real: a child process works on the spool and is SIGKILLed
between two steps; the test then opens the spool again, as the next run of
the program would, and checks that nothing was lost and that events a dead
process may have delivered are marked as possible duplicates.
"""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mozdef_client import Client, Event
from mozdef_client.delivery import DeliveryOptions
from mozdef_client.delivery.spool import LOCK_FILENAME, SPOOL_FILENAME, Spool
from mozdef_client.errors import ConfigurationError, SpoolError, SpoolFullError
from mozdef_client.severity import Severity
from mozdef_client.transports.base import EncodedEvent

DEST = "http://127.0.0.1:9/events"


def events(*numbers: int) -> list[EncodedEvent]:
    return [EncodedEvent(b'{"n":%d}' % n, Severity.WARNING) for n in numbers]


def numbers(leased) -> list[int]:
    return [int(item.event.payload[5:-1]) for item in leased]


@pytest.fixture
def spool(tmp_path):
    opened = Spool(str(tmp_path / "spool"), max_bytes=1_000_000)
    yield opened
    opened.close()


def run_then_crash(spool_dir: Path, steps: str) -> None:
    """Run ``steps`` on a Spool ``spool`` in a child process, which then SIGKILLs itself."""
    code = textwrap.dedent(
        """
        import os, signal
        from mozdef_client.delivery.spool import Spool
        from mozdef_client.transports.base import EncodedEvent
        spool = Spool({dir!r}, max_bytes=1_000_000)
        def events(*ns):
            return [EncodedEvent(b'{{"n":%d}}' % n) for n in ns]
        """
    ).format(dir=str(spool_dir))
    code += textwrap.dedent(steps) + "\nos.kill(os.getpid(), signal.SIGKILL)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert result.returncode == -9, result.stderr.decode()


# -- lease, ack, release in one process ----------------------------------------------------


def test_lease_takes_the_oldest_events_of_one_destination_in_order(spool):
    spool.append([DEST, "other"], events(1, 2, 3))
    leased = spool.lease(DEST, max_events=2, max_bytes=1000)
    assert numbers(leased) == [1, 2]
    assert leased[0].event.severity is Severity.WARNING
    assert not any(item.maybe_duplicate for item in leased)
    assert numbers(spool.lease(DEST, 10, 1000)) == [3]
    assert spool.lease(DEST, 10, 1000) == []  # all leased: nothing twice
    assert numbers(spool.lease("other", 10, 1000)) == [1, 2, 3]


def test_lease_respects_the_byte_limit_but_always_takes_one_event(spool):
    spool.append([DEST], events(1, 2, 3))  # 7 bytes each
    assert numbers(spool.lease(DEST, 10, 15)) == [1, 2]
    assert numbers(spool.lease(DEST, 10, 1)) == [3]


def test_ack_deletes_and_release_gives_back(spool):
    spool.append([DEST], events(1, 2, 3))
    first, second, third = spool.lease(DEST, 10, 1000)
    spool.ack([first])
    spool.release([second, third])
    assert spool.pending(DEST) == 2
    again = spool.lease(DEST, 10, 1000)
    assert numbers(again) == [2, 3]
    # Released events are known undelivered: sending them again is no duplicate.
    assert not any(item.maybe_duplicate for item in again)


def test_a_live_owners_events_are_not_taken_by_a_second_spool(tmp_path, spool):
    # Each writer delivers what it wrote while it lives (its segment is locked);
    # once it is gone, the next spool takes its events over.
    spool.append([DEST], events(1, 2))
    assert numbers(spool.lease(DEST, 1, 1000)) == [1]
    second = Spool(str(tmp_path / "spool"), max_bytes=1_000_000)
    try:
        assert second.lease(DEST, 10, 1000) == []
        assert numbers(spool.lease(DEST, 10, 1000)) == [2]
        spool.close()  # its events stay, unacknowledged
        third = Spool(str(tmp_path / "spool"), max_bytes=1_000_000)
        try:
            assert numbers(third.lease(DEST, 10, 1000)) == [1, 2]
        finally:
            third.close()
    finally:
        second.close()


def test_dead_letters_are_kept_listed_and_taken(spool):
    spool.append([DEST], events(1, 2))
    leased = spool.lease(DEST, 10, 1000)
    spool.dead_letter(DEST, leased[:1], "HTTP 400: bad event")
    spool.add_dead_letters("other", events(9), "HTTP 403")
    assert spool.pending(DEST) == 1
    letters = spool.dead_letters()
    assert [(d.destination, d.payload, d.error) for d in letters] == [
        (DEST, b'{"n":1}', "HTTP 400: bad event"),
        ("other", b'{"n":9}', "HTTP 403"),
    ]
    assert letters[0].severity is Severity.WARNING
    assert spool.take_dead_letters() == letters
    assert spool.dead_letters() == []


# -- crashes between the steps ------------------------------------------------------------


def test_crash_after_commit_loses_nothing(tmp_path):
    run_then_crash(tmp_path, "spool.append(['d'], events(1, 2, 3))")
    spool = Spool(str(tmp_path), max_bytes=1_000_000)
    leased = spool.lease("d", 10, 1000)
    assert numbers(leased) == [1, 2, 3]
    assert not any(item.maybe_duplicate for item in leased)
    spool.close()


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("seg-*.log"))


def test_a_torn_write_at_a_crash_is_detected_and_never_delivered(tmp_path):
    # A power cut can leave the end of a record unwritten: its length or checksum
    # gives it away; it is kept as a corrupt dead letter, never sent or replayed.
    run_then_crash(tmp_path, "spool.append(['d'], events(1, 2))")
    [segment] = segment_files(tmp_path)
    whole = segment.read_bytes()
    with open(segment, "ab") as out:
        out.write(whole[: len(whole) // 2 - 5])  # a copy of the first record, cut short
    spool = Spool(str(tmp_path), max_bytes=1_000_000)
    try:
        assert numbers(spool.lease("d", 10, 1000)) == [1, 2]
        [letter] = spool.dead_letters()
        assert "corrupt record in the spool (torn write)" in letter.error
        assert spool.take_dead_letters() == []  # never replayed
        assert len(spool.dead_letters()) == 1  # but kept for inspection
    finally:
        spool.close()


def test_crash_between_lease_and_ack_gives_the_events_back_as_possible_duplicates(tmp_path):
    # The dead process may or may not have delivered them: send again, flagged.
    run_then_crash(
        tmp_path,
        """
        spool.append(['d'], events(1, 2, 3))
        assert len(spool.lease('d', 2, 1000)) == 2
        """,
    )
    spool = Spool(str(tmp_path), max_bytes=1_000_000)
    leased = spool.lease("d", 10, 1000)
    assert numbers(leased) == [1, 2, 3]
    assert [item.maybe_duplicate for item in leased] == [True, True, False]
    spool.close()


def test_crash_after_ack_sends_nothing_again(tmp_path):
    run_then_crash(
        tmp_path,
        """
        spool.append(['d'], events(1, 2, 3))
        spool.ack(spool.lease('d', 2, 1000))
        """,
    )
    spool = Spool(str(tmp_path), max_bytes=1_000_000)
    leased = spool.lease("d", 10, 1000)
    assert numbers(leased) == [3]
    assert not leased[0].maybe_duplicate
    spool.close()


def test_crash_after_release_sends_again_without_duplicate_flag(tmp_path):
    run_then_crash(
        tmp_path,
        """
        spool.append(['d'], events(1, 2))
        spool.release(spool.lease('d', 10, 1000))
        """,
    )
    spool = Spool(str(tmp_path), max_bytes=1_000_000)
    leased = spool.lease("d", 10, 1000)
    assert numbers(leased) == [1, 2]
    assert not any(item.maybe_duplicate for item in leased)
    spool.close()


def test_crash_after_dead_lettering_keeps_the_dead_letter_and_not_the_event(tmp_path):
    run_then_crash(
        tmp_path,
        """
        spool.append(['d'], events(1, 2))
        spool.dead_letter('d', spool.lease('d', 1, 1000), 'HTTP 400')
        """,
    )
    spool = Spool(str(tmp_path), max_bytes=1_000_000)
    assert numbers(spool.lease("d", 10, 1000)) == [2]
    assert [(d.payload, d.error) for d in spool.dead_letters()] == [(b'{"n":1}', "HTTP 400")]
    spool.close()


def test_a_segment_naming_this_pid_but_no_open_spool_is_taken_over(tmp_path):
    # Ownership is a lock held while the owner lives, never a pid: containers
    # often run the program as pid 1 on every start, so names repeat.
    spool = Spool(str(tmp_path), max_bytes=1_000_000)
    spool.append(["d"], events(1))
    spool.lease("d", 10, 1000)  # leased, then the owner is gone
    spool.close()
    [segment] = segment_files(tmp_path)
    assert f"-{os.getpid()}-" in segment.name
    reopened = Spool(str(tmp_path), max_bytes=1_000_000)
    leased = reopened.lease("d", 10, 1000)
    assert numbers(leased) == [1] and leased[0].maybe_duplicate
    reopened.close()


# -- the byte cap --------------------------------------------------------------------------


def test_the_byte_cap_refuses_whole_appends_and_frees_on_ack(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=21)  # three 7-byte events
    spool.append(["d"], events(1, 2))
    with pytest.raises(SpoolFullError, match="at its cap of 21 bytes"):
        spool.append(["d"], events(3, 4))  # all or nothing
    spool.append(["d"], events(3))
    with pytest.raises(SpoolFullError):
        spool.append(["d"], events(4))
    spool.ack(spool.lease("d", 1, 1000))
    spool.append(["d"], events(4))
    assert spool.pending("d") == 3
    spool.close()


def test_the_byte_cap_counts_what_an_earlier_run_left(tmp_path):
    Spool(str(tmp_path), max_bytes=100).append(["d"], events(1, 2))
    spool = Spool(str(tmp_path), max_bytes=20)
    with pytest.raises(SpoolFullError):
        spool.append(["d"], events(3))
    spool.close()


def test_the_byte_cap_counts_each_destination(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=20)
    with pytest.raises(SpoolFullError):
        spool.append(["a", "b"], events(1, 2))  # 2 events x 2 destinations x 7 bytes
    spool.close()


def test_durable_send_at_the_cap_raises_and_counts_a_spool_full_drop(tmp_path):
    options = DeliveryOptions(spool_max_bytes=1500)
    client = Client(DEST, mode="durable", spool_dir=str(tmp_path), delivery=options)
    try:
        sent = 0
        with pytest.raises(SpoolFullError):
            for _ in range(100):
                client.send(Event(summary="x" * 100))
                sent += 1
        stats = client.stats()
        assert 0 < sent < 100
        assert stats.submitted == sent + 1
        assert dict(stats.dropped) == {"spool_full": 1}
        assert stats.pending_spool == sent
    finally:
        client.close(timeout=0)


# -- files and errors -----------------------------------------------------------------------


def test_spool_files_are_private(tmp_path):
    spool = Spool(str(tmp_path / "new"), max_bytes=1_000_000)
    spool.append(["d"], events(1))
    files = sorted(p.name for p in (tmp_path / "new").iterdir())
    assert LOCK_FILENAME in files and len(segment_files(tmp_path / "new")) == 1
    for name in files:
        assert stat.S_IMODE((tmp_path / "new" / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    spool.close()


def test_spool_files_are_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        spool = Spool(str(tmp_path / "s"), max_bytes=1_000_000)
        spool.append(["d"], events(1))
    finally:
        os.umask(old)
    for path in (tmp_path / "s").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    spool.close()


def test_a_file_that_is_not_a_spool_is_a_configuration_error(tmp_path):
    (tmp_path / SPOOL_FILENAME).write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(ConfigurationError, match="cannot open the spool"):
        Spool(str(tmp_path), max_bytes=1_000_000)


def test_a_spool_dir_that_is_a_file_is_a_configuration_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="cannot create the spool"):
        Spool(str(tmp_path / "file"), max_bytes=1_000_000)


def test_spool_error_is_raised_when_the_write_fails(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=21)
    spool.append(["d"], events(1))
    [segment] = segment_files(tmp_path)
    # Past RLIMIT_FSIZE a write fails with EFBIG (SIGXFSZ ignored), as on a full disk.
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (segment.stat().st_size + 5, limits[1]))
    try:
        with pytest.raises(SpoolError, match="cannot write the spool"):
            spool.append(["d"], events(2))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    spool.append(["d"], events(3, 4))  # the failed append took none of the cap
    assert numbers(spool.lease("d", 10, 1000)) == [1, 3, 4]
    spool.close()
