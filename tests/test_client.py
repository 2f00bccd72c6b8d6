"""The synchronous Client with real destinations: HTTP, local syslog and a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mozdef_client import (
    Client,
    ConfigurationError,
    DeliveryError,
    Event,
    FileTransport,
    PermanentError,
    RetryableError,
    Severity,
    ValidationError,
)
from mozdef_client.ndjson import read_documents
from servers import Receiver, SyslogSink, free_port


@pytest.fixture
def file_path(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


@pytest.fixture
def everywhere(receiver: Receiver, syslog_sink: SyslogSink, file_path: Path) -> Iterator[Client]:
    """A Client sending to an HTTP receiver, a syslog socket and a file at once."""
    client = Client(
        [receiver.url, f"syslog://{syslog_sink.path}?ident=client-test", f"file://{file_path}"]
    )
    yield client
    client.close()


def file_summaries(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [document["summary"] for document in read_documents(path.read_bytes())]


def syslog_summaries(sink: SyslogSink, count: int) -> list[str]:
    lines = sink.wait_for_lines(count, timeout=2 if count else 0.3)
    return [json.loads(line.split(b"]: ", 1)[1])["summary"] for line in lines]


def test_every_destination_gets_the_event(
    everywhere: Client, receiver: Receiver, syslog_sink: SyslogSink, file_path: Path
) -> None:
    everywhere.send(Event(summary="to all three", severity=Severity.WARNING))
    assert [e["summary"] for e in receiver.events] == ["to all three"]
    assert syslog_summaries(syslog_sink, 1) == ["to all three"]
    assert file_summaries(file_path) == ["to all three"]
    assert b"client-test[" in syslog_sink.lines[0]


def test_one_failing_destination_does_not_stop_the_others(
    everywhere: Client, receiver: Receiver, syslog_sink: SyslogSink, file_path: Path
) -> None:
    receiver.script(503)
    with pytest.raises(RetryableError) as caught:
        everywhere.send(Event(summary="despite the 503"))
    assert caught.value.destination == receiver.url
    assert receiver.url in str(caught.value)
    assert "503" in str(caught.value)
    assert syslog_summaries(syslog_sink, 1) == ["despite the 503"]
    assert file_summaries(file_path) == ["despite the 503"]


def test_several_failures_are_reported_together_naming_each(
    receiver: Receiver, file_path: Path, tmp_path: Path
) -> None:
    missing_socket = tmp_path / "no.sock"
    client = Client([receiver.url, f"syslog://{missing_socket}", f"file://{tmp_path}"])
    receiver.script(401)
    with pytest.raises(DeliveryError) as caught:
        client.send(Event(summary="three ways to fail"))
    message = str(caught.value)
    assert "3 destinations failed" in message
    assert receiver.url in message
    assert str(missing_socket) in message
    assert f"file://{tmp_path}" in message
    assert isinstance(caught.value.__cause__, PermanentError)


def test_an_invalid_event_reaches_no_destination(
    everywhere: Client, receiver: Receiver, syslog_sink: SyslogSink, file_path: Path
) -> None:
    event = Event(summary="bad", details={"n": float("nan")})
    with pytest.raises(ValidationError, match=r"details\.n"):
        everywhere.send(event)
    assert receiver.requests == []
    assert syslog_summaries(syslog_sink, 0) == []
    assert file_summaries(file_path) == []


def test_a_transport_object_is_a_destination(receiver: Receiver, file_path: Path) -> None:
    with Client([FileTransport(str(file_path)), receiver.url]) as client:
        client.send(Event(summary="mixed"))
    assert file_summaries(file_path) == ["mixed"]
    assert [e["summary"] for e in receiver.events] == ["mixed"]


# --- configuration -------------------------------------------------------------


def test_without_destinations_mozdef_url_is_read(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOZDEF_URL", receiver.url)
    client = Client()
    assert client.destinations == [receiver.url]
    client.send(Event(summary="from the environment"))
    assert [e["summary"] for e in receiver.events] == ["from the environment"]


def test_without_destinations_or_mozdef_url_it_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MOZDEF_URL", raising=False)
    with pytest.raises(ConfigurationError, match="MOZDEF_URL"):
        Client(None)


@pytest.mark.parametrize("destinations", [[], "ftp://host/events", "no scheme", [42]], ids=repr)
def test_unusable_destinations_are_configuration_errors(destinations: object) -> None:
    with pytest.raises(ConfigurationError):
        Client(destinations)  # type: ignore[arg-type]


def test_repr_shows_destinations_without_secrets(tmp_path: Path) -> None:
    port = free_port()
    client = Client(
        [
            f"https://ops:hunter2-pass@mozdef.example.com:{port}/events?token=q-secret",
            "sqs://events-queue?region=us-west-2&account=123456789012",
            f"file://{tmp_path}/events.jsonl",
        ],
        headers={"Authorization": "Bearer h3ad3r-secret"},
    )
    text = repr(client)
    assert f"https://mozdef.example.com:{port}/events" in text
    assert "sqs://events-queue" in text
    assert f"file://{tmp_path}/events.jsonl" in text
    for secret in ("hunter2", "ops:", "q-secret", "h3ad3r-secret"):
        assert secret not in text
        assert secret not in str(client.destinations)


def test_connection_errors_name_the_destination_and_come_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}/events"
    client = Client(url, connect_timeout=2)
    with pytest.raises(RetryableError) as caught:
        client.send(Event(summary="nobody listens"))
    assert url in str(caught.value)
