"""The mozdef_client 1.1 classes as a drop-in, with 1.1's known bugs fixed.

Each test checks one point of the legacy contract (DESIGN section 4) against
real peers on loopback: the HTTP receiver of tests/servers.py, a TLS variant
of it, and a unix-datagram syslog sink.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import ssl
import syslog
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import trustme
from urllib3.exceptions import InsecureRequestWarning

import mozdef_client
from mozdef_client import (
    ConfigurationError,
    DeliveryError,
    MozDefAssetHint,
    MozDefCompliance,
    MozDefError,
    MozDefEvent,
    MozDefMessage,
    MozDefMsg,
    MozDefRRA,
    MozDefVulnerability,
    ValidationError,
)
from samples import vulnerability_document as vulnerability_log
from servers import Fault, Receiver, SyslogSink, free_port

LEGACY_CLASSES = [
    MozDefMessage,
    MozDefEvent,
    MozDefCompliance,
    MozDefVulnerability,
    MozDefAssetHint,
    MozDefRRA,
    MozDefMsg,
]

SYSLOG_PRIORITY = re.compile(rb"^<(\d+)>")
FACILITY_USER = 1


# -- helpers and fixtures --------------------------------------------------------


def make_event(url: str, cls: type[MozDefEvent] = MozDefEvent, **attributes: Any) -> MozDefEvent:
    msg = cls(url)
    msg.summary = "something happened"
    for name, value in attributes.items():
        setattr(msg, name, value)
    return msg


def syslog_line(sink: SyslogSink) -> tuple[int, dict[str, Any]]:
    """The priority and event of the one line the sink received."""
    [line] = sink.wait_for_lines(1)
    match = SYSLOG_PRIORITY.match(line)
    assert match, line
    return int(match.group(1)), json.loads(line.split(b": ", 1)[1])


def wait_for_requests(receiver: Receiver, count: int, timeout: float = 10.0) -> list[Any]:
    """The receiver's requests, once there are ``count`` (fire-and-forget may be late)."""
    deadline = time.monotonic() + timeout
    while len(receiver.requests) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return receiver.requests


def compliance_details() -> dict[str, Any]:
    return {
        "target": "host.example.com",
        "policy": {"level": "medium", "name": "system", "url": "https://example.com/policy"},
        "check": {
            "description": "sshd refuses root logins",
            "location": "/etc/ssh/sshd_config",
            "name": "sshd-permit-root-login",
            "ref": "sshd-1",
            "test": {"type": "file", "value": "PermitRootLogin no"},
        },
        "compliance": True,
        "link": "https://example.com/checks/sshd",
        "utctimestamp": "2026-11-26T14:05:48+00:00",
    }


@pytest.fixture
def syslog_sink_path(monkeypatch: pytest.MonkeyPatch, syslog_sink: SyslogSink) -> SyslogSink:
    """Every legacy message's syslog output goes to the sink instead of /dev/log."""
    monkeypatch.setattr(MozDefMessage, "_syslog_socket_path", syslog_sink.path)
    return syslog_sink


