"""Every code example of the mozdef_client 1.1 README runs unchanged on the new core.

Each example is copied as written (between ``fmt: off`` markers so the
formatter leaves it alone); only its URL is replaced by a local receiver's.
Syslog examples write to a unix-datagram sink instead of ``/dev/log``, and the
SQS example talks to moto's SQS server through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

import mozdef_client
from mozdef_client import (
    ConfigurationError,
    EventTooLargeError,
    MozDefError,
    MozDefEvent,  # the README's severity example names it without the module
    MozDefMessage,
    MozDefMsg,
)
from samples import vulnerability_document
from servers import Receiver, SyslogSink, free_port

# <PRI>Mmm dd hh:mm:ss ident[pid]: {json}
SYSLOG_LINE = re.compile(
    rb"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\S+)\[(\d+)\]: (.*)$", re.S
)
FACILITY_USER = 1


def parse_syslog(line: bytes) -> tuple[int, dict[str, Any]]:
    """The priority and the JSON event of one syslog datagram (a single line)."""
    match = SYSLOG_LINE.match(line)
    assert match, line
    assert b"\n" not in line
    return int(match.group(1)), json.loads(match.group(4))


@pytest.fixture
def syslog(monkeypatch: pytest.MonkeyPatch, syslog_sink: SyslogSink) -> SyslogSink:
    """Every legacy message's syslog output goes to the sink instead of /dev/log."""
    monkeypatch.setattr(MozDefMessage, "_syslog_socket_path", syslog_sink.path)
    return syslog_sink


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto's SQS server on a free loopback port, for this module's tests."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def sqs(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """A boto3 SQS client on a fresh moto; the library finds moto through the environment."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    # No configuration of the machine running the tests leaks in.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    return boto3.session.Session().client("sqs", region_name="us-west-1")


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_generic_event_example_posts_the_event(receiver: Receiver) -> None:
    """README "Usage": a generic event with summary, tags and details reaches MozDef."""
    # fmt: off
    import mozdef_client
    msg = mozdef_client.MozDefEvent(receiver.url)
    msg.summary = 'a test message'
    msg.tags = ['tag1', 'tag2']
    msg.details = {'hostname': 'test', 'alert': True}
    msg.send()
    # fmt: on

    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/events"
    [event] = request.documents
    assert event["summary"] == "a test message"
    assert event["tags"] == ["tag1", "tag2"]
    assert event["details"] == {"hostname": "test", "alert": True}
    assert event["category"] == "event"
    assert event["severity"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", event["timestamp"])
    assert {"hostname", "processname", "processid"} <= event.keys()


def test_syslog_example_sends_to_syslog_and_to_mozdef(receiver: Receiver, syslog: SyslogSink):
    """README: set_send_to_syslog(True) writes one flattened line and still posts."""
    # fmt: off
    import mozdef_client
    msg = mozdef_client.MozDefEvent(receiver.url)
    msg.summary = 'a test message'
    msg.tags = ['tag1', 'tag2']
    msg.details = {'hostname': 'test', 'alert': True}
    msg.set_send_to_syslog(True)
    msg.send()
    # fmt: on

    [line] = syslog.wait_for_lines(1)
    priority, logged = parse_syslog(line)
    assert priority == FACILITY_USER * 8 + 6  # INFO is syslog severity 6
    [posted] = receiver.events
    assert logged == posted
    assert posted["summary"] == "a test message"


def test_syslog_only_example_does_not_post(receiver: Receiver, syslog: SyslogSink) -> None:
    """README: only_syslog=True writes to syslog and sends nothing over HTTP."""
    # fmt: off
    # Or optionally, if you only want to send to syslog.
    import mozdef_client
    msg = mozdef_client.MozDefEvent(receiver.url)
    msg.summary = 'a test message'
    msg.tags = ['tag1', 'tag2']
    msg.details = {'hostname': 'test', 'alert': True}
    msg.set_send_to_syslog(True, only_syslog=True)
    msg.send()
    # fmt: on

    [line] = syslog.wait_for_lines(1)
    _, logged = parse_syslog(line)
    assert logged["details"] == {"hostname": "test", "alert": True}
    assert logged["tags"] == ["tag1", "tag2"]
    assert receiver.requests == []


def test_syslog_severity_example_carries_the_critical_priority(
    receiver: Receiver, syslog: SyslogSink
) -> None:
    """README "Notes on Syslog Compatibility": SEVERITY_CRIT becomes priority <10> (user.crit)."""
    # fmt: off
    import mozdef_client
    msg = mozdef_client.MozDefEvent(receiver.url)
    msg.summary = 'a test event'
    msg.tags = ['generic', 'test']
    msg.details = {'one': 1, 'two': 'two'}
    msg.set_severity(MozDefEvent.SEVERITY_CRIT)
    msg.set_send_to_syslog(True, only_syslog=True)
    msg.send()
    # fmt: on

    [line] = syslog.wait_for_lines(1)
    priority, logged = parse_syslog(line)
    assert line.startswith(b"<10>")
    assert priority == FACILITY_USER * 8 + 2
    assert logged["severity"] == "CRITICAL"
    assert logged["summary"] == "a test event"
    assert logged["details"] == {"one": 1, "two": "two"}
    assert receiver.requests == []


def test_sqs_example_sends_to_the_queue_and_never_over_http(receiver: Receiver, sqs: Any) -> None:
    """README: with SQS on, the event is one queue message and the URL is ignored.

    moto does not check QueueOwnerAWSAccountId, so the README's account id
    finds the queue moto made in its own account; on AWS the queue must be in
    that account.
    """
    queue_url = sqs.create_queue(QueueName="my_queue")["QueueUrl"]

    # fmt: off
    import mozdef_client
    msg = mozdef_client.MozDefEvent(receiver.url)
    msg.summary = 'a test message'
    msg.tags = ['tag1', 'tag2']
    msg.details = {'hostname': 'test', 'alert': True}
    msg.set_send_to_sqs(True)
    msg.set_sqs_queue_name('my_queue')
    msg.set_sqs_region('us-west-1')
    msg.set_sqs_aws_account_id('012345678901') # Not required if the SQS queue is in the local AWS account  # noqa: E501
    # Note that unlike syslog this will NEVER send to MozDef HTTP (URL is ignored)
    msg.send()
    # fmt: on

    [event] = receive_all(sqs, queue_url)
    assert event == msg._sendlog
    assert event["summary"] == "a test message"
    assert event["details"] == {"hostname": "test", "alert": True}
    assert receiver.requests == []


def test_vulnerability_example_posts_the_log_dict_whole(receiver: Receiver) -> None:
    """README: a vulnerability event is the caller's dict, sent as it is."""
    vuln_msg = vulnerability_document()
    expected = json.loads(json.dumps(vuln_msg))
    compliance_url = f"{receiver.base_url}/compliance"

    # fmt: off
    import mozdef_client
    msg = mozdef_client.MozDefVulnerability(compliance_url)
    msg.log = vuln_msg
    msg.send()
    # fmt: on

    [request] = receiver.requests
    assert request.path == "/compliance"
    assert request.documents == [expected]


def test_asset_hint_example_posts_category_asset_hint(receiver: Receiver) -> None:
    """README: an asset hint is a generic event in category asset_hint."""
    # fmt: off
    import mozdef_client
    msg = mozdef_client.MozDefAssetHint(receiver.url)
    msg.summary = 'new host detected'
    msg.details = {'hostname': 'test'}
    msg.send()
    # fmt: on

    [event] = receiver.events
    assert event["category"] == "asset_hint"
    assert event["summary"] == "new host detected"
    assert event["details"] == {"hostname": "test"}


def test_readme_severity_constants_all_exist() -> None:
    """Every severity the README lists (and its SEVERITY_CRIT) is a MozDefEvent attribute."""
    names = ["SEVERITY_INFO", "SEVERITY_WARNING", "SEVERITY_CRITICAL", "SEVERITY_ERROR",
             "SEVERITY_DEBUG", "SEVERITY_CRIT"]  # fmt: skip
    for name in names:
        assert isinstance(getattr(mozdef_client.MozDefEvent, name), int), name
    assert MozDefEvent.SEVERITY_CRIT == MozDefEvent.SEVERITY_CRITICAL


# -- SQS beyond the README example --------------------------------------------


def sqs_event(url: str, queue: str = "my_queue") -> MozDefEvent:
    msg = MozDefEvent(url)
    msg.summary = "to the queue"
    msg.set_send_to_sqs(True)
    msg.set_sqs_queue_name(queue)
    msg.set_sqs_region("us-west-1")
    return msg


def test_sqs_works_without_an_account_id(receiver: Receiver, sqs: Any) -> None:
    """The queue in the caller's own account needs no set_sqs_aws_account_id()."""
    queue_url = sqs.create_queue(QueueName="my_queue")["QueueUrl"]
    sqs_event(receiver.url).send()
    [event] = receive_all(sqs, queue_url)
    assert event["summary"] == "to the queue"
    assert receiver.requests == []


def test_sqs_body_is_compact_json_of_the_event(receiver: Receiver, sqs: Any) -> None:
    queue_url = sqs.create_queue(QueueName="my_queue")["QueueUrl"]
    msg = sqs_event(receiver.url)
    msg.details = {"user": "joe"}
    msg.send()
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert message["Body"].startswith('{"timestamp":')
    assert ": " not in message["Body"]


def test_sqs_missing_queue_is_a_mozdef_error_naming_the_queue(receiver: Receiver, sqs: Any) -> None:
    """A queue that does not exist raises a MozDefError (not a botocore error)."""
    msg = sqs_event(receiver.url, queue="no_such_queue")
    with pytest.raises(MozDefError, match="no_such_queue") as caught:
        msg.send()
    assert not type(caught.value).__module__.startswith("botocore")
    assert receiver.requests == []


def test_sqs_missing_queue_does_not_raise_in_fire_and_forget_mode(
    receiver: Receiver, sqs: Any
) -> None:
    msg = sqs_event(receiver.url, queue="no_such_queue")
    msg.set_fire_and_forget(True)
    assert msg.send() is None
    assert receiver.requests == []


def test_sqs_size_limit_counts_utf8_bytes(receiver: Receiver, sqs: Any) -> None:
    """A body under 256 Ki characters but over 256 KiB in UTF-8 is refused before sending."""
    queue_url = sqs.create_queue(QueueName="my_queue")["QueueUrl"]
    msg = sqs_event(receiver.url)
    msg.details = {"text": "é" * 100_000 + "€" * 30_000}  # 130,000 characters, 290,000 bytes
    with pytest.raises(EventTooLargeError, match="bytes"):
        msg.send()
    assert receive_all(sqs, queue_url) == []


def test_sqs_without_a_queue_name_is_a_configuration_error(receiver: Receiver) -> None:
    msg = MozDefEvent(receiver.url)
    msg.summary = "nowhere"
    msg.set_send_to_sqs(True)
    with pytest.raises(ConfigurationError, match="queue"):
        msg.send()
    assert receiver.requests == []


def test_sqs_without_boto3_is_a_configuration_error_naming_the_extra(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 is an optional extra: without it an SQS send says what to install."""
    for name in ("boto3", "botocore", "botocore.config", "botocore.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    msg = sqs_event(receiver.url, queue="queue-without-boto3")
    with pytest.raises(ConfigurationError, match=r"mozdef-client\[sqs\]"):
        msg.send()
    assert receiver.requests == []


def test_mozdefmsg_sends_to_sqs_with_its_1_1_attributes(receiver: Receiver, sqs: Any) -> None:
    """MozDefMsg's sendToSqs / sqsQueueName / sqsRegion work as in 1.1."""
    queue_url = sqs.create_queue(QueueName="my_queue")["QueueUrl"]
    msg = MozDefMsg(receiver.url, summary="via MozDefMsg")
    msg.sendToSqs = True
    msg.sqsQueueName = "my_queue"
    msg.sqsRegion = "us-west-1"
    msg.fire_and_forget_mode = False
    msg.send()
    msg.send(summary="again")
    events = receive_all(sqs, queue_url)
    assert sorted(event["summary"] for event in events) == ["again", "via MozDefMsg"]
    assert receiver.requests == []
