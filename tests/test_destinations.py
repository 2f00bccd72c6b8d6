"""Destination URLs: each form builds its transport, bad URLs name the bad part, no secrets show."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from mozdef_client import (
    AMQPTransport,
    Client,
    ConfigurationError,
    Event,
    FileTransport,
    HTTPOptions,
    HTTPTransport,
    PermanentError,
    RemoteSyslogTransport,
    SQSTransport,
    SyslogTransport,
    prepare,
)
from mozdef_client.destinations import transport_from_url, url_from_environment
from tls import TLSFiles, make_tls_files

SECRET = "Pw-7f3a9c"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def udp_sink() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    yield sock
    sock.close()


def built(url: str, http: HTTPOptions | None = None) -> Any:
    transport = transport_from_url(url, http)
    transport.close()
    return transport


# ---------------------------------------------------------------- every form


@pytest.mark.parametrize(
    ("url", "kind", "name"),
    [
        ("https://mozdef.example.com/events", HTTPTransport, "https://mozdef.example.com/events"),
        ("https://mozdef.example.com/_bulk", HTTPTransport, "https://mozdef.example.com/_bulk"),
        ("sqs://mozdef-events?region=us-west-2", SQSTransport, "sqs://mozdef-events"),
        (
            "amqp://bob:pw@rabbit.example.com:5672/mozdef?exchange=eventtask",
            AMQPTransport,
            "amqp://rabbit.example.com:5672/mozdef?exchange=eventtask&routing_key=eventtask",
        ),
        (
            "amqps://rabbit.example.com",
            AMQPTransport,
            "amqps://rabbit.example.com:5671/%2F?exchange=eventtask&routing_key=eventtask",
        ),
        ("syslog:", SyslogTransport, "syslog:/dev/log"),
        ("syslog:///run/custom.sock", SyslogTransport, "syslog:/run/custom.sock"),
        (
            "syslog+udp://logs.example.com",
            RemoteSyslogTransport,
            "syslog+udp://logs.example.com:514",
        ),
        ("syslog+tcp://10.0.0.5:1514", RemoteSyslogTransport, "syslog+tcp://10.0.0.5:1514"),
        (
            "syslog+tls://logs.example.com",
            RemoteSyslogTransport,
            "syslog+tls://logs.example.com:6514",
        ),
        ("syslog+udp://[::1]:5514", RemoteSyslogTransport, "syslog+udp://[::1]:5514"),
        (
            "SYSLOG+UDP://logs.example.com",
            RemoteSyslogTransport,
            "syslog+udp://logs.example.com:514",
        ),
    ],
)
def test_each_url_form_builds_its_transport(url: str, kind: type, name: str) -> None:
    transport = built(url)
    assert isinstance(transport, kind)
    assert transport.name == name


def test_file_urls_and_dash_build_file_transports(tmp_path: Any) -> None:
    assert isinstance(built(f"file://{tmp_path}/events.jsonl"), FileTransport)
    assert isinstance(built("-"), FileTransport)


@pytest.mark.parametrize(
    ("path", "vhost"),
    [("", "/"), ("/", "/"), ("/%2F", "/"), ("/mozdef", "mozdef"), ("/a%2Fb", "a/b")],
)
def test_the_amqp_path_is_the_vhost(path: str, vhost: str) -> None:
    assert built(f"amqp://rabbit{path}").options.virtual_host == vhost


def test_amqp_url_parameters_set_the_options() -> None:
    options = built(
        "amqp://rabbit:5673/?exchange=mozdef&routing_key=events&declare=active"
        "&heartbeat=30&connect_timeout=2.5&blocked_timeout=9"
    ).options
    assert (options.port, options.exchange, options.routing_key, options.declare) == (
        5673, "mozdef", "events", "active",
    )  # fmt: skip
    assert (options.heartbeat, options.connect_timeout, options.blocked_timeout) == (30, 2.5, 9)
    assert (options.username, options.password) == ("guest", "guest")


def test_amqp_credentials_are_percent_decoded() -> None:
    options = built("amqp://b%40b:p%2Fw%3A%40@rabbit/").options
    assert (options.username, options.password) == ("b@b", "p/w:@")


def test_an_amqp_user_without_password_takes_it_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOZDEF_AMQP_PASSWORD", SECRET)
    assert built("amqp://bob@rabbit/").options.password == SECRET
    monkeypatch.delenv("MOZDEF_AMQP_PASSWORD")
    assert built("amqp://bob@rabbit/").options.password == ""


def test_amqps_tls_parameters_and_client_tls_defaults(tls_files: TLSFiles) -> None:
    options = built(f"amqps://rabbit?ca_bundle={tls_files.ca_file}&server_name=mq.example").options
    assert (options.tls, options.ca_bundle, options.server_name) == (
        True, tls_files.ca_file, "mq.example",
    )  # fmt: skip
    http = HTTPOptions(verify=False, ca_bundle=tls_files.ca_file)
    inherited = built("amqps://rabbit", http).options
    assert (inherited.verify, inherited.ca_bundle) == (False, tls_files.ca_file)
    assert built("amqps://rabbit?verify=true", http).options.verify is True


def test_remote_syslog_url_parameters_set_the_options() -> None:
    transport = built(
        "syslog+tcp://logs:1514?format=rfc3164&facility=local2&app_name=vpn&hostname=web1"
        "&max_message_bytes=16384&timeout=3&total_timeout=7.5"
    )
    options = transport.options
    assert (options.protocol, options.port, options.format) == ("tcp", 1514, "rfc3164")
    assert (options.max_message_bytes, options.timeout) == (16384, 3.0)
    assert options.effective_total_timeout == 7.5
    message = transport.format(prepare(Event(summary="x")))
    assert message.startswith(b"<%d>" % (18 * 8 + 6))
    assert b" web1 vpn[" in message


def test_syslog_tls_takes_tls_parameters(tls_files: TLSFiles) -> None:
    options = built(
        f"syslog+tls://logs?ca_bundle={tls_files.ca_file}&client_cert={tls_files.client_cert_file}"
        f"&client_key={tls_files.client_key_file}&verify=yes"
    ).options
    assert (options.ca_bundle, options.client_cert, options.verify) == (
        tls_files.ca_file, tls_files.client_cert_file, True,
    )  # fmt: skip


def test_mozdef_url_names_the_destination(
    monkeypatch: pytest.MonkeyPatch, udp_sink: socket.socket
) -> None:
    port = udp_sink.getsockname()[1]
    monkeypatch.setenv("MOZDEF_URL", f" syslog+udp://127.0.0.1:{port}?app_name=env ")
    assert url_from_environment() == f"syslog+udp://127.0.0.1:{port}?app_name=env"
    with Client() as client:
        client.send(Event(summary="from MOZDEF_URL"))
    datagram = udp_sink.recv(65536)
    assert b" env " in datagram
    assert json.loads(datagram.split(b" - - ", 1)[1])["summary"] == "from MOZDEF_URL"


def test_the_cli_sends_to_a_syslog_url(udp_sink: socket.socket) -> None:
    port = udp_sink.getsockname()[1]
    url = f"syslog+udp://127.0.0.1:{port}?format=rfc3164"
    result = subprocess.run(
        [sys.executable, "-m", "mozdef_client", "send", "--url", url, "--summary", "from the CLI"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b'"summary":"from the CLI"' in udp_sink.recv(65536)


# ---------------------------------------------------------------- errors name the part


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("mozdef.example.com/events", "no scheme"),
        ("gopher://host", "unsupported destination scheme 'gopher'"),
        ("amqp://rabbit:56x2/", "port '56x2'"),
        ("amqp://rabbit:99999/", "port '99999'"),
        ("syslog+udp://logs:0", "port"),
        ("https://host:abc/events", "port 'abc'"),
        ("syslog+tcp://[::1:514", "IPv6"),
        ("amqp:///vhost", "no host"),
        ("syslog+udp://", "no host"),
        ("https:///events", "no host"),
        ("amqp://rabbit/a/b", "vhost"),
        ("amqp://rabbit/?exchnage=x", "unknown parameter 'exchnage'"),
        ("amqp://rabbit/?ca_bundle=/x", "unknown parameter 'ca_bundle'"),
        ("amqp://rabbit/?declare=sometimes", "'declare' must be one of passive, active"),
        ("amqp://rabbit/?heartbeat=often", "'heartbeat' must be a whole number"),
        ("amqp://rabbit/?connect_timeout=soon", "'connect_timeout' must be a number of seconds"),
        ("amqp://rabbit/?exchange=a&exchange=b", "'exchange' more than once"),
        ("amqps://rabbit/?verify=maybe", "'verify' must be true or false"),
        ("amqps://rabbit/?ca_bundle=/nonexistent.pem", "ca_bundle"),
        ("syslog+udp://logs?format=cef", "'format' must be one of rfc5424, rfc3164"),
        ("syslog+udp://logs?facility=local9", "facility"),
        ("syslog+udp://logs?max_message_bytes=70000", "max_message_bytes"),
        ("syslog+udp://logs?ca_bundle=/x", "unknown parameter 'ca_bundle'"),
        ("syslog+udp://logs/path", "no path"),
        ("syslog+tcp://user:pw@logs", "no user name or password"),
        ("syslog://logs.example.com:514", "syslog+udp://"),
        ("sqs://?region=us-east-1", "no queue name"),
        ("file://host/path", "file:///absolute/path"),
    ],
)
def test_a_bad_url_names_the_bad_part(url: str, part: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        transport_from_url(url)
    assert part in str(caught.value)


def test_a_non_string_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be a string, not int"):
        transport_from_url(5672)  # type: ignore[arg-type]


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "url",
    [
        f"amqp://bob:{SECRET}@rabbit:56x2/",  # a bad port next to a password
        f"amqp://bob:{SECRET[:3]}/{SECRET[4:]}@rabbit/",  # unescaped '/' in the password
        f"amqp://bob:{SECRET[:3]}?{SECRET[4:]}@rabbit/",  # unescaped '?'
        f"amqps://bob:{SECRET}@rabbit/?verify=perhaps",
        f"amqp://bob:{SECRET}@rabbit/a/b",
        f"amqp://bob:{SECRET}@[::1/",
        f"https://bob:{SECRET[:3]}/{SECRET[4:]}@host/events",
        f"https://bob:{SECRET}@host:bad/events",
        f"syslog+tcp://bob:{SECRET}@logs",
        f"sqs://bob:{SECRET}@queue",
        f"bob:{SECRET}@rabbit",
    ],
)
def test_errors_never_show_a_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        transport_from_url(url)
    for fragment in (SECRET, SECRET[:3] + "/", SECRET[4:]):
        assert fragment not in str(caught.value)
        assert fragment not in repr(caught.value)
    assert caught.value.__cause__ is None or SECRET not in str(caught.value.__cause__)


@pytest.mark.parametrize(
    "url",
    [
        f"amqp://bob:{SECRET}@127.0.0.1:1/%2F",
        f"amqps://bob:{SECRET}@127.0.0.1:1/",
        f"https://bob:{SECRET}@127.0.0.1:1/events",
    ],
)
def test_names_reprs_and_failures_never_show_a_password(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with Client(url, connect_timeout=2) as client:
        shown = [repr(client), *client.destinations]
        with pytest.raises(Exception) as caught:
            client.send(Event(summary="x"))
        shown += [str(caught.value), repr(caught.value), str(caught.value.__cause__)]
    shown.append(caplog.text)
    assert not [text for text in shown if SECRET in text or "bob" in text]


def test_amqp_url_credentials_reach_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Percent-encoded userinfo and MOZDEF_AMQP_PASSWORD are what the broker checks."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        if os.environ.get("MOZDEF_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("RabbitMQ is not reachable at 127.0.0.1:5672")
        pytest.skip("RabbitMQ is not reachable at 127.0.0.1:5672")
    with pytest.raises(PermanentError, match="refused the login"):
        send_once(f"amqp://guest:{SECRET}@127.0.0.1/")
    # "gu%65st" is "guest": it must be decoded before the login. The login
    # working shows as the next failure: no queue for this routing key.
    with pytest.raises(PermanentError, match="no queue is bound"):
        send_once("amqp://gu%65st:gu%65st@127.0.0.1/?routing_key=mozdef-no-such-key")
    monkeypatch.setenv("MOZDEF_AMQP_PASSWORD", "guest")
    with pytest.raises(PermanentError, match="no queue is bound"):
        send_once("amqp://guest@127.0.0.1/?routing_key=mozdef-no-such-key")


def send_once(url: str) -> None:
    transport = transport_from_url(url)
    try:
        transport.send([prepare(Event(summary="x"))])
    finally:
        transport.close()


def test_an_amqp_url_may_name_several_brokers_of_one_cluster() -> None:
    options = built("amqp://bob:pw@h1,h2:5673,[::1]:5674/mozdef?routing_key=k").options
    assert (options.host, options.port, options.failover) == ("h1", None, ("h2:5673", "[::1]:5674"))
    assert options.brokers == (("h1", 5672), ("h2", 5673), ("::1", 5674))
    assert (options.username, options.password, options.virtual_host) == ("bob", "pw", "mozdef")
    assert built("amqps://h1:5671,h2/").options.brokers == (("h1", 5671), ("h2", 5671))


@pytest.mark.parametrize(
    "url", ["amqp://h1,/v", "amqp://,h2/v", "amqp://h1,h2:99999/v", "amqp://h1,h2:x/v"]
)
def test_a_bad_broker_in_an_amqp_host_list_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"broker|port"):
        built(url)