class TLSReceiver:
    def __init__(self, receiver: Receiver, ca_file: str) -> None:
        self.receiver = receiver
        self.ca_file = ca_file
        self.url = receiver.url


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[TLSReceiver]:
    """An HTTPS receiver whose certificate is signed by a CA no system trusts."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = Receiver(ssl_context=context)
    yield TLSReceiver(server, str(ca_file))
    server.close()


def count_connections(receiver: Receiver) -> list[object]:
    """A list that gets one entry per TCP connection the receiver accepts."""
    accepted: list[object] = []
    server = receiver._server
    original = server.process_request

    def counting(request: Any, client_address: Any) -> None:
        accepted.append(client_address)
        original(request, client_address)

    server.process_request = counting  # type: ignore[method-assign]
    return accepted


# -- send() raises MozDefError on every delivery failure -------------------------


def test_successful_send_returns_none_and_does_not_raise(receiver: Receiver) -> None:
    """1.1 raised TypeError after every successful POST without requests_futures."""
    assert make_event(receiver.url).send() is None
    assert len(receiver.events) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 429, 500, 502, 503])
def test_send_raises_mozdef_error_on_non_2xx(receiver: Receiver, status: int) -> None:
    receiver.script(status)
    with pytest.raises(MozDefError, match=f"HTTP {status}") as caught:
        make_event(receiver.url).send()
    assert isinstance(caught.value, DeliveryError)
    assert caught.value.status == status


def test_send_raises_mozdef_error_on_refused_connection() -> None:
    url = f"http://127.0.0.1:{free_port()}/events"
    with pytest.raises(MozDefError, match="could not connect"):
        make_event(url).send()


def test_send_raises_mozdef_error_on_timeout(receiver: Receiver) -> None:
    """A receiver that accepts and never answers: send() gives up after the read timeout."""
    receiver.script(Fault(hang=5))
    msg = make_event(receiver.url)
    msg.set_timeout(connect=2, read=0.5)
    started = time.monotonic()
    with pytest.raises(MozDefError, match="timed out"):
        msg.send()
    assert time.monotonic() - started < 4


def test_send_raises_mozdef_error_on_reset_connection(receiver: Receiver) -> None:
    receiver.script(Fault(reset=True))
    with pytest.raises(MozDefError):
        make_event(receiver.url).send()


def test_send_raises_mozdef_error_on_tls_failure(tls_receiver: TLSReceiver) -> None:
    """An untrusted certificate fails the send: verification is on by default."""
    with pytest.raises(MozDefError, match="TLS"):
        make_event(tls_receiver.url).send()
    assert tls_receiver.receiver.requests == []


# -- fire-and-forget never raises, never blocks for long -------------------------


def fail_with_status(receiver: Receiver) -> str:
    receiver.script(503)
    return receiver.url


def fail_with_refusal(receiver: Receiver) -> str:
    return f"http://127.0.0.1:{free_port()}/events"


def fail_with_reset(receiver: Receiver) -> str:
    receiver.script(Fault(reset=True))
    return receiver.url


@pytest.mark.parametrize("failure", [fail_with_status, fail_with_refusal, fail_with_reset])
def test_fire_and_forget_never_raises_and_returns_quickly(receiver: Receiver, failure: Any) -> None:
    msg = make_event(failure(receiver))
    msg.set_fire_and_forget(True)
    started = time.monotonic()
    assert msg.send() is None
    assert time.monotonic() - started < 5


def test_fire_and_forget_never_raises_on_tls_failure(tls_receiver: TLSReceiver) -> None:
    msg = make_event(tls_receiver.url)
    msg.set_fire_and_forget(True)
    started = time.monotonic()
    assert msg.send() is None
    assert time.monotonic() - started < 5
    assert tls_receiver.receiver.requests == []


def test_fire_and_forget_is_not_blocked_by_a_hanging_receiver(receiver: Receiver) -> None:
    """MozDef that accepts and never answers must not hold the caller for the read timeout."""
    receiver.script(Fault(hang=11))
    msg = make_event(receiver.url)
    msg.set_fire_and_forget(True)
    started = time.monotonic()
    msg.send()
    assert time.monotonic() - started < 3


def test_fire_and_forget_still_raises_on_an_invalid_event(receiver: Receiver) -> None:
    """Fire-and-forget hides delivery failures, not programming mistakes."""
    msg = MozDefEvent(receiver.url)
    msg.set_fire_and_forget(True)
    with pytest.raises(ValidationError, match="summary"):
        msg.send()
    assert receiver.requests == []


# -- TLS verification ------------------------------------------------------------


def test_certificates_are_verified_by_default(receiver: Receiver) -> None:
    assert MozDefEvent(receiver.url)._verify_certificate is True
    assert MozDefMsg(receiver.url).verify_certificate is True


def test_set_verify_false_accepts_an_untrusted_certificate(tls_receiver: TLSReceiver) -> None:
    msg = make_event(tls_receiver.url)
    msg.set_verify(False)
    with pytest.warns(InsecureRequestWarning):
        msg.send()
    assert len(tls_receiver.receiver.events) == 1


def test_set_verify_path_trusts_the_given_ca(tls_receiver: TLSReceiver) -> None:
    msg = make_event(tls_receiver.url)
    msg.set_verify_path(tls_receiver.ca_file)
    msg.send()
    [event] = tls_receiver.receiver.events
    assert event["summary"] == "something happened"


def test_set_verify_path_to_a_missing_file_is_a_clear_error(receiver: Receiver) -> None:
    msg = make_event(receiver.url)
    msg.set_verify_path("/nonexistent/ca.pem")
    with pytest.raises(ConfigurationError, match=r"ca\.pem"):
        msg.send()
    assert receiver.requests == []


def test_mozdefmsg_verify_certificate_may_name_a_ca_bundle(tls_receiver: TLSReceiver) -> None:
    """As in 1.1, MozDefMsg.verify_certificate may be the path of a CA bundle."""
    msg = MozDefMsg(tls_receiver.url, summary="trusted")
    msg.fire_and_forget_mode = False
    msg.verify_certificate = tls_receiver.ca_file
    msg.send()
    assert [e["summary"] for e in tls_receiver.receiver.events] == ["trusted"]


# -- plain attributes are honoured -----------------------------------------------


def test_source_category_and_severity_plain_attributes_are_sent(receiver: Receiver) -> None:
    """1.1 silently dropped .source, .category and a string .severity."""
    msg = make_event(receiver.url)
    msg.source = "vpn-puller"
    msg.category = "authentication"
    msg.severity = "warning"
    msg.send()
    [event] = receiver.events
    assert event["source"] == "vpn-puller"
    assert event["category"] == "authentication"
    assert event["severity"] == "WARNING"


def test_rra_works_without_setting_category(receiver: Receiver) -> None:
    """1.1's MozDefRRA.validate() read a .category that never existed."""
    msg = make_event(receiver.url, MozDefRRA, details={"service": "sso", "risk": "high"})
    msg.send()
    [event] = receiver.events
    assert event["category"] == "rra_data"
    assert event["details"] == {"service": "sso", "risk": "high"}


