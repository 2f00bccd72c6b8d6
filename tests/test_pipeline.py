"""The Client's background and durable modes as a caller sees them.

flush and close are bounded and say what is left; close logs once, through
the ``mozdef_client`` logger, how many events were left and where; the
``atexit`` close delivers what a program queued; stats add up.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import textwrap
import time

import pytest

from delivery_helpers import assert_each_once, fast, numbers_of, python_env, send_numbered
from mozdef_client import Client, ConfigurationError, Event
from mozdef_client.delivery import DeliveryOptions, RetryPolicy
from servers import Fault, Receiver, free_port

LEFT_AT_CLOSE = "MozDef events were not delivered at close"


def down_url() -> str:
    return f"http://127.0.0.1:{free_port()}/events"


def close_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("mozdef_client") and LEFT_AT_CLOSE in r.getMessage()
    ]


# -- options and modes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"overflow": "drop_everything"}, "overflow must be one of"),
        ({"max_queue_events": 0}, "max_queue_events"),
        ({"max_batch_bytes": 1.5}, "max_batch_bytes"),
        ({"flush_interval": -1}, "flush_interval"),
        ({"exit_timeout": "2"}, "exit_timeout"),
        ({"spool_min_free_bytes": -1}, "spool_min_free_bytes"),
        ({"retry": 3}, "retry must be a RetryPolicy"),
    ],
)
def test_bad_delivery_options_are_configuration_errors(options, message):
    with pytest.raises(ConfigurationError, match=message):
        DeliveryOptions(**options)


def test_durable_mode_and_spill_need_a_spool_dir():
    with pytest.raises(ConfigurationError, match='mode="durable" needs a spool_dir'):
        Client(down_url(), mode="durable")
    with pytest.raises(ConfigurationError, match='overflow="spill" needs a spool_dir'):
        Client(down_url(), mode="background", delivery=DeliveryOptions(overflow="spill"))


def test_background_send_does_no_network_io_on_the_callers_thread(receiver):
    receiver.script(*[Fault(hang=5.0)] * 3)
    client = Client(receiver.url, mode="background", delivery=fast())
    try:
        started = time.monotonic()
        assert all(send_numbered(client, range(2000)))
        assert time.monotonic() - started < 2.0  # the receiver hangs for 5 s
    finally:
        client.close(timeout=0)


def test_sync_mode_has_nothing_pending_and_counts_what_it_sent(receiver):
    client = Client(receiver.url)
    send_numbered(client, range(3))
    assert client.flush(timeout=1) == 0
    stats = client.stats()
    assert (stats.submitted, stats.delivered, stats.pending_memory) == (3, 3, 0)
    assert client.close() == 0
    assert client.dead_letters() == [] and client.replay_dead_letters() == 0


def test_stats_are_an_immutable_snapshot():
    options = fast(max_queue_events=2, overflow="drop_newest")
    client = Client(down_url(), mode="background", delivery=options)
    try:
        send_numbered(client, range(10))
        stats = client.stats()
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.delivered = 5  # type: ignore[misc]
        with pytest.raises(TypeError):
            stats.dropped["queue_full"] = 0  # type: ignore[index]
        assert stats.dropped_total == stats.dropped["queue_full"] >= 7
        send_numbered(client, range(10))
        assert client.stats().dropped_total > stats.dropped_total  # the old snapshot stays
    finally:
        client.close(timeout=0)


def test_one_dead_destination_does_not_hold_back_another(receiver):
    client = Client([receiver.url, down_url()], mode="background", delivery=fast())
    try:
        send_numbered(client, range(100))
        receiver.wait_for_events(100)
        assert client.flush(timeout=0.5) == 100  # all waiting for the dead one
        assert_each_once(numbers_of(receiver.events), range(100))
        stats = client.stats()
        assert (stats.submitted, stats.delivered, stats.pending_memory) == (100, 100, 100)
    finally:
        client.close(timeout=0)


def test_durable_events_older_than_max_age_are_dead_lettered_as_expired(tmp_path):
    url = down_url()
    client = Client(url, mode="durable", spool_dir=str(tmp_path),
                    delivery=fast(max_age=0.3))  # fmt: skip
    try:
        send_numbered(client, range(5))
        deadline = time.monotonic() + 10
        while client.stats().dead_lettered < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = client.stats()
        assert (stats.dead_lettered, stats.pending_spool, stats.delivered) == (5, 0, 0)
        letters = client.dead_letters()
        assert all(d.error.startswith("expired: could not connect") for d in letters)
        assert client.flush(timeout=1) == 0
    finally:
        client.close(timeout=0)


def test_a_batch_that_uses_up_max_attempts_is_dead_lettered(receiver):
    retry = RetryPolicy(backoff_initial=0.01, backoff_max=0.05, max_attempts=2)
    client = Client(receiver.url, mode="background", delivery=fast(retry=retry))
    try:
        receiver.script(503, 503)
        send_numbered(client, [0])
        assert client.flush(timeout=10) == 0
        [letter] = client.dead_letters()
        assert "HTTP 503" in letter.error
        stats = client.stats()
        assert (stats.delivered, stats.retried, stats.dead_lettered) == (0, 1, 1)
        assert [r.status for r in receiver.requests] == [503, 503]
    finally:
        client.close(timeout=1)


def test_dead_letters_of_a_destination_the_client_lacks_stay_in_the_store(receiver, tmp_path):
    first = Client(receiver.url, mode="durable", spool_dir=str(tmp_path), delivery=fast())
    receiver.script(400)
    send_numbered(first, [0])
    assert first.flush(timeout=10) == 0
    first.close(timeout=1)
    other = Client(down_url(), mode="durable", spool_dir=str(tmp_path), delivery=fast())
    try:
        assert other.replay_dead_letters() == 0
        [letter] = other.dead_letters()
        assert letter.destination == receiver.url
    finally:
        other.close(timeout=0)


# -- flush and close -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["background", "durable"])
def test_flush_returns_what_is_pending_when_the_receiver_is_down(tmp_path, mode):
    spool = {"spool_dir": str(tmp_path)} if mode == "durable" else {}
    client = Client(down_url(), mode=mode, delivery=fast(), **spool)
    try:
        send_numbered(client, range(40))
        started = time.monotonic()
        assert client.flush(timeout=0.3) == 40
        assert time.monotonic() - started < 3.0  # bounded by its timeout
        stats = client.stats()
        assert stats.pending_memory + stats.pending_spool == 40
    finally:
        client.close(timeout=0)


def test_background_close_returns_what_was_lost_counts_it_and_logs_once(caplog):
    client = Client(down_url(), mode="background", delivery=fast())
    send_numbered(client, range(25))
    with caplog.at_level(logging.WARNING, logger="mozdef_client"):
        started = time.monotonic()
        assert client.close(timeout=0.3) == 25
        assert time.monotonic() - started < 3.0
        assert client.close(timeout=0.3) == 0  # already closed: nothing more to say
    assert close_warnings(caplog) == [f"25 {LEFT_AT_CLOSE}: 25 lost (they were only in memory)"]
    assert not client.send(Event(summary="too late"))
    stats = client.stats()
    assert dict(stats.dropped) == {"closed": 26}
    assert stats.submitted == 26 and stats.pending_memory == 0


def test_durable_close_keeps_what_is_left_in_the_spool_and_the_next_client_sends_it(
    tmp_path, caplog
):
    port = free_port()
    url = f"http://127.0.0.1:{port}/events"
    client = Client(url, mode="durable", spool_dir=str(tmp_path), delivery=fast())
    send_numbered(client, range(30))
    with caplog.at_level(logging.WARNING, logger="mozdef_client"):
        assert client.close(timeout=0.2) == 30
    [message] = close_warnings(caplog)
    assert message.startswith(f"30 {LEFT_AT_CLOSE}: 30 kept in the spool {tmp_path}")
    assert message.endswith("for the next start")
    assert dict(client.stats().dropped) == {}

    receiver = Receiver(port)
    again = Client(url, mode="durable", spool_dir=str(tmp_path), delivery=fast())
    try:
        assert again.flush(timeout=10) == 0  # sent without a new send()
        assert_each_once(numbers_of(receiver.events), range(30))
        assert again.stats().duplicates == 0  # released at close, known undelivered
    finally:
        again.close(timeout=1)
        receiver.close()


def test_background_with_a_spool_keeps_memory_leftovers_there_at_close(tmp_path, caplog):
    port = free_port()
    url = f"http://127.0.0.1:{port}/events"
    options = fast(overflow="spill", max_queue_events=10)
    client = Client(url, mode="background", spool_dir=str(tmp_path), delivery=options)
    assert all(send_numbered(client, range(30)))  # 10 in memory, 20 spilled
    with caplog.at_level(logging.WARNING, logger="mozdef_client"):
        assert client.close(timeout=0.2) == 30
    [message] = close_warnings(caplog)
    assert f"30 kept in the spool {tmp_path}" in message and "lost" not in message

    receiver = Receiver(port)
    again = Client(url, mode="background", spool_dir=str(tmp_path), delivery=options)
    try:
        assert again.flush(timeout=10) == 0
        assert_each_once(numbers_of(receiver.events), range(30))
    finally:
        again.close(timeout=1)
        receiver.close()


# -- at exit -------------------------------------------------------------------------------


def run_program(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    program = "from delivery_helpers import fast, send_numbered\n"
    program += "from mozdef_client import Client\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=timeout, env=python_env())  # fmt: skip


def test_atexit_close_delivers_what_a_program_queued(receiver):
    receiver.script(Fault(delay=0.5))  # still busy with the first batch at exit
    result = run_program(f"""
        client = Client({receiver.url!r}, mode="background", delivery=fast(exit_timeout=10))
        send_numbered(client, range(300))
        print(client.stats().pending_memory)
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0  # events were queued when the program ended
    assert_each_once(numbers_of(receiver.events), range(300))
    assert LEFT_AT_CLOSE not in result.stderr


