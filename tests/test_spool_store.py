"""The segment-log store: migration from the SQLite spool, the inspection functions
behind ``mozdef-client spool``, several processes on one directory, and writers
SIGKILLed mid-append.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from delivery_helpers import assert_each_once, fast, numbers_of, python_env
from mozdef_client import Client
from mozdef_client.delivery.spool import (
    SPOOL_FILENAME,
    Spool,
    export_spool,
    purge_spool,
    requeue_dead_letters,
    spool_path,
    spool_status,
)
from mozdef_client.errors import ConfigurationError, SpoolError
from mozdef_client.severity import Severity
from mozdef_client.transports.base import EncodedEvent

OLD_SPOOL = Path(__file__).parent / "data" / "spool-2.0.sqlite3"
A = "https://mozdef.example.com/events"
B = "https://other.example.com/events"


def numbers(items) -> list[int]:
    return [json.loads(item.event.payload)["n"] for item in items]


def events(*ns: int) -> list[EncodedEvent]:
    return [EncodedEvent(b'{"n":%d}' % n, Severity.WARNING) for n in ns]


# -- migration ------------------------------------------------------------------------------


@pytest.fixture
def old_spool(tmp_path) -> Path:
    """A spool directory as mozdef_client 2.0's SQLite spool left it.

    tests/data/spool-2.0.sqlite3 was written by that code: n 0-4 for A and B,
    5-7 for A (CRITICAL); A had leased n 0-1 (then died) and dead-lettered n 2;
    B delivered n 0; a dead letter n 99 for B; and one row for A whose
    severity is no severity (n 50, the row that used to block A for good).
    """
    directory = tmp_path / "spool"
    directory.mkdir(mode=0o700)
    shutil.copy(OLD_SPOOL, directory / SPOOL_FILENAME)
    return directory


def test_an_sqlite_spool_is_migrated_on_first_open(old_spool):
    spool = Spool(str(old_spool), max_bytes=10**6)
    try:
        assert not (old_spool / SPOOL_FILENAME).exists()
        leased = spool.lease(A, 100, 10**6)
        assert numbers(leased) == [0, 1, 3, 4, 5, 6, 7]
        # The dead process had leased n 0 and 1: they may have arrived.
        assert [item.maybe_duplicate for item in leased[:3]] == [True, True, False]
        assert [item.event.severity for item in leased][-1] is Severity.CRITICAL
        assert numbers(spool.lease(B, 100, 10**6)) == [1, 2, 3, 4]
        letters = [(d.destination, json.loads(d.payload)["n"], d.error)
                   for d in spool.dead_letters()]  # fmt: skip
        assert letters[:2] == [(A, 2, "HTTP 400: bad event"), (B, 99, "HTTP 403: forbidden")]
        assert letters[2][:2] == (A, 50) and "undecodable row" in letters[2][2]
    finally:
        spool.close()
    again = Spool(str(old_spool), max_bytes=10**6)  # migrated once, not twice
    try:
        assert again.pending(A) == 7 and len(again.dead_letters()) == 3
    finally:
        again.close()


def test_a_client_of_another_destination_is_told_what_the_migrated_spool_holds(old_spool):
    client = Client("http://127.0.0.1:9/events", mode="durable", spool_dir=str(old_spool),
                    delivery=fast())  # fmt: skip
    try:
        assert client.stats().spool_other_destinations == 7 + 4  # A's and B's
        assert client.stats().pending_spool == 0
    finally:
        client.close(timeout=0)
    status = spool_status(str(old_spool))
    assert [(b.destination, b.events) for b in status.pending] == [(A, 7), (B, 4)]


def test_a_file_in_place_of_the_old_spool_that_is_no_database_is_refused(tmp_path):
    (tmp_path / SPOOL_FILENAME).write_bytes(b"not a database" * 100)
    with pytest.raises(ConfigurationError, match="cannot open the spool"):
        Spool(str(tmp_path), max_bytes=1000)
    assert (tmp_path / SPOOL_FILENAME).exists()  # left alone


# -- inspection and repair (mozdef-client spool) --------------------------------------------------


def test_status_requeue_purge_and_export(tmp_path):
    with pytest.raises(SpoolError, match="no spool in"):
        spool_path(str(tmp_path / "none"))
    spool = Spool(str(tmp_path), max_bytes=10**6)
    spool.append([A, B], events(1, 2))
    spool.append([A], events(3))
    spool.ack(spool.lease(B, 1, 1000))
    spool.dead_letter(A, spool.lease(A, 1, 1000), "HTTP 400: bad")
    spool.add_dead_letters(B, events(9), "HTTP 403")
    spool.close()
    assert spool_path(str(tmp_path)) == str(tmp_path)

    status = spool_status(str(tmp_path))
    assert [(b.destination, b.events, b.bytes) for b in status.pending] == [(A, 2, 14), (B, 1, 7)]
    assert all(time.time() - b.oldest < 60 for b in status.pending)
    assert [(g.destination, g.reason, g.events) for g in status.dead_letters] == [
        (A, "HTTP 400: bad", 1), (B, "HTTP 403", 1)
    ]  # fmt: skip

    exported = list(export_spool(str(tmp_path), dead_letters=False, destination=A))
    assert [(e.destination, e.payload, e.error) for e in exported] == [
        (A, b'{"n":2}', None), (A, b'{"n":3}', None)
    ]  # fmt: skip
    [dead] = export_spool(str(tmp_path), dead_letters=True, destination=B)
    assert (dead.payload, dead.error) == (b'{"n":9}', "HTTP 403")

    assert requeue_dead_letters(str(tmp_path), A) == 1
    status = spool_status(str(tmp_path))
    assert [(b.destination, b.events) for b in status.pending] == [(A, 3), (B, 1)]
    assert [g.destination for g in status.dead_letters] == [B]

    assert purge_spool(str(tmp_path), pending=True, dead_letters=True, destination=B) == (1, 1)
    reopened = Spool(str(tmp_path), max_bytes=10**6)
    try:
        assert sorted(numbers(reopened.lease(A, 10, 1000))) == [1, 2, 3]
        assert reopened.lease(B, 10, 1000) == [] and reopened.dead_letters() == []
    finally:
        reopened.close()


def test_purge_leaves_the_segments_of_a_running_client_alone(tmp_path):
    running = Spool(str(tmp_path), max_bytes=10**6)
    try:
        running.append([A], events(1, 2))
        assert purge_spool(str(tmp_path), pending=True, dead_letters=False) == (0, 0)
        assert numbers(running.lease(A, 10, 1000)) == [1, 2]
    finally:
        running.close()


# -- several processes, SIGKILL mid-append ----------------------------------------------------

WRITER = """
import sys
from mozdef_client.delivery.spool import Spool
from mozdef_client.transports.base import EncodedEvent
spool = Spool(sys.argv[1], max_bytes=10**9)
first = int(sys.argv[2])
for n in range(first, first + 1_000_000):
    # Sizes vary, so that a kill can land anywhere in a record.
    spool.append(["d"], [EncodedEvent(b'{"n":%d,"pad":"%s"}' % (n, b"x" * (n % 997)))])
    sys.stdout.write("%d\\n" % n)
    sys.stdout.flush()