def test_rra_with_empty_details_fails_validation(receiver: Receiver) -> None:
    with pytest.raises(ValidationError, match="details"):
        make_event(receiver.url, MozDefRRA).send()
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("cls", "category"),
    [
        (MozDefEvent, "event"),
        (MozDefCompliance, "complianceitems"),
        (MozDefAssetHint, "asset_hint"),
        (MozDefRRA, "rra_data"),
    ],
)
def test_each_class_has_its_default_category(cls: type[MozDefEvent], category: str) -> None:
    assert cls("http://127.0.0.1/events").category == category


# -- severities ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SEVERITY_DEBUG", 0, "DEBUG"),
        ("SEVERITY_INFO", 1, "INFO"),
        ("SEVERITY_NOTICE", 2, "NOTICE"),
        ("SEVERITY_WARNING", 3, "WARNING"),
        ("SEVERITY_ERROR", 4, "ERROR"),
        ("SEVERITY_CRITICAL", 5, "CRITICAL"),
        ("SEVERITY_CRIT", 5, "CRITICAL"),
        ("SEVERITY_ALERT", 6, "ALERT"),
        ("SEVERITY_EMERGENCY", 7, "EMERGENCY"),
    ],
)
def test_severity_constants_keep_1_1_values_and_names(
    receiver: Receiver, name: str, value: int, expected: str
) -> None:
    assert getattr(MozDefEvent, name) == value
    msg = make_event(receiver.url)
    msg.set_severity(getattr(MozDefEvent, name))
    msg.send()
    assert receiver.events[0]["severity"] == expected


SEVERITY_SPELLINGS = [
    ("crit", "CRITICAL"),
    ("CRIT", "CRITICAL"),
    ("Critical", "CRITICAL"),
    ("warn", "WARNING"),
    ("Warning", "WARNING"),
    ("err", "ERROR"),
    ("ERROR", "ERROR"),
    ("emerg", "EMERGENCY"),
    ("notice", "NOTICE"),
    ("Alert", "ALERT"),
    ("debug", "DEBUG"),
    ("info", "INFO"),
]


@pytest.mark.parametrize("how", ["set_severity", "attribute", "set_severity_from_string"])
def test_severity_names_are_case_insensitive_and_accept_aliases(
    receiver: Receiver, how: str
) -> None:
    msg = make_event(receiver.url)
    for spelling, _ in SEVERITY_SPELLINGS:
        if how == "attribute":
            msg.severity = spelling
        else:
            getattr(msg, how)(spelling)
        msg.send()
    sent = [event["severity"] for event in receiver.events]
    assert sent == [expected for _, expected in SEVERITY_SPELLINGS]


