"""Remote syslog: the exact wire format, framing and limits, then real rsyslog.

The first half runs against sockets of the test's own (UDP, TCP, TLS) and
checks bytes; the second starts Debian's rsyslogd on free loopback ports
with its own configuration (imudp, imtcp, imtcp over the gtls driver),
writing what it parsed to a JSON-lines file that the tests read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mozdef_client import (
    Client,
    ConfigurationError,
    EncodedEvent,
    Event,
    EventTooLargeError,
    Facility,
    PartialDeliveryError,
    RemoteSyslogOptions,
    RemoteSyslogTransport,
    RetryableError,
    Severity,
    prepare,
)
from mozdef_client.ndjson import read_documents
from mozdef_client.transports._syslog_format import rfc3164_header, rfc5424_header
from tls import TLSFiles, make_tls_files, server_context

RFC5424 = re.compile(
    rb"<(?P<pri>\d{1,3})>1 (?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) "
    rb"(?P<host>\S+) (?P<app>\S+) (?P<procid>\d+) - - (?P<msg>.*)",
    re.DOTALL,
)
RFC3164 = re.compile(
    rb"<(?P<pri>\d{1,3})>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d "
    rb"\d\d:\d\d:\d\d (?P<host>\S+) (?P<tag>[^\s\[]+)\[(?P<pid>\d+)\]: (?P<msg>.*)",
    re.DOTALL,
)


def encoded(summary: str = "remote syslog test", **fields: Any) -> EncodedEvent:
    return prepare(Event(summary=summary, **fields))


def transport(**options: Any) -> RemoteSyslogTransport:
    options.setdefault("host", "127.0.0.1")
    return RemoteSyslogTransport(RemoteSyslogOptions(**options))


def require(condition: bool, reason: str) -> None:
    """Skip when a service is missing, or fail when CI promised it."""
    if condition:
        return
    if os.environ.get("MOZDEF_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (and MOZDEF_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


# ---------------------------------------------------------------- sockets of our own


class UDPSink:
    """A UDP socket on a free loopback port that keeps every datagram."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(5)
        self.port = self.socket.getsockname()[1]

    def receive(self, count: int) -> list[bytes]:
        return [self.socket.recv(70000) for _ in range(count)]

    def nothing_arrives(self) -> bool:
        self.socket.settimeout(0.3)
        try:
            self.socket.recv(70000)
        except TimeoutError:
            return True
        return False


class StreamSink:
    """A TCP (optionally TLS) listener that reads octet-counted frames.

    ``close_after`` closes each connection after that many frames, as a
    restarting server would; ``reset_after`` resets it instead (RST).
    """

    def __init__(
        self,
        context: ssl.SSLContext | None = None,
        close_after: int | None = None,
        reset_after: int | None = None,
        port: int = 0,
    ) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.context = context
        self.close_after = close_after
        self.reset_after = reset_after
        self.frames: list[bytes] = []
        self.raw = bytearray()
        self.connections = 0
        self.peer_certs: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.changed:
                self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
                cert = conn.getpeercert()
                if cert:
                    self.peer_certs.append(cert)
            conn.settimeout(10)
            buffer, count = b"", 0
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                with self.changed:
                    self.raw += data
                buffer += data
                while b" " in buffer:
                    length, _, rest = buffer.partition(b" ")
                    if len(rest) < int(length):
                        break
                    frame, buffer = rest[: int(length)], rest[int(length) :]
                    count += 1
                    with self.changed:
                        self.frames.append(frame)
                        self.changed.notify_all()
                    if self.reset_after is not None and count >= self.reset_after:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                        return
                    if self.close_after is not None and count >= self.close_after:
                        return
        except (OSError, ValueError) as exc:
            with self.changed:
                self.errors.append(exc)
                self.changed.notify_all()
        finally:
            conn.close()

    def wait_for_frames(self, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.frames) < count and time.monotonic() < deadline:
                self.changed.wait(deadline - time.monotonic())
            return list(self.frames)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def udp_sink() -> Iterator[UDPSink]:
    sink = UDPSink()
    yield sink
    sink.socket.close()


