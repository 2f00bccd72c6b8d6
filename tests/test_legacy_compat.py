"""Where the 1.1 classes behave as 1.1 did, because programs depend on it.

``validate()`` answers True/False and never raises; ``syslog_convert()`` and
upstream master's ``set_facility_from_string()`` exist; a missing or refusing
local syslog socket is warned about once and counted, never raised; SQS
failures are botocore's ``ClientError`` as well as ``MozDefError``; and the
caller's details are copied without ever leaking ``RecursionError`` or
``TypeError``. Syslog sockets here are paths that do not exist (or refuse),
so the tests mean the same on a machine that has ``/dev/log``.
"""

from __future__ import annotations

import json
import logging
import socket
import syslog
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from conftest import MotoSQS
from mozdef_client import (
    Client,
    ConfigurationError,
    EncodingError,
    Event,
    EventTooLargeError,
    MozDefAssetHint,
    MozDefCompliance,
    MozDefError,
    MozDefEvent,
    MozDefMessage,
    MozDefMsg,
    MozDefRRA,
    MozDefVulnerability,
    PermanentError,
    RetryableError,
    ValidationError,
)
from mozdef_client.legacy import delivery_stats, fire_and_forget_stats, flush_fire_and_forget
from mozdef_client.transports.syslog import SyslogOptions, SyslogTransport
from servers import Receiver, SyslogSink

# -- validate(): True or False, as 1.1 answered ------------------------------------


def asset_hint(details: Any) -> MozDefAssetHint:
    msg = MozDefAssetHint("http://127.0.0.1:1/events")
    msg.summary = "an asset hint"
    msg.details = details
    return msg


def rra(category: str = "rra_data", details: Any = None) -> MozDefRRA:
    msg = MozDefRRA("http://127.0.0.1:1/events")
    msg.summary = "an RRA"
    msg.category = category
    msg.details = {"metadata": {"service": "test"}} if details is None else details
    return msg


@pytest.mark.parametrize(
    ("make", "valid"),
    [
        (lambda: MozDefEvent("http://x/events"), False),  # no summary
        (lambda: asset_hint({}), False),
        (lambda: asset_hint(None), False),
        (lambda: asset_hint(["not", "a", "dict"]), False),
        (lambda: asset_hint({"hostname": "h"}), True),
        (lambda: rra(category="not_rra"), False),
        (lambda: rra(details={}), False),
        (lambda: rra(), True),
    ],
    ids=["event-no-summary", "hint-empty", "hint-none", "hint-list", "hint-ok",
         "rra-category", "rra-empty", "rra-ok"],
)  # fmt: skip
def test_validate_answers_true_or_false_as_1_1_did(make: Any, valid: bool) -> None:
    assert make().validate() is valid


@pytest.mark.parametrize(
    ("msg", "path"),
    [
        (rra(category="not_rra"), "category"),
        (rra(details={}), "details"),
        (asset_hint({}), "details"),
    ],
    ids=["rra-category", "rra-empty", "hint-empty"],
)
def test_send_of_what_validate_refuses_names_the_field_and_sends_nothing(
    receiver: Receiver, msg: MozDefEvent, path: str
) -> None:
    msg._url = receiver.url
    with pytest.raises(ValidationError) as caught:
        msg.send()
    assert isinstance(caught.value, MozDefError)
    assert caught.value.path == path
    assert path in str(caught.value)
    assert receiver.requests == []


def test_if_validate_then_send_never_raises_for_an_invalid_event(receiver: Receiver) -> None:
    """The 1.1 idiom: invalid events are skipped, valid ones sent."""
    for msg in (rra(category="not_rra"), rra(), asset_hint({}), asset_hint({"hostname": "h"})):
        msg._url = receiver.url
        if msg.validate():
            msg.send()
    assert [event["category"] for event in receiver.events] == ["rra_data", "asset_hint"]


@pytest.mark.parametrize(
    "sendlog",
    [{}, {"details": "text"}, {"details": {"policy": ["x"], "check": None}}, "not a dict"],
)
def test_validate_log_never_raises_for_a_malformed_document(sendlog: Any) -> None:
    for cls in (MozDefCompliance, MozDefVulnerability, MozDefEvent):
        msg = cls("http://x/events")
        msg._sendlog = sendlog
        assert msg.validate_log() is False


# -- syslog_convert(), set_facility_from_string(): 1.1's and master's ------------------


