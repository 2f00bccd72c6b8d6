"""The local syslog transport against a real unix datagram socket."""

from __future__ import annotations

import json
import os
import re
import socket
import syslog
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest

from mozdef_client import (
    Client,
    EncodedEvent,
    Event,
    EventTooLargeError,
    Facility,
    RetryableError,
    Severity,
    SyslogOptions,
    SyslogTransport,
    prepare,
)
from servers import SyslogSink

LINE = re.compile(
    rb"<(?P<pri>\d{1,3})>"
    rb"(?P<stamp>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d) "
    rb"(?P<ident>[^\s\[\]]+)\[(?P<pid>\d+)\]: (?P<json>.*)",
    re.DOTALL,
)


def encoded(summary: str = "test event", **fields: object) -> EncodedEvent:
    return prepare(Event(summary=summary, **fields))  # type: ignore[arg-type]


MakeTransport = Callable[..., SyslogTransport]


@pytest.fixture
def make_transport() -> Iterator[MakeTransport]:
    """Builds transports on a socket path, closed after the test (they keep a socket open)."""
    made: list[SyslogTransport] = []

    def make(path: str, **options: object) -> SyslogTransport:
        transport = SyslogTransport(SyslogOptions(socket_path=path, **options))  # type: ignore[arg-type]
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


def stamps_between(start: float, end: float) -> set[bytes]:
    """Every BSD-syslog timestamp a clock could show between ``start`` and ``end``."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    result = set()
    for second in range(int(start), int(end) + 2):
        t = time.localtime(second)
        stamp = f"{months[t.tm_mon - 1]} {t.tm_mday:2d} {time.strftime('%H:%M:%S', t)}"
        result.add(stamp.encode())
    return result


def test_a_line_is_pri_timestamp_ident_pid_and_compact_json(
    syslog_sink: SyslogSink, make_transport: MakeTransport
) -> None:
    event = encoded("disk full", severity=Severity.CRITICAL, details={"mount": "/var"})
    transport = make_transport(syslog_sink.path, ident="backup-job", facility="local0")
    started = time.time()
    transport.send([event])
    finished = time.time()

    [line] = syslog_sink.wait_for_lines(1)
    match = LINE.fullmatch(line)
    assert match, line
    assert int(match["pri"]) == 16 * 8 + 2 == 130
    assert match["stamp"] in stamps_between(started, finished)
    assert match["ident"] == b"backup-job"
    assert int(match["pid"]) == os.getpid()
    assert match["json"] == event.payload
    assert b"\n" not in line
    document = json.loads(match["json"])
    assert (document["summary"], document["severity"]) == ("disk full", "CRITICAL")
    assert document["details"] == {"mount": "/var"}
    assert match["json"] == json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


@pytest.mark.parametrize(
    ("severity", "facility", "priority"),
    [
        (Severity.CRITICAL, "local0", 130),
        (Severity.INFO, Facility.USER, 14),
        (Severity.EMERGENCY, "kern", 0),
        (Severity.DEBUG, "LOCAL7", 191),
        (Severity.WARNING, "auth", 36),
        (Severity.ERROR, Facility.DAEMON, 27),
        (Severity.NOTICE, "local3", 157),
        (Severity.ALERT, syslog.LOG_AUTHPRIV, 81),  # the stdlib's shifted value
    ],
)
def test_priority_is_facility_times_eight_plus_severity(
    syslog_sink: SyslogSink,
    severity: Severity,
    facility: object,
    priority: int,
    make_transport: MakeTransport,
) -> None:
    make_transport(syslog_sink.path, facility=facility).send([encoded(severity=severity)])
    [line] = syslog_sink.wait_for_lines(1)
    match = LINE.fullmatch(line)
    assert match, line
    assert int(match["pri"]) == priority


def test_each_event_of_a_batch_is_its_own_datagram(
    syslog_sink: SyslogSink, make_transport: MakeTransport
) -> None:
    batch = [encoded(f"event {i}", severity=Severity.WARNING) for i in range(3)]
    make_transport(syslog_sink.path).send(batch)
    lines = syslog_sink.wait_for_lines(3)
    summaries = [json.loads(LINE.fullmatch(line)["json"])["summary"] for line in lines]  # type: ignore[index]
    assert summaries == ["event 0", "event 1", "event 2"]


def test_a_syslog_url_sets_facility_and_ident(syslog_sink: SyslogSink) -> None:
    with Client(f"syslog://{syslog_sink.path}?facility=local4&ident=vpn-pull") as client:
        client.send(Event(summary="via URL", severity=Severity.ERROR))
    [line] = syslog_sink.wait_for_lines(1)
    match = LINE.fullmatch(line)
    assert match, line
    assert (int(match["pri"]), match["ident"]) == (20 * 8 + 3, b"vpn-pull")
    assert json.loads(match["json"])["summary"] == "via URL"


def test_the_default_ident_is_the_program_name(
    syslog_sink: SyslogSink, monkeypatch: pytest.MonkeyPatch, make_transport: MakeTransport
) -> None:
    monkeypatch.setattr("sys.argv", ["/usr/local/bin/log-puller", "--once"])
    make_transport(syslog_sink.path).send([encoded()])
    [line] = syslog_sink.wait_for_lines(1)
    match = LINE.fullmatch(line)
    assert match, line
    assert match["ident"] == b"log-puller"


# --- size limits ---------------------------------------------------------------


def test_a_message_over_the_limit_is_refused_and_not_sent(
    syslog_sink: SyslogSink, make_transport: MakeTransport
) -> None:
    transport = make_transport(syslog_sink.path, max_message_bytes=600)
    with pytest.raises(EventTooLargeError) as caught:
        transport.send([encoded("x" * 1000)])
    assert "600" in str(caught.value)
    assert caught.value.destination == transport.name
    transport.send([encoded("small enough")])
    [line] = syslog_sink.wait_for_lines(1)
    assert b"small enough" in line


def test_a_batch_with_one_oversized_event_sends_nothing(
    syslog_sink: SyslogSink, make_transport: MakeTransport
) -> None:
    """The size of every line is checked before the first is written."""
    transport = make_transport(syslog_sink.path, max_message_bytes=600)
    batch = [encoded("fine"), encoded("also fine"), encoded("x" * 1000)]
    with pytest.raises(EventTooLargeError) as caught:
        transport.send(batch)
    assert "event 2" in str(caught.value)
    transport.send([encoded("marker")])
    [line] = syslog_sink.wait_for_lines(1)
    assert b"marker" in line


def test_a_message_the_socket_refuses_as_too_long_is_too_large(
    syslog_sink: SyslogSink, make_transport: MakeTransport
) -> None:
    """Over the kernel's datagram limit (EMSGSIZE) is a size error, not a retryable one."""
    transport = make_transport(syslog_sink.path, max_message_bytes=10_000_000)
    with pytest.raises(EventTooLargeError):
        transport.send([encoded("x" * 2_000_000)])
    transport.send([encoded("after")])
    [line] = syslog_sink.wait_for_lines(1)
    assert b"after" in line


