"""The development receiver answers malformed HTTP sensibly and keeps serving.

Requests are written by hand on raw sockets, so they can be as wrong as a
broken client or an attacker makes them.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import urllib3

from mozdef_client.receiver import Receiver

EVENT = json.dumps(
    {
        "timestamp": "2026-11-26T14:05:48+00:00",
        "hostname": "web1",
        "processname": "app",
        "severity": "INFO",
        "category": "event",
        "summary": "fine",
    }
).encode()


@pytest.fixture
def intake() -> Iterator[Receiver]:
    # A short connection timeout so the tests of silent clients are quick.
    with Receiver(connection_timeout=1.0, max_body_bytes=1024 * 1024) as receiver:
        yield receiver


class Connection:
    """One raw TCP connection that reads HTTP responses as they come."""

    def __init__(self, receiver: Receiver, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((receiver.host, receiver.port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self.file.readline()
        if not status_line:
            raise ConnectionError("closed without an answer")
        status = int(status_line.split()[1])
        headers = {}
        while (line := self.file.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.file.read(int(headers.get("content-length", "0")))
        return status, headers, body

    def closed_by_peer(self) -> bool:
        try:
            return self.file.read(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def post(path: str, body: bytes, *, length: int | None = None, extra: str = "") -> bytes:
    declared = len(body) if length is None else length
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n{extra}\r\n"
    return head.encode() + body


def still_serves(receiver: Receiver) -> bool:
    http = urllib3.PoolManager(retries=False, timeout=5)
    status = http.request("GET", receiver.base_url + "/status").status
    stored = http.request("POST", receiver.url, body=EVENT).status
    return (status, stored) == (200, 200)


@pytest.fixture
def conn(intake: Receiver) -> Iterator[Connection]:
    connection = Connection(intake)
    yield connection
    connection.close()


def test_a_garbage_request_line_gets_400(intake, conn):
    conn.send(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")
    status, _, _ = conn.response()
    assert status == 400
    assert intake.stats().rejected == 1
    assert still_serves(intake)


def test_binary_junk_without_a_line_end_is_dropped_quietly(intake, conn, capfd):
    conn.send(bytes(range(256)) * 4)
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.closed_by_peer() or conn.response()[0] == 400
    assert still_serves(intake)
    assert capfd.readouterr().err == ""  # no traceback on the console


def test_a_request_line_over_64k_gets_414(intake, conn):
    conn.send(b"POST /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
    assert conn.response()[0] == 414
    assert still_serves(intake)


def test_bad_json_gets_500_and_the_connection_stays_usable(intake, conn):
    conn.send(post("/events", b'{"summary": "half'))
    status, _, body = conn.response()
    assert status == 500 and b"invalid JSON" in body
    conn.send(post("/events", EVENT))
    assert conn.response()[0] == 200
    assert [e.document["summary"] for e in intake.events] == ["fine"]


def test_invalid_utf8_gets_500(intake, conn):
    conn.send(post("/events", b'{"summary": "\xff\xfe"}'))
    assert conn.response()[0] == 500
    assert intake.events == []


def test_a_content_length_shorter_than_the_body(intake, conn):
    """The cut body is bad JSON (500); the rest reads as a bad request line (400)."""
    conn.send(post("/events", EVENT + b"\r\n\r\n", length=10))
    first, _, _ = conn.response()
    second, _, _ = conn.response()
    assert (first, second) == (500, 400)
    assert intake.events == []
    assert still_serves(intake)


def test_a_content_length_longer_than_the_body_times_out_with_408(intake, conn):
    started = time.monotonic()
    conn.send(post("/events", EVENT, length=len(EVENT) + 100))
    status, headers, _ = conn.response()
    assert status == 408
    assert headers.get("connection") == "close"
    assert time.monotonic() - started < 8
    assert conn.closed_by_peer()
    assert intake.events == []
    assert still_serves(intake)


def test_a_body_cut_short_by_the_client_closing_stores_nothing(intake, conn):
    conn.send(post("/events", EVENT, length=len(EVENT) * 2))
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.closed_by_peer() or conn.response()[0] == 408
    assert intake.events == []
    assert still_serves(intake)


@pytest.mark.parametrize("value", ["abc", "-5", "1e3", ""])
def test_a_malformed_content_length_gets_400(intake, conn, value):
    conn.send(f"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\n".encode())
    assert conn.response()[0] == 400
    assert still_serves(intake)


def test_a_missing_content_length_gets_411(intake, conn):
    conn.send(b"POST /events HTTP/1.1\r\nHost: x\r\n\r\n")
    assert conn.response()[0] == 411


def test_a_chunked_body_gets_411(intake, conn):
    conn.send(
        b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    )
    assert conn.response()[0] == 411
    assert still_serves(intake)


def test_an_oversize_declared_body_gets_413_without_being_sent(intake, conn):
    conn.send(f"POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\n\r\n".encode())
    status, headers, body = conn.response()
    assert status == 413 and b"bytes" in body
    assert headers.get("connection") == "close"
    assert still_serves(intake)


def test_an_oversize_body_that_is_sent_whole_still_sees_its_413(intake, conn):
    """The receiver reads what the client sends before answering, so no reset hides the 413."""
    big = b"[" + b",".join([EVENT] * 20000) + b"]"
    assert len(big) > 1024 * 1024
    conn.send(post("/_bulk", big))
    assert conn.response()[0] == 413
    assert intake.events == []


def test_a_slow_client_does_not_hold_up_others_and_is_cut_off(intake, conn):
    conn.send(b"POST /events HT")  # ... and then nothing
    started = time.monotonic()
    assert still_serves(intake)
    assert time.monotonic() - started < 1.0  # served while the slow one hangs
    assert conn.closed_by_peer()  # after the 1 s connection timeout
    assert time.monotonic() - started < 8


def test_a_client_that_trickles_its_body_is_served_if_within_the_timeout(intake, conn):
    conn.send(post("/events", b"", length=len(EVENT)))
    for start in range(0, len(EVENT), 40):
        conn.send(EVENT[start : start + 40])
        time.sleep(0.05)
    assert conn.response()[0] == 200
    assert len(intake.events) == 1


def test_expect_100_continue_is_honoured(intake, conn):
    conn.send(post("/events", b"", length=len(EVENT), extra="Expect: 100-continue\r\n"))
    assert conn.response()[0] == 100
    conn.send(EVENT)
    assert conn.response()[0] == 200


def test_a_wrong_token_is_refused_and_the_body_is_skipped():
    with Receiver(token="t0ken") as receiver:
        connection = Connection(receiver)
        try:
            connection.send(post("/events", EVENT))
            connection.send(post("/events", EVENT, extra="Authorization: Bearer t0ken\r\n"))
            assert connection.response()[0] == 401
            assert connection.response()[0] == 200  # same connection, next request
        finally:
            connection.close()
        assert len(receiver.events) == 1


def test_close_ends_idle_keep_alive_connections_promptly():
    receiver = Receiver(connection_timeout=60).start()
    connection = Connection(receiver)
    connection.send(post("/events", EVENT))
    assert connection.response()[0] == 200
    started = time.monotonic()
    receiver.close()
    assert time.monotonic() - started < 5
    assert connection.closed_by_peer()
    connection.close()


def test_at_the_connection_limit_the_longest_waiting_connection_makes_room():
    with Receiver(max_connections=2, connection_timeout=5) as receiver:
        held = [Connection(receiver) for _ in range(2)]
        try:
            for connection in held:  # both served, then idle (kept alive)
                connection.send(post("/events", EVENT))
                assert connection.response()[0] == 200
            extra = Connection(receiver)
            extra.send(post("/events", EVENT))
            assert extra.response()[0] == 200  # served at once, not refused
            assert held[0].closed_by_peer()  # the one idle longest was closed
            extra.close()
        finally:
            for connection in held:
                connection.close()
        assert still_serves(receiver)
