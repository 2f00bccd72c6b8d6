"""Every transport's operation has a total deadline: peers that take data a
byte at a time, never read, never answer or never confirm cannot hold a send.

The HTTP transport's deadline is tested in tests/test_hostile_servers.py;
this module covers remote syslog, local syslog, SQS and AMQP. Each test runs a
real peer on loopback (raw sockets, a unix socket nobody reads, a proxy in
front of RabbitMQ) and is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from amqp_helpers import BROKER, Broker, broker_reachable, require, unique_key
from hostile import endless, read_request, run_bounded, serving, trickle
from mozdef_client import (
    Client,
    ConfigurationError,
    EncodedEvent,
    Event,
    PartialDeliveryError,
    RemoteSyslogOptions,
    RemoteSyslogTransport,
    RetryableError,
    SQSOptions,
    SQSTransport,
    SyslogOptions,
    SyslogTransport,
    prepare,
)
from mozdef_client.legacy import MozDefEvent, delivery_stats

MiB = 1024 * 1024


def encoded(summary: str) -> EncodedEvent:
    return prepare(Event(summary=summary))


# -- remote syslog ------------------------------------------------------------------


def _reading_slowly(conn: socket.socket, stop: threading.Event) -> None:
    """Take 64 KiB every 0.1 s: each write moves on, the batch takes ages."""
    while not stop.wait(0.1):
        if not conn.recv(65536):
            return


def _never_reading(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(30)


def test_a_slow_syslog_server_cannot_hold_a_batch_past_the_total_deadline() -> None:
    """Each 1 MiB write ends well within ``timeout``; 20 of them would take 30 s."""
    with serving(_reading_slowly) as server:
        sender = RemoteSyslogTransport(
            RemoteSyslogOptions(host="127.0.0.1", port=server.port, protocol="tcp",
                                max_message_bytes=2 * MiB, timeout=5, total_timeout=1.5)
        )  # fmt: skip
        batch = [encoded("s" * MiB) for _ in range(20)]
        took, outcome = run_bounded(lambda: sender.send(batch), limit=20)
        sender.close()
    assert isinstance(outcome, (RetryableError, PartialDeliveryError)), outcome
    assert "total deadline of 1.5 s (total_timeout)" in str(outcome)
    assert f"syslog+tcp://127.0.0.1:{server.port}" in str(outcome)
    assert took < 4
    if isinstance(outcome, PartialDeliveryError):
        # What the socket took counts as handed over; the rest is named, in order.
        failed = sorted(outcome.failures)
        assert failed == list(range(failed[0], len(batch)))
        assert all(isinstance(e, RetryableError) for e in outcome.failures.values())


def test_a_syslog_server_that_never_reads_ends_the_send_at_the_total_deadline() -> None:
    """The total deadline also cuts a single blocked write shorter than ``timeout``."""
    with serving(_never_reading) as server:
        sender = RemoteSyslogTransport(
            RemoteSyslogOptions(host="127.0.0.1", port=server.port, protocol="tcp",
                                max_message_bytes=2 * MiB, timeout=10, total_timeout=1.0)
        )  # fmt: skip
        batch = [encoded("n" * MiB) for _ in range(30)]
        took, outcome = run_bounded(lambda: sender.send(batch), limit=20)
        # The next send opens a new connection (and meets the same deadline).
        took_again, again = run_bounded(lambda: sender.send(batch), limit=20)
        sender.close()
    assert isinstance(outcome, (RetryableError, PartialDeliveryError)), outcome
    assert "total deadline of 1 s" in str(outcome)
    assert took < 3
    assert isinstance(again, (RetryableError, PartialDeliveryError)), again
    assert took_again < 3


def test_a_syslog_server_stalling_the_tls_handshake_ends_at_the_total_deadline() -> None:
    with serving(_never_reading) as server:
        sender = RemoteSyslogTransport(
            RemoteSyslogOptions(host="127.0.0.1", port=server.port, protocol="tls",
                                verify=False, timeout=10, total_timeout=0.8)
        )  # fmt: skip
        took, outcome = run_bounded(lambda: sender.send([encoded("tls")]), limit=20)
        sender.close()
    assert isinstance(outcome, RetryableError), outcome
    assert str(outcome) == (
        f"syslog+tls://127.0.0.1:{server.port} did not take the batch within the total "
        "deadline of 0.8 s (total_timeout)"
    )
    assert took < 3


# -- local syslog -------------------------------------------------------------------


@pytest.fixture
def stalled_syslog() -> Iterator[str]:
    """A unix datagram socket nobody reads, its queue already full."""
    # Short: unix socket paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="sl") as directory:
        path = os.path.join(directory, "stalled.sock")
        daemon = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        daemon.bind(path)
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        filler.connect(path)
        filler.setblocking(False)
        try:
            with contextlib.suppress(BlockingIOError):
                while True:
                    filler.send(b"<14>filler")
            yield path
        finally:
            filler.close()
            daemon.close()


def test_a_syslog_daemon_that_stopped_reading_fails_the_send_at_its_timeout(
    stalled_syslog: str,
) -> None:
    transport = SyslogTransport(SyslogOptions(socket_path=stalled_syslog, timeout=0.5))
    took, outcome = run_bounded(lambda: transport.send([encoded("a"), encoded("b")]), limit=10)
    transport.close()
    assert isinstance(outcome, RetryableError), outcome
    assert f"syslog:{stalled_syslog} did not take the events within 0.5 s" in str(outcome)
    assert 0.4 < took < 3


def test_a_syslog_url_sets_the_timeout(stalled_syslog: str) -> None:
    with Client(f"syslog://{stalled_syslog}?timeout=0.3") as client:
        took, outcome = run_bounded(lambda: client.send(Event(summary="s")), limit=10)
    assert isinstance(outcome, RetryableError), outcome
    assert "within 0.3 s (timeout)" in str(outcome)
    assert took < 3


def test_the_legacy_api_drops_and_counts_an_event_a_stalled_syslog_does_not_take(
    stalled_syslog: str, caplog: pytest.LogCaptureFixture
) -> None:
    """1.1's face never raises for syslog: warned once, counted as dropped, bounded."""
    msg = MozDefEvent("http://127.0.0.1:1/events")
    msg.summary = "to a stalled syslog"
    msg.set_syslog_socket(stalled_syslog)
    msg.set_send_to_syslog(True, only_syslog=True)
    took, outcome = run_bounded(msg.send, limit=15)
    assert outcome is None
    assert took < 5  # the default timeout, 2 s
    [warning] = [r.getMessage() for r in caplog.records if stalled_syslog in r.getMessage()]
    assert "not reaching syslog" in warning
    assert delivery_stats()[f"sync: syslog:{stalled_syslog}"].dropped == {"unavailable": 1}


