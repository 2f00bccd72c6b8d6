"""Programs written for mozdef_client 1.1, as they use it, with no syslog socket.

Each test mirrors how a real program drives the 1.1 classes (written here
from reading them, not copied): MozDef's ``cron/duo_logpull.py``, a structlog
processor, mozilla-it/mozdef_client_config's ``ConfigedMozDefEvent`` as
mozilla-it/openvpn-client-disconnect uses it, mozilla/moz-security-monkey's
SQS publisher and rra2json's ``MozDefRRA`` to a ``/custom/`` endpoint. The
local syslog socket is a path that does not exist, as in a container.
"""

from __future__ import annotations

import configparser
import json
import logging
import syslog
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import botocore.parsers
import pytest
import structlog

import mozdef_client as mozdef
from conftest import MotoSQS
from mozdef_client import ConfigurationError, MozDefEvent, MozDefMessage
from mozdef_client.legacy import delivery_stats
from servers import Receiver, SyslogSink


@pytest.fixture(autouse=True)
def no_syslog_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default socket of every legacy message is missing, as in a container."""
    path = str(tmp_path / "no-dev-log")
    monkeypatch.setattr(MozDefMessage, "_syslog_socket_path", path)
    return path


# -- MozDef's cron/duo_logpull.py ---------------------------------------------------------

DUO_LOGS = [
    {"timestamp": "2026-11-30T10:00:00+00:00", "host": "api-1.duosecurity.com",
     "eventtype": "authentication", "result": "SUCCESS", "username": "alice",
     "access_device": {"ip": "192.0.2.1", "hostname": None}},
    {"timestamp": "2026-11-30T10:00:05+00:00", "host": "api-1.duosecurity.com",
     "eventtype": "authentication", "result": "FAILURE", "username": "bob",
     "access_device": {"ip": "192.0.2.2"}},
    {"timestamp": "2026-11-30T10:01:00+00:00", "host": "api-2.duosecurity.com",
     "eventtype": "authentication", "result": "SUCCESS", "username": "carol"},
]  # fmt: skip


def duo_logpull(mozdef_url: str, debug: bool) -> MozDefEvent:
    """duo_logpull's shape: one event object reused for every log line."""
    mozmsg = mozdef.MozDefEvent(mozdef_url)
    mozmsg.tags = ["duosecurity"]
    mozmsg.tags.append("extra-tag")
    mozmsg.set_category("authentication")
    mozmsg.source = "DuoSecurityAPI"
    if debug:
        mozmsg.debug = debug  # type: ignore[attr-defined]  # duo_logpull sets it
        mozmsg.set_send_to_syslog(True, only_syslog=True)
    for entry in DUO_LOGS:
        mozmsg.timestamp = entry["timestamp"]  # an ISO string, sent as given
        mozmsg.log["hostname"] = entry["host"]
        details = {k: v for k, v in entry.items() if k not in ("timestamp", "host")}
        details["success"] = entry["result"].lower() == "success"
        if "access_device" in details:
            details["sourceipaddress"] = details["access_device"]["ip"]
            if details["access_device"].get("hostname", "") is None:
                del details["access_device"]["hostname"]
        mozmsg.set_category("authentication")
        mozmsg.details = details
        mozmsg.hostname = "api.duosecurity.example"
        mozmsg.summary = f"{entry['eventtype']} {entry['result']} for {entry['username']}"
        mozmsg.send()
    return mozmsg