@pytest.mark.parametrize("value", ["loud", "", "INFO!", 99, -1, 8, 2.0, True, None])
def test_unknown_severity_is_a_clear_error_and_nothing_is_sent(
    receiver: Receiver, value: Any
) -> None:
    msg = make_event(receiver.url)
    with pytest.raises(ConfigurationError, match="severity"):
        msg.set_severity(value)
    msg.severity = value
    with pytest.raises(MozDefError, match=re.escape(repr(value))):
        msg.send()
    msg._severity = value
    with pytest.raises(MozDefError, match="severity"):
        msg.send()
    assert receiver.requests == []


def test_unknown_severity_name_is_not_taken_as_info(receiver: Receiver) -> None:
    """1.1's set_severity_from_string() silently fell back to INFO."""
    msg = make_event(receiver.url)
    with pytest.raises(ConfigurationError, match="'LOUD'"):
        msg.set_severity_from_string("LOUD")


# -- syslog ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "syslog_severity"),
    [
        (MozDefEvent.SEVERITY_EMERGENCY, 0),
        (MozDefEvent.SEVERITY_ALERT, 1),
        (MozDefEvent.SEVERITY_CRITICAL, 2),
        (MozDefEvent.SEVERITY_ERROR, 3),
        (MozDefEvent.SEVERITY_WARNING, 4),
        (MozDefEvent.SEVERITY_NOTICE, 5),
        (MozDefEvent.SEVERITY_INFO, 6),
        (MozDefEvent.SEVERITY_DEBUG, 7),
    ],
)
def test_syslog_priority_matches_the_severity(
    receiver: Receiver, syslog_sink_path: SyslogSink, severity: int, syslog_severity: int
) -> None:
    msg = make_event(receiver.url)
    msg.set_severity(severity)
    msg.set_send_to_syslog(True, only_syslog=True)
    msg.send()
    priority, event = syslog_line(syslog_sink_path)
    assert priority == FACILITY_USER * 8 + syslog_severity
    assert event == msg._sendlog


@pytest.mark.parametrize(
    ("facility", "severity", "priority"),
    [
        ("local0", "CRITICAL", 16 * 8 + 2),
        ("auth", "error", 4 * 8 + 3),
        (syslog.LOG_LOCAL7, "warning", 23 * 8 + 4),
        (syslog.LOG_USER, "info", 1 * 8 + 6),
    ],
)
def test_syslog_priority_combines_facility_and_severity(
    receiver: Receiver, syslog_sink_path: SyslogSink, facility: Any, severity: str, priority: int
) -> None:
    msg = make_event(receiver.url, severity=severity)
    msg._facility = facility
    msg._send_to_syslog = True
    msg._syslog_only = True
    msg.send()
    assert syslog_line(syslog_sink_path)[0] == priority
    assert receiver.requests == []


@pytest.mark.parametrize("facility", ["nope", 99, -8])
def test_unknown_facility_is_a_clear_error_and_nothing_is_sent(
    receiver: Receiver, syslog_sink_path: SyslogSink, facility: Any
) -> None:
    msg = make_event(receiver.url)
    msg.set_send_to_syslog(True)
    msg._facility = facility
    with pytest.raises(ConfigurationError, match=re.escape(repr(facility))):
        msg.send()
    with pytest.raises(ConfigurationError, match="facility"):
        msg.set_syslog_facility(facility)
    assert receiver.requests == []
    assert syslog_sink_path.wait_for_lines(1, timeout=0.3) == []


@pytest.mark.parametrize("fire_and_forget", [False, True])
def test_bad_settings_raise_even_in_fire_and_forget(
    receiver: Receiver, syslog_sink_path: SyslogSink, fire_and_forget: bool
) -> None:
    """Fire-and-forget hides delivery failures, not a wrong facility or CA file."""
    msg = make_event(receiver.url)
    msg.set_fire_and_forget(fire_and_forget)
    msg.set_send_to_syslog(True)
    msg._facility = "nope"
    with pytest.raises(ConfigurationError, match="'nope'"):
        msg.send()
    msg._facility = "user"
    msg.set_verify_path("/nonexistent/ca.pem")
    with pytest.raises(ConfigurationError, match=r"ca\.pem"):
        msg.send()
    assert syslog_sink_path.wait_for_lines(1, timeout=0.3) == []
    assert receiver.requests == []


