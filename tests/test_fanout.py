"""Fan-out: one Client delivers every event to several destinations, each in its own lane.

The destinations are real peers on loopback: the HTTP receiver, a unix
datagram syslog sink, moto's SQS server, RabbitMQ (127.0.0.1:5672,
guest/guest, a queue and routing key of the test's own) and a file. A
destination that is down or refusing holds back none of the others, and
``stats().destinations`` counts each one on its own.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from amqp_helpers import Broker, require_broker, unique_key
from conftest import MotoSQS
from delivery_helpers import assert_each_once, fast, numbers_of, send_numbered, wait_until
from mozdef_client import Client, DeliveryError, MozDefError, MozDefEvent, MozDefMessage
from mozdef_client.delivery import DestinationStats, Stats
from mozdef_client.legacy import fire_and_forget_stats, flush_fire_and_forget
from mozdef_client.ndjson import read_documents
from servers import Fault, Receiver, SyslogSink, free_port

REGION = "us-east-1"
N = 100
MODES = ["background", "durable"]


def down_url() -> str:
    return f"http://127.0.0.1:{free_port()}/events"


def syslog_events(sink: SyslogSink, count: int = 0) -> list[dict[str, Any]]:
    """The JSON of each line the sink got (``<PRI>date ident[pid]: json``)."""
    lines = sink.wait_for_lines(count, timeout=10) if count else sink.lines
    return [json.loads(line.split(b"]: ", 1)[1]) for line in lines]


def file_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return read_documents(path.read_text())


@pytest.fixture
def sqs_queue(moto_sqs: MotoSQS, aws_env: None) -> Iterator[tuple[str, Callable[[], list[Any]]]]:
    """A fresh queue on moto: (its sqs:// URL, a function draining what arrived so far)."""
    name = f"fanout-{uuid.uuid4().hex}"
    sqs = boto3.session.Session().client("sqs", region_name=REGION, endpoint_url=moto_sqs.url)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    received: list[Any] = []

    def drain() -> list[Any]:
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
            ).get("Messages", [])
            if not messages:
                return list(received)
            received.extend(json.loads(message["Body"]) for message in messages)

    yield f"sqs://{name}?region={REGION}&endpoint_url={moto_sqs.url}", drain
    sqs.delete_queue(QueueUrl=queue_url)


@pytest.fixture
def amqp_queue() -> Iterator[tuple[str, Callable[[], list[Any]]]]:
    """An exclusive RabbitMQ queue with a routing key of its own: (amqp:// URL, drain)."""
    require_broker()
    broker = Broker()
    key = unique_key()
    queue = broker.queue(key)
    received: list[Any] = []

    def drain() -> list[Any]:
        received.extend(message.decode_like_mozdef() for message in broker.drain(queue))
        return list(received)

    yield f"amqp://guest:guest@127.0.0.1:5672/%2F?routing_key={key}", drain
    broker.close()


def make_client(destinations: list[str], mode: str, tmp_path: Path, **options: Any) -> Client:
    spool = str(tmp_path / "spool") if mode == "durable" else None
    return Client(destinations, mode=mode, spool_dir=spool, delivery=fast(**options))  # type: ignore[arg-type]


def settled(stats: Stats, names: list[str]) -> bool:
    """Whether nothing is pending for these destinations."""
    return all(
        stats.destinations[name].pending_memory + stats.destinations[name].pending_spool == 0
        for name in names
    )


def assert_clean(stats: DestinationStats, delivered: int) -> None:
    """Everything delivered, nothing retried, dropped, dead-lettered or waiting."""
    assert stats == DestinationStats(delivered=delivered), stats


