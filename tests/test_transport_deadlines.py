"""Every transport's operation has a total deadline: peers that take data a
byte at a time, never read, never answer or never confirm cannot hold a send.

The HTTP transport's deadline is tested in tests/test_hostile_servers.py;
this module covers remote syslog, local syslog, SQS and AMQP. Each test runs a
real peer on loopback (raw sockets, a unix socket nobody reads, a proxy in
front of RabbitMQ) and is bounded in time.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from hostile import read_request, run_bounded, serving
from mozdef_client import (
    EncodedEvent,
    Event,
    PartialDeliveryError,
    RemoteSyslogOptions,
    RemoteSyslogTransport,
    RetryableError,
    prepare,
)

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