def test_syslog_line_is_one_line_of_the_same_json(
    receiver: Receiver, syslog_sink_path: SyslogSink
) -> None:
    msg = make_event(receiver.url, details={"text": "two\nlines", "n": 1})
    msg.set_send_to_syslog(True)
    msg.send()
    [line] = syslog_sink_path.wait_for_lines(1)
    assert b"\n" not in line
    _, logged = syslog_line(syslog_sink_path)
    assert logged == receiver.events[0]
    assert logged["details"] == {"text": "two\nlines", "n": 1}


# -- the wire --------------------------------------------------------------------------


def test_events_are_compact_json_with_content_type_json(receiver: Receiver) -> None:
    """1.1 posted indented, key-sorted JSON with no Content-Type."""
    make_event(receiver.url, tags=["a"], details={"k": {"n": [1, 2]}}).send()
    [request] = receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    assert b"\n" not in request.body
    assert b": " not in request.body and b", " not in request.body
    assert json.loads(request.body)["details"] == {"k": {"n": [1, 2]}}


def test_many_sends_from_many_objects_reuse_pooled_connections(receiver: Receiver) -> None:
    """1.1 opened a session, and a connection, per object; now they share a pool."""
    connections = count_connections(receiver)
    for index in range(20):
        make_event(receiver.url, summary=f"event {index}").send()
    msg = make_event(receiver.url)
    for _ in range(10):
        msg.send()
    assert len(receiver.events) == 30
    assert len(connections) <= 2, f"{len(connections)} connections for 30 sequential sends"


# -- MozDefMsg ----------------------------------------------------------------------------


def test_mozdefmsg_first_argument_is_the_url(receiver: Receiver) -> None:
    msg = MozDefMsg(receiver.url, summary="hello")
    assert msg.hostname == msg.url == msg.mozdef_hostname == receiver.url
    msg.send()
    [event] = receiver.wait_for_events(1)
    assert event["summary"] == "hello"


def test_mozdefmsg_takes_1_1_positional_arguments(receiver: Receiver) -> None:
    """1.1's order: hostname, summary, category, severity, source, tags, details."""
    msg = MozDefMsg(receiver.url, "sum", "auth", "WARNING", "sso", ["t1"], {"user": "joe"})
    msg.send()
    [event] = receiver.wait_for_events(1)
    assert event["summary"] == "sum"
    assert event["category"] == "auth"
    assert event["severity"] == "WARNING"
    assert event["source"] == "sso"
    assert event["tags"] == ["t1"]
    assert event["details"] == {"user": "joe"}


def test_mozdefmsg_send_arguments_override_for_that_call_only(receiver: Receiver) -> None:
    msg = MozDefMsg(receiver.url, summary="default", tags=["base"], details={"a": 1})
    msg.send(
        summary="override",
        category="other",
        severity="crit",
        tags=["t"],
        details={"b": 2},
        source="src",
    )
    msg.send()
    # Fire-and-forget may deliver in the background: find each by its summary.
    events = {event["summary"]: event for event in receiver.wait_for_events(2)}
    first, second = events["override"], events["default"]
    assert first["summary"] == "override"
    assert first["category"] == "other"
    assert first["severity"] == "CRITICAL"
    assert first["tags"] == ["t"]
    assert first["details"] == {"b": 2}
    assert first["source"] == "src"
    assert second["summary"] == "default"
    assert second["category"] == "event"
    assert second["severity"] == "INFO"
    assert second["tags"] == ["base"]
    assert second["details"] == {"a": 1}
    assert second["source"] == "mozdef_client"


def test_mozdefmsg_delivers_now_and_raises_by_default_as_in_1_1(receiver: Receiver) -> None:
    msg = MozDefMsg(receiver.url, summary="x")
    assert msg.fire_and_forget_mode is False
    receiver.script(503)
    with pytest.raises(MozDefError, match="HTTP 503"):
        msg.send()


def test_mozdefmsg_in_fire_and_forget_mode_does_not_raise(receiver: Receiver) -> None:
    msg = MozDefMsg(receiver.url, summary="x")
    msg.fire_and_forget_mode = True
    receiver.script(503)
    assert msg.send() is None  # the 503 is not raised (it may be retried in the background)
    assert wait_for_requests(receiver, 1)[0].status == 503