def test_duo_logpull_debug_mode_runs_with_no_syslog_socket(
    no_syslog_socket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Debug mode is syslog only: 1.1 ran through; so does 2, warning once."""
    duo_logpull("http://127.0.0.1:1/events", debug=True)
    warnings = [r.getMessage() for r in caplog.records if no_syslog_socket in r.getMessage()]
    assert len(warnings) == 1
    assert "not reaching syslog" in warnings[0]
    assert delivery_stats()[f"sync: syslog:{no_syslog_socket}"].dropped == {"unavailable": 3}


def test_duo_logpull_debug_mode_writes_each_line_to_syslog(
    syslog_sink: SyslogSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MozDefMessage, "_syslog_socket_path", syslog_sink.path)
    duo_logpull("http://127.0.0.1:1/events", debug=True)
    events = [json.loads(line.split(b": ", 1)[1]) for line in syslog_sink.wait_for_lines(3)]
    assert [e["timestamp"] for e in events] == [entry["timestamp"] for entry in DUO_LOGS]
    assert [e["details"]["username"] for e in events] == ["alice", "bob", "carol"]
    assert {e["hostname"] for e in events} == {"api.duosecurity.example"}


def test_duo_logpull_posts_every_event_of_the_reused_object(receiver: Receiver) -> None:
    mozmsg = duo_logpull(receiver.url, debug=False)
    events = receiver.events
    assert [e["timestamp"] for e in events] == [entry["timestamp"] for entry in DUO_LOGS]
    assert [e["summary"] for e in events] == [
        "authentication SUCCESS for alice",
        "authentication FAILURE for bob",
        "authentication SUCCESS for carol",
    ]
    assert events[0]["details"]["access_device"] == {"ip": "192.0.2.1"}
    assert "access_device" not in events[2]["details"]  # nothing left over from before
    assert {e["source"] for e in events} == {"DuoSecurityAPI"}
    assert events[0]["tags"] == ["duosecurity", "extra-tag"]
    assert json.loads(mozmsg.syslog_convert()) == events[-1]


# -- a structlog processor that builds a MozDefEvent ----------------------------------------


def mozdef_processor(url: str) -> Any:
    """A structlog processor as programs wrote them for 1.1: one MozDefEvent per entry."""

    def processor(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        msg = MozDefEvent(url)
        msg.summary = event_dict["event"]
        msg.details = {k: v for k, v in event_dict.items() if k != "event"}
        msg.tags = ["structlog"]
        msg.set_severity_from_string(event_dict.get("level", method_name).upper())
        msg.set_category("authentication")
        msg.set_send_to_syslog(True)
        msg.send()
        return event_dict

    return processor


def test_structlog_processor_sends_each_entry_with_no_syslog_socket(receiver: Receiver) -> None:
    log = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mozdef_processor(receiver.url),
            structlog.processors.JSONRenderer(),
        ],
    )
    rendered = log.warning("login failed", user="joe", at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    log.info("login", user="ann")
    assert json.loads(rendered)["event"] == "login failed"  # the chain goes on
    [failed, login] = receiver.events
    assert failed["summary"] == "login failed"
    assert failed["severity"] == "WARNING"
    assert failed["details"]["user"] == "joe"
    assert failed["details"]["at"] == "2026-01-02T00:00:00+00:00"
    assert login["severity"] == "INFO"
    assert login["details"]["level"] == "info"


# -- mozdef_client_config's ConfigedMozDefEvent, as openvpn-client-disconnect uses it ---------


class ConfigedMozDefEvent(MozDefEvent):
    """mozdef_client_config's shape: settings from a file, laid over 1.1's defaults
    through private attributes, and category/source as properties."""

    CONFIG_FILE_LOCATIONS: tuple[str, ...] = ()

    def __init__(self) -> None:
        config = configparser.ConfigParser()
        config.read(self.CONFIG_FILE_LOCATIONS)
        self._send_events = config.getboolean("mozdef", "send_events", fallback=True)
        super().__init__(config.get("mozdef", "mozdef_url"))
        self._send_to_syslog = config.getboolean("mozdef", "send_to_syslog", fallback=False)
        self._syslog_only = config.getboolean("mozdef", "syslog_only", fallback=False)
        if config.has_option("mozdef", "syslog_facility"):
            self.set_facility_from_string(config.get("mozdef", "syslog_facility"))
        self.set_verify(True)

    def send(self, *args: Any, **kwargs: Any) -> None:
        if self._send_events:
            super().send(*args, **kwargs)

    @property  # type: ignore[override]
    def category(self) -> str:
        return self._category

    @category.setter
    def category(self, value: str) -> None:
        self._category = value.lower()

    @property  # type: ignore[override]
    def source(self) -> str | None:
        return self._source

    @source.setter
    def source(self, value: str | None) -> None:
        self._source = value


@pytest.fixture
def configed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Write the config file ConfigedMozDefEvent reads; returns a function to do so."""

    def write(**settings: str) -> None:
        path = tmp_path / "mozdef_client_config.conf"
        body = "".join(f"{key} = {value}\n" for key, value in settings.items())
        path.write_text(f"[mozdef]\n{body}", encoding="utf-8")
        monkeypatch.setattr(ConfigedMozDefEvent, "CONFIG_FILE_LOCATIONS", (str(path),))

    yield write


def openvpn_log_to_mozdef(usercn: str, log_to_stdout: bool) -> None:
    """openvpn-client-disconnect's log_to_mozdef: send, then print syslog_convert()."""
    logger = ConfigedMozDefEvent()
    logger.category = "Authentication"
    logger.source = "openvpn"
    logger.tags = ["vpn", "disconnect"]
    logger.summary = f"SUCCESS: VPN disconnection for {usercn}"
    logger.details = {"username": usercn, "bytessent": "1234", "success": "true"}
    logger.send()
    if log_to_stdout:
        print(logger.syslog_convert())


def test_openvpn_disconnect_with_syslog_and_facility_and_no_socket(
    configed: Any, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    configed(mozdef_url=receiver.url, send_to_syslog="True", syslog_facility="local5")
    openvpn_log_to_mozdef("bob-device", log_to_stdout=True)
    [event] = receiver.events
    assert event["category"] == "authentication"  # the subclass's property lower-cased it
    assert event["source"] == "openvpn"
    assert json.loads(capsys.readouterr().out) == event


def test_configed_event_facility_reaches_the_syslog_line(
    configed: Any, syslog_sink: SyslogSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MozDefMessage, "_syslog_socket_path", syslog_sink.path)
    configed(mozdef_url="http://127.0.0.1:1/events", send_to_syslog="True",
             syslog_only="True", syslog_facility="AUTH")  # fmt: skip
    openvpn_log_to_mozdef("ann-laptop", log_to_stdout=False)
    [line] = syslog_sink.wait_for_lines(1)
    assert line.startswith(b"<%d>" % (syslog.LOG_AUTH | syslog.LOG_INFO))
    assert json.loads(line.split(b": ", 1)[1])["category"] == "authentication"


def test_configed_event_with_sending_off_prints_the_empty_document(
    configed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configed(mozdef_url="http://127.0.0.1:1/events", send_events="False")
    openvpn_log_to_mozdef("bob-device", log_to_stdout=True)
    assert capsys.readouterr().out == "{}\n"  # as 1.1: nothing was constructed


def test_configed_event_with_an_unknown_facility_says_which_names_work(configed: Any) -> None:
    """Upstream master silently kept 'user'; 2 says what is wrong (docs/migration.md)."""
    configed(mozdef_url="http://127.0.0.1:1/events", syslog_facility="local9")
    with pytest.raises(ConfigurationError, match=r"'local9'.*local0"):
        ConfigedMozDefEvent()


# -- moz-security-monkey: SQS, failures caught as botocore's ClientError ----------------------

ACCOUNT = "123456789012"  # moto's default account


def publish_to_mozdef(queue_arn: str, summary: str, details: dict[str, Any]) -> bool:
    """moz-security-monkey's publisher: SQS only, botocore errors caught and logged."""
    msg = mozdef.MozDefEvent("")
    msg.summary = summary
    msg.tags = ["asap"]
    msg.details = json.loads(json.dumps(details, default=str))
    region, account_id, queue_name = queue_arn.split(":")[3:]
    msg.set_send_to_sqs(True)
    msg.set_sqs_queue_name(queue_name)
    msg.set_sqs_region(region)
    msg.set_sqs_aws_account_id(account_id)
    try:
        msg.send()
    except (botocore.exceptions.ClientError, botocore.parsers.ResponseParserError) as e:
        logging.getLogger("security_monkey").critical("SQS send failed: %s", e)
        return False
    return True


@pytest.fixture
def moto_endpoint(moto_sqs: MotoSQS, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> MotoSQS:
    """The program sets no endpoint: boto3 finds moto through the environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_sqs.url)
    return moto_sqs


def test_security_monkey_publishes_to_sqs(moto_endpoint: MotoSQS) -> None:
    queue = f"monkey-{uuid.uuid4().hex[:8]}"
    sqs = boto3.session.Session().client("sqs", region_name="us-west-2")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = f"arn:aws:sqs:us-west-2:{ACCOUNT}:{queue}"
    assert publish_to_mozdef(arn, "NEW ISSUE - [prod] Changes in s3", {"issues": {1: "x"}})
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    event = json.loads(message["Body"])
    assert event["summary"] == "NEW ISSUE - [prod] Changes in s3"
    assert event["details"] == {"issues": {"1": "x"}}


def test_security_monkey_catches_a_missing_queue_as_client_error(
    moto_endpoint: MotoSQS, caplog: pytest.LogCaptureFixture
) -> None:
    arn = f"arn:aws:sqs:us-west-2:{ACCOUNT}:missing-{uuid.uuid4().hex[:8]}"
    assert publish_to_mozdef(arn, "summary", {}) is False  # caught, no crash
    [record] = [r for r in caplog.records if r.name == "security_monkey"]
    assert "missing-" in record.getMessage()


# -- rra2json: MozDefRRA to MozDef's /custom/ endpoint, _updatelog assigned --------------------


class DotDict(dict[str, Any]):
    """rra2json's dict with attribute access; its __getattr__ raises KeyError, which
    made ``copy.deepcopy`` of it fail."""

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__  # type: ignore[assignment]

    def __init__(self, items: dict[str, Any]) -> None:
        super().__init__()
        for key, value in items.items():
            self[key] = DotDict(value) if isinstance(value, dict) else value


def test_rra_to_a_custom_endpoint_with_updatelog_assigned(receiver: Receiver) -> None:
    rrajsondoc = DotDict({
        "category": "rra_data",
        "tags": ["RRA"],
        "summary": "RRA for Example Service",
        "details": {"metadata": {"service": "Example Service", "owner": "team"},
                    "risk": {"confidentiality": {"impact": "HIGH"}}},
        "lastmodified": "2026-11-01T00:00:00+00:00",
        "source": "rra2json",
        "timestamp": "2026-11-30T12:00:00+00:00",
    })  # fmt: skip
    msg = mozdef.MozDefRRA(f"{receiver.base_url}/custom/rra")
    msg.set_fire_and_forget(False)
    msg.category = rrajsondoc.category
    msg.tags = rrajsondoc.tags
    msg.summary = rrajsondoc.summary
    msg.details = rrajsondoc.details
    msg._updatelog = {}
    msg._updatelog["lastmodified"] = rrajsondoc.lastmodified
    msg._updatelog["source"] = rrajsondoc.source
    msg._updatelog["utctimestamp"] = rrajsondoc.timestamp
    msg.send()
    [request] = receiver.requests
    assert request.path == "/custom/rra"
    [event] = request.documents
    assert event["category"] == "rra_data"
    assert event["details"]["metadata"]["service"] == "Example Service"
    assert event["lastmodified"] == "2026-11-01T00:00:00+00:00"
    assert event["utctimestamp"] == "2026-11-30T12:00:00+00:00"
    assert event["source"] == "rra2json"
    assert msg._updatelog == {  # left as the program wrote it
        "lastmodified": "2026-11-01T00:00:00+00:00",
        "source": "rra2json",
        "utctimestamp": "2026-11-30T12:00:00+00:00",
    }