@pytest.fixture
def make_sink() -> Iterator[Callable[..., StreamSink]]:
    sinks: list[StreamSink] = []

    def make(**kwargs: Any) -> StreamSink:
        sinks.append(StreamSink(**kwargs))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


# ---------------------------------------------------------------- format, unit level


def test_rfc5424_header_is_exact() -> None:
    """PRI, version 1, UTC timestamp with microseconds, fields, no structured data, no BOM."""
    now = datetime(2026, 11, 26, 14, 5, 48, 226939, tzinfo=timezone.utc)
    assert rfc5424_header(163, "web1.example.com", "vpn-pull", "4242", now=now) == (
        b"<163>1 2026-11-26T14:05:48.226939+00:00 web1.example.com vpn-pull 4242 - - "
    )


def test_rfc3164_header_is_exact() -> None:
    """``<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: `` with the day padded by a space."""
    when = time.mktime((2026, 3, 5, 9, 7, 1, 0, 0, -1))
    assert rfc3164_header(14, "app", 7, "web1", now=when) == b"<14>Mar  5 09:07:01 web1 app[7]: "


def test_an_rfc5424_message_is_the_header_then_the_events_json() -> None:
    event = encoded(severity=Severity.ERROR)
    message = transport(app_name="vpn-pull", hostname="web1.example.com",
                        facility="local4").format(event)  # fmt: skip
    match = RFC5424.fullmatch(message)
    assert match, message
    assert int(match["pri"]) == 20 * 8 + 3
    assert (match["host"], match["app"], int(match["procid"])) == (
        b"web1.example.com", b"vpn-pull", os.getpid(),
    )  # fmt: skip
    assert match["msg"] == event.payload


def test_an_rfc3164_message_uses_the_short_hostname_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 3164 allows no domain in HOSTNAME, so the FQDN's first label goes there."""
    monkeypatch.setattr(
        "mozdef_client.transports.remote_syslog.default_hostname", lambda: "web1.example.com"
    )
    event = encoded(severity=Severity.WARNING)
    message = transport(format="rfc3164", app_name="cron").format(event)
    match = RFC3164.fullmatch(message)
    assert match, message
    assert (int(match["pri"]), match["host"], match["tag"]) == (1 * 8 + 4, b"web1", b"cron")
    assert match["msg"] == event.payload


@pytest.mark.parametrize("severity", list(Severity))
def test_the_pri_combines_facility_and_each_severity(severity: Severity) -> None:
    message = transport(facility=Facility.AUTHPRIV).format(encoded(severity=severity))
    match = RFC5424.match(message)
    assert match
    assert int(match["pri"]) == 10 * 8 + severity.syslog_priority


