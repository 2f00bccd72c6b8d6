"""A table of bad inputs: each is a clear error, and nothing reaches the receiver.

Every row is tried through three faces over the same core: the modern
``Client(url).send(Event(...))``, the legacy ``MozDefEvent(url).send()`` and
the oldest ``MozDefMsg(url).send()``. The receiver is a real HTTP server on
loopback; "nothing sent" means it saw no request at all.

Size: HTTP ``/events`` has no size limit of its own (MozDef's nginx may set
one, answered with 413), so a 300 KiB event over HTTP is *not* a bad input
and is delivered whole. Syslog has a limit; an event over it is refused
before anything is written.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from mozdef_client import (
    Client,
    ConfigurationError,
    DocumentEvent,
    EncodingError,
    Event,
    EventTooLargeError,
    Kind,
    MozDefAssetHint,
    MozDefCompliance,
    MozDefError,
    MozDefEvent,
    MozDefMsg,
    MozDefRRA,
    MozDefVulnerability,
    SyslogOptions,
    SyslogTransport,
    ValidationError,
    VulnerabilityEvent,
)
from servers import Receiver, Request


class ReceiverView:
    """What one test sees of a receiver shared by the module: only its own requests."""

    def __init__(self, server: Receiver) -> None:
        self._server = server
        self._start = len(server.requests)
        self.url = server.url

    @property
    def requests(self) -> list[Request]:
        return self._server.requests[self._start :]

    @property
    def events(self) -> list[Any]:
        return [doc for request in self.requests for doc in request.documents]


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[Receiver]:
    # One server for the module: stopping a receiver takes half a second.
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def receiver(shared_receiver: Receiver) -> ReceiverView:
    """Overrides conftest's receiver: the same real server, seen from this test only."""
    return ReceiverView(shared_receiver)


def self_referencing() -> dict[str, Any]:
    loop: dict[str, Any] = {"a": 1}
    loop["again"] = loop
    return loop


# id, the fields that differ from a good event, the error class, a regex its
# message must match (naming the field and what is wrong with it).
BAD_FIELDS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("summary-int", {"summary": 5}, ValidationError, r"summary must be a string, not int"),
    ("summary-missing", {"summary": None}, ValidationError, r"^summary is missing"),
    ("summary-empty", {"summary": ""}, ValidationError, r"^summary is missing"),
    ("tags-a-string", {"tags": "sso"}, ValidationError, r"tags must be a list"),
    ("tags-non-string", {"tags": ["ok", 7]}, ValidationError, r"tags\[1\] must be a string"),
    ("details-a-list", {"details": [1, 2]}, ValidationError, r"details must be a (mapping|dict)"),
    ("severity-loud", {"severity": "LOUD"}, ConfigurationError, r"unknown severity 'LOUD'"),
    ("severity-99", {"severity": 99}, ConfigurationError, r"severity.*\b99\b"),
    ("category-int", {"category": 3}, ValidationError, r"category must be a string, not int"),
    ("source-int", {"source": 3}, ValidationError, r"source must be a string, not int"),
    (
        "nan",
        {"details": {"score": float("nan")}},
        EncodingError,
        r"^details\.score is nan, which JSON cannot carry",
    ),
    (
        "infinity",
        {"details": {"n": [1, float("inf")]}},
        EncodingError,
        r"^details\.n\[1\] is inf",
    ),
    (
        "decimal-nan",
        {"details": {"amount": decimal.Decimal("NaN")}},
        EncodingError,
        r"^details\.amount is Decimal\('NaN'\)",
    ),
    (
        "invalid-utf8-bytes",
        {"details": {"raw": b"\xff\xfeuser"}},
        EncodingError,
        r"^details\.raw is bytes that are not valid UTF-8",
    ),
    (
        "lone-surrogate",
        {"summary": "login \udce9"},
        EncodingError,
        r"^summary is not valid UTF-8 \(it holds a lone surrogate\)",
    ),
    (
        "non-string-key",
        {"details": {"ok": 1, 42: "answer"}},
        EncodingError,
        r"^details has a key 42 of type int; JSON keys must be strings",
    ),
    (
        "unknown-type",
        {"details": {"age": timedelta(days=1)}},
        EncodingError,
        r"^details\.age has type timedelta, which cannot be encoded as JSON",
    ),
    (
        "int-beyond-64-bits",
        {"details": {"id": 2**70}},
        EncodingError,
        r"^details\.id is an integer outside the 64-bit range",
    ),
    (
        "self-reference",
        {"details": self_referencing()},
        EncodingError,
        r"^details\.again\.again.* refers to itself",
    ),
]