# --- the socket going away ---------------------------------------------------------


@pytest.fixture
def socket_dir() -> Iterator[str]:
    # Short: unix socket paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="sl") as directory:
        yield directory


def bind(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    return sock


def test_a_missing_socket_is_retryable_and_names_the_path(
    socket_dir: str, make_transport: MakeTransport
) -> None:
    path = os.path.join(socket_dir, "nobody.sock")
    transport = make_transport(path)
    with pytest.raises(RetryableError) as caught:
        transport.send([encoded()])
    assert path in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)


def test_a_restarted_daemon_is_reached_by_reconnecting(
    socket_dir: str, make_transport: MakeTransport
) -> None:
    """When the daemon closes its socket and binds a new one, sending carries on."""
    path = os.path.join(socket_dir, "log.sock")
    transport = make_transport(path)
    first = bind(path)
    try:
        transport.send([encoded("before restart")])
        assert b"before restart" in first.recv(65536)
    finally:
        first.close()
        os.unlink(path)
    second = bind(path)
    try:
        transport.send([encoded("after restart")])
        assert b"after restart" in second.recv(65536)
    finally:
        second.close()


def test_sending_resumes_once_a_vanished_daemon_is_back(
    socket_dir: str, make_transport: MakeTransport
) -> None:
    path = os.path.join(socket_dir, "log.sock")
    transport = make_transport(path)
    first = bind(path)
    transport.send([encoded("one")])
    first.close()
    os.unlink(path)
    with pytest.raises(RetryableError):
        transport.send([encoded("while down")])
    second = bind(path)
    try:
        transport.send([encoded("back")])
        assert b"back" in second.recv(65536)
    finally:
        second.close()


def test_a_program_name_with_spaces_makes_a_single_word_ident(
    syslog_sink: SyslogSink, monkeypatch: pytest.MonkeyPatch, make_transport: MakeTransport
) -> None:
    """A space would end the syslog tag early and break the JSON that follows it."""
    monkeypatch.setattr("sys.argv", ["/opt/my tools/run job.py"])
    make_transport(syslog_sink.path).send([encoded("spaced")])
    [line] = syslog_sink.wait_for_lines(1)
    match = LINE.fullmatch(line)
    assert match, line
    assert match["ident"] == b"run_job.py"
    assert json.loads(match["json"])["summary"] == "spaced"