# -- every destination gets every event -------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_every_destination_gets_every_event_exactly_once(
    mode: str,
    tmp_path: Path,
    receiver: Receiver,
    syslog_sink: SyslogSink,
    sqs_queue: tuple[str, Callable[[], list[Any]]],
    amqp_queue: tuple[str, Callable[[], list[Any]]],
) -> None:
    events_file = tmp_path / "events.jsonl"
    urls = [receiver.url, f"syslog://{syslog_sink.path}", sqs_queue[0], amqp_queue[0],
            f"file://{events_file}"]  # fmt: skip
    client = make_client(urls, mode, tmp_path)
    try:
        assert all(send_numbered(client, range(N)))
        assert client.flush(timeout=30) == 0
        received = {
            "http": receiver.events,
            "syslog": syslog_events(syslog_sink, N),
            "sqs": sqs_queue[1](),
            "amqp": amqp_queue[1](),
            "file": file_events(events_file),
        }
        for label, events in received.items():
            assert len(events) == N, label
            assert_each_once(numbers_of(events), range(N))
        stats = client.stats()
        assert list(stats.destinations) == client.destinations
        for name in client.destinations:
            assert_clean(stats.destinations[name], N)
        assert (stats.submitted, stats.delivered, stats.retried) == (N, N * len(urls), 0)
        assert stats.last_error is None
    finally:
        client.close(timeout=5)


# -- a dead or refusing destination holds back nobody ------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_dead_destination_holds_back_nobody_and_gets_everything_once_back(
    mode: str, tmp_path: Path, receiver: Receiver, syslog_sink: SyslogSink
) -> None:
    port = free_port()
    dead = f"http://127.0.0.1:{port}/events"
    events_file = tmp_path / "events.jsonl"
    client = make_client([dead, receiver.url, f"syslog://{syslog_sink.path}",
                          f"file://{events_file}"], mode, tmp_path)  # fmt: skip
    revived: Receiver | None = None
    try:
        send_numbered(client, range(N))
        # The others get everything while the dead one is down.
        assert_each_once(numbers_of(receiver.wait_for_events(N)), range(N))
        assert_each_once(numbers_of(syslog_events(syslog_sink, N)), range(N))
        wait_until(lambda: len(file_events(events_file)) >= N, message="file destination")
        assert_each_once(numbers_of(file_events(events_file)), range(N))
        # A peer may have an event before its lane has settled it (durable: acknowledged).
        wait_until(lambda: settled(client.stats(), client.destinations[1:]), message="others")
        wait_until(lambda: client.stats().destinations[dead].retried > 0, message="a retry")

        stats = client.stats()
        down = stats.destinations[dead]
        assert (down.delivered, down.dead_lettered, down.dropped_total) == (0, 0, 0)
        waiting = down.pending_spool if mode == "durable" else down.pending_memory
        assert waiting == N
        assert f"could not connect to {dead}" in (down.last_error or "")
        assert stats.last_error == down.last_error
        for name in client.destinations[1:]:
            assert_clean(stats.destinations[name], N)
        assert stats.delivered == 3 * N

        revived = Receiver(port)  # the destination comes back
        assert client.flush(timeout=20) == 0
        assert_each_once(numbers_of(revived.events), range(N))
        stats = client.stats()
        back = stats.destinations[dead]
        assert (back.delivered, back.pending_memory, back.pending_spool) == (N, 0, 0), stats
        assert back.retried >= down.retried > 0
        for name in client.destinations[1:]:
            assert_clean(stats.destinations[name], N)  # nobody else got anything twice
        assert (stats.submitted, stats.delivered) == (N, 4 * N)
    finally:
        client.close(timeout=0)
        if revived is not None:
            revived.close()


def test_a_destination_answering_503_for_a_while_holds_back_nobody(
    tmp_path: Path, receiver: Receiver, syslog_sink: SyslogSink
) -> None:
    flaky = Receiver()
    # Down for at least 3 s: a 503 asking to come back in 3 s, then two more.
    flaky.script(Fault(503, retry_after="3"), 503, 503)
    client = make_client([flaky.url, receiver.url, f"syslog://{syslog_sink.path}"],
                         "background", tmp_path)  # fmt: skip
    try:
        send_numbered(client, range(N))
        assert_each_once(numbers_of(receiver.wait_for_events(N)), range(N))
        assert_each_once(numbers_of(syslog_events(syslog_sink, N)), range(N))
        assert flaky.accepted == [], "the others finished while the flaky one was still down"
        wait_until(lambda: settled(client.stats(), client.destinations[1:]), message="others")
        assert client.stats().destinations[flaky.url].delivered == 0

        assert client.flush(timeout=20) == 0
        assert_each_once(numbers_of(flaky.events), range(N))
        stats = client.stats()
        refused = [r for r in flaky.requests if r.status == 503]
        assert len(refused) == 3
        per = stats.destinations[flaky.url]
        assert (per.delivered, per.dropped_total, per.dead_lettered, per.pending_memory) == (
            N, 0, 0, 0,
        )  # fmt: skip
        # Each event of a refused request was retried once for it.
        assert per.retried == sum(len(r.documents) for r in refused)
        assert "503" in (per.last_error or "")
        for name in client.destinations[1:]:
            assert_clean(stats.destinations[name], N)
        assert (stats.retried, stats.last_error) == (per.retried, per.last_error)
    finally:
        client.close(timeout=0)
        flaky.close()


