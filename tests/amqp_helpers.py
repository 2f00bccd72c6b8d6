"""RabbitMQ for the tests: a consumer's view of the broker and a proxy to cut.

The real RabbitMQ listens on 127.0.0.1:5672 (guest/guest). Tests bind their
own exclusive queues with routing keys of their own, so they disturb nobody,
and break connections through :class:`Proxy`, never by restarting the
shared broker.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

BROKER = ("127.0.0.1", 5672)
EXCHANGE = "eventtask"


def require(condition: bool, reason: str) -> None:
    """Skip when a service is missing, or fail when CI promised it."""
    if condition:
        return
    if os.environ.get("MOZDEF_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (and MOZDEF_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@dataclass
class Received:
    exchange: str
    routing_key: str
    properties: pika.BasicProperties
    body: bytes

    def decode_like_mozdef(self) -> Any:
        """What MozDef's kombu consumer hands its worker for this message.

        kombu decodes by content type (MozDef accepts json and text/plain);
        the worker then json.loads a string body.
        """
        assert self.properties.content_type in ("application/json", "text/plain")
        text = self.body.decode(self.properties.content_encoding or "utf-8")
        body = json.loads(text) if self.properties.content_type == "application/json" else text
        return body if isinstance(body, dict) else json.loads(body)


class Broker:
    """A test's own view of RabbitMQ: exclusive queues bound to ``eventtask``."""

    def __init__(self) -> None:
        self.connection = pika.BlockingConnection(
            pika.ConnectionParameters(*BROKER, connection_attempts=1, socket_timeout=5)
        )
        self.channel: BlockingChannel = self.connection.channel()
        # MozDef's own declaration: a durable direct exchange.
        self.channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)

    def queue(self, routing_key: str) -> str:
        """An exclusive queue (gone with this connection) bound with ``routing_key``."""
        name = f"mozdef-client-test-{uuid.uuid4().hex}"
        self.channel.queue_declare(name, exclusive=True)
        self.channel.queue_bind(name, EXCHANGE, routing_key=routing_key)
        return name

    def get(self, queue: str, count: int, timeout: float = 10.0) -> list[Received]:
        """Take up to ``count`` messages, waiting at most ``timeout`` for them."""
        received: list[Received] = []
        deadline = time.monotonic() + timeout
        while len(received) < count and time.monotonic() < deadline:
            method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
                continue
            received.append(Received(method.exchange, method.routing_key, properties, body))
        return received

    def drain(self, queue: str) -> list[Received]:
        """Take every message in ``queue`` now (confirmed publishes are all there)."""
        received: list[Received] = []
        while True:
            method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                return received
            received.append(Received(method.exchange, method.routing_key, properties, body))

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


def broker_reachable() -> bool:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError:
        return False
    return True


def unique_key() -> str:
    return f"test-{uuid.uuid4().hex}"


class Proxy:
    """A TCP proxy to the broker that a test can cut, optionally ending TLS for it."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.tls = tls
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.cut_on_client_data = False
        self._schedule: collections.deque[int] = collections.deque()  # see cut_after_chunks
        self.cuts = 0  # how many times the connections were cut
        self.handshake_errors: list[BaseException] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._start, args=(client,), daemon=True).start()

    def _start(self, client: socket.socket) -> None:
        if self.tls is not None:
            try:
                client = self.tls.wrap_socket(client, server_side=True)
            except (OSError, ValueError) as exc:
                self.handshake_errors.append(exc)
                client.close()
                return
        upstream = socket.create_connection(BROKER)
        for sock in (client, upstream):
            # Without it, Nagle's algorithm and delayed ACKs hold each small
            # publish or confirm for 40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.pairs.append((client, upstream))
        threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
        self._pump(upstream, client, False)

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client and self.cut_on_client_data:
                    # Kill the connection with these bytes unforwarded: mid-publish.
                    self.cut_on_client_data = False
                    self.cut()
                    return
                if from_client and self._count_down():
                    self.cut()
                    return
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            _shut(sock)

    def cut_after_chunks(self, *counts: int) -> None:
        """Cut when ``counts[0]`` more chunks of data came from the client, then
        after ``counts[1]`` more, and so on; each time the last chunk is not
        forwarded (mid-stream, that is a publish that never arrives).
        """
        with self.lock:
            self._schedule = collections.deque(counts)

    def _count_down(self) -> bool:
        with self.lock:
            if not self._schedule:
                return False
            self._schedule[0] -= 1
            if self._schedule[0] > 0:
                return False
            self._schedule.popleft()
            return True

    def cut(self) -> None:
        """Close every connection now, as a broker restart or a network fault would."""
        with self.lock:
            self.cuts += 1
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for sock in pair:
                _shut(sock)

    def close(self) -> None:
        self.listener.close()
        self.cut()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def require_broker() -> None:
    """Skip without RabbitMQ, or fail when CI promised it (MOZDEF_TEST_REQUIRE_SERVICES=1)."""
    require(broker_reachable(), f"RabbitMQ is not reachable at {BROKER[0]}:{BROKER[1]}")