# -- SQS ----------------------------------------------------------------------------

_JSON_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\n\r\n"
)


def _sqs_trickling(answer_lookup: bool) -> Any:
    """An "SQS endpoint" that (optionally) finds the queue, then trickles every answer."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        while True:
            head = read_request(conn)
            if not head:
                return
            if answer_lookup and b"AmazonSQS.GetQueueUrl" in head:
                body = json.dumps({"QueueUrl": "http://127.0.0.1/000000000000/q"}).encode()
                conn.sendall(_JSON_HEAD % len(body) + body)
                continue
            trickle(conn, stop, endless(b"HTTP/1.1 200 ", b"O"), pause=0.05)
            return

    return behaviour


@pytest.mark.parametrize("lookup", [False, True], ids=["GetQueueUrl", "SendMessage"])
def test_an_sqs_endpoint_trickling_its_answer_ends_at_the_total_deadline(
    aws_env: None, lookup: bool
) -> None:
    """botocore's read_timeout (10 s) bounds each read; a byte every 50 ms never trips it."""
    pytest.importorskip("boto3")
    with serving(_sqs_trickling(lookup)) as server:
        options = SQSOptions(
            queue_name="q", region="us-east-1", endpoint_url=server.url("/"), total_timeout=1.0
        )
        transport = SQSTransport(options)
        took, outcome = run_bounded(lambda: transport.send([encoded("one")]), limit=20)
        # A batch: every SendMessageBatch call is under the same deadline.
        batch = [encoded(f"e{n}") for n in range(25)]
        took_batch, batch_outcome = run_bounded(lambda: transport.send(batch), limit=20)
    for result, seconds in ((outcome, took), (batch_outcome, took_batch)):
        assert isinstance(result, RetryableError), repr(result)
        assert str(result) == (
            "sqs://q did not answer completely within the total deadline of 1 s (total_timeout)"
        )
        assert seconds < 3