GOOD = {"summary": "login failed", "tags": ["sso"], "details": {"username": "joe"}}


def send_modern(url: str, fields: dict[str, Any]) -> None:
    client = Client(url)
    try:
        client.send(Event(**{**GOOD, **fields}))
    finally:
        client.close()


def send_legacy(url: str, fields: dict[str, Any]) -> None:
    message = MozDefEvent(url)
    for name, value in {**GOOD, **fields}.items():
        setattr(message, name, value)
    message.send()


def send_msg(url: str, fields: dict[str, Any]) -> None:
    message = MozDefMsg(url)
    message.fire_and_forget_mode = False
    for name, value in {**GOOD, **fields}.items():
        setattr(message, name, value)
    message.send()


FACES = {"Client": send_modern, "MozDefEvent": send_legacy, "MozDefMsg": send_msg}


@pytest.mark.parametrize("face", list(FACES))
@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [pytest.param(fields, error, message, id=name) for name, fields, error, message in BAD_FIELDS],
)
def test_bad_input_is_a_clear_error_and_nothing_is_sent(receiver, face, fields, error, message):
    with pytest.raises(error, match=message) as info:
        FACES[face](receiver.url, fields)
    assert isinstance(info.value, MozDefError)
    assert receiver.requests == []


@pytest.mark.parametrize("face", list(FACES))
def test_the_good_event_of_the_table_is_delivered(receiver, face):
    """The rows differ from this event in one field only, so each row's field is the fault."""
    FACES[face](receiver.url, {})
    [event] = receiver.events
    assert event["summary"] == "login failed"
    assert event["tags"] == ["sso"]
    assert event["details"] == {"username": "joe"}


@pytest.mark.parametrize(
    "thing",
    [{"summary": "a dict, not an Event"}, "login failed", None, MozDefEvent("http://unused")],
    ids=["dict", "str", "None", "legacy-object"],
)
def test_client_send_of_a_non_event_is_a_type_error(receiver, thing):
    client = Client(receiver.url)
    with pytest.raises(
        TypeError, match=f"takes an Event or DocumentEvent, not {type(thing).__name__}"
    ):
        client.send(thing)
    client.close()
    assert receiver.requests == []


def test_bad_arguments_to_legacy_send_are_refused_too(receiver):
    message = MozDefEvent(receiver.url)
    with pytest.raises(ValidationError, match=r"^details\.score is nan"):
        message.send(summary="x", details={"score": float("nan")})
    with pytest.raises(ValidationError, match="tags must be a list"):
        message.send(summary="x", tags="sso", details={})  # type: ignore[arg-type]
    assert receiver.requests == []


def test_legacy_set_severity_refuses_an_unknown_severity_at_once(receiver):
    message = MozDefEvent(receiver.url)
    with pytest.raises(ConfigurationError, match="unknown severity 'LOUD'"):
        message.set_severity("LOUD")
    with pytest.raises(ConfigurationError, match="unknown severity 99"):
        message.set_severity(99)
    assert receiver.requests == []


# -- per-kind rules -----------------------------------------------------------------


def compliance_details() -> dict[str, Any]:
    return {
        "target": "web1",
        "policy": {"level": "medium", "name": "system", "url": "https://example.com/p"},
        "check": {
            "description": "root login",
            "location": "/etc/ssh/sshd_config",
            "name": "sshd-root",
            "ref": "sshd-1",
            "test": {"type": "file"},  # "value" is missing
        },
        "compliance": False,
        "link": "https://example.com/c",
        "utctimestamp": "2026-11-26T14:05:48+00:00",
    }


def vulnerability_log() -> dict[str, Any]:
    return {
        "utctimestamp": "2026-11-26T14:05:48+00:00",
        "description": "vulnerable openssl",
        "sourcename": "scanner",
        "asset": {"assetid": 1, "ipv4address": "10.1.2.3", "hostname": "web1"},
        "vuln": {"status": "open"},
    }


