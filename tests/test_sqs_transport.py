"""The SQS transport against moto's SQS server on loopback."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest

from conftest import MotoSQS
from mozdef_client import (
    Client,
    EncodedEvent,
    Event,
    EventTooLargeError,
    MozDefError,
    PermanentError,
    RetryableError,
    Severity,
    SQSOptions,
    SQSTransport,
    prepare,
)
from servers import free_port

REGION = "us-west-1"
MOTO_ACCOUNT = "123456789012"  # the account moto's server plays


@pytest.fixture
def sqs(moto_sqs: MotoSQS, aws_env: None) -> Any:
    """A boto3 SQS client talking to moto's server, as a test's view of the queues."""
    return boto3.session.Session().client("sqs", region_name=REGION, endpoint_url=moto_sqs.url)


@pytest.fixture
def queue(sqs: Any) -> Iterator[tuple[str, str]]:
    """A fresh queue: (name, URL)."""
    name = f"mozdef-{uuid.uuid4().hex[:12]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    yield name, url
    sqs.delete_queue(QueueUrl=url)


def encoded(summary: str = "test event", **fields: object) -> EncodedEvent:
    return prepare(Event(summary=summary, **fields))  # type: ignore[arg-type]


def receive_all(sqs: Any, queue_url: str, expected: int) -> list[dict[str, Any]]:
    """Every message body in the queue, decoded as JSON (waits for ``expected``)."""
    bodies: list[dict[str, Any]] = []
    for _ in range(20):
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        for message in response.get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if len(bodies) >= expected and not response.get("Messages"):
            break
    return bodies


def message_count(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def transport(moto_sqs: MotoSQS, name: str, **options: Any) -> SQSTransport:
    return SQSTransport(
        SQSOptions(queue_name=name, region=REGION, endpoint_url=moto_sqs.url, **options)
    )


def test_an_event_arrives_as_one_json_message_body(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    client = Client(transport(moto_sqs, name))
    client.send(Event(summary="via SQS", severity=Severity.ERROR, details={"n": 1, "s": "é"}))

    [body] = receive_all(sqs, url, 1)
    assert body["summary"] == "via SQS"
    assert body["severity"] == "ERROR"
    assert body["details"] == {"n": 1, "s": "é"}
    assert len(moto_sqs.calls_of("SendMessage", url)) == 1


def test_the_sqs_url_form_names_queue_region_and_endpoint(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    client = Client(f"sqs://{name}?region={REGION}&endpoint_url={moto_sqs.url}")
    assert client.destinations == [f"sqs://{name}"]
    client.send(Event(summary="from a URL"))
    [body] = receive_all(sqs, url, 1)
    assert body["summary"] == "from a URL"


def test_an_account_id_finds_the_owners_queue(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    client = Client(
        f"sqs://{name}?region={REGION}&account={MOTO_ACCOUNT}&endpoint_url={moto_sqs.url}"
    )
    client.send(Event(summary="with account"))
    [lookup] = [
        body for action, body in moto_sqs.calls
        if action == "GetQueueUrl" and body.get("QueueName") == name
    ]  # fmt: skip
    assert lookup["QueueOwnerAWSAccountId"] == MOTO_ACCOUNT
    [body] = receive_all(sqs, url, 1)
    assert body["summary"] == "with account"


def test_without_an_account_id_the_callers_account_is_used(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    transport(moto_sqs, name).send([encoded("no account")])
    [lookup] = [
        body for action, body in moto_sqs.calls
        if action == "GetQueueUrl" and body.get("QueueName") == name
    ]  # fmt: skip
    assert "QueueOwnerAWSAccountId" not in lookup
    [body] = receive_all(sqs, url, 1)
    assert body["summary"] == "no account"


def test_the_region_comes_from_the_environment_when_not_given(
    moto_sqs: MotoSQS, sqs: Any, monkeypatch: pytest.MonkeyPatch, queue: tuple[str, str]
) -> None:
    name, url = queue
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    SQSTransport(SQSOptions(queue_name=name, endpoint_url=moto_sqs.url)).send([encoded("env")])
    [body] = receive_all(sqs, url, 1)
    assert body["summary"] == "env"


# --- size ----------------------------------------------------------------------


def test_the_size_limit_counts_utf8_bytes_and_nothing_is_sent(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    """100,000 three-byte characters are under 256 Ki characters but over 256 KiB."""
    name, url = queue
    event = encoded("€" * 100_000)
    assert len(event.payload.decode("utf-8")) < 256 * 1024 < len(event.payload)
    calls_before = len(moto_sqs.calls)
    with pytest.raises(EventTooLargeError) as caught:
        transport(moto_sqs, name).send([event])
    assert str(256 * 1024) in str(caught.value)
    assert len(moto_sqs.calls) == calls_before
    assert message_count(sqs, url) == 0


def test_a_batch_with_an_oversized_last_event_sends_nothing(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    batch = [encoded("a"), encoded("b"), encoded("€" * 100_000)]
    with pytest.raises(EventTooLargeError) as caught:
        transport(moto_sqs, name).send(batch)
    assert "event 2" in str(caught.value)
    assert message_count(sqs, url) == 0


def test_the_size_is_checked_before_connecting(aws_env: None) -> None:
    """Even with no server at the endpoint, an oversized event is a size error."""
    dead = SQSTransport(
        SQSOptions(queue_name="q", region=REGION, endpoint_url=f"http://127.0.0.1:{free_port()}")
    )
    with pytest.raises(EventTooLargeError):
        dead.send([encoded("€" * 100_000)])


def test_an_event_just_under_the_limit_is_sent(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    padding = 256 * 1024 - len(encoded("x").payload) + 1
    event = encoded("x" * padding)
    assert len(event.payload) == 256 * 1024
    transport(moto_sqs, name).send([event])
    [body] = receive_all(sqs, url, 1)
    assert len(body["summary"]) == padding


# --- errors --------------------------------------------------------------------


def test_a_missing_queue_is_a_permanent_error_from_botocore(
    moto_sqs: MotoSQS, aws_env: None
) -> None:
    missing = transport(moto_sqs, f"no-such-queue-{uuid.uuid4().hex[:8]}")
    with pytest.raises(PermanentError) as caught:
        missing.send([encoded()])
    assert isinstance(caught.value, MozDefError)
    assert isinstance(caught.value.__cause__, botocore.exceptions.ClientError)
    assert "sqs://no-such-queue-" in str(caught.value)
    assert "NonExistentQueue" in str(caught.value) or "QueueDoesNotExist" in str(caught.value)


# --- batches -------------------------------------------------------------------


def test_a_batch_goes_as_send_message_batch_calls_of_ten_at_most(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    batch = [encoded(f"event {i}") for i in range(25)]
    transport(moto_sqs, name).send(batch)

    calls = moto_sqs.calls_of("SendMessageBatch", url)
    assert [len(call["Entries"]) for call in calls] == [10, 10, 5]
    assert moto_sqs.calls_of("SendMessage", url) == []
    bodies = receive_all(sqs, url, 25)
    assert sorted(body["summary"] for body in bodies) == sorted(f"event {i}" for i in range(25))


def test_a_batch_is_split_to_stay_under_256_kib_per_call(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    name, url = queue
    batch = [encoded(f"{i}" + "x" * 100_000) for i in range(4)]
    transport(moto_sqs, name).send(batch)

    calls = moto_sqs.calls_of("SendMessageBatch", url)
    sizes = [sum(len(e["MessageBody"].encode()) for e in call["Entries"]) for call in calls]
    assert all(size <= 256 * 1024 for size in sizes)
    assert sum(len(call["Entries"]) for call in calls) == 4
    assert len(receive_all(sqs, url, 4)) == 4


def test_a_batch_to_a_vanished_queue_raises_the_calls_permanent_error(
    moto_sqs: MotoSQS, sqs: Any
) -> None:
    """When no entry arrived, the error is the API's own, not a partial-delivery one."""
    name = f"mozdef-{uuid.uuid4().hex[:12]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sender = transport(moto_sqs, name)
    sender.send([encoded("finds the queue")])
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(PermanentError) as caught:
        sender.send([encoded(f"event {i}") for i in range(3)])
    assert isinstance(caught.value.__cause__, botocore.exceptions.ClientError)


def test_an_unreachable_endpoint_is_retryable_and_fails_quickly(aws_env: None) -> None:
    dead = SQSTransport(
        SQSOptions(queue_name="q", region=REGION, endpoint_url=f"http://127.0.0.1:{free_port()}")
    )
    started = time.monotonic()
    with pytest.raises(RetryableError) as caught:
        dead.send([encoded()])
    # botocore's default (five attempts with backoff) took about 7 s here.
    assert time.monotonic() - started < 5
    assert "sqs://q" in str(caught.value)


def test_characters_sqs_refuses_are_sent_as_json_escapes(
    moto_sqs: MotoSQS, sqs: Any, queue: tuple[str, str]
) -> None:
    """SQS rejects raw U+FFFE/U+FFFF; escaped, the JSON still decodes to the same text."""
    name, url = queue
    transport(moto_sqs, name).send([encoded("odd \uffff and \ufffe")])
    [call] = moto_sqs.calls_of("SendMessage", url)
    assert "\uffff" not in call["MessageBody"] and "\ufffe" not in call["MessageBody"]
    [body] = receive_all(sqs, url, 1)
    assert body["summary"] == "odd \uffff and \ufffe"