def test_an_sqs_url_sets_the_total_deadline(aws_env: None) -> None:
    pytest.importorskip("boto3")
    with serving(_sqs_trickling(True)) as server:
        url = f"sqs://q?region=us-east-1&endpoint_url={server.url('/')}&total_timeout=0.5"
        with Client(url) as client:
            took, outcome = run_bounded(lambda: client.send(Event(summary="s")), limit=20)
    assert isinstance(outcome, RetryableError), repr(outcome)
    assert "total deadline of 0.5 s" in str(outcome)
    assert took < 3


@pytest.mark.parametrize(
    "build",
    [
        lambda: SQSOptions(queue_name="q", total_timeout=0),
        lambda: RemoteSyslogOptions(host="h", total_timeout=0),
        lambda: SyslogOptions(timeout=-1),
    ],
    ids=["sqs", "remote-syslog", "local-syslog"],
)
def test_a_deadline_that_is_not_a_positive_number_is_refused(build: Any) -> None:
    with pytest.raises(ConfigurationError, match="timeout must be a positive number"):
        build()


# -- AMQP ---------------------------------------------------------------------------


class MutingProxy:
    """A TCP proxy to RabbitMQ that can stop passing on what the broker says.

    Muted after the handshake, the broker takes the publishes but the client
    never hears a confirm: a broker that never confirms.
    """

    def __init__(self) -> None:
        self.muted = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(BROKER)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_broker: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not (from_broker and self.muted.is_set()):
                    target.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def muting_proxy() -> Iterator[MutingProxy]:
    pytest.importorskip("pika")
    require(broker_reachable(), f"RabbitMQ is not reachable at {BROKER[0]}:{BROKER[1]}")
    proxy = MutingProxy()
    yield proxy
    proxy.close()


# 12,000: past the publisher's window of unconfirmed messages (5,000), so it
# waits for confirms to refill the window, then for the rest.
@pytest.mark.parametrize("size", [1, 12_000], ids=["one-event", "batch-past-the-window"])
def test_a_broker_that_never_confirms_ends_the_send_within_confirm_timeout(
    muting_proxy: MutingProxy, size: int
) -> None:
    from mozdef_client.transports.amqp import AMQPOptions, AMQPTransport

    key = unique_key()
    broker = Broker()
    try:
        broker.queue(key)
        transport = AMQPTransport(AMQPOptions(host="127.0.0.1", port=muting_proxy.port,
                                              routing_key=key, confirm_timeout=0.5))  # fmt: skip
        transport.send([encoded("connects and confirms")])
        muting_proxy.muted.set()
        batch = [encoded(f"unconfirmed {n}") for n in range(size)]
        took, outcome = run_bounded(lambda: transport.send(batch), limit=20)
        close_took, _ = run_bounded(transport.close, limit=20)
    finally:
        broker.close()
    assert isinstance(outcome, (RetryableError, PartialDeliveryError)), repr(outcome)
    assert "did not confirm the event within 0.5 s" in str(outcome)
    # Waiting for confirms: once, or once for the window and once for the rest.
    assert took < 3
    assert close_took < 3


def _trickling_handshake(conn: socket.socket, stop: threading.Event) -> None:
    # A frame header announcing 1 MiB of Connection.Start, then its bytes one by one.
    trickle(conn, stop, endless(b"\x01\x00\x00\x00\x10\x00\x00", b"\x00"), pause=0.05)


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(30)


@pytest.mark.parametrize("behaviour", [_silent, _trickling_handshake], ids=["silent", "trickling"])
def test_a_broker_that_never_completes_the_handshake_ends_within_connect_timeout(
    behaviour: Any,
) -> None:
    """pika's socket timeout bounds each read; its stack timeout (2 x connect_timeout) all."""
    pytest.importorskip("pika")
    with serving(behaviour) as server:
        client = Client(f"amqp://127.0.0.1:{server.port}/%2F?connect_timeout=0.5")
        took, outcome = run_bounded(lambda: client.send(Event(summary="s")), limit=20)
    assert isinstance(outcome, RetryableError), repr(outcome)
    assert f"amqp://127.0.0.1:{server.port}" in str(outcome)
    assert took < 3
