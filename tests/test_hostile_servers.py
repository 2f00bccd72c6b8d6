"""Peers that misbehave on purpose: raw sockets on loopback, every test bounded in time.

1. an answer's body is never read whole (huge or endless bodies keep memory flat);
2. every request has a total deadline (trickled status lines, headers, bodies,
   endless ``100 Continue``), in sync mode, the legacy API, the logging handler
   and a background lane;
3. secrets in the URL's query or userinfo, and header values a server echoes
   back, never reach messages, stats, dead letters, logs, the spool or tracebacks;
4. an AMQP broker that never finishes the handshake gives a MozDefError.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from pathlib import Path
from urllib.parse import quote

import pytest

from delivery_helpers import fast, wait_until
from hostile import PeakRSS, endless, flood, read_request, run_bounded, serving, trickle
from mozdef_client import Client, Event, MozDefError, RetryableError
from mozdef_client.cli import main as cli_main
from mozdef_client.handler import MozDefHandler
from mozdef_client.legacy import MozDefEvent

MiB = 1024 * 1024

# -- 1. bodies are read only as far as an error message needs --------------------


def _huge_content_length(status: bytes) -> object:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        head = b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % (1024 * MiB)
        flood(conn, stop, head, b"x" * 65536, limit=300 * MiB)

    return behaviour


def _endless_chunks(status: bytes) -> object:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        head = b"HTTP/1.1 " + status + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        flood(conn, stop, head, b"10000\r\n" + b"y" * 65536 + b"\r\n", limit=300 * MiB)

    return behaviour


@pytest.mark.parametrize(
    "behaviour",
    [
        _huge_content_length(b"200 OK"),
        _huge_content_length(b"500 Internal Server Error"),
        _endless_chunks(b"200 OK"),
        _endless_chunks(b"503 Service Unavailable"),
    ],
    ids=["1GiB-200", "1GiB-500", "endless-chunked-200", "endless-chunked-503"],
)
def test_a_huge_or_endless_answer_keeps_memory_flat(behaviour) -> None:
    """Only a few KiB of any answer are read; the connection is dropped, not drained."""
    with serving(behaviour) as server:  # type: ignore[arg-type]
        client = Client(server.url(), read_timeout=20)
        with PeakRSS() as rss:
            took, outcome = run_bounded(lambda: _send_one(client), limit=30)
    assert rss.growth < 32 * MiB, f"RSS grew by {rss.growth // MiB} MiB"
    assert took < 10
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, RetryableError), outcome
        assert len(str(outcome)) < 400


def _send_one(client: Client) -> object:
    return client.send(Event(summary="to a flooding server"))


# -- 2. a total deadline per request -----------------------------------------------

_STATUS = b"HTTP/1.1 200 OK\r\n"


def _trickling(data_factory: object) -> object:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        trickle(conn, stop, data_factory(), pause=0.05)  # type: ignore[operator]

    return behaviour


TRICKLES = {
    "status-line": lambda: endless(b"HTTP/1.1 200 ", b"O"),
    "headers": lambda: endless(_STATUS + b"X-Slow: ", b"a"),
    "many-headers": lambda: endless(_STATUS, b"X-A: b\r\n"),
    "body-of-500": lambda: endless(b"HTTP/1.1 500 Oops\r\nContent-Length: 100000\r\n\r\n", b"z"),
    "endless-100-continue": lambda: endless(b"", b"HTTP/1.1 100 Continue\r\n\r\n"),
}


@pytest.mark.parametrize("name", sorted(TRICKLES))
def test_a_trickling_server_cannot_hold_a_sync_send_past_the_total_deadline(name: str) -> None:
    with serving(_trickling(TRICKLES[name])) as server:  # type: ignore[arg-type]
        # The total deadline is connect_timeout + read_timeout by default.
        client = Client(server.url(), connect_timeout=0.5, read_timeout=1.0)
        took, outcome = run_bounded(lambda: _send_one(client), limit=10)
    assert isinstance(outcome, RetryableError), outcome
    assert took < 4
    if name != "body-of-500":  # there the status (500) is the error, read in time
        assert "total deadline of 1.5 s" in str(outcome)


def test_the_total_deadline_can_be_set() -> None:
    with serving(_trickling(TRICKLES["headers"])) as server:  # type: ignore[arg-type]
        client = Client(server.url(), read_timeout=5.0, total_timeout=0.7)
        took, outcome = run_bounded(lambda: _send_one(client), limit=10)
    assert isinstance(outcome, RetryableError)
    assert "total deadline of 0.7 s" in str(outcome)
    assert took < 3


def test_the_legacy_send_is_bounded_by_the_total_deadline() -> None:
    with serving(_trickling(TRICKLES["status-line"])) as server:  # type: ignore[arg-type]
        message = MozDefEvent(server.url())
        message.set_timeout(0.5, 1.0)
        message.summary = "legacy send to a trickling server"
        took, outcome = run_bounded(message.send, limit=10)
    assert isinstance(outcome, MozDefError), outcome
    assert took < 4


def test_a_handler_with_a_sync_client_is_bounded_by_the_total_deadline() -> None:
    with serving(_trickling(TRICKLES["headers"])) as server:  # type: ignore[arg-type]
        client = Client(server.url(), connect_timeout=0.5, read_timeout=0.5)
        handler = MozDefHandler(client=client)
        handler.handleError = lambda record: None  # type: ignore[method-assign]
        logger = logging.getLogger("hostile.handler")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            took, _ = run_bounded(lambda: logger.warning("trickled"), limit=10)
            shutdown_took, _ = run_bounded(handler.close, limit=10)
        finally:
            logger.removeHandler(handler)
    assert took < 4
    assert shutdown_took < 4


def test_a_background_lane_reports_a_trickling_server_instead_of_stalling() -> None:
    with serving(_trickling(TRICKLES["headers"])) as server:  # type: ignore[arg-type]
        client = Client(server.url(), mode="background", delivery=fast(),
                        connect_timeout=0.5, read_timeout=0.5)  # fmt: skip
        try:
            client.send(Event(summary="to a trickling server"))
            wait_until(lambda: client.stats().last_error is not None, timeout=8,
                       message="the lane to report the deadline")  # fmt: skip
            assert "total deadline" in (client.stats().last_error or "")
        finally:
            client.close(timeout=0.5)


# -- 3. secrets never leak ---------------------------------------------------------

QUERY_SECRET = "qs-S3CR3T-token"
PASSWORD = "pw-S3CR3T-pass"
HEADER_SECRET = 'hdr/S3CR3T+"bearer"=value'
SECRETS = [QUERY_SECRET, PASSWORD, HEADER_SECRET, "S3CR3T"]


def _echoing(status: bytes) -> object:
    """Answers ``status`` with a body that quotes the request back in several escapings."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            head = read_request(conn)
            if not head:
                return
            text = head.decode("latin-1")
            body = "\n".join([
                f"refused {text}",
                json.dumps({"request": text}),
                quote(text),
                f"token={HEADER_SECRET}",
            ]).encode()  # fmt: skip
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
            conn.sendall(body)

    return behaviour


