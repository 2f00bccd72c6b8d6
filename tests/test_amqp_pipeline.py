"""AMQP behind the delivery pipeline: a connection killed mid-stream loses nothing.

The client publishes to the real RabbitMQ (127.0.0.1:5672, guest/guest)
through a TCP proxy the test cuts, as a broker restart or a network fault
would. Each test has its own exclusive queue and routing key. Without
RabbitMQ these tests skip, or fail when MOZDEF_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import pytest

from amqp_helpers import Broker, Proxy, require_broker, unique_key
from delivery_helpers import assert_each_once, fast, numbers_of, send_numbered, wait_until
from mozdef_client import Client
from test_durable_crash import Sender

N = 300


@pytest.fixture
def broker() -> Iterator[Broker]:
    require_broker()
    view = Broker()
    yield view
    view.close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    require_broker()
    server = Proxy()
    yield server
    server.close()


def amqp_url(port: int, key: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:{port}/%2F?routing_key={key}"


def received_numbers(broker: Broker, queue: str) -> list[int]:
    return numbers_of(message.decode_like_mozdef() for message in broker.drain(queue))


def make_client(url: str, mode: str, tmp_path: Path) -> Client:
    spool = str(tmp_path / "spool") if mode == "durable" else None
    # Batches of 50: a cut lands inside a batch, with part of it confirmed.
    return Client(url, mode=mode, spool_dir=spool,  # type: ignore[arg-type]
                  delivery=fast(max_batch_events=50))  # fmt: skip


@pytest.mark.parametrize("mode", ["background", "durable"])
def test_connections_killed_mid_publish_lose_nothing_and_duplicate_nothing(
    mode: str, broker: Broker, proxy: Proxy, tmp_path: Path
) -> None:
    """Twice, the connection dies with a publish unforwarded; every event arrives once."""
    key = unique_key()
    queue = broker.queue(key)
    client = make_client(amqp_url(proxy.port, key), mode, tmp_path)
    name = client.destinations[0]
    try:
        # Two publishes well inside the stream (a connection takes ~30 chunks to open).
        proxy.cut_after_chunks(60, 100)
        assert all(send_numbered(client, range(N)))
        assert client.flush(timeout=30) == 0
        assert proxy.cuts == 2

        received = received_numbers(broker, queue)
        assert_each_once(received, range(N))
        stats = client.stats()
        per = stats.destinations[name]
        assert (per.delivered, per.dead_lettered, per.dropped_total, per.duplicates) == (
            N, 0, 0, 0,
        )  # fmt: skip
        assert (per.pending_memory, per.pending_spool) == (0, 0)
        # Each cut failed a publish; it and the rest of its batch were retried.
        assert per.retried >= 2
        assert per.last_error is not None and name in per.last_error
        assert (stats.submitted, stats.delivered) == (N, N)
    finally:
        client.close(timeout=5)


@pytest.mark.parametrize("mode", ["background", "durable"])
def test_blind_cuts_lose_nothing_and_duplicate_at_most_one_confirm_each(
    mode: str, broker: Broker, proxy: Proxy, tmp_path: Path
) -> None:
    """Cuts at arbitrary moments may fall between a publish and its confirm.

    The publish is then retried though it may have arrived: as docs/delivery.md
    says, no mode can see that kind of duplicate, and each cut can cause at
    most one (publishes wait for their confirm one at a time).
    """
    key = unique_key()
    queue = broker.queue(key)
    client = make_client(amqp_url(proxy.port, key), mode, tmp_path)
    try:
        for start in range(0, N, 50):
            send_numbered(client, range(start, start + 50))
            # Cut once a few of these arrived: mostly in the middle of a batch.
            wait_until(lambda: queued(broker, queue) >= start + 5, message="publishing")  # noqa: B023
            proxy.cut()
        assert client.flush(timeout=30) == 0

        received = received_numbers(broker, queue)
        counts = collections.Counter(received)
        assert set(counts) == set(range(N)), "every event arrived"
        assert sum(counts.values()) - N <= proxy.cuts
        stats = client.stats()
        assert (stats.delivered, stats.dead_lettered, stats.duplicates) == (N, 0, 0)
    finally:
        client.close(timeout=5)


def test_durable_sender_killed_mid_publish_resends_the_unconfirmed_batch_counted(
    broker: Broker, tmp_path: Path
) -> None:
    """SIGKILL while a batch is being published: the next run sends that batch again.

    Events of it that had arrived come twice, and the next run counts each
    such event in ``stats().duplicates`` (an upper bound: it includes events
    of the batch that had not arrived).
    """
    key = unique_key()
    queue = broker.queue(key)
    url = amqp_url(5672, key)
    first = Sender(tmp_path, url, 0, 3000, pause=0.002)
    first.read_until(400)
    wait_until(lambda: queued(broker, queue) >= 150, message="publishing under way")
    first.kill()
    acknowledged = set(first.acknowledged)
    assert 400 <= len(acknowledged) < 3000  # killed mid-stream

    second = Sender(tmp_path, url, 10_000, 10)
    second.finish()
    assert second.stats["left"] == 0

    counts = collections.Counter(received_numbers(broker, queue))
    assert acknowledged | set(range(10_000, 10_010)) <= set(counts)
    # At most the send() under way at the kill committed without printing.
    assert set(counts) - acknowledged - set(range(10_000, 10_010)) <= {len(acknowledged)}
    assert max(counts.values()) <= 2
    duplicates = sum(c - 1 for c in counts.values())
    assert duplicates <= second.stats["duplicates"] <= 100  # one batch at most


def queued(broker: Broker, queue: str) -> int:
    """How many messages wait in ``queue``."""
    declared = broker.channel.queue_declare(queue, passive=True)
    return int(declared.method.message_count)