def test_mozdefmsg_takes_the_url_as_hostname_or_url_keyword(receiver: Receiver) -> None:
    MozDefMsg(hostname=receiver.url, summary="by hostname").send()
    MozDefMsg(url=receiver.url, summary="by url").send()
    assert [e["summary"] for e in receiver.events] == ["by hostname", "by url"]
    with pytest.raises(MozDefError, match="URL once"):
        MozDefMsg(receiver.url, url=receiver.url)


def test_mozdefmsg_without_summary_raises_even_in_fire_and_forget(receiver: Receiver) -> None:
    with pytest.raises(ValidationError, match="summary"):
        MozDefMsg(receiver.url).send()
    assert receiver.requests == []


def test_mozdefmsg_log_adds_fields_without_being_changed(receiver: Receiver) -> None:
    msg = MozDefMsg(receiver.url, summary="x")
    msg.log["somefield"] = "test"
    before = copy.deepcopy(msg.log)
    msg.send()
    assert receiver.wait_for_events(1)[0]["somefield"] == "test"
    assert msg.log == before


def test_mozdefmsg_syslog_only(receiver: Receiver, syslog_sink_path: SyslogSink) -> None:
    msg = MozDefMsg(receiver.url)
    msg.sendToSyslog = True
    msg.syslogOnly = True
    msg.send("hi", details={"username": "user"}, tags=["y0"])
    _, event = syslog_line(syslog_sink_path)
    assert event["summary"] == "hi"
    assert event["details"] == {"username": "user"}
    assert receiver.requests == []


# -- no mutable defaults; the caller's data stays theirs --------------------------


def test_no_legacy_method_has_a_mutable_default_argument() -> None:
    checked = 0
    for cls in LEGACY_CLASSES:
        for klass in cls.__mro__:
            if not klass.__module__.startswith("mozdef_client.legacy."):
                continue
            for name, member in vars(klass).items():
                if not inspect.isfunction(member):
                    continue
                for parameter in inspect.signature(member).parameters.values():
                    checked += 1
                    assert not isinstance(parameter.default, (list, dict, set, bytearray)), (
                        f"{klass.__name__}.{name}({parameter.name}=...)"
                    )
    assert checked > 30
    assert inspect.signature(MozDefMsg).parameters["tags"].default is None
    assert inspect.signature(MozDefMsg).parameters["details"].default is None


def test_mozdefmsg_objects_do_not_share_tags_or_details(receiver: Receiver) -> None:
    first, second = MozDefMsg(receiver.url), MozDefMsg(receiver.url)
    first.tags.append("only-first")
    first.details["only"] = "first"
    assert second.tags == [] and second.details == {}


def test_send_neither_mutates_nor_aliases_details_and_tags(receiver: Receiver) -> None:
    details = {"user": "joe", "nested": {"ip": "10.0.0.1"}}
    tags = ["a", "b"]
    msg = make_event(receiver.url, details=details, tags=tags)
    msg.send()
    assert details == {"user": "joe", "nested": {"ip": "10.0.0.1"}}
    assert tags == ["a", "b"]
    sent = copy.deepcopy(msg._sendlog)
    details["user"] = "mallory"
    details["nested"]["ip"] = "6.6.6.6"
    tags.append("c")
    assert msg._sendlog == sent
    assert receiver.events[0]["details"] == {"user": "joe", "nested": {"ip": "10.0.0.1"}}


def test_updatelog_fields_are_sent_and_the_dict_is_left_alone(receiver: Receiver) -> None:
    extra = {"sourceipaddress": "10.1.2.3", "nested": {"k": "v"}}
    msg = make_event(receiver.url)
    msg._updatelog = extra
    msg.send()
    assert extra == {"sourceipaddress": "10.1.2.3", "nested": {"k": "v"}}
    [event] = receiver.events
    assert event["sourceipaddress"] == "10.1.2.3"
    assert event["nested"] == {"k": "v"}
    assert event["summary"] == "something happened"
    extra["nested"]["k"] = "changed"
    assert msg._sendlog["nested"] == {"k": "v"}