@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param(
            Event(summary="sshd", kind=Kind.COMPLIANCE, details=compliance_details()),
            r"^details\.check\.test\.value is missing$",
            id="compliance",
        ),
        pytest.param(
            VulnerabilityEvent(vulnerability_log()),
            r"^asset\.macaddress is missing$",
            id="vulnerability",
        ),
        pytest.param(
            Event(summary="hint", kind=Kind.ASSET_HINT),
            r"^details is empty",
            id="asset-hint",
        ),
        pytest.param(Event(summary="rra", kind=Kind.RRA), r"^details is empty", id="rra"),
        pytest.param(
            DocumentEvent({"severity": "INFO", "details": {}}),
            r"^summary is missing",
            id="document-without-summary",
        ),
        pytest.param(
            DocumentEvent({"summary": "x", "details": {"f": float("-inf")}}),
            r"^details\.f is -inf",
            id="document-with-infinity",
        ),
    ],
)
def test_client_refuses_an_event_breaking_its_kinds_rules(receiver, event, message):
    client = Client(receiver.url)
    with pytest.raises(ValidationError, match=message):
        client.send(event)
    client.close()
    assert receiver.requests == []


def legacy_compliance(url: str) -> None:
    message = MozDefCompliance(url)
    message.summary = "sshd"
    message.details = compliance_details()
    message.send()


def legacy_vulnerability(url: str) -> None:
    message = MozDefVulnerability(url)
    message.log = vulnerability_log()
    message.send()


def legacy_asset_hint(url: str) -> None:
    message = MozDefAssetHint(url)
    message.summary = "hint"
    message.send()


def legacy_rra(url: str) -> None:
    message = MozDefRRA(url)
    message.summary = "rra"
    message.details = {}
    message.send()


@pytest.mark.parametrize(
    ("send", "message"),
    [
        (legacy_compliance, r"^details\.check\.test\.value is missing$"),
        (legacy_vulnerability, r"^asset\.macaddress is missing$"),
        (legacy_asset_hint, r"^details is empty"),
        (legacy_rra, r"^details is empty"),
    ],
    ids=["compliance", "vulnerability", "asset-hint", "rra"],
)
def test_legacy_classes_refuse_an_event_breaking_their_rules(receiver, send, message):
    with pytest.raises(ValidationError, match=message):
        send(receiver.url)
    assert receiver.requests == []


# -- size ----------------------------------------------------------------------------

HUGE = "x" * (300 * 1024)


def test_a_300_kib_event_over_http_is_not_bad_and_arrives_whole(receiver):
    client = Client(receiver.url)
    client.send(Event(summary="big", details={"blob": HUGE}))
    client.close()
    [request] = receiver.requests
    assert len(request.body) > 300 * 1024
    assert json.loads(request.body)["details"]["blob"] == HUGE


def _nothing_but_the_sentinel(sink) -> None:
    """Datagrams arrive asynchronously: send a small event after, then check it is the only one."""
    sentinel = SyslogTransport(SyslogOptions(socket_path=sink.path))
    client = Client(sentinel)
    client.send(Event(summary="sentinel"))
    client.close()
    lines = sink.wait_for_lines(1)
    assert len(lines) == 1
    assert b'"summary":"sentinel"' in lines[0]


def test_event_over_the_syslog_limit_is_refused_and_nothing_written(syslog_sink):
    client = Client(SyslogTransport(SyslogOptions(socket_path=syslog_sink.path)))
    with pytest.raises(EventTooLargeError, match=r"bytes as a syslog line; .* takes at most 8192"):
        client.send(Event(summary="big", details={"blob": HUGE}))
    client.close()
    _nothing_but_the_sentinel(syslog_sink)


def test_legacy_syslog_only_event_over_the_limit_is_refused_and_nothing_sent(receiver, syslog_sink):
    message = MozDefEvent(receiver.url)
    message.set_send_to_syslog(True, only_syslog=True)
    message.set_syslog_socket(syslog_sink.path)
    message.summary = "big"
    message.details = {"blob": HUGE}
    with pytest.raises(EventTooLargeError, match="takes at most 8192"):
        message.send()
    _nothing_but_the_sentinel(syslog_sink)
    assert receiver.requests == []
