"""Which URL and body each kind of event gets, so that MozDef's loginput indexes it.

MozDef's own code is driven in tests/mozdef/; these check the wire against the
project's test receiver, quickly and without the kit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mozdef_client import (
    Client,
    ConfigurationError,
    DocumentEvent,
    EncodedEvent,
    Event,
    HTTPOptions,
    HTTPTransport,
    MozDefVulnerability,
    PartialDeliveryError,
    PermanentError,
    RetryableError,
    ValidationError,
    VulnerabilityEvent,
    prepare,
)
from mozdef_client.cli import Exit, main
from samples import vulnerability_document
from servers import Receiver


def encoded(summary: str) -> EncodedEvent:
    return prepare(Event(summary=summary))


def vulnerability(vulnid: str = "v1") -> EncodedEvent:
    document = vulnerability_document()
    document["vuln"]["vulnid"] = vulnid
    return prepare(VulnerabilityEvent(document))


def test_a_batch_of_one_to_bulk_is_a_json_array(receiver: Receiver) -> None:
    """MozDef's /_bulk iterates a lone JSON object by its keys: even one event goes as [..]."""
    event = encoded("alone")
    HTTPTransport(receiver.bulk_url).send([event])
    [request] = receiver.requests
    assert request.body == b"[" + event.payload + b"]"
    assert isinstance(json.loads(request.body), list)


def test_sync_client_to_bulk_sends_arrays(receiver: Receiver) -> None:
    with Client(receiver.bulk_url) as client:
        client.send(Event(summary="one"))
        client.send(Event(summary="two"))
    assert [json.loads(r.body)[0]["summary"] for r in receiver.requests] == ["one", "two"]


def test_a_vulnerability_document_is_marked_as_loginput_marks_custom_documents() -> None:
    """The encoded document starts with what /custom/vulnerability adds, so AMQP and SQS
    consumers in MozDef treat it as a custom document too."""
    document = json.loads(vulnerability("scanner-1").payload)
    assert list(document)[:2] == ["customendpoint", "endpoint"]
    assert document["customendpoint"] is True and document["endpoint"] == "vulnerability"
    assert {k: v for k, v in document.items() if k not in ("customendpoint", "endpoint")} == (
        vulnerability_document()
    )


@pytest.mark.parametrize("path", ["/events", "/_bulk", "/events/", "/_bulk/"])
def test_vulnerabilities_go_to_custom_vulnerability_beside_the_intake(
    receiver: Receiver, path: str
) -> None:
    """Only /custom/vulnerability makes MozDef index a vulnerability document whole."""
    HTTPTransport(receiver.base_url + path).send([vulnerability()])
    [request] = receiver.requests
    assert request.path == "/custom/vulnerability"
    assert json.loads(request.body)["vuln"]["vulnid"] == "v1"


def test_another_url_is_the_users_choice_and_is_kept(receiver: Receiver) -> None:
    HTTPTransport(receiver.base_url + "/custom/vulnerability").send([vulnerability()])
    HTTPTransport(receiver.base_url + "/gateway/vulns").send([vulnerability()])
    assert [r.path for r in receiver.requests] == ["/custom/vulnerability", "/gateway/vulns"]


def test_a_mixed_batch_splits_into_one_array_and_one_post_per_vulnerability(
    receiver: Receiver,
) -> None:
    batch = [encoded("a"), vulnerability("v1"), encoded("b"), vulnerability("v2")]
    HTTPTransport(receiver.bulk_url).send(batch)
    assert [r.path for r in receiver.requests] == [
        "/_bulk",
        "/custom/vulnerability",
        "/custom/vulnerability",
    ]
    assert [e["summary"] for e in json.loads(receiver.requests[0].body)] == ["a", "b"]


def test_a_failure_after_the_array_names_only_the_events_not_delivered(
    receiver: Receiver,
) -> None:
    receiver.script(200, 400)
    batch = [encoded("a"), vulnerability("v1"), encoded("b"), vulnerability("v2")]
    with pytest.raises(PartialDeliveryError) as caught:
        HTTPTransport(receiver.bulk_url).send(batch)
    failures = caught.value.failures
    assert sorted(failures) == [1, 3]
    assert isinstance(failures[1], PermanentError)
    assert isinstance(failures[3], RetryableError)  # never tried


def test_the_bulk_option_sends_arrays_to_any_url(receiver: Receiver) -> None:
    HTTPTransport(receiver.base_url + "/ingest", HTTPOptions(bulk=True)).send([encoded("x")])
    [request] = receiver.requests
    assert request.path == "/ingest" and request.body.startswith(b"[")


@pytest.mark.parametrize("url", ["syslog:///nonexistent/log.sock", "syslog+udp://127.0.0.1:9"])
def test_syslog_destinations_refuse_vulnerabilities_at_send(url: str) -> None:
    """MozDef gets syslog as text: the document would never be indexed whole. Refused, and
    nothing is sent to any destination."""
    with Client(url) as client, pytest.raises(ConfigurationError, match="vulnerability"):
        client.send(VulnerabilityEvent(vulnerability_document()))


def test_a_fanout_with_syslog_sends_the_vulnerability_nowhere(receiver: Receiver) -> None:
    with (
        Client([receiver.url, "syslog+udp://127.0.0.1:9"]) as client,
        pytest.raises(ConfigurationError, match="syslog"),
    ):
        client.send(VulnerabilityEvent(vulnerability_document()))
    assert receiver.requests == []


def test_a_top_level_index_key_is_refused_at_send(receiver: Receiver) -> None:
    """MozDef's /_bulk skips any event with a top-level "index" key, silently."""
    with Client(receiver.bulk_url) as client, pytest.raises(ValidationError, match="index"):
        client.send(DocumentEvent({"summary": "x", "index": "events"}))
    assert receiver.requests == []


def test_cli_send_refuses_a_vulnerability_for_syslog_with_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "vulnerability.json"
    document.write_text(json.dumps(vulnerability_document()))
    args = ["send", "--url", "syslog+udp://127.0.0.1:9", "--kind", "vulnerability"]
    assert main([*args, "--json", str(document)]) == Exit.USAGE
    assert "cannot carry a vulnerability event" in capsys.readouterr().err


def test_the_1_1_vulnerability_class_posts_to_custom_vulnerability(receiver: Receiver) -> None:
    message = MozDefVulnerability(receiver.url)
    message.log = vulnerability_document()
    message.send()
    [request] = receiver.requests
    assert request.path == "/custom/vulnerability"
    assert json.loads(request.body) == vulnerability_document()  # the log dict, whole


def test_the_1_1_vulnerability_class_refuses_a_syslog_copy(tmp_path: Path) -> None:
    message = MozDefVulnerability("http://127.0.0.1:9/events")
    message.log = vulnerability_document()
    message.set_syslog_socket(str(tmp_path / "no-such.sock"))
    message.set_send_to_syslog(True, only_syslog=True)
    with pytest.raises(ConfigurationError, match="cannot carry a vulnerability"):
        message.send()
