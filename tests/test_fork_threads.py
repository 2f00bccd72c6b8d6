"""The pipeline across fork() and under many threads: every event exactly once."""

from __future__ import annotations

import json
import os
import threading
import warnings

import pytest

from delivery_helpers import assert_each_once, fast, numbers_of, send_numbered, wait_until
from mozdef_client import Client, Event
from servers import Fault


def fork() -> int:
    # Python 3.12+ warns about fork() in a process with threads; this test means it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def in_child(work) -> dict:
    """Run ``work()`` in a forked child; returns the JSON-able dict it returned."""
    read_end, write_end = os.pipe()
    pid = fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_end)
            result = work()
            os.write(write_end, json.dumps(result).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child failed"
    return json.loads(output)


def child_sends(client: Client, numbers: range):
    def work() -> dict:
        results = send_numbered(client, numbers, label="child")
        left = client.flush(timeout=20)
        stats = client.stats()
        client.close(timeout=5)
        return {"accepted": sum(results), "left": left, "submitted": stats.submitted,
                "delivered": stats.delivered}  # fmt: skip

    return work


def ports_of(receiver, label: str) -> set[int]:
    return {r.client_port for r in receiver.accepted if numbers_of(r.documents, label)}


def test_fork_while_events_are_queued_each_process_delivers_its_own_once(receiver):
    client = Client(receiver.url, mode="background", delivery=fast())
    try:
        send_numbered(client, range(50))
        assert client.flush(timeout=10) == 0
        # The parent's next request is answered late: what it sends meanwhile queues up.
        receiver.script(Fault(delay=0.5))
        send_numbered(client, [50])
        wait_until(lambda: len(receiver.requests) >= 2, message="the delayed request")
        send_numbered(client, range(51, 200))
        assert client.stats().pending_memory > 100

        child = in_child(child_sends(client, range(100)))

        assert child == {"accepted": 100, "left": 0, "submitted": 100, "delivered": 100}
        assert client.flush(timeout=20) == 0
        assert_each_once(numbers_of(receiver.events), range(200))
        assert_each_once(numbers_of(receiver.events, "child"), range(100))
        stats = client.stats()
        assert (stats.submitted, stats.delivered, stats.duplicates) == (200, 200, 0)
        # The child opened its own connections; it never wrote on the parent's.
        assert not ports_of(receiver, "child") & ports_of(receiver, "n")
    finally:
        client.close(timeout=5)


def test_fork_with_an_idle_pooled_connection_does_not_share_the_socket(receiver):
    client = Client(receiver.url, mode="background", delivery=fast())
    try:
        send_numbered(client, range(10))
        assert client.flush(timeout=10) == 0  # a keep-alive connection waits in the pool

        child = in_child(child_sends(client, range(10)))

        assert child["left"] == 0
        send_numbered(client, range(10, 20))
        assert client.flush(timeout=10) == 0
        assert_each_once(numbers_of(receiver.events), range(20))
        assert_each_once(numbers_of(receiver.events, "child"), range(10))
        assert not ports_of(receiver, "child") & ports_of(receiver, "n")
    finally:
        client.close(timeout=5)


def test_a_durable_client_forked_shares_the_spool_without_duplicates(receiver, tmp_path):
    client = Client(receiver.url, mode="durable", spool_dir=str(tmp_path), delivery=fast())
    try:
        receiver.script(Fault(delay=0.5))
        send_numbered(client, range(300))
        child = in_child(child_sends(client, range(100)))
        assert (child["accepted"], child["left"], child["submitted"]) == (100, 0, 100)
        assert client.flush(timeout=20) == 0
        # Parent and child lease from one spool: each event is sent by one of
        # them (the child may well send some of the parent's), none by both.
        assert_each_once(numbers_of(receiver.events), range(300))
        assert_each_once(numbers_of(receiver.events, "child"), range(100))
        stats = client.stats()
        assert stats.delivered + child["delivered"] == 400
        assert stats.duplicates == 0
    finally:
        client.close(timeout=5)


@pytest.mark.parametrize(("mode", "per_thread"), [("background", 2000), ("durable", 200)])
def test_sixteen_threads_sending_at_once_deliver_every_event_once(
    receiver, tmp_path, mode, per_thread
):
    spool = {"spool_dir": str(tmp_path)} if mode == "durable" else {}
    client = Client(receiver.url, mode=mode, delivery=fast(), **spool)
    start = threading.Barrier(16)
    failures: list[BaseException] = []

    def sender(thread: int) -> None:
        try:
            start.wait()
            numbers = range(thread * per_thread, (thread + 1) * per_thread)
            assert all(client.send(Event(summary="t", details={"n": n})) for n in numbers)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures
        total = 16 * per_thread
        assert client.flush(timeout=30) == 0
        assert_each_once(numbers_of(receiver.events), range(total))
        stats = client.stats()
        assert (stats.submitted, stats.delivered, stats.duplicates) == (total, total, 0)
        assert dict(stats.dropped) == {}
    finally:
        client.close(timeout=5)