def test_set_simple_update_log_is_the_1_1_setter_for_updatelog(receiver: Receiver) -> None:
    msg = make_event(receiver.url)
    msg.set_simple_update_log({"extra": 1})
    msg.send()
    assert receiver.events[0]["extra"] == 1


def test_vulnerability_send_neither_mutates_nor_aliases_log(receiver: Receiver) -> None:
    log = vulnerability_log()
    msg = MozDefVulnerability(receiver.url)
    msg.log = log
    msg.send()
    assert log == vulnerability_log()
    log["asset"]["hostname"] = "changed"
    assert msg._sendlog == vulnerability_log()
    assert receiver.events == [vulnerability_log()]


# -- private names real programs touch ---------------------------------------------


def test_msgtype_constants_and_values() -> None:
    assert (
        MozDefMessage.MSGTYPE_NONE,
        MozDefMessage.MSGTYPE_EVENT,
        MozDefMessage.MSGTYPE_COMPLIANCE,
        MozDefMessage.MSGTYPE_VULNERABILITY,
        MozDefMessage.MSGTYPE_ASSETHINT,
        MozDefMessage.MSGTYPE_RRA,
    ) == (0, 1, 2, 3, 4, 5)
    url = "http://127.0.0.1/events"
    assert MozDefEvent(url)._msgtype == MozDefMessage.MSGTYPE_EVENT
    assert MozDefCompliance(url)._msgtype == MozDefMessage.MSGTYPE_COMPLIANCE
    assert MozDefVulnerability(url)._msgtype == MozDefMessage.MSGTYPE_VULNERABILITY
    assert MozDefAssetHint(url)._msgtype == MozDefMessage.MSGTYPE_ASSETHINT
    assert MozDefRRA(url)._msgtype == MozDefMessage.MSGTYPE_RRA


def test_private_category_source_and_severity_are_honoured(receiver: Receiver) -> None:
    msg = make_event(receiver.url)
    msg._category = "private-category"
    msg._source = "private-source"
    msg._severity = MozDefEvent.SEVERITY_ERROR
    msg.send()
    [event] = receiver.events
    assert (event["category"], event["source"], event["severity"]) == (
        "private-category",
        "private-source",
        "ERROR",
    )
    assert msg.category == "private-category" and msg.source == "private-source"


def test_sendlog_holds_the_document_that_was_sent(receiver: Receiver) -> None:
    msg = make_event(receiver.url, details={"k": 1})
    msg.send()
    assert receiver.events == [msg._sendlog]


def test_changing_url_sends_to_the_new_url(receiver: Receiver) -> None:
    other = Receiver()
    try:
        msg = make_event(receiver.url)
        msg.send()
        assert msg._url == receiver.url
        msg._url = other.url
        msg.send()
        assert len(receiver.events) == 1
        assert len(other.events) == 1
    finally:
        other.close()


def test_private_syslog_flags_are_honoured(
    receiver: Receiver, syslog_sink_path: SyslogSink
) -> None:
    msg = make_event(receiver.url)
    msg._send_to_syslog = True
    msg.send()
    assert len(syslog_sink_path.wait_for_lines(1)) == 1
    assert len(receiver.events) == 1
    msg._syslog_only = True
    msg.send()
    assert len(syslog_sink_path.wait_for_lines(2)) == 2
    assert len(receiver.events) == 1


def test_subclass_overriding_category_and_source_properties(receiver: Receiver) -> None:
    class VPNEvent(MozDefEvent):
        @property
        def category(self) -> str:
            return "vpn"

        @property
        def source(self) -> str:
            return "openvpn"

    msg = make_event(receiver.url, VPNEvent)
    msg.send()
    [event] = receiver.events
    assert event["category"] == "vpn"
    assert event["source"] == "openvpn"


# -- validation names the field ------------------------------------------------------


@pytest.mark.parametrize(
    ("remove", "path"),
    [
        (("target",), "details.target"),
        (("policy", "url"), "details.policy.url"),
        (("check", "test"), "details.check.test"),
        (("check", "test", "value"), "details.check.test.value"),
    ],
)
def test_compliance_validation_names_the_missing_field(
    receiver: Receiver, remove: tuple[str, ...], path: str
) -> None:
    details = compliance_details()
    parent = details
    for key in remove[:-1]:
        parent = parent[key]
    del parent[remove[-1]]
    msg = make_event(receiver.url, MozDefCompliance, details=details)
    with pytest.raises(ValidationError, match=re.escape(path)) as caught:
        msg.send()
    assert caught.value.path == path
    assert receiver.requests == []