def test_a_full_queue_drops_only_that_destinations_events(receiver: Receiver) -> None:
    """The dead destination's queue overflows; the live one still gets every event."""
    dead = down_url()
    client = Client([dead, receiver.url], mode="background",
                    delivery=fast(max_queue_events=20, overflow="drop_newest"))  # fmt: skip
    try:
        accepted: list[bool] = []
        for start in range(0, 100, 10):  # never more than the live destination's queue holds
            accepted += send_numbered(client, range(start, start + 10))
            receiver.wait_for_events(start + 10)
            wait_until(lambda: settled(client.stats(), [receiver.url]), message="live lane")
        assert_each_once(numbers_of(receiver.events), range(100))
        stats = client.stats()
        down = stats.destinations[dead]
        # Its queue is full (20), and one batch is in flight.
        assert 20 < down.pending_memory <= 40
        assert down.dropped["queue_full"] == 100 - down.pending_memory == accepted.count(False)
        assert_clean(stats.destinations[receiver.url], 100)
        assert stats.dropped == {"queue_full": down.dropped["queue_full"]}
    finally:
        client.close(timeout=0)


def test_after_close_a_send_counts_as_dropped_for_every_destination(
    receiver: Receiver, tmp_path: Path
) -> None:
    events_file = tmp_path / "events.jsonl"
    client = Client([receiver.url, f"file://{events_file}"], mode="background", delivery=fast())
    send_numbered(client, range(3))
    client.close(timeout=5)
    assert send_numbered(client, [3]) == [False]
    stats = client.stats()
    for name in client.destinations:
        per = stats.destinations[name]
        assert (per.delivered, dict(per.dropped)) == (3, {"closed": 1})
        # Per destination, every submitted event is accounted for.
        assert per.delivered + per.dropped_total == stats.submitted == 4
    assert dict(stats.dropped) == {"closed": 2}


def test_per_destination_stats_are_a_read_only_snapshot(receiver: Receiver) -> None:
    client = Client([receiver.url, down_url()], mode="background", delivery=fast())
    try:
        send_numbered(client, range(5))
        receiver.wait_for_events(5)
        stats = client.stats()
        assert isinstance(stats, Stats)
        with pytest.raises(TypeError):
            stats.destinations["x"] = DestinationStats()  # type: ignore[index]
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.destinations[receiver.url].delivered = 0  # type: ignore[misc]
        with pytest.raises(TypeError):
            stats.destinations[receiver.url].dropped["closed"] = 1  # type: ignore[index]
    finally:
        client.close(timeout=0)


@pytest.mark.parametrize("mode", MODES)
def test_the_same_destination_twice_has_one_entry_counting_both(mode: str, tmp_path: Path) -> None:
    dead = down_url()
    client = make_client([dead, dead], mode, tmp_path)
    try:
        send_numbered(client, range(10))
        stats = client.stats()
        assert list(stats.destinations) == [dead]
        per = stats.destinations[dead]
        assert per.pending_memory + per.pending_spool == 20  # each event, twice
        assert stats.pending_memory + stats.pending_spool == 20
    finally:
        client.close(timeout=0)


def test_sync_mode_counts_delivered_and_last_error_per_destination(
    receiver: Receiver, tmp_path: Path
) -> None:
    """Each destination is tried even when another fails, and counted on its own."""
    dead = down_url()
    events_file = tmp_path / "events.jsonl"
    client = Client([receiver.url, dead, f"file://{events_file}"])
    try:
        for n in range(3):
            with pytest.raises(DeliveryError, match="could not connect"):
                send_numbered(client, [n])
        assert_each_once(numbers_of(receiver.events), range(3))
        assert_each_once(numbers_of(file_events(events_file)), range(3))
        stats = client.stats()
        assert_clean(stats.destinations[receiver.url], 3)
        assert_clean(stats.destinations[client.destinations[2]], 3)
        down = stats.destinations[dead]
        assert down.delivered == 0
        assert f"could not connect to {dead}" in (down.last_error or "")
        assert (stats.submitted, stats.delivered, stats.last_error) == (3, 6, down.last_error)
    finally:
        client.close()


