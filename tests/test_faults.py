"""The fault matrix of the delivery pipeline (issue 3), against real receivers on loopback.

Every test counts exactly: each event the client accepted arrives once, the
client's stats say what happened, and nothing is lost or sent twice (the
receiver never splits logging a request from answering it, so a retry after
a failure is never a duplicate here).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from delivery_helpers import (
    ReceiverProcess,
    assert_each_once,
    fast,
    numbers_of,
    python_env,
    send_numbered,
    wait_until,
)
from mozdef_client import Client, Event, prepare
from mozdef_client.delivery import RetryPolicy
from mozdef_client.delivery.spool import Spool
from mozdef_client.errors import ConfigurationError, SpoolError, SpoolFullError
from servers import Fault, Receiver, free_port

TESTS = Path(__file__).parent
MODES = ["background", "durable"]


@pytest.fixture
def client_for(tmp_path):
    """Make clients in a given mode; each is closed after the test."""
    clients: list[Client] = []

    def make(url: str, mode: str, **options) -> Client:
        kwargs = {"spool_dir": str(tmp_path / "spool")} if mode == "durable" else {}
        read_timeout = options.pop("read_timeout", 10.0)
        client = Client(
            url, mode=mode, delivery=fast(**options), read_timeout=read_timeout, **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(timeout=0)


# -- the receiver comes and goes --------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_receiver_down_at_start_then_up_gets_everything_once(client_for, mode):
    port = free_port()
    client = client_for(f"http://127.0.0.1:{port}/events", mode)
    assert all(send_numbered(client, range(500)))
    assert client.flush(timeout=0.5) == 500  # nobody listens yet
    stats = client.stats()
    assert stats.delivered == 0 and stats.retried > 0
    assert "could not connect" in (stats.last_error or "")
    receiver = Receiver(port)
    try:
        assert client.flush(timeout=20) == 0
        assert_each_once(numbers_of(receiver.events), range(500))
        stats = client.stats()
        assert (stats.submitted, stats.delivered, stats.dead_lettered) == (500, 500, 0)
        assert (dict(stats.dropped), stats.duplicates) == ({}, 0)
        assert (stats.pending_memory, stats.pending_spool) == (0, 0)
    finally:
        receiver.close()


@pytest.mark.parametrize("mode", MODES)
def test_receiver_killed_and_restarted_mid_stream_gets_everything_once(client_for, mode, tmp_path):
    receiver = ReceiverProcess(free_port(), tmp_path / "received.jsonl")
    receiver.start()
    try:
        client = client_for(receiver.url, mode, max_batch_events=50)
        total = 3000

        def stream() -> None:
            for start in range(0, total, 10):
                send_numbered(client, range(start, start + 10))
                time.sleep(0.002)

        sender = threading.Thread(target=stream)
        sender.start()
        wait_until(lambda: len(receiver.events()) >= 300, message="first events")
        receiver.kill()
        down_at = len(receiver.events())
        time.sleep(0.3)
        receiver.start()
        sender.join(60)
        assert client.flush(timeout=30) == 0
        received = numbers_of(receiver.events())
        assert down_at < total  # killed mid-stream, not after it
        assert_each_once(received, range(total))
        stats = client.stats()
        assert (stats.submitted, stats.delivered, stats.duplicates) == (total, total, 0)
        assert stats.retried > 0 and dict(stats.dropped) == {}
    finally:
        receiver.close()


# -- the receiver answers with trouble ---------------------------------------------------


def test_a_burst_of_503_is_retried_and_counted(client_for, receiver):
    client = client_for(receiver.url, "background")
    receiver.script(*[503] * 6)
    assert all(send_numbered(client, range(300)))
    assert client.flush(timeout=20) == 0
    assert_each_once(numbers_of(receiver.events), range(300))
    refused = [r for r in receiver.requests if r.status == 503]
    assert len(refused) == 6
    stats = client.stats()
    # Every event of a refused request was retried once for it.
    assert stats.retried == sum(len(r.documents) for r in refused)
    assert (stats.delivered, stats.dead_lettered) == (300, 0)
    assert "HTTP 503" in (stats.last_error or "")


def test_429_retry_after_is_honoured_and_capped(client_for, receiver):
    client = client_for(
        receiver.url,
        "background",
        retry=RetryPolicy(backoff_initial=0.01, backoff_max=0.2, retry_after_max=1.2),
    )
    receiver.script(Fault(429, retry_after="1"), Fault(429, retry_after="3600"))
    started = time.monotonic()
    assert client.send(Event(summary="once", details={"n": 0}))
    assert client.flush(timeout=20) == 0
    took = time.monotonic() - started
    # 1 s as asked (backoff alone would wait at most 0.2 s), then 3600 s cut to 1.2 s.
    assert 2.1 <= took < 8.0
    assert [r.status for r in receiver.requests] == [429, 429, 200]
    assert_each_once(numbers_of(receiver.events), [0])
    assert client.stats().retried == 2


def test_a_connection_reset_mid_request_is_retried(client_for, receiver):
    client = client_for(receiver.url, "background")
    receiver.script(Fault(reset=True), Fault(reset=True))
    assert client.send(Event(summary="reset twice", details={"n": 0}))
    assert client.flush(timeout=20) == 0
    stats = client.stats()
    assert (stats.delivered, stats.retried) == (1, 2)
    assert "connection" in (stats.last_error or "")
    assert all(send_numbered(client, range(1, 200)))  # and the connection pool recovers
    assert client.flush(timeout=20) == 0
    assert_each_once(numbers_of(receiver.events), range(200))


def test_a_hanging_receiver_times_out_and_the_event_is_retried(client_for, receiver):
    client = client_for(receiver.url, "background", read_timeout=0.3)
    receiver.script(Fault(hang=2.0))
    started = time.monotonic()
    assert client.send(Event(summary="after a hang", details={"n": 0}))
    assert client.flush(timeout=20) == 0
    assert 0.3 <= time.monotonic() - started < 2.0  # the timeout, not the hang
    stats = client.stats()
    assert (stats.delivered, stats.retried) == (1, 1)
    assert "timed out" in (stats.last_error or "")
    assert_each_once(numbers_of(receiver.events), [0])


@pytest.mark.parametrize("mode", MODES)
def test_a_400_batch_is_dead_lettered_counted_inspectable_and_replayable(
    client_for, receiver, mode
):
    client = client_for(receiver.url, mode)
    assert client.send(Event(summary="first", details={"n": 0}))
    assert client.flush(timeout=10) == 0
    receiver.script(400)  # the next request, whatever it holds
    assert all(send_numbered(client, range(1, 300)))
    assert client.flush(timeout=20) == 0
    refused = [r for r in receiver.requests if r.status == 400]
    assert len(refused) == 1
    bad = numbers_of(refused[0].documents)
    assert bad and set(bad) <= set(range(1, 300))
    # The rest flowed past the refused batch.
    assert_each_once(numbers_of(receiver.events), set(range(300)) - set(bad))
    stats = client.stats()
    assert (stats.dead_lettered, stats.delivered) == (len(bad), 300 - len(bad))
    assert "HTTP 400" in (stats.last_error or "")

    letters = client.dead_letters()
    assert [json.loads(d.payload)["details"]["n"] for d in letters] == bad
    assert {d.destination for d in letters} == {receiver.url}
    assert all("HTTP 400" in d.error and time.time() - d.failed_at < 60 for d in letters)

    assert client.replay_dead_letters() == len(bad)
    assert client.flush(timeout=20) == 0
    assert client.dead_letters() == []
    assert_each_once(numbers_of(receiver.events), range(300))
    stats = client.stats()
    assert (stats.submitted, stats.delivered) == (300 + len(bad), 300)


def test_durable_dead_letters_survive_a_restart_and_replay_from_the_next_run(receiver, tmp_path):
    spool = str(tmp_path / "spool")
    first = Client(receiver.url, mode="durable", spool_dir=spool, delivery=fast())
    receiver.script(403)
    first.send(Event(summary="refused", details={"n": 1}))
    assert first.flush(timeout=10) == 0
    assert first.close(timeout=5) == 0
    second = Client(receiver.url, mode="durable", spool_dir=spool, delivery=fast())
    try:
        letters = second.dead_letters()
        assert [(json.loads(d.payload)["details"]["n"], "HTTP 403" in d.error)
                for d in letters] == [(1, True)]  # fmt: skip
        assert second.replay_dead_letters() == 1
        assert second.flush(timeout=10) == 0
        assert_each_once(numbers_of(receiver.events), [1])
        assert second.dead_letters() == []
    finally:
        second.close(timeout=5)


def test_413_splits_the_batch_until_it_fits(receiver, tmp_path):
    # A spool holding 64 events, so the first batch is exactly those 64.
    spool = Spool(str(tmp_path), max_bytes=10**8)
    spool.append([receiver.url], [prepare(Event(summary="s", details={"n": n})) for n in range(64)])
    spool.close()
    receiver.script(413, 413)
    client = Client(receiver.url, mode="durable", spool_dir=str(tmp_path),
                    delivery=fast(max_batch_events=64))  # fmt: skip
    try:
        assert client.flush(timeout=20) == 0
        sizes = [(r.status, len(r.documents)) for r in receiver.requests]
        assert sizes == [(413, 64), (413, 32), (200, 16), (200, 16), (200, 32)]
        assert_each_once(numbers_of(receiver.events), range(64))
        stats = client.stats()
        assert (stats.delivered, stats.dead_lettered, stats.duplicates) == (64, 0, 0)
    finally:
        client.close(timeout=5)


def test_a_single_event_refused_with_413_is_dead_lettered(client_for, receiver):
    client = client_for(receiver.url, "background")
    receiver.script(413)
    assert client.send(Event(summary="too big", details={"n": 0}))
    assert client.flush(timeout=10) == 0
    [letter] = client.dead_letters()
    assert "HTTP 413" in letter.error
    assert json.loads(letter.payload)["details"]["n"] == 0
    assert client.stats().dead_lettered == 1
    assert client.send(Event(summary="fits", details={"n": 1}))
    assert client.flush(timeout=10) == 0
    assert_each_once(numbers_of(receiver.events), [1])


# -- the spool's limits ---------------------------------------------------------------------


def test_the_spool_at_its_byte_cap_refuses_then_drains_and_accepts_again(client_for):
    port = free_port()
    client = client_for(f"http://127.0.0.1:{port}/events", "durable", spool_max_bytes=20_000)
    accepted = 0
    with pytest.raises(SpoolFullError, match="at its cap of 20000 bytes"):
        while True:
            send_numbered(client, [accepted])
            accepted += 1
    with pytest.raises(SpoolFullError):
        send_numbered(client, [accepted])
    stats = client.stats()
    assert 20 < accepted < 200
    assert (stats.submitted, stats.pending_spool) == (accepted + 2, accepted)
    assert dict(stats.dropped) == {"spool_full": 2}
    receiver = Receiver(port)
    try:
        assert client.flush(timeout=20) == 0
        assert all(send_numbered(client, range(1000, 1010)))  # room again
        assert client.flush(timeout=20) == 0
        assert_each_once(numbers_of(receiver.events), [*range(accepted), *range(1000, 1010)])
    finally:
        receiver.close()


@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str):
    """A tmpfs at ``path`` (needs root); skips the test where it cannot be mounted."""
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True)  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_read_only_spool_directory_is_a_configuration_error(tmp_path):
    if os.geteuid() == 0:
        # chmod does not stop root: use a read-only file system.
        with (
            mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as directory,
            pytest.raises(ConfigurationError, match="cannot create the spool in"),
        ):
            Client("http://127.0.0.1:9/events", mode="durable", spool_dir=str(directory))
        return
    directory = tmp_path / "ro"
    directory.mkdir(mode=0o500)
    try:
        with pytest.raises(ConfigurationError, match="spool"):
            Client("http://127.0.0.1:9/events", mode="durable", spool_dir=str(directory))
    finally:
        directory.chmod(0o700)


def run_filler(spool_dir: Path, port: int, *, limit: bool) -> subprocess.Popen[str]:
    """tests/spool_filler.py: a durable client in its own process, driven step by step."""
    args = [sys.executable, str(TESTS / "spool_filler.py"), str(spool_dir), str(port)]
    args += ["limit"] if limit else []
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=python_env())  # fmt: skip


def step(process: subprocess.Popen[str], say: str | None = None) -> dict:
    """Tell the filler to go on (if ``say``), then read the JSON line it answers."""
    assert process.stdin is not None and process.stdout is not None
    if say is not None:
        process.stdin.write(say + "\n")
        process.stdin.flush()
    line = process.stdout.readline()
    assert line, "the filler process died"
    return json.loads(line)


def check_full_disk(port: int, process: subprocess.Popen[str], fill, free) -> None:
    """Events spooled; the disk fills; send() fails clearly; space returns; all arrive once."""
    try:
        spooled = step(process)["spooled"]
        fill()
        full = step(process, "fill")
        assert full["error"] == "SpoolError", full  # not a crash, and not the byte cap
        assert "cannot write the spool" in full["message"], full
        assert full["dropped"] == {"spool_error": 1}
        receiver = Receiver(port)
        try:
            free()
            done = step(process, "free")
            assert process.wait(30) == 0
            assert (done["left"], done["duplicates"]) == (0, 0)
            expected = [*range(spooled + full["accepted"]), 10**6]
            assert_each_once(numbers_of(receiver.events), expected)
        finally:
            receiver.close()
    finally:
        if process.poll() is None:
            process.kill()
        with process:  # closes the pipes
            process.wait()


def test_a_full_disk_gives_a_spool_error_and_loses_nothing(tmp_path):
    """A small tmpfs that another program fills up (needs root to mount)."""
    with mounted_tmpfs(tmp_path / "disk", "size=4m,mode=0700") as disk:
        other = disk / "other-program.dat"

        def fill_the_disk() -> None:
            with open(other, "wb") as out, contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()

        port = free_port()
        check_full_disk(port, run_filler(disk, port, limit=False), fill_the_disk, other.unlink)


def test_a_file_size_limit_gives_a_spool_error_and_loses_nothing(tmp_path):
    """The same with RLIMIT_FSIZE, which needs no root: writes past it fail (EFBIG).

    The filler process sets the limit itself on "fill" and lifts it on "free".
    """
    port = free_port()
    process = run_filler(tmp_path / "spool", port, limit=True)
    check_full_disk(port, process, lambda: None, lambda: None)


def test_a_nearly_full_disk_refuses_new_events_but_drains_the_spool(tmp_path):
    with mounted_tmpfs(tmp_path / "disk", "size=8m,mode=0700") as disk:
        port = free_port()
        url = f"http://127.0.0.1:{port}/events"
        client = Client(url, mode="durable", spool_dir=str(disk),
                        delivery=fast(spool_min_free_bytes=6 * 1024 * 1024))  # fmt: skip
        try:
            accepted = 0
            with pytest.raises(SpoolError, match="nearly full") as raised:
                while True:
                    client.send(Event(summary="x", details={"n": accepted, "pad": "x" * 2000}))
                    accepted += 1
            assert not isinstance(raised.value, SpoolFullError)
            assert accepted > 50
            assert dict(client.stats().dropped) == {"spool_error": 1}
            receiver = Receiver(port)
            try:
                # The reserve leaves SQLite room to record deliveries: it drains.
                assert client.flush(timeout=30) == 0
                assert_each_once(numbers_of(receiver.events), range(accepted))
            finally:
                receiver.close()
        finally:
            client.close(timeout=1)