def test_valid_compliance_event_is_sent(receiver: Receiver) -> None:
    msg = make_event(receiver.url, MozDefCompliance, details=compliance_details())
    msg.send()
    [event] = receiver.events
    assert event["category"] == "complianceitems"
    assert event["details"] == compliance_details()


@pytest.mark.parametrize(
    ("remove", "path"),
    [
        (("sourcename",), "sourcename"),
        (("asset",), "asset"),
        (("asset", "macaddress"), "asset.macaddress"),
        (("vuln", "cvss"), "vuln.cvss"),
    ],
)
def test_vulnerability_validation_names_the_missing_key(
    receiver: Receiver, remove: tuple[str, ...], path: str
) -> None:
    log = vulnerability_log()
    parent = log
    for key in remove[:-1]:
        parent = parent[key]
    del parent[remove[-1]]
    msg = MozDefVulnerability(receiver.url)
    msg.log = log
    with pytest.raises(ValidationError, match=re.escape(path)) as caught:
        msg.send()
    assert caught.value.path == path
    assert receiver.requests == []


def test_asset_hint_with_empty_details_fails_validation(receiver: Receiver) -> None:
    msg = make_event(receiver.url, MozDefAssetHint)
    with pytest.raises(ValidationError, match="details") as caught:
        msg.send()
    assert caught.value.path == "details"
    assert receiver.requests == []


def test_missing_summary_names_the_field(receiver: Receiver) -> None:
    msg = MozDefEvent(receiver.url)
    with pytest.raises(ValidationError, match="summary") as caught:
        msg.send()
    assert caught.value.path == "summary"
    assert receiver.requests == []


def test_mozdef_error_is_the_legacy_exception_class() -> None:
    assert mozdef_client.legacy.MozDefError is MozDefError
    assert issubclass(ValidationError, MozDefError)
    assert issubclass(DeliveryError, MozDefError)


# -- MozDefEvent.send keyword arguments ---------------------------------------------


def test_send_keyword_arguments_fill_the_event(receiver: Receiver) -> None:
    when = datetime(2026, 11, 26, 14, 5, 48, 226939, tzinfo=timezone(timedelta(hours=-6)))
    msg = MozDefEvent(receiver.url)
    msg.send(
        timestamp=when,
        summary="from arguments",
        tags=["kw"],
        details={"by": "keyword"},
        hostname="other.example.com",
    )
    [event] = receiver.events
    assert event["timestamp"] == "2026-11-26T20:05:48.226939+00:00"
    assert event["summary"] == "from arguments"
    assert event["tags"] == ["kw"]
    assert event["details"] == {"by": "keyword"}
    assert event["hostname"] == "other.example.com"


def test_send_keyword_arguments_apply_to_that_call_only(receiver: Receiver) -> None:
    msg = make_event(receiver.url, tags=["attr"], details={"from": "attribute"})
    msg.send(summary="once", tags=["kw"], details={"from": "keyword"}, hostname="h.example")
    msg.send()
    first, second = receiver.wait_for_events(2)
    assert (first["summary"], first["tags"], first["details"]["from"]) == (
        "once",
        ["kw"],
        "keyword",
    )
    assert first["hostname"] == "h.example"
    assert (second["summary"], second["tags"], second["details"]["from"]) == (
        "something happened",
        ["attr"],
        "attribute",
    )
    assert second["hostname"] == msg.hostname != "h.example"


def test_string_timestamp_is_sent_as_given(receiver: Receiver) -> None:
    msg = make_event(receiver.url)
    msg.send(timestamp="2015-03-06T15:05:48.226939+00:00")
    assert receiver.events[0]["timestamp"] == "2015-03-06T15:05:48.226939+00:00"


def test_mozdef_error_keeps_1_1_msg_attribute(receiver: Receiver) -> None:
    """1.1 programs print ``error.msg``."""
    receiver.script(503)
    with pytest.raises(MozDefError) as caught:
        make_event(receiver.url).send()
    assert caught.value.msg == str(caught.value)
    assert "HTTP 503" in caught.value.msg
    assert MozDefError("plain").msg == "plain"