def test_syslog_convert_returns_what_1_1_returned(receiver: Receiver) -> None:
    """1.1: ``json.dumps(self._sendlog)``, default separators, after the send."""
    msg = MozDefEvent(receiver.url)
    msg.summary = "café"
    msg.details = {"one": 1}
    msg.send()
    converted = msg.syslog_convert()
    assert converted == json.dumps(msg._sendlog)
    assert json.loads(converted) == receiver.events[0]


def test_syslog_convert_before_construct_is_the_empty_document() -> None:
    assert MozDefCompliance("http://x/events").syslog_convert() == "{}"


def test_syslog_convert_converts_what_1_1_crashed_on() -> None:
    msg = MozDefEvent("http://x/events")
    msg.summary = "s"
    msg.details = {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)}
    msg.construct()
    assert json.loads(msg.syslog_convert())["details"]["when"] == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize("cls", [MozDefMessage, MozDefVulnerability])
def test_syslog_convert_of_other_message_types_raises_as_in_1_1(cls: type[MozDefMessage]) -> None:
    with pytest.raises(MozDefError, match="does not support syslog conversion"):
        cls("http://x/events").syslog_convert()


def test_facility_map_and_default_are_upstream_masters() -> None:
    names = ["kern", "user", "mail", "daemon", "auth", "lpr", "news", "uucp", "cron"]
    names += [f"local{n}" for n in range(8)]
    expected = {name: getattr(syslog, f"LOG_{name.upper()}") for name in names}
    assert MozDefEvent._facilitymap == expected
    assert MozDefEvent("http://x/events")._facility == syslog.LOG_USER


def test_set_facility_from_string_sets_the_line_priority(syslog_sink: SyslogSink) -> None:
    msg = MozDefEvent("http://127.0.0.1:1/events")
    msg.summary = "s"
    msg.set_syslog_socket(syslog_sink.path)
    msg.set_send_to_syslog(True, only_syslog=True)
    msg.set_facility_from_string("LOCAL5")
    assert msg._facility == syslog.LOG_LOCAL5
    msg.send()
    [line] = syslog_sink.wait_for_lines(1)
    assert line.startswith(b"<%d>" % (syslog.LOG_LOCAL5 | syslog.LOG_INFO))


@pytest.mark.parametrize("name", ["nope", "", "authpriv2"])
def test_set_facility_from_string_refuses_an_unknown_name(name: str) -> None:
    msg = MozDefEvent("http://x/events")
    with pytest.raises(ConfigurationError, match="unknown syslog facility") as caught:
        msg.set_facility_from_string(name)
    assert "local0" in str(caught.value)  # says what would do
    assert msg._facility == syslog.LOG_USER


def test_removed_1_1_internals_say_what_to_call_instead() -> None:
    msg = MozDefEvent("http://x/events")
    with pytest.raises(MozDefError, match=r"set_send_to_syslog\(True, only_syslog=True\)"):
        msg.send_syslog()
    with pytest.raises(MozDefError, match=r"set_send_to_sqs\(True\)"):
        msg.send_sqs()
    with pytest.raises(MozDefError, match=r"set_http_headers\(\)"):
        msg._httpsession.close()


def test_sevmap_is_1_1s_table() -> None:
    assert MozDefEvent._sevmap[MozDefEvent.SEVERITY_CRITICAL] == ["CRITICAL", syslog.LOG_CRIT]
    assert MozDefEvent._sevmap[MozDefEvent.SEVERITY_DEBUG] == ["DEBUG", syslog.LOG_DEBUG]
    assert len(MozDefEvent._sevmap) == 8


# -- local syslog missing or refusing: warned once, counted, never raised ---------------


@pytest.fixture
def missing_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every legacy message's syslog goes to a socket path that does not exist."""
    path = str(tmp_path / "no-syslog-here")
    monkeypatch.setattr(MozDefMessage, "_syslog_socket_path", path)
    return path


