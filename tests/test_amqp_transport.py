"""The AMQP transport against the real RabbitMQ on 127.0.0.1:5672 (guest/guest).

Each test binds its own exclusive queue to MozDef's ``eventtask`` exchange
(with a routing key of its own, or ``eventtask`` itself) so tests do not
disturb each other or anything else on the broker. Connection faults and
TLS go through a small TCP proxy of the test's own, never by restarting
the shared broker.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest

from amqp_helpers import (
    BROKER,
    EXCHANGE,
    Broker,
    Proxy,
    Received,
    broker_reachable,
    require,
    unique_key,
)
from mozdef_client import (
    AMQPOptions,
    AMQPTransport,
    Client,
    ConfigurationError,
    EncodedEvent,
    Event,
    PartialDeliveryError,
    PermanentError,
    RetryableError,
    Severity,
    prepare,
)
from mozdef_client.errors import DeliveryError
from mozdef_client.transports._failures import batch_error
from tls import TLSFiles, make_tls_files, server_context


def encoded(summary: str, **fields: Any) -> EncodedEvent:
    return prepare(Event(summary=summary, **fields))


@pytest.fixture
def broker() -> Iterator[Broker]:
    require(broker_reachable(), f"RabbitMQ is not reachable at {BROKER[0]}:{BROKER[1]}")
    view = Broker()
    yield view
    view.close()


@pytest.fixture
def make_transport() -> Iterator[Any]:
    made: list[AMQPTransport] = []

    def make(**options: Any) -> AMQPTransport:
        options.setdefault("host", BROKER[0])
        made.append(AMQPTransport(AMQPOptions(**options)))
        return made[-1]

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    require(broker_reachable(), f"RabbitMQ is not reachable at {BROKER[0]}:{BROKER[1]}")
    server = Proxy()
    yield server
    server.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def summaries(messages: list[Received]) -> list[str]:
    return [m.decode_like_mozdef()["summary"] for m in messages]


# ---------------------------------------------------------------- publishing


def test_an_event_arrives_on_eventtask_as_mozdef_consumes_it(
    broker: Broker, make_transport: Any
) -> None:
    """Defaults: exchange and routing key eventtask, JSON, persistent, one event a message."""
    queue = broker.queue("eventtask")
    marker = uuid.uuid4().hex
    events = [
        encoded(f"{marker} first é", severity=Severity.ERROR, details={"username": "joe"}),
        encoded(f"{marker} second", tags=["vpn"]),
    ]
    make_transport().send(events)
    # Others may publish to eventtask too: keep only this test's events.
    mine = [m for m in broker.get(queue, 50, timeout=3) if marker in m.body.decode()]
    assert [m.decode_like_mozdef() for m in mine] == [json.loads(e.payload) for e in events]
    for message in mine:
        assert (message.exchange, message.routing_key) == ("eventtask", "eventtask")
        assert message.properties.content_type == "application/json"
        assert message.properties.content_encoding == "utf-8"
        assert message.properties.delivery_mode == 2  # persistent
        assert message.body == events[mine.index(message)].payload


def test_exchange_and_routing_key_are_configurable(broker: Broker, make_transport: Any) -> None:
    key = unique_key()
    queue = broker.queue(key)
    make_transport(exchange=EXCHANGE, routing_key=key).send([encoded("routed")])
    [message] = broker.get(queue, 1)
    assert message.routing_key == key
    assert summaries([message]) == ["routed"]


def test_an_unroutable_event_is_a_permanent_error(broker: Broker, make_transport: Any) -> None:
    """mandatory=True: with no queue bound for the key the broker returns the event."""
    transport = make_transport(routing_key=unique_key())
    with pytest.raises(PermanentError, match="no queue is bound"):
        transport.send([encoded("nowhere to go")])
    # The channel survives a returned message: the next routable send works.
    key = unique_key()
    queue = broker.queue(key)
    transport2 = make_transport(routing_key=key)
    transport2.send([encoded("fine")])
    assert summaries(broker.get(queue, 1)) == ["fine"]


def test_a_missing_exchange_is_a_permanent_error_unless_declared_actively(
    broker: Broker, make_transport: Any
) -> None:
    exchange = f"mozdef-client-test-{uuid.uuid4().hex}"
    with pytest.raises(PermanentError, match=rf"no exchange '{exchange}'"):
        make_transport(exchange=exchange).send([encoded("x")])
    try:
        transport = make_transport(exchange=exchange, routing_key="k", declare="active")
        with pytest.raises(PermanentError, match="no queue is bound"):
            transport.send([encoded("x")])
        # It now exists, durable and direct: declaring it so passively succeeds.
        broker.channel.exchange_declare(exchange, exchange_type="direct", durable=True,
                                        passive=True)  # fmt: skip
    finally:
        broker.channel.exchange_delete(exchange)


def test_a_nack_fails_only_the_events_it_concerns(broker: Broker, make_transport: Any) -> None:
    """A queue that takes 5 messages and rejects the rest: 5 confirmed, 5 nacked (retryable)."""
    key = unique_key()
    queue = f"mozdef-client-test-{uuid.uuid4().hex}"
    broker.channel.queue_declare(
        queue, exclusive=True, arguments={"x-max-length": 5, "x-overflow": "reject-publish"}
    )
    broker.channel.queue_bind(queue, EXCHANGE, routing_key=key)
    transport = make_transport(routing_key=key)
    with pytest.raises(PartialDeliveryError) as caught:
        transport.send([encoded(f"e{i}") for i in range(10)])
    assert sorted(caught.value.failures) == [5, 6, 7, 8, 9]
    assert all(isinstance(e, RetryableError) for e in caught.value.failures.values())
    assert "nack" in str(caught.value)
    assert summaries(broker.get(queue, 10, timeout=1)) == [f"e{i}" for i in range(5)]


def test_a_batch_is_confirmed_together_and_arrives_in_order(
    broker: Broker, make_transport: Any
) -> None:
    key = unique_key()
    queue = broker.queue(key)
    transport = make_transport(routing_key=key)
    transport.send([encoded(f"e{i}") for i in range(500)])
    # Confirmed means routed: every message is in the queue when send() returns.
    assert summaries(broker.drain(queue)) == [f"e{i}" for i in range(500)]


def test_an_event_larger_than_a_frame_arrives_whole_between_small_ones(
    broker: Broker, make_transport: Any
) -> None:
    """Bodies over the broker's frame size (128 KiB) take pika's multi-frame path, in order."""
    key = unique_key()
    queue = broker.queue(key)
    transport = make_transport(routing_key=key)
    big = "x" * 300_000
    transport.send([encoded("a"), encoded("big", details={"blob": big}), encoded("c")])
    received = [m.decode_like_mozdef() for m in broker.get(queue, 3)]
    assert [m["summary"] for m in received] == ["a", "big", "c"]
    assert received[1]["details"]["blob"] == big


def test_events_from_several_threads_all_arrive(broker: Broker, make_transport: Any) -> None:
    key = unique_key()
    queue = broker.queue(key)
    transport = make_transport(routing_key=key)

    def publish(thread: int) -> None:
        for i in range(20):
            transport.send([encoded(f"{thread}-{i}")])

    threads = [threading.Thread(target=publish, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    got = summaries(broker.get(queue, 80, timeout=15))
    assert sorted(got) == sorted(f"{t}-{i}" for t in range(4) for i in range(20))


def test_a_client_with_an_amqp_url_delivers(broker: Broker) -> None:
    key = unique_key()
    queue = broker.queue(key)
    url = f"amqp://guest:guest@127.0.0.1:5672/%2F?exchange=eventtask&routing_key={key}"
    with Client(url) as client:
        client.send(Event(summary="via URL", severity=Severity.CRITICAL))
    [message] = broker.get(queue, 1)
    assert message.decode_like_mozdef()["severity"] == "CRITICAL"


# ---------------------------------------------------------------- failures and credentials


def test_wrong_credentials_are_permanent_and_never_shown(
    broker: Broker, make_transport: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f"pw-{uuid.uuid4().hex}"
    transport = make_transport(username="guest", password=secret)
    with pytest.raises(PermanentError, match="refused the login") as caught:
        transport.send([encoded("x")])
    shown = [str(caught.value), repr(caught.value), repr(transport), transport.name,
             repr(AMQPOptions(password=secret)), caplog.text]  # fmt: skip
    assert not [text for text in shown if secret in text]
    assert "guest" not in repr(AMQPOptions(username="guest"))


def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = AMQPTransport(AMQPOptions(host="127.0.0.1", port=port, connect_timeout=3))
    with pytest.raises(
        RetryableError, match=rf"could not talk to amqp://127.0.0.1:{port}.*refused"
    ):
        transport.send([encoded("x")])
    transport.close()


def test_a_connection_killed_mid_publish_is_retryable_then_reconnects(
    broker: Broker, proxy: Proxy, make_transport: Any
) -> None:
    """The publish whose confirm was lost raises; the next send opens a new connection."""
    key = unique_key()
    queue = broker.queue(key)
    transport = make_transport(port=proxy.port, routing_key=key)
    transport.send([encoded("before")])
    proxy.cut_on_client_data = True
    with pytest.raises(RetryableError, match="lost") as caught:
        transport.send([encoded("cut")])
    assert isinstance(caught.value.__cause__, pika.exceptions.AMQPConnectionError)
    transport.send([encoded("after")])
    assert summaries(broker.get(queue, 3, timeout=3)) == ["before", "after"]


def test_a_connection_dropped_while_idle_is_replaced_before_publishing(
    broker: Broker, proxy: Proxy, make_transport: Any
) -> None:
    """A broker restart between sends costs nothing: the drop is noticed first."""
    key = unique_key()
    queue = broker.queue(key)
    transport = make_transport(port=proxy.port, routing_key=key)
    transport.send([encoded("one")])
    proxy.cut()
    time.sleep(0.2)  # let the close reach the transport's socket
    transport.send([encoded("two")])
    assert summaries(broker.get(queue, 2)) == ["one", "two"]


def test_close_then_send_opens_a_new_connection(broker: Broker, make_transport: Any) -> None:
    key = unique_key()
    queue = broker.queue(key)
    transport = make_transport(routing_key=key)
    transport.send([encoded("a")])
    transport.close()
    transport.send([encoded("b")])
    assert summaries(broker.get(queue, 2)) == ["a", "b"]


# ---------------------------------------------------------------- AMQPS


@pytest.fixture
def tls_proxy(tls_files: TLSFiles) -> Iterator[Proxy]:
    require(broker_reachable(), f"RabbitMQ is not reachable at {BROKER[0]}:{BROKER[1]}")
    server = Proxy(tls=server_context(tls_files))
    yield server
    server.close()


def test_amqps_verifies_the_broker_against_the_ca_bundle(
    broker: Broker, tls_proxy: Proxy, tls_files: TLSFiles, make_transport: Any
) -> None:
    key = unique_key()
    queue = broker.queue(key)
    transport = make_transport(tls=True, port=tls_proxy.port, routing_key=key,
                               ca_bundle=tls_files.ca_file)  # fmt: skip
    assert transport.name.startswith("amqps://127.0.0.1:")
    transport.send([encoded("over tls")])
    assert summaries(broker.get(queue, 1)) == ["over tls"]


def test_amqps_refuses_a_broker_it_cannot_verify(
    tls_proxy: Proxy, tls_files: TLSFiles, make_transport: Any
) -> None:
    transport = make_transport(tls=True, port=tls_proxy.port, connect_timeout=5)
    with pytest.raises(RetryableError, match="certificate verify failed"):
        transport.send([encoded("x")])
    wrong_name = make_transport(tls=True, port=tls_proxy.port, ca_bundle=tls_files.ca_file,
                                server_name="rabbit.example.com")  # fmt: skip
    with pytest.raises(RetryableError, match="certificate verify failed"):
        wrong_name.send([encoded("x")])


def test_amqps_with_a_client_certificate(broker: Broker, tls_files: TLSFiles) -> None:
    proxy = Proxy(tls=server_context(tls_files, require_client_cert=True))
    key = unique_key()
    queue = broker.queue(key)
    transport = AMQPTransport(AMQPOptions(
        host="127.0.0.1", port=proxy.port, tls=True, routing_key=key,
        ca_bundle=tls_files.ca_file, client_cert=tls_files.client_cert_file,
        client_key=tls_files.client_key_file,
    ))  # fmt: skip
    try:
        transport.send([encoded("mutual")])
        assert summaries(broker.get(queue, 1)) == ["mutual"]
        assert proxy.handshake_errors == []
    finally:
        transport.close()
        proxy.close()


# ---------------------------------------------------------------- options and packaging


@pytest.mark.parametrize(
    ("options", "part"),
    [
        ({"port": 0}, "port"),
        ({"port": True}, "port"),
        ({"declare": "maybe"}, "declare"),
        ({"heartbeat": -1}, "heartbeat"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"routing_key": "k" * 256}, "routing_key"),
        ({"host": ""}, "host"),
        ({"ca_bundle": "/etc/hostname"}, "needs tls"),
        ({"tls": True, "ca_bundle": "/nonexistent.pem"}, "ca_bundle"),
        ({"tls": True, "client_key": "/etc/hostname"}, "client_key needs client_cert"),
        ({"failover": "h2"}, "failover"),
        ({"failover": ("h2:0",)}, "failover port"),
        ({"failover": ("[::1",)}, "IPv6"),
        ({"confirm_timeout": 0}, "confirm_timeout"),
    ],
)
def test_bad_options_are_rejected_naming_the_option(options: dict[str, Any], part: str) -> None:
    with pytest.raises(ConfigurationError, match=part):
        AMQPOptions(**options)


def test_default_ports_are_5672_and_5671_for_tls() -> None:
    assert AMQPOptions().effective_port == 5672
    assert AMQPOptions(tls=True).effective_port == 5671


def test_importing_the_library_does_not_import_pika() -> None:
    code = "import mozdef_client, sys; print('pika' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    assert result.stdout.strip() == "False"


def test_without_pika_the_transport_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pika", None)
    with pytest.raises(ConfigurationError, match=r"mozdef-client\[amqp\]"):
        AMQPTransport()


def test_a_batch_where_every_event_failed_alike_raises_that_error() -> None:
    error = RetryableError("down", destination="d")
    assert batch_error(dict.fromkeys(range(3), error), 3, "d") is error


def test_a_batch_with_some_failures_raises_a_partial_delivery_error() -> None:
    failures: dict[int, DeliveryError] = {1: PermanentError("returned", destination="d")}
    error = batch_error(failures, 3, "d")
    assert isinstance(error, PartialDeliveryError)
    assert error.failures == failures
    mixed: dict[int, DeliveryError] = {0: PermanentError("a"), 1: RetryableError("b")}
    assert isinstance(batch_error(mixed, 2, "d"), PartialDeliveryError)