def test_atexit_close_is_bounded_and_says_once_what_it_lost():
    result = run_program(f"""
        client = Client({down_url()!r}, mode="background", delivery=fast(exit_timeout=0.3))
        send_numbered(client, range(50))
    """)
    assert result.returncode == 0
    assert result.stderr.count(LEFT_AT_CLOSE) == 1
    assert f"50 {LEFT_AT_CLOSE}: 50 lost (they were only in memory)" in result.stderr


def test_atexit_close_of_a_durable_program_says_where_its_events_wait(tmp_path):
    result = run_program(f"""
        client = Client({down_url()!r}, mode="durable", spool_dir={str(tmp_path)!r},
                        delivery=fast(exit_timeout=0.3))
        send_numbered(client, range(20))
    """)
    assert result.returncode == 0
    assert result.stderr.count(LEFT_AT_CLOSE) == 1
    assert f"20 kept in the spool {tmp_path}" in result.stderr


def test_no_atexit_close_when_exit_timeout_is_none(receiver):
    receiver.script(Fault(delay=1.0))
    result = run_program(f"""
        client = Client({receiver.url!r}, mode="background", delivery=fast(exit_timeout=None))
        send_numbered(client, range(100))
    """)
    assert result.returncode == 0
    assert LEFT_AT_CLOSE not in result.stderr
    time.sleep(1.5)  # nothing more will come: the process is gone
    assert len(receiver.events) < 100
