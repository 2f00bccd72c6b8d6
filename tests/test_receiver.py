"""The development receiver speaks MozDef's HTTP intake and checks what it gets."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import urllib3

from mozdef_client import Client, Event, MozDefEvent, Severity, ndjson
from mozdef_client.cli.demo import sample_events
from mozdef_client.event import Kind
from mozdef_client.receiver import Receiver, check_document, parse_body
from mozdef_client.receiver.intake import check_documents
from mozdef_client.validation import recommended_field_warnings, validate_document

HTTP = urllib3.PoolManager(retries=False, timeout=10)


@pytest.fixture
def intake() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def post(receiver: Receiver, path: str, body: bytes, **headers: str) -> urllib3.BaseHTTPResponse:
    return HTTP.request("POST", receiver.base_url + path, body=body, headers=headers)


def complete(**fields: object) -> dict[str, object]:
    """A generic document with every recommended field."""
    document = Event(summary="login failed", category="authentication").to_document()
    document.update(fields)
    return document


def test_status_answers_like_loginput(intake):
    response = HTTP.request("GET", intake.base_url + "/status")
    assert response.status == 200
    assert json.loads(response.data) == {"status": "ok", "service": "loginput"}


def test_one_event_is_answered_200_with_an_empty_body(intake):
    response = post(intake, "/events", json.dumps(complete()).encode())
    assert (response.status, response.data) == (200, b"")
    [event] = intake.events
    assert event.path == "/events"
    assert event.document["summary"] == "login failed"
    assert event.kind is Kind.GENERIC and event.valid and event.warnings == ()


def test_put_and_trailing_slash_are_accepted_on_events(intake):
    response = HTTP.request(
        "PUT", intake.base_url + "/events/", body=json.dumps(complete()).encode()
    )
    assert response.status == 200
    assert len(intake.events) == 1


def test_bulk_takes_a_json_array(intake):
    body = json.dumps([complete(summary="one"), complete(summary="two")]).encode()
    assert post(intake, "/_bulk", body).status == 200
    assert [e.document["summary"] for e in intake.events] == ["one", "two"]


def test_bulk_takes_ndjson_and_skips_index_lines(intake):
    lines = [
        json.dumps({"index": {"_index": "events"}}),
        json.dumps(complete(summary="one")),
        "",
        json.dumps({"index": {}}),
        json.dumps(complete(summary="two")),
    ]
    assert post(intake, "/_bulk", "\n".join(lines).encode()).status == 200
    assert [e.document["summary"] for e in intake.events] == ["one", "two"]
    assert all(e.path == "/_bulk" for e in intake.events)


def test_custom_documents_are_taken_as_they_are(intake):
    assert post(intake, "/custom/myapp", b'{"anything": [1, 2]}').status == 200
    [event] = intake.events
    assert event.path == "/custom/myapp"
    assert event.document == {"anything": [1, 2]}
    assert event.kind is None and event.valid and event.warnings == ()


def test_invalid_json_is_answered_500_and_nothing_is_kept(intake):
    response = post(intake, "/events", b'{"summary": ')
    assert response.status == 500
    assert b"invalid JSON" in response.data
    assert intake.events == []


def test_one_bad_ndjson_line_fails_the_whole_bulk_request_naming_the_line(intake):
    body = (json.dumps(complete()) + "\n{oops\n").encode()
    response = post(intake, "/_bulk", body)
    assert response.status == 500
    assert b"line 2" in response.data
    assert intake.events == []


def test_unknown_paths_are_404_and_the_connection_keeps_working(intake):
    assert post(intake, "/nope", b"{}").status == 404
    assert HTTP.request("GET", intake.base_url + "/events").status == 404
    assert post(intake, "/events", json.dumps(complete()).encode()).status == 200


def test_an_event_breaking_its_kind_rules_is_stored_with_the_error(intake):
    document = complete(category="complianceitems", details={"target": "web1"})
    assert post(intake, "/events", json.dumps(document).encode()).status == 200
    [event] = intake.events
    assert event.kind is Kind.COMPLIANCE
    assert event.errors == ("details.policy is missing",)
    assert not event.valid


def test_missing_recommended_fields_are_warnings(intake):
    assert post(intake, "/events", b'{"summary": "bare"}').status == 200
    [event] = intake.events
    assert event.valid
    assert "hostname is missing (recommended)" in event.warnings
    assert "timestamp is missing (recommended)" in event.warnings


def test_a_document_that_is_not_an_object_is_an_error(intake):
    assert post(intake, "/events", b"[1, 2]").status == 200
    [event] = intake.events
    assert event.errors == ("an event must be a JSON object, not list",)


def test_every_sample_event_arrives_valid_from_the_client(intake):
    with Client(intake.url) as client:
        for event in sample_events():
            client.send(event)
    arrived = intake.events
    assert len(arrived) == len(sample_events())
    assert [e.errors for e in arrived] == [()] * len(arrived)
    assert [e.kind for e in arrived] == [
        Kind.GENERIC,
        Kind.COMPLIANCE,
        Kind.VULNERABILITY,
        Kind.ASSET_HINT,
        Kind.RRA,
    ]


def test_background_bulk_batches_arrive_through_bulk(intake):
    client = Client(intake.bulk_url, mode="background")
    for number in range(50):
        client.send(Event(summary=f"event {number}", severity=Severity.NOTICE))
    assert client.close(timeout=10) == 0
    assert intake.wait_for_events(50, timeout=10)
    assert {e.path for e in intake.events} == {"/_bulk"}
    assert sorted(e.document["summary"] for e in intake.events) == sorted(
        f"event {n}" for n in range(50)
    )


def test_legacy_classes_post_to_the_receiver(intake):
    message = MozDefEvent(intake.url)
    message.summary = "legacy"
    message.send()
    [event] = intake.events
    assert event.document["summary"] == "legacy" and event.valid


def test_a_token_is_required_when_set():
    with Receiver(token="s3cret") as receiver:
        body = json.dumps(complete()).encode()
        refused = post(receiver, "/events", body)
        wrong = post(receiver, "/events", body, Authorization="Bearer nope")
        accepted = post(receiver, "/events", body, Authorization="Bearer s3cret")
        status = HTTP.request("GET", receiver.base_url + "/status")
        assert (refused.status, wrong.status, accepted.status) == (401, 401, 200)
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"s3cret" not in refused.data + wrong.data
        assert status.status == 200  # health checks need no token
        assert len(receiver.events) == 1


def test_the_client_sends_the_token_as_a_header():
    with Receiver(token="s3cret") as receiver:
        with Client(receiver.url, headers={"Authorization": "Bearer s3cret"}) as client:
            client.send(Event(summary="with a token"))
        assert [e.document["summary"] for e in receiver.events] == ["with a token"]


def test_bodies_over_the_cap_are_refused_413():
    with Receiver(max_body_bytes=1000) as receiver:
        big = json.dumps(complete(details={"blob": "x" * 2000})).encode()
        response = post(receiver, "/events", big)
        assert response.status == 413
        assert receiver.events == []
        assert post(receiver, "/events", json.dumps(complete()).encode()).status == 200


def test_keep_false_counts_without_remembering():
    with Receiver(keep=False) as receiver:
        body = "\n".join(json.dumps(complete()) for _ in range(3)).encode()
        post(receiver, "/_bulk", body)
        post(receiver, "/events", b'{"summary": ""}')
        stats = receiver.stats()
        assert receiver.events == []
        assert (stats.requests, stats.events, stats.invalid) == (2, 4, 1)


def test_sinks_get_each_requests_events_and_a_failing_sink_answers_500():
    batches = []

    def broken(events):
        raise OSError("disk full")

    with Receiver(on_events=batches.append) as receiver:
        post(receiver, "/_bulk", ((json.dumps(complete()) + "\n") * 2).encode())
        assert [len(batch) for batch in batches] == [2]
        receiver.add_sink(broken)
        assert post(receiver, "/events", json.dumps(complete()).encode()).status == 500


def test_clear_forgets_and_wait_for_events_times_out():
    with Receiver() as receiver:
        post(receiver, "/events", json.dumps(complete()).encode())
        receiver.clear()
        assert receiver.events == []
        assert receiver.wait_for_events(5, timeout=0.2) is False


QUICK_CHECK_CASES = [
    complete(),
    complete(tags=[], details={}),
    complete(severity="warning"),  # not upper case: the full rules decide
    complete(severity=["INFO"]),
    complete(tags=("a",)),
    complete(tags=["a", 1]),
    complete(tags="a"),
    complete(summary=""),
    complete(summary=3),
    complete(details=[]),
    complete(category="rra_data", details={}),
    complete(category="complianceitems"),
    complete(category=None),
    complete(index="events"),  # refused: MozDef's /_bulk would skip it
    {"summary": "x"},
    {"vuln": {}, "asset": {}},
    "a string",
    None,
]


@pytest.mark.parametrize("document", QUICK_CHECK_CASES, ids=range(len(QUICK_CHECK_CASES)))
def test_the_quick_check_agrees_with_the_full_rules(document):
    """Complete generic events take a fast path; it must judge as the full rules do."""
    [event] = check_documents("/_bulk", [document], 0.0)
    assert event == check_document("/_bulk", document, 0.0)
    if isinstance(document, dict):
        kind = Kind.of_document(document)
        try:
            validate_document(document, kind)
            expected_errors: tuple[str, ...] = ()
        except ValueError as exc:
            expected_errors = (str(exc),)
        if kind is Kind.VULNERABILITY:  # on /_bulk MozDef would strip it (unless marked)
            assert event.errors[0].startswith("MozDef would strip this")
            expected_errors = (event.errors[0], *expected_errors)
        assert event.errors == expected_errors
        if kind is not Kind.VULNERABILITY:
            assert event.warnings == tuple(recommended_field_warnings(document, kind))


def test_parse_body_skips_blank_and_whitespace_lines():
    body = b'\n{"a": 1}\n   \n\t\n{"b": 2}\r\n\n'
    assert parse_body("/_bulk", body) == [{"a": 1}, {"b": 2}]


def test_parse_body_without_orjson_reads_the_same_and_names_bad_lines(monkeypatch):
    monkeypatch.setattr(ndjson, "_FAST_LOADS", None)
    body = b'{"index": {}}\n{"a": 1}\n\n{"b": NaN}\n'
    [first, second] = parse_body("/_bulk", body)
    assert first == {"a": 1} and second["b"] != second["b"]
    with pytest.raises(ValueError, match=r"^line 2: "):
        parse_body("/_bulk", b'{"a": 1}\n{"b": \n')


def test_parse_body_keeps_python_json_semantics():
    """MozDef parses with Python's json: NaN and huge integers are accepted."""
    [document] = parse_body("/_bulk", b'[{"a": NaN, "b": 123456789012345678901234567890}]')
    assert document["b"] == 123456789012345678901234567890
    assert document["a"] != document["a"]


def test_vulnerability_documents_are_recognised_by_shape():
    assert Kind.of_document({"vuln": {}, "asset": {}}) is Kind.VULNERABILITY
    assert Kind.of_document({"category": "complianceitems"}) is Kind.COMPLIANCE
    assert Kind.of_document({"category": 3}) is Kind.GENERIC
