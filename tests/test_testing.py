"""mozdef_client.testing: RecordingTransport and capture_events, for users' tests."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import pytest

from mozdef_client import (
    Client,
    DeliveryError,
    DeliveryOptions,
    Event,
    MozDefEvent,
    MozDefHandler,
    PermanentError,
    RetryableError,
    RetryPolicy,
    Transport,
    ValidationError,
    VulnerabilityEvent,
)
from mozdef_client import testing as mozdef_testing
from mozdef_client.testing import RecordingTransport, capture_events

FAST = DeliveryOptions(flush_interval=0.05, retry=RetryPolicy(backoff_initial=0.01))


def test_the_module_exports_its_helpers():
    assert mozdef_testing.__all__ == ["RecordingTransport", "capture_events"]
    assert isinstance(RecordingTransport(), Transport)


def test_a_recording_transport_records_each_batch_a_client_sends():
    transport = RecordingTransport()
    with Client(transport, mode="sync") as client:
        assert client.send(Event(summary="one"))
        assert client.send(Event(summary="two"))
    assert [len(batch) for batch in transport.batches] == [1, 1]
    assert [d["summary"] for d in transport.documents] == ["one", "two"]
    assert client.stats().delivered == 2
    assert transport.closed >= 1


def test_background_batches_arrive_whole():
    transport = RecordingTransport()
    client = Client(transport, mode="background", delivery=FAST)
    for n in range(5):
        client.send(Event(summary=f"e{n}"))
    client.close(timeout=5)
    assert [d["summary"] for d in transport.documents] == [f"e{n}" for n in range(5)]


def test_told_to_refuse_it_raises_the_given_error_and_still_records_the_batch():
    transport = RecordingTransport(error=PermanentError("refused", destination="recording"))
    with Client(transport, mode="sync") as client, pytest.raises(DeliveryError, match="refused"):
        client.send(Event(summary="x"))
    assert [d["summary"] for d in transport.documents] == ["x"]


def test_a_handler_sees_each_batch_and_can_fail_the_first_attempts():
    attempts: list[int] = []

    def flaky(batch):
        attempts.append(len(batch))
        if len(attempts) < 3:
            raise RetryableError("try again", destination="recording")

    transport = RecordingTransport(flaky)
    client = Client(transport, mode="background", delivery=FAST)
    client.send(Event(summary="retried"))
    client.close(timeout=5)
    assert attempts == [1, 1, 1]
    assert [d["summary"] for d in transport.documents] == ["retried"] * 3
    assert client.stats().delivered == 1


def test_a_handler_can_hold_a_batch_in_flight():
    gate, busy = threading.Event(), threading.Event()
    transport = RecordingTransport(lambda batch: (busy.set(), gate.wait(10)))
    client = Client(transport, mode="background", delivery=FAST)
    client.send(Event(summary="held"))
    assert busy.wait(5)
    assert client.stats().delivered == 0
    gate.set()
    client.close(timeout=5)
    assert client.stats().delivered == 1


def test_clear_forgets_what_was_recorded():
    transport = RecordingTransport()
    with Client(transport, mode="sync") as client:
        client.send(Event(summary="x"))
        transport.clear()
    assert transport.batches == [] and transport.documents == []


def test_capture_events_records_instead_of_sending_from_every_face(receiver):
    client = Client(receiver.url, mode="sync")
    handler = MozDefHandler(client=client)
    logger = logging.getLogger("test_testing.capture")
    logger.addHandler(handler)
    try:
        with capture_events() as events:
            client.send(Event(summary="from a client", category="authentication"))
            legacy = MozDefEvent(receiver.url)
            legacy.summary = "from the 1.1 API"
            legacy.send()
            logger.warning("from logging")
    finally:
        logger.removeHandler(handler)
        client.close()
    assert [e["summary"] for e in events] == ["from a client", "from the 1.1 API", "from logging"]
    assert events[0]["category"] == "authentication"
    assert receiver.requests == []  # nothing was sent


def test_inside_a_capture_invalid_events_still_raise(receiver):
    with (
        capture_events() as events,
        Client(receiver.url) as client,
        pytest.raises(ValidationError, match="summary"),
    ):
        client.send(Event(summary=""))
    assert events == []


def test_a_capture_ends_with_its_block_and_captures_nest(receiver):
    with Client(receiver.url, mode="sync") as client:
        with capture_events() as outer:
            client.send(Event(summary="outer 1"))
            with capture_events() as inner:
                client.send(Event(summary="inner"))
            client.send(Event(summary="outer 2"))
        client.send(Event(summary="sent"))
    assert [e["summary"] for e in outer] == ["outer 1", "outer 2"]
    assert [e["summary"] for e in inner] == ["inner"]
    assert [d["summary"] for r in receiver.requests for d in r.documents] == ["sent"]


def test_a_captured_vulnerability_document_is_what_would_be_sent():
    document = {
        "utctimestamp": "2026-01-01T00:00:00+00:00",
        "description": "scan",
        "sourcename": "scanner",
        "asset": {"assetid": 1, "ipv4address": "10.0.0.1", "hostname": "h", "macaddress": ""},
        "vuln": {
            "status": "open", "vulnid": "v1", "title": "t", "discovery_time": 0,
            "age_days": 0, "known_malware": False, "known_exploits": False,
            "cvss": 5.0, "cves": [],
        },
    }  # fmt: skip
    with capture_events() as events, Client("http://127.0.0.1:9/events") as client:
        client.send(VulnerabilityEvent(document))
    assert events[0]["endpoint"] == "vulnerability" and events[0]["vuln"]["vulnid"] == "v1"


def test_the_examples_in_docs_testing_md_run():
    page = (Path(__file__).parent.parent / "docs" / "testing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "docs/testing.md", "exec"), {})
