"""The development receiver says so where real MozDef would answer 200 and lose events.

What MozDef does was observed with its own code (tests/mozdef/ and the peer
kit's README); these check that the receiver mirrors it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import urllib3

from mozdef_client import Event
from mozdef_client.event import Kind
from mozdef_client.receiver import Receiver
from mozdef_client.receiver.intake import BulkBodyError, parse_body
from samples import vulnerability_document

HTTP = urllib3.PoolManager(retries=False, timeout=10)


@pytest.fixture
def intake() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def post(receiver: Receiver, path: str, body: bytes) -> urllib3.BaseHTTPResponse:
    return HTTP.request("POST", receiver.base_url + path, body=body)


def event_json(summary: str = "x") -> bytes:
    return json.dumps(Event(summary=summary).to_document()).encode()


@pytest.mark.parametrize("body_end", [b"", b"\n"])
def test_one_object_on_bulk_is_answered_400_saying_what_mozdef_would_do(
    intake: Receiver, body_end: bytes
) -> None:
    """MozDef iterates a lone object's keys, publishing "timestamp", "hostname", ...
    as junk and answering 200 (a one-line NDJSON body is the same to json.loads)."""
    response = post(intake, "/_bulk", event_json() + body_end)
    assert response.status == 400
    message = response.data.decode()
    assert "one JSON object" in message and "junk" in message and "'timestamp'" in message
    assert "JSON array" in message
    assert intake.events == []


def test_an_array_of_one_on_bulk_is_one_event(intake: Receiver) -> None:
    assert post(intake, "/_bulk", b"[" + event_json("alone") + b"]").status == 200
    assert [e.document["summary"] for e in intake.events] == ["alone"]


def test_array_elements_with_an_index_key_are_skipped_as_mozdef_skips_them(
    intake: Receiver,
) -> None:
    body = b'[{"index": {"_index": "events"}}, ' + event_json("kept") + b"]"
    assert post(intake, "/_bulk", body).status == 200
    assert [e.document["summary"] for e in intake.events] == ["kept"]


def test_ndjson_of_several_lines_is_still_taken(intake: Receiver) -> None:
    body = event_json("one") + b"\n" + event_json("two") + b"\n"
    assert post(intake, "/_bulk", body).status == 200
    assert len(intake.events) == 2


def test_a_json_string_on_bulk_is_refused_too() -> None:
    with pytest.raises(BulkBodyError, match="JSON str"):
        parse_body("/_bulk", b'"summary"')


def test_a_vulnerability_on_events_is_accepted_but_flagged(intake: Receiver) -> None:
    response = post(intake, "/events", json.dumps(vulnerability_document()).encode())
    assert response.status == 200
    [event] = intake.events
    assert event.kind is Kind.VULNERABILITY
    assert event.errors[0].startswith("MozDef would strip this")
    assert "/custom/vulnerability" in event.errors[0]


def test_a_vulnerability_on_custom_vulnerability_is_clean(intake: Receiver) -> None:
    post(intake, "/custom/vulnerability", json.dumps(vulnerability_document()).encode())
    [event] = intake.events
    assert (event.kind, event.errors) == (Kind.VULNERABILITY, ())


def test_an_invalid_vulnerability_on_custom_is_flagged_as_mozdef_would_drop_it(
    intake: Receiver,
) -> None:
    document = vulnerability_document()
    del document["asset"]["macaddress"]
    post(intake, "/custom/vulnerability", json.dumps(document).encode())
    [event] = intake.events
    assert event.errors == (
        "MozDef's vulnerability plugin would drop this: asset.macaddress is missing",
    )


def test_a_marked_vulnerability_in_a_bulk_array_is_indexed_by_mozdef(intake: Receiver) -> None:
    """With loginput's custom marks, MozDef's worker takes it whole from /_bulk too."""
    document = {"customendpoint": True, "endpoint": "vulnerability", **vulnerability_document()}
    post(intake, "/_bulk", json.dumps([document]).encode())
    [event] = intake.events
    assert (event.kind, event.errors) == (Kind.VULNERABILITY, ())


def test_other_custom_applications_are_taken_as_they_are(intake: Receiver) -> None:
    post(intake, "/custom/myapp", b'{"anything": 1}')
    [event] = intake.events
    assert (event.kind, event.errors) == (None, ())