# -- the legacy flags map onto fan-out ------------------------------------------------------


@pytest.fixture
def legacy_syslog(monkeypatch: pytest.MonkeyPatch, syslog_sink: SyslogSink) -> SyslogSink:
    monkeypatch.setattr(MozDefMessage, "_syslog_socket_path", syslog_sink.path)
    return syslog_sink


def legacy_event(url: str, summary: str) -> MozDefEvent:
    message = MozDefEvent(url)
    message.summary = summary
    return message


@pytest.mark.parametrize(
    ("only_syslog", "expected"), [(False, {"syslog", "sqs"}), (True, {"syslog"})]
)
def test_legacy_syslog_with_sqs_sends_to_syslog_and_sqs_never_http(
    only_syslog: bool,
    expected: set[str],
    receiver: Receiver,
    legacy_syslog: SyslogSink,
    moto_sqs: MotoSQS,
    sqs_queue: tuple[str, Callable[[], list[Any]]],
) -> None:
    """set_send_to_sqs() replaces HTTP; only_syslog=True wins over SQS, as in 1.1."""
    message = legacy_event(receiver.url, "legacy fan-out")
    message.set_send_to_syslog(True, only_syslog=only_syslog)
    message.set_send_to_sqs(True)
    message.set_sqs_queue_name(sqs_queue[0].removeprefix("sqs://").split("?")[0])
    message.set_sqs_region(REGION)
    message.set_sqs_endpoint_url(moto_sqs.url)
    message.send()
    got = {"syslog": syslog_events(legacy_syslog, 1), "sqs": sqs_queue[1](),
           "http": receiver.requests}  # fmt: skip
    assert {label for label, items in got.items() if items} == expected
    for label in expected:
        assert [event["summary"] for event in got[label]] == ["legacy fan-out"]


def test_legacy_syslog_and_http_a_failing_http_does_not_stop_syslog(
    receiver: Receiver, legacy_syslog: SyslogSink
) -> None:
    """Sync send(): syslog gets the event, and the HTTP failure is still raised."""
    receiver.script(503)
    message = legacy_event(receiver.url, "syslog despite 503")
    message.set_send_to_syslog(True)
    with pytest.raises(MozDefError, match="503"):
        message.send()
    assert [e["summary"] for e in syslog_events(legacy_syslog, 1)] == ["syslog despite 503"]
    assert [r.status for r in receiver.requests] == [503]


def test_legacy_fire_and_forget_fans_out_with_a_lane_per_destination(
    receiver: Receiver, legacy_syslog: SyslogSink
) -> None:
    """syslog gets every event while HTTP answers 503; HTTP gets them all afterwards."""
    receiver.script(Fault(503, retry_after="2"))
    for n in range(20):
        message = legacy_event(receiver.url, f"fire and forget {n}")
        message.set_send_to_syslog(True)
        message.set_fire_and_forget(True)
        message.send()
    expected = [f"fire and forget {n}" for n in range(20)]
    assert [e["summary"] for e in syslog_events(legacy_syslog, 20)] == expected
    assert receiver.accepted == []  # HTTP is still waiting out its Retry-After
    started = time.monotonic()
    assert flush_fire_and_forget(timeout=20) == 0
    assert time.monotonic() - started < 20
    assert sorted(e["summary"] for e in receiver.events) == sorted(expected)
    [stats] = [s for name, s in fire_and_forget_stats().items() if legacy_syslog.path in name]
    assert set(stats.destinations) == {receiver.url, f"syslog:{legacy_syslog.path}"}
    http = stats.destinations[receiver.url]
    assert (http.delivered, http.pending_memory) == (20, 0)
    assert http.retried == sum(len(r.documents) for r in receiver.requests if r.status == 503)
    assert_clean(stats.destinations[f"syslog:{legacy_syslog.path}"], 20)