"""


@pytest.mark.slow
def test_writers_killed_mid_append_lose_nothing_acknowledged_and_deliver_no_garbage(tmp_path):
    rng = random.Random(12)
    acknowledged: set[int] = set()
    attempted: set[int] = set()
    for round_ in range(8):
        writers = []
        for index in range(3):  # three processes on the directory at once
            first = (round_ * 3 + index) * 1_000_000
            writers.append(subprocess.Popen(
                [sys.executable, "-c", WRITER, str(tmp_path), str(first)],
                stdout=subprocess.PIPE, text=True, env=python_env(),
            ))  # fmt: skip
            attempted.update(range(first, first + 1_000_000))
        time.sleep(rng.uniform(0.2, 0.6))
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
        for writer in writers:
            with writer:
                out, _ = writer.communicate()
            assert writer.returncode == -signal.SIGKILL
            # A number cut off by the kill was not acknowledged.
            acknowledged.update(int(line) for line in out.split("\n")[:-1] if line)
    assert len(acknowledged) > 1000
    spool = Spool(str(tmp_path), max_bytes=10**9)
    try:
        delivered: list[int] = []
        while items := spool.lease("d", 5000, 10**7):
            for item in items:
                document = json.loads(item.event.payload)  # never garbage
                assert document["pad"] == "x" * (document["n"] % 997)
                delivered.append(document["n"])
            spool.ack(items)
        assert len(delivered) == len(set(delivered))  # nothing twice
        assert acknowledged <= set(delivered) <= attempted
        assert spool.pending() == 0
        assert [d for d in spool.dead_letters() if "torn" not in d.error] == []
    finally:
        spool.close()
    assert list(tmp_path.glob("seg-*")) == []  # all delivered: every segment deleted


def test_two_durable_processes_on_one_spool_each_deliver_their_own_once(tmp_path, receiver):
    code = textwrap.dedent(
        """
        import sys
        from delivery_helpers import fast, send_numbered
        from mozdef_client import Client
        client = Client(sys.argv[2], mode="durable", spool_dir=sys.argv[1], delivery=fast())
        send_numbered(client, range(int(sys.argv[3]), int(sys.argv[3]) + 300))
        sys.exit(client.close(timeout=20))
        """
    )
    command = [sys.executable, "-c", code, str(tmp_path), receiver.url]
    processes = [
        subprocess.Popen([*command, str(start)], env=python_env()) for start in (0, 1000, 2000)
    ]
    for process in processes:
        assert process.wait(60) == 0
    assert_each_once(numbers_of(receiver.events), [*range(300), *range(1000, 1300),
                                                   *range(2000, 2300)])  # fmt: skip
    assert list(tmp_path.glob("seg-*")) == []


def test_a_running_spool_takes_over_what_a_process_that_died_meanwhile_left(tmp_path):
    running = Spool(str(tmp_path), max_bytes=10**6)
    try:
        assert running.lease("d", 10, 1000) == []
        code = textwrap.dedent(
            f"""
            import os, signal
            from mozdef_client.delivery.spool import Spool
            from mozdef_client.transports.base import EncodedEvent
            spool = Spool({str(tmp_path)!r}, max_bytes=10**6)
            spool.append(["d"], [EncodedEvent(b'{{"n":%d}}' % n) for n in range(3)])
            assert len(spool.lease("d", 1, 1000)) == 1
            os.kill(os.getpid(), signal.SIGKILL)
            """
        )
        died = subprocess.run([sys.executable, "-c", code], env=python_env(), timeout=30)
        assert died.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 10
        leased = []
        while not leased and time.monotonic() < deadline:  # looked for every 2 s
            leased = running.lease("d", 10, 1000)
            time.sleep(0.1)
        assert numbers(leased) == [0, 1, 2]
        assert [item.maybe_duplicate for item in leased] == [True, False, False]
    finally:
        running.close()