def test_a_program_name_with_spaces_becomes_a_valid_app_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A space in APP-NAME would shift every later header field for the receiver."""
    monkeypatch.setattr("sys.argv", ["/opt/my tool/log puller é"])
    match = RFC5424.fullmatch(transport().format(encoded()))
    assert match
    assert match["app"] == b"log_puller__"


def test_tcp_and_tls_frames_are_octet_counted_in_bytes() -> None:
    """RFC 6587 octet counting: the length counts UTF-8 bytes, not characters."""
    message = '<14>1 - - - - - - {"summary":"é"}'.encode()
    assert transport(protocol="tcp").frame(message) == b"%d %s" % (len(message), message)
    assert transport(protocol="tls", verify=False).frame(b"x" * 10) == b"10 xxxxxxxxxx"
    assert transport(protocol="udp").frame(message) == message


@pytest.mark.parametrize(
    ("options", "part"),
    [
        ({"protocol": "sctp"}, "protocol"),
        ({"format": "json"}, "format"),
        ({"port": 0}, "port"),
        ({"port": "514"}, "port"),
        ({"facility": "local9"}, "facility"),
        ({"app_name": "my app"}, "app_name"),
        ({"app_name": "a" * 49}, "app_name"),
        ({"hostname": "héllo"}, "hostname"),
        ({"max_message_bytes": 479}, "max_message_bytes"),
        ({"max_message_bytes": 65508}, "max_message_bytes"),
        ({"timeout": 0}, "timeout"),
        ({"total_timeout": -1}, "total_timeout"),
        ({"ca_bundle": "/etc/hostname"}, "ca_bundle"),
        ({"protocol": "tls", "ca_bundle": "/nonexistent.pem"}, "ca_bundle"),
        ({"protocol": "tls", "client_key": "/etc/hostname"}, "client_key"),
    ],
)
def test_bad_options_are_rejected_naming_the_option(options: dict[str, Any], part: str) -> None:
    with pytest.raises(ConfigurationError, match=part):
        transport(**options)


def test_defaults_follow_the_rfcs() -> None:
    """Ports 514 and 6514; 2048 bytes over UDP (RFC 5426), 8192 over TCP and TLS."""
    udp = RemoteSyslogOptions(host="h")
    tcp = RemoteSyslogOptions(host="h", protocol="tcp")
    tls = RemoteSyslogOptions(host="h", protocol="tls")
    assert [o.effective_port for o in (udp, tcp, tls)] == [514, 514, 6514]
    assert [o.effective_max_message_bytes for o in (udp, tcp, tls)] == [2048, 8192, 8192]
    assert RemoteSyslogOptions(host="h", max_message_bytes=65507).effective_max_message_bytes
    assert RemoteSyslogOptions(host="h", protocol="tcp", max_message_bytes=1 << 20)
    assert udp.effective_total_timeout == 20.0  # twice timeout


# ---------------------------------------------------------------- wire, own sockets


def test_udp_sends_one_datagram_per_event_without_framing(udp_sink: UDPSink) -> None:
    events = [encoded("one"), encoded("two", severity=Severity.CRITICAL)]
    sender = transport(port=udp_sink.port, app_name="udp-test")
    sender.send(events)
    sender.close()
    datagrams = udp_sink.receive(2)
    for datagram, event in zip(datagrams, events, strict=True):
        match = RFC5424.fullmatch(datagram)
        assert match, datagram
        assert match["msg"] == event.payload  # no newline or length prefix
    assert int(RFC5424.match(datagrams[1])["pri"]) == 8 + 2  # type: ignore[index]


def test_an_oversized_event_fails_the_whole_batch_before_anything_is_sent(
    udp_sink: UDPSink,
) -> None:
    sender = transport(port=udp_sink.port)
    small = encoded("small")
    overhead = len(sender.format(encoded("x"))) - 1
    fits = encoded("x" * (2048 - overhead))
    too_big = encoded("x" * (2049 - overhead))
    assert len(sender.format(fits)) == 2048
    with pytest.raises(EventTooLargeError, match=r"event 1 is 2049 bytes.*at most 2048"):
        sender.send([small, too_big])
    assert udp_sink.nothing_arrives()
    sender.send([fits])
    [datagram] = udp_sink.receive(1)
    assert len(datagram) == 2048
    sender.close()


def test_a_larger_udp_limit_can_be_configured(udp_sink: UDPSink) -> None:
    event = encoded("y" * 60000)
    with pytest.raises(EventTooLargeError):
        transport(port=udp_sink.port).send([event])
    sender = transport(port=udp_sink.port, max_message_bytes=65507)
    sender.send([event])
    [datagram] = udp_sink.receive(1)
    assert datagram.endswith(event.payload)
    sender.close()


def test_tcp_frames_each_event_and_reuses_one_connection(
    make_sink: Callable[..., StreamSink],
) -> None:
    sink = make_sink()
    sender = transport(protocol="tcp", port=sink.port)
    events = [encoded("é one"), encoded("two"), encoded("three")]
    sender.send(events[:2])
    sender.send(events[2:])
    frames = sink.wait_for_frames(3)
    assert [RFC5424.fullmatch(f)["msg"] for f in frames] == [e.payload for e in events]  # type: ignore[index]
    assert bytes(sink.raw) == b"".join(b"%d %s" % (len(f), f) for f in frames)
    assert sink.connections == 1
    sender.close()


def test_the_tcp_size_limit_is_separate_and_configurable(
    make_sink: Callable[..., StreamSink],
) -> None:
    sink = make_sink()
    event = encoded("z" * 9000)
    with pytest.raises(EventTooLargeError, match="at most 8192"):
        transport(protocol="tcp", port=sink.port).send([event])
    sender = transport(protocol="tcp", port=sink.port, max_message_bytes=16384)
    sender.send([event])
    [frame] = sink.wait_for_frames(1)
    assert frame.endswith(event.payload)
    sender.close()


def test_after_the_server_closed_the_connection_the_next_send_reconnects(
    make_sink: Callable[..., StreamSink],
) -> None:
    """A server restart between batches loses nothing: the close is noticed first."""
    sink = make_sink(close_after=1)
    sender = transport(protocol="tcp", port=sink.port)
    sender.send([encoded("before")])
    sink.wait_for_frames(1)
    time.sleep(0.2)  # let the server's close reach us
    sender.send([encoded("after")])
    frames = sink.wait_for_frames(2)
    assert [json.loads(RFC5424.fullmatch(f)["msg"])["summary"] for f in frames] == [  # type: ignore[index]
        "before", "after",
    ]  # fmt: skip
    assert sink.connections == 2
    sender.close()


def test_no_server_is_a_retryable_error_and_a_later_send_connects(
    make_sink: Callable[..., StreamSink],
) -> None:
    port = _free_port(socket.SOCK_STREAM)
    sender = transport(protocol="tcp", port=port, timeout=2)
    with pytest.raises(
        RetryableError, match=rf"could not connect to syslog\+tcp://127.0.0.1:{port}"
    ):
        sender.send([encoded("lost")])
    sink = make_sink(port=port)
    sender.send([encoded("delivered")])
    [frame] = sink.wait_for_frames(1)
    assert b'"summary":"delivered"' in frame
    sender.close()


def test_a_connection_reset_mid_batch_reports_which_events_were_not_sent(
    make_sink: Callable[..., StreamSink],
) -> None:
    """Events before the failure were handed over; the rest are named, retryable."""
    sink = make_sink(reset_after=1)
    sender = transport(protocol="tcp", port=sink.port, max_message_bytes=70000)
    batch = [encoded("w" * 60000) for _ in range(400)]  # far more than socket buffers hold
    with pytest.raises(PartialDeliveryError) as caught:
        sender.send(batch)
    failed = sorted(caught.value.failures)
    assert failed[0] >= 1
    assert failed == list(range(failed[0], len(batch)))
    assert all(isinstance(e, RetryableError) for e in caught.value.failures.values())
    assert isinstance(caught.value.__cause__, OSError)
    sender.close()


def test_tls_verifies_the_server_against_the_ca_bundle(
    make_sink: Callable[..., StreamSink], tls_files: TLSFiles
) -> None:
    sink = make_sink(context=server_context(tls_files))
    sender = transport(protocol="tls", port=sink.port, ca_bundle=tls_files.ca_file)
    event = encoded("over tls")
    sender.send([event])
    [frame] = sink.wait_for_frames(1)
    assert frame.endswith(event.payload)
    sender.close()


def test_tls_refuses_a_server_it_cannot_verify(
    make_sink: Callable[..., StreamSink], tls_files: TLSFiles
) -> None:
    sink = make_sink(context=server_context(tls_files))
    with pytest.raises(RetryableError, match="certificate verify failed") as caught:
        transport(protocol="tls", port=sink.port).send([encoded()])  # system CAs only
    assert isinstance(caught.value.__cause__, ssl.SSLError)
    wrong_name = transport(protocol="tls", port=sink.port, ca_bundle=tls_files.ca_file,
                           server_name="mozdef.example.com")  # fmt: skip
    with pytest.raises(RetryableError, match="certificate verify failed"):
        wrong_name.send([encoded()])
    assert sink.frames == []


def test_tls_verification_can_be_turned_off(
    make_sink: Callable[..., StreamSink], tls_files: TLSFiles
) -> None:
    sink = make_sink(context=server_context(tls_files))
    sender = transport(protocol="tls", port=sink.port, verify=False)
    sender.send([encoded()])
    assert len(sink.wait_for_frames(1)) == 1
    sender.close()


def test_tls_presents_the_client_certificate(
    make_sink: Callable[..., StreamSink], tls_files: TLSFiles
) -> None:
    sink = make_sink(context=server_context(tls_files, require_client_cert=True))
    sender = transport(protocol="tls", port=sink.port, ca_bundle=tls_files.ca_file,
                       client_cert=tls_files.client_cert_file,
                       client_key=tls_files.client_key_file)  # fmt: skip
    sender.send([encoded()])
    assert len(sink.wait_for_frames(1)) == 1
    [cert] = sink.peer_certs
    assert ((("commonName", "mozdef-test-client"),)) in cert["subject"]
    sender.close()


def test_a_syslog_tcp_url_reaches_the_server(make_sink: Callable[..., StreamSink]) -> None:
    sink = make_sink()
    with Client(f"syslog+tcp://127.0.0.1:{sink.port}?facility=local3&app_name=via-url") as client:
        client.send(Event(summary="from a URL", severity=Severity.NOTICE))
    [frame] = sink.wait_for_frames(1)
    match = RFC5424.fullmatch(frame)
    assert match
    assert (int(match["pri"]), match["app"]) == (19 * 8 + 5, b"via-url")
    assert json.loads(match["msg"])["summary"] == "from a URL"


# ---------------------------------------------------------------- real rsyslog


def _rsyslogd() -> str | None:
    return shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/sbin")


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


RSYSLOG_CONF = """
global(workDirectory="{dir}" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{ca}"
       defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imtcp" address="127.0.0.1" port="{tls}" streamDriver.name="gtls"
      streamDriver.mode="1" streamDriver.authMode="anon")
