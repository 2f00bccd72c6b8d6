"""The development receiver against hostile and unlucky clients (issue 11, item 18).

Slow clients that trickle their headers, bursts of connections, JSON nested
100,000 deep, control characters meant for the console, malformed
Content-Length headers, a locked SQLite store, and the stores' file modes.
Raw sockets on loopback, bounded in count and time.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from mozdef_client.receiver import Receiver
from mozdef_client.receiver.intake import check_document
from mozdef_client.receiver.store import ConsolePrinter, JSONLStore, SQLiteStore, Stores
from test_receiver_malformed import EVENT, Connection, post

HTTP = urllib3.PoolManager(retries=False, timeout=5)


@pytest.fixture
def intake() -> Iterator[Receiver]:
    with Receiver(connection_timeout=1.0) as receiver:
        yield receiver


def raw_status(receiver: Receiver, request: bytes) -> int:
    connection = Connection(receiver)
    try:
        connection.send(request)
        return connection.response()[0]
    finally:
        connection.close()


# -- slow clients ------------------------------------------------------------


def test_a_client_trickling_its_headers_is_cut_off_at_the_timeout(intake):
    """A byte every 0.2 s resets no socket timeout's clock: the request's deadline bites."""
    connection = Connection(intake)
    started = time.monotonic()
    closed = False
    try:
        for byte in b"POST /events HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            connection.send(bytes([byte]))
            time.sleep(0.2)
            if time.monotonic() - started > 6:
                break
    except OSError:  # reset or broken pipe: the receiver closed it
        closed = True
    closed = closed or connection.closed_by_peer()
    connection.close()
    assert closed
    assert time.monotonic() - started < 4  # the 1 s timeout, not the 20 s the bytes take


def test_256_slow_connections_do_not_lock_out_legitimate_requests():
    """Slow clients that keep trickling header bytes (so no socket timeout ever
    fires) fill every connection slot; legitimate requests are still answered."""
    with Receiver(connection_timeout=30) as receiver:
        slow: list[socket.socket] = []
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(0.5):
                for sock in list(slow):
                    try:
                        sock.send(b"a")
                    except OSError:
                        slow.remove(sock)

        trickler = threading.Thread(target=trickle)
        started = time.monotonic()
        try:
            for _ in range(256):
                sock = socket.create_connection((receiver.host, receiver.port), timeout=5)
                sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never ends
                slow.append(sock)
            trickler.start()
            time.sleep(0.5)  # every one of them has its handler thread now
            answered = 0
            for _ in range(15):
                with contextlib.suppress(urllib3.exceptions.HTTPError):  # refused
                    answered += HTTP.request("POST", receiver.url, body=EVENT).status == 200
            assert answered == 15
            # Connecting the 256 took 40 s with a listen backlog of 5.
            assert time.monotonic() - started < 10
        finally:
            stop.set()
            if trickler.is_alive():
                trickler.join(5)
            for sock in slow:
                sock.close()


def test_a_burst_of_connections_is_queued_not_reset(intake):
    """200 connections opened at once (the listen backlog was 5) are all answered."""
    results: list[int | str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            status = raw_status(intake, b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError as exc:
            status = repr(exc)  # type: ignore[assignment]
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one) for _ in range(200)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * 200
    # No connection waited for a SYN retransmission (1 s, then 3 s, ...).
    assert time.monotonic() - started < 3


# -- hostile bodies and headers -----------------------------------------------


@pytest.mark.parametrize("path", ["/events", "/_bulk"])
def test_json_nested_100000_deep_is_answered_400_and_the_receiver_goes_on(intake, path):
    deep = b"[" * 100_000 + b"]" * 100_000
    assert HTTP.request("POST", intake.base_url + path, body=deep).status == 400
    assert HTTP.request("POST", intake.url, body=EVENT).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        "Content-Length: 1_0\r\n",
        "Content-Length: +10\r\n",
        "Content-Length: \u0661\u0660\r\n",  # Arabic-Indic digits: int() takes them
        "Content-Length: 10\r\nContent-Length: 10\r\n",
        "Content-Length: 10\r\nContent-Length: 12\r\n",
    ],
)
def test_content_length_must_be_plain_digits_given_once(intake, headers):
    body = b'{"a": 1}xx'
    request = f"POST /events HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body
    assert raw_status(intake, request) == 400
    assert intake.events == []


def test_a_plain_content_length_is_still_taken(intake):
    assert raw_status(intake, post("/events", EVENT)) == 200


def test_control_characters_in_events_are_escaped_on_the_console():
    out = io.StringIO()
    document = {
        "summary": "pwned\x1b]0;owned\x07\x1b[2J\r\u202eevil",
        "category": "auth\x1b[31m",
        "severity": "INFO\n",
    }
    ConsolePrinter(out)([check_document("/events", document, time.time())])
    printed = out.getvalue()
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in printed)
    assert "\u202e" not in printed
    assert "pwned\\x1b]0;owned\\x07\\x1b[2J" in printed
    assert "auth\\x1b[31m" in printed and "INFO\\x0a" in printed
    assert len(printed.splitlines()) == 2  # the event, and its warnings


# -- the stores ----------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_files_are_readable_by_their_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        jsonl = JSONLStore(tmp_path / "events.jsonl")
        db = SQLiteStore(tmp_path / "events.db")
        db([check_document("/events", json.loads(EVENT), time.time())])
    finally:
        os.umask(old)
    jsonl.close()
    assert mode_of(tmp_path / "events.jsonl") == 0o600
    assert mode_of(tmp_path / "events.db") == 0o600
    assert mode_of(tmp_path / "events.db-wal") == 0o600
    db.close()


def test_a_locked_sqlite_store_stores_nothing_and_a_retry_stores_once(tmp_path):
    jsonl_path, db_path = tmp_path / "events.jsonl", tmp_path / "events.db"
    stores = Stores(JSONLStore(jsonl_path), SQLiteStore(db_path, busy_timeout=0.2))
    with Receiver(on_events=stores) as receiver:
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        assert HTTP.request("POST", receiver.url, body=EVENT).status == 500
        assert jsonl_path.read_text() == ""  # nothing half-stored
        other.execute("ROLLBACK")
        other.close()
        assert HTTP.request("POST", receiver.url, body=EVENT).status == 200  # the retry
    stores.close()
    assert len(jsonl_path.read_text().splitlines()) == 1
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_a_failed_jsonl_write_rolls_the_sqlite_rows_back(tmp_path):
    jsonl = JSONLStore(tmp_path / "events.jsonl")
    jsonl.close()  # writing now fails
    stores = Stores(jsonl, SQLiteStore(tmp_path / "events.db"))
    with pytest.raises(ValueError):
        stores([check_document("/events", json.loads(EVENT), time.time())])
    assert stores.sqlite is not None
    stores.sqlite.close()
    with sqlite3.connect(tmp_path / "events.db") as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
