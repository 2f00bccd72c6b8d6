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
from delivery_helpers import fast, numbers_of, send_numbered, wait_until
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


BATCH = 50  # make_client's batch size: the most a cut can duplicate


@pytest.mark.parametrize("mode", ["background", "durable"])
def test_connections_killed_mid_publish_lose_nothing_and_duplicate_at_most_a_batch(
    mode: str, broker: Broker, proxy: Proxy, tmp_path: Path
) -> None:
    """Twice, the connection dies with a publish unforwarded; every event arrives.

    A batch is published whole and then confirmed, so the events of the batch
    under way that reached the broker before the cut, unconfirmed, are sent
    again: at most one batch of duplicates per cut, never a loss.
    """
    key = unique_key()
    queue = broker.queue(key)
    client = make_client(amqp_url(proxy.port, key), mode, tmp_path)
    name = client.destinations[0]
    try:
        # Each half: open the connection, then cut it on the first publish's bytes.
        half = N // 2
        for numbers in (range(half), range(half, N)):
            assert all(send_numbered(client, range(numbers.start, numbers.start + 1)))
            assert client.flush(timeout=30) == 0
            proxy.cut_on_client_data = True
            assert all(send_numbered(client, range(numbers.start + 1, numbers.stop)))
            assert client.flush(timeout=30) == 0
        assert proxy.cuts == 2

        counts = collections.Counter(received_numbers(broker, queue))
        assert set(counts) == set(range(N)), "every event arrived"
        assert sum(counts.values()) - N <= proxy.cuts * BATCH
        stats = client.stats()
        per = stats.destinations[name]
        assert (per.delivered, per.dead_lettered, per.dropped_total) == (N, 0, 0)
        assert (per.pending_memory, per.pending_spool) == (0, 0)
        # Each cut failed a publish; it and the rest of its batch were retried.
        assert per.retried >= 2
        assert per.last_error is not None and name in per.last_error
        assert (stats.submitted, stats.delivered) == (N, N)
    finally:
        client.close(timeout=5)


@pytest.mark.parametrize("mode", ["background", "durable"])
def test_blind_cuts_lose_nothing_and_duplicate_at_most_a_batch_each(
    mode: str, broker: Broker, proxy: Proxy, tmp_path: Path
) -> None:
    """Cuts at arbitrary moments may fall between a publish and its confirm.

    The publish is then retried though it may have arrived: as docs/delivery.md
    says, no mode can see that kind of duplicate, and each cut can cause at
    most one batch of them (a batch is published whole, then confirmed).
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
        assert sum(counts.values()) - N <= proxy.cuts * BATCH
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


def test_several_brokers_fail_over_when_one_path_is_cut_mid_stream(broker: Broker) -> None:
    """Three "brokers" (proxies to the one RabbitMQ); the one in use goes away mid-stream.

    The client moves to the next one and every event arrives (the unconfirmed
    part of the batch under way may arrive twice).
    """
    proxies = [Proxy() for _ in range(3)]
    key = unique_key()
    queue = broker.queue(key)
    hosts = ",".join(f"127.0.0.1:{proxy.port}" for proxy in proxies)
    client = Client(
        f"amqp://guest:guest@{hosts}/%2F?routing_key={key}",
        mode="background",
        delivery=fast(max_batch_events=BATCH),
    )
    try:
        assert all(send_numbered(client, range(N)))
        wait_until(lambda: queued(broker, queue) >= 100, message="publishing under way")
        assert len(proxies[0].pairs) == 1 and not proxies[1].pairs
        proxies[0].close()  # the listener and the live connection: that broker is gone
        assert all(send_numbered(client, range(N, 2 * N)))
        assert client.flush(timeout=30) == 0

        counts = collections.Counter(received_numbers(broker, queue))
        assert set(counts) == set(range(2 * N)), "every event arrived"
        assert sum(counts.values()) - 2 * N <= BATCH
        assert len(proxies[1].pairs) == 1, "the next broker took over"
        stats = client.stats()
        assert (stats.delivered, stats.dead_lettered) == (2 * N, 0)
    finally:
        client.close(timeout=5)
        for proxy in proxies:
            proxy.close()


def queued(broker: Broker, queue: str) -> int:
    """How many messages wait in ``queue``."""
    declared = broker.channel.queue_declare(queue, passive=True)
    return int(declared.method.message_count)