@pytest.fixture
def refusing_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A socket file nobody listens on any more: connecting is refused."""
    path = str(tmp_path / "dead.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.close()
    monkeypatch.setattr(MozDefMessage, "_syslog_socket_path", path)
    yield path


def syslog_warnings(caplog: pytest.LogCaptureFixture, path: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and path in r.getMessage()]  # fmt: skip


@pytest.mark.parametrize("socket_fixture", ["missing_socket", "refusing_socket"])
def test_unavailable_syslog_warns_once_counts_and_still_delivers_over_http(
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    socket_fixture: str,
) -> None:
    path = request.getfixturevalue(socket_fixture)
    for number in range(3):
        msg = MozDefEvent(receiver.url)
        msg.summary = f"event {number}"
        msg.set_send_to_syslog(True)
        msg.send()  # no exception
    assert [event["summary"] for event in receiver.events] == ["event 0", "event 1", "event 2"]
    [warning] = syslog_warnings(caplog, path)
    assert "not reaching syslog" in warning
    stats = delivery_stats()[f"sync: syslog:{path}, {receiver.url}"]
    assert stats.destinations[f"syslog:{path}"].dropped == {"unavailable": 3}
    assert stats.destinations[receiver.url].delivered == 3


def test_syslog_only_with_no_socket_returns_as_1_1_did(
    missing_socket: str, caplog: pytest.LogCaptureFixture
) -> None:
    msg = MozDefEvent("http://127.0.0.1:1/events")
    msg.summary = "only to syslog"
    msg.set_send_to_syslog(True, only_syslog=True)
    msg.send()
    assert syslog_warnings(caplog, missing_socket)
    stats = delivery_stats()[f"sync: syslog:{missing_socket}"]
    assert stats.dropped == {"unavailable": 1}


def test_fire_and_forget_syslog_with_no_socket_is_dropped_at_once_and_counted(
    missing_socket: str,
) -> None:
    msg = MozDefMsg("http://127.0.0.1:1/events")
    msg.sendToSyslog = True
    msg.syslogOnly = True
    msg.fire_and_forget_mode = True
    msg.send("hi")
    assert flush_fire_and_forget(timeout=5) == 0  # not retried until exit
    stats = fire_and_forget_stats()[f"syslog:{missing_socket}"]
    assert stats.dropped == {"unavailable": 1}
    assert stats.retried == 0


def test_a_line_too_large_for_syslog_is_still_an_error_after_http_got_it(
    receiver: Receiver, syslog_sink: SyslogSink
) -> None:
    """The event's fault, not the host's: said clearly, never cut or dropped silently."""
    msg = MozDefEvent(receiver.url)
    msg.summary = "big"
    msg.details = {"blob": "x" * 20_000}
    msg.set_syslog_socket(syslog_sink.path)
    msg.set_send_to_syslog(True)
    with pytest.raises(EventTooLargeError, match="takes at most 8192"):
        msg.send()
    assert receiver.events[0]["details"]["blob"] == "x" * 20_000
    assert syslog_sink.lines == []


def test_modern_client_still_raises_when_the_syslog_socket_is_missing(tmp_path: Path) -> None:
    """Only the 1.1 face drops: a new program asked for syslog and is told it failed."""
    missing = tmp_path / "none"
    with Client(f"syslog://{missing}") as client, pytest.raises(RetryableError, match=str(missing)):
        client.send(Event(summary="s"))
    assert SyslogOptions().when_unavailable == "raise"


# -- SQS failures are botocore's ClientError too -----------------------------------------


def sqs_event(moto: MotoSQS, queue: str) -> MozDefEvent:
    msg = MozDefEvent("http://127.0.0.1:1/never-used")
    msg.summary = "to SQS"
    msg.set_send_to_sqs(True)
    msg.set_sqs_queue_name(queue)
    msg.set_sqs_region("us-east-1")
    msg.set_sqs_endpoint_url(moto.url)
    return msg


@pytest.mark.usefixtures("aws_env")
def test_sqs_failure_is_both_client_error_and_mozdef_error(moto_sqs: MotoSQS) -> None:
    msg = sqs_event(moto_sqs, f"missing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        msg.send()
    error = caught.value
    assert isinstance(error, MozDefError)
    assert isinstance(error, PermanentError)
    assert error.response["Error"]["Code"]  # botocore's attributes are there
    assert error.operation_name == "GetQueueUrl"
    assert msg._sqs_queue_name in str(error)  # our message


@pytest.mark.usefixtures("aws_env")
def test_sqs_success_through_the_legacy_class(moto_sqs: MotoSQS) -> None:
    import boto3

    queue = f"ok-{uuid.uuid4().hex[:8]}"
    sqs = boto3.session.Session().client("sqs", endpoint_url=moto_sqs.url)
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs_event(moto_sqs, queue).send()
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"])["summary"] == "to SQS"


@pytest.mark.usefixtures("aws_env")
def test_an_endpoint_that_is_not_sqs_is_a_retryable_mozdef_error(receiver: Receiver) -> None:
    """Something else answering 200 where SQS should: not a KeyError from the answer."""
    msg = sqs_event(MotoSQS(receiver.url), "q")
    with pytest.raises(RetryableError, match="no QueueUrl"):
        msg.send()


# -- copying details: no RecursionError, no TypeError -------------------------------------


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


class Hostile(Mapping[str, Any]):
    """A mapping that fails when read, and refuses to be copied."""

    def __getitem__(self, key: str) -> Any:
        raise TypeError("no")

    def __iter__(self) -> Iterator[str]:
        raise TypeError("no")

    def __len__(self) -> int:
        return 1

    def __deepcopy__(self, memo: Any) -> Any:
        raise TypeError("cannot copy")


class NoCopy:
    def __deepcopy__(self, memo: Any) -> Any:
        raise TypeError("cannot copy")

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("cannot pickle")


def self_referencing() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["again"] = loop
    return loop


@pytest.mark.parametrize(
    ("details", "path"),
    [
        (nested(100_000), "details.a.a"),
        ((n for n in range(3)), "details.numbers"),
        (Hostile(), "details.numbers"),
        (NoCopy(), "details.numbers"),
        (self_referencing(), "details.numbers.again.again"),
    ],
    ids=["100000-deep", "generator", "hostile-mapping", "no-copy", "self-reference"],
)
@pytest.mark.parametrize("fire_and_forget", [False, True])
def test_uncopyable_details_are_an_encoding_error_naming_the_field_quickly(
    receiver: Receiver, details: Any, path: str, fire_and_forget: bool
) -> None:
    msg = MozDefEvent(receiver.url)
    msg.summary = "s"
    msg.details = details if path == "details.a.a" else {"numbers": details}
    msg.set_fire_and_forget(fire_and_forget)
    started = time.monotonic()
    with pytest.raises(EncodingError) as caught:
        msg.send()
    assert time.monotonic() - started < 2.0
    assert caught.value.path.startswith(path)
    assert path in str(caught.value)
    assert receiver.requests == []


def test_deep_updatelog_and_vulnerability_log_are_encoding_errors_too(receiver: Receiver) -> None:
    msg = MozDefEvent(receiver.url)
    msg.summary = "s"
    msg.set_simple_update_log({"extra": nested(100_000)})
    with pytest.raises(EncodingError, match=r"extra\.a"):
        msg.send()
    vulnerability = MozDefVulnerability(receiver.url)
    vulnerability.log = {"asset": nested(100_000)}
    with pytest.raises(EncodingError, match=r"asset\.a"):
        vulnerability.send()
    assert receiver.requests == []


# -- the transport option behind it: when_unavailable="drop" ---------------------------------


def test_a_dropping_syslog_in_durable_mode_leaves_nothing_in_the_spool(tmp_path: Path) -> None:
    options = SyslogOptions(socket_path=str(tmp_path / "none"), when_unavailable="drop")
    with Client(SyslogTransport(options), mode="durable", spool_dir=str(tmp_path)) as client:
        client.send(Event(summary="one"))
        client.send(Event(summary="two"))
        assert client.flush(5) == 0
        stats = client.stats()
    assert stats.dropped == {"unavailable": 2}
    assert (stats.pending_spool, stats.dead_lettered, stats.retried) == (0, 0, 0)


def test_a_dropping_syslog_that_works_delivers_and_drops_nothing(syslog_sink: SyslogSink) -> None:
    options = SyslogOptions(socket_path=syslog_sink.path, when_unavailable="drop")
    with Client(SyslogTransport(options), mode="background") as client:
        for summary in ("one", "two"):
            client.send(Event(summary=summary))
        assert client.flush(5) == 0
        stats = client.stats()
    summaries = [
        json.loads(line.split(b": ", 1)[1])["summary"] for line in syslog_sink.wait_for_lines(2)
    ]
    assert summaries == ["one", "two"]
    assert (stats.delivered, stats.dropped) == (2, {})


def test_an_unknown_when_unavailable_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="when_unavailable"):
        SyslogOptions(when_unavailable="ignore")  # type: ignore[arg-type]


@pytest.mark.parametrize("updatelog", [["not", "a", "dict"], Hostile()], ids=["list", "hostile"])
def test_an_unusable_updatelog_is_a_validation_error_naming_it(
    receiver: Receiver, updatelog: Any
) -> None:
    msg = MozDefEvent(receiver.url)
    msg.summary = "s"
    msg._updatelog = updatelog
    with pytest.raises(ValidationError, match="_updatelog"):
        msg.send()
    with pytest.raises(ValidationError, match="_updatelog"):
        msg.construct()
    assert receiver.requests == []