def _secret_url(port: int) -> str:
    return f"http://alice:{PASSWORD}@127.0.0.1:{port}/events?token={QUERY_SECRET}&x=1"


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}: {text[:2000]}"
    for secret in (HEADER_SECRET,):
        for form in (json.dumps(secret)[1:-1], quote(secret, safe="")):
            assert form not in text, f"an escaped secret leaked into {where}"


def _everything_about(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_a_refused_connection_leaks_no_query_or_password_into_the_traceback() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(RetryableError) as caught:
        Client(_secret_url(port), headers={"Authorization": HEADER_SECRET}).send(
            Event(summary="to nowhere")
        )
    _assert_clean(_everything_about(caught.value), "the traceback")
    assert "could not connect" in str(caught.value)


@pytest.mark.parametrize("status", [b"401 Unauthorized", b"503 Busy"])
def test_a_server_echoing_the_request_leaks_nothing_in_sync_mode(status: bytes) -> None:
    with serving(_echoing(status)) as server:  # type: ignore[arg-type]
        client = Client(_secret_url(server.port), headers={"Authorization": HEADER_SECRET})
        with pytest.raises(MozDefError) as caught:
            client.send(Event(summary="refused"))
    _assert_clean(_everything_about(caught.value), "the error")
    _assert_clean(client.stats().last_error or "", "stats().last_error")
    assert "answered HTTP" in str(caught.value)


def test_background_mode_leaks_nothing_into_stats_dead_letters_or_logs(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="mozdef_client")
    with serving(_echoing(b"403 Forbidden")) as server:  # type: ignore[arg-type]
        client = Client(_secret_url(server.port), headers={"Authorization": HEADER_SECRET},
                        mode="background", delivery=fast())  # fmt: skip
        client.send(Event(summary="refused for good"))
        client.flush(5)
        letters = client.dead_letters()
        client.close(1)
    assert len(letters) == 1
    _assert_clean(letters[0].error, "a dead letter")
    _assert_clean(client.stats().last_error or "", "stats().last_error")
    _assert_clean(caplog.text, "the delivery logger")
    assert "dead-lettered" in caplog.text


def test_durable_mode_leaks_nothing_into_the_spool(tmp_path: Path) -> None:
    with serving(_echoing(b"400 Bad Request")) as server:  # type: ignore[arg-type]
        client = Client(_secret_url(server.port), headers={"Authorization": HEADER_SECRET},
                        mode="durable", spool_dir=str(tmp_path), delivery=fast())  # fmt: skip
        client.send(Event(summary="refused for good"))
        wait_until(lambda: client.stats().dead_lettered == 1, timeout=10)
        client.close(1)
    # The spool is plain files now (segments, progress, dead letters): read them all.
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        _assert_clean(path.read_bytes().decode("latin-1"), f"the spool file {path.name}")
    letters = (tmp_path / "dead-letters.log").read_bytes()
    assert b"refused for good" in letters and b"answered HTTP 400" in letters  # it was checked


def test_the_cli_leaks_nothing(capsys) -> None:
    with serving(_echoing(b"401 Unauthorized")) as server:  # type: ignore[arg-type]
        code = cli_main(["send", "--url", _secret_url(server.port), "--summary", "x"])
    captured = capsys.readouterr()
    assert code != 0
    _assert_clean(captured.out + captured.err, "the CLI's output")


# -- 4. an AMQP broker that never finishes the handshake ------------------------------


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(30)


def test_an_amqp_handshake_timeout_is_a_retryable_mozdef_error() -> None:
    pytest.importorskip("pika")
    with serving(_silent) as server:
        client = Client(f"amqp://127.0.0.1:{server.port}/%2F?connect_timeout=0.3")
        took, outcome = run_bounded(lambda: _send_one(client), limit=15)
    assert isinstance(outcome, RetryableError), repr(outcome)
    assert took < 5