template(name="record" type="list" option.jsonf="on") {{
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="input" name="inputname" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
*.* action(type="omfile" file="{out}" template="record")
"""


class Rsyslog:
    """rsyslogd in the foreground with UDP, TCP and TLS inputs on free loopback ports."""

    def __init__(self, directory: Path, tls: TLSFiles) -> None:
        self.dir = directory
        self.out = directory / "received.jsonl"
        self.udp, self.tcp, self.tls = (
            _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM),
            _free_port(socket.SOCK_STREAM),
        )  # fmt: skip
        cert, key = directory / "server-cert.pem", directory / "server-key.pem"
        for blob in tls.server.cert_chain_pems:
            blob.write_to_path(str(cert), append=True)
        tls.server.private_key_pem.write_to_path(str(key))
        conf = directory / "rsyslog.conf"
        conf.write_text(RSYSLOG_CONF.format(
            dir=directory, ca=tls.ca_file, cert=cert, key=key, out=self.out,
            udp=self.udp, tcp=self.tcp, tls=self.tls,
        ))  # fmt: skip
        self.stderr = (directory / "stderr").open("wb")
        rsyslogd = _rsyslogd()
        assert rsyslogd
        self.process = subprocess.Popen(
            [rsyslogd, "-n", "-f", str(conf), "-i", str(directory / "rsyslogd.pid")],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr,
        )  # fmt: skip
        self.tls_ready = False
        self._wait_until_ready()

    def _wait_until_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"rsyslogd exited: {self.log()}")
                probe.sendto(b"<14>1 - - probe - - - ready", ("127.0.0.1", self.udp))
                if self.records("probe") and self._listening(self.tcp):
                    self.tls_ready = self._listening(self.tls)
                    return
                time.sleep(0.1)
        finally:
            probe.close()
        raise RuntimeError(f"rsyslogd did not get ready in {timeout} s: {self.log()}")

    @staticmethod
    def _listening(port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    def log(self) -> str:
        self.stderr.flush()
        return (self.dir / "stderr").read_text(errors="replace")

    def records(self, app_name: str) -> list[dict[str, str]]:
        if not self.out.exists():
            return []
        text = self.out.read_text(encoding="utf-8")
        # rsyslog may be halfway through writing the last line: read whole lines.
        records = read_documents(text[: text.rfind("\n") + 1])
        return [r for r in records if r["app_name"] == app_name]

    def wait_for(self, app_name: str, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.records(app_name)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.stderr.close()


@pytest.fixture(scope="module")
def rsyslog(tmp_path_factory: pytest.TempPathFactory, tls_files: TLSFiles) -> Iterator[Rsyslog]:
    require(_rsyslogd() is not None, "rsyslogd is not installed (apt-get install rsyslog)")
    server = Rsyslog(tmp_path_factory.mktemp("rsyslog"), tls_files)
    yield server
    server.close()


def unique_app() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def sent_documents(records: list[dict[str, str]]) -> list[Any]:
    # rsyslog keeps the space after an RFC 3164 TAG's colon as part of the message.
    return [json.loads(r["msg"].lstrip(" ")) for r in records]


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
@pytest.mark.parametrize("syslog_format", ["rfc5424", "rfc3164"])
def test_rsyslog_parses_each_event_with_its_priority(
    rsyslog: Rsyslog, protocol: str, syslog_format: str
) -> None:
    app = unique_app()
    events = [
        encoded("first é", severity=Severity.ERROR, details={"username": "joe"}),
        encoded("second", severity=Severity.DEBUG, tags=["a", "b"]),
    ]
    sender = transport(
        port=rsyslog.udp if protocol == "udp" else rsyslog.tcp,
        protocol=protocol, format=syslog_format, app_name=app, facility="local4",
        hostname="web1",
    )  # fmt: skip
    sender.send(events)
    sender.close()
    records = rsyslog.wait_for(app, 2)
    assert [int(r["pri"]) for r in records] == [20 * 8 + 3, 20 * 8 + 7]
    assert {r["hostname"] for r in records} == {"web1"}
    assert {r["version"] for r in records} == {"1" if syslog_format == "rfc5424" else "0"}
    assert sent_documents(records) == [json.loads(e.payload) for e in events]


def test_rsyslog_receives_octet_counted_messages_up_to_the_limit(rsyslog: Rsyslog) -> None:
    """Octet counting lets big messages through whole; many arrive as many records."""
    app = unique_app()
    sender = transport(port=rsyslog.tcp, protocol="tcp", app_name=app, max_message_bytes=60000)
    events = [encoded("big " + "q" * 50000)] + [encoded(f"small {i}") for i in range(50)]
    sender.send(events)
    sender.close()
    records = rsyslog.wait_for(app, len(events))
    assert sent_documents(records) == [json.loads(e.payload) for e in events]


def test_rsyslog_receives_events_over_tls(rsyslog: Rsyslog, tls_files: TLSFiles) -> None:
    require(rsyslog.tls_ready, "rsyslog's TLS driver is missing (apt-get install rsyslog-gnutls)")
    app = unique_app()
    sender = transport(port=rsyslog.tls, protocol="tls", ca_bundle=tls_files.ca_file,
                       app_name=app)  # fmt: skip
    events = [encoded("over tls", severity=Severity.ALERT), encoded("again")]
    sender.send(events)
    sender.close()
    records = rsyslog.wait_for(app, 2)
    assert records[0]["input"] == "imtcp"
    assert int(records[0]["pri"]) == 8 + 1
    assert sent_documents(records) == [json.loads(e.payload) for e in events]


def test_rsyslog_over_tls_is_refused_without_the_ca(rsyslog: Rsyslog) -> None:
    require(rsyslog.tls_ready, "rsyslog's TLS driver is missing (apt-get install rsyslog-gnutls)")
    app = unique_app()
    sender = transport(port=rsyslog.tls, protocol="tls", app_name=app)
    with pytest.raises(RetryableError, match="certificate verify failed"):
        sender.send([encoded()])
    assert rsyslog.wait_for(app, 1, timeout=0.5) == []


def test_a_client_with_a_syslog_tls_url_delivers_to_rsyslog(
    rsyslog: Rsyslog, tls_files: TLSFiles
) -> None:
    """The Client's ca_bundle is the default for syslog over TLS too."""
    require(rsyslog.tls_ready, "rsyslog's TLS driver is missing (apt-get install rsyslog-gnutls)")
    app = unique_app()
    url = f"syslog+tls://127.0.0.1:{rsyslog.tls}?app_name={app}&format=rfc3164&facility=auth"
    with Client(url, ca_bundle=tls_files.ca_file) as client:
        client.send(Event(summary="via Client", severity=Severity.WARNING))
    [record] = rsyslog.wait_for(app, 1)
    assert int(record["pri"]) == 4 * 8 + 4
    assert sent_documents([record])[0]["summary"] == "via Client"
