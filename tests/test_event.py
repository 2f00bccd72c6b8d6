"""The Event model builds MozDef's event document (DESIGN §2)."""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime, timedelta, timezone

import pytest

from mozdef_client import (
    ConfigurationError,
    DocumentEvent,
    Event,
    Kind,
    Severity,
    ValidationError,
    VulnerabilityEvent,
    prepare,
)
from mozdef_client.event import default_hostname, default_processname

FIXED = datetime(2026, 11, 26, 14, 5, 48, 226939, tzinfo=timezone.utc)


@pytest.fixture
def fresh_hostname():
    """Clear default_hostname's cache before and after, so patches take effect and leak nowhere."""
    default_hostname.cache_clear()
    yield
    default_hostname.cache_clear()


def test_document_has_exactly_the_mozdef_fields():
    document = Event(summary="login failed", timestamp=FIXED).to_document()
    assert set(document) == {
        "timestamp",
        "hostname",
        "processname",
        "processid",
        "severity",
        "category",
        "summary",
        "tags",
        "details",
    }


def test_every_field_given_appears_in_the_document():
    event = Event(
        summary="login failed",
        category="authentication",
        severity=Severity.WARNING,
        source="sso",
        tags=["sso", "login"],
        details={"username": "joe", "sourceipaddress": "10.1.2.3", "success": False},
        timestamp=FIXED,
        hostname="web1.example.com",
        processname="sso-proxy",
        processid=4242,
    )
    assert event.to_document() == {
        "timestamp": "2026-11-26T14:05:48.226939+00:00",
        "hostname": "web1.example.com",
        "processname": "sso-proxy",
        "processid": 4242,
        "severity": "WARNING",
        "category": "authentication",
        "source": "sso",
        "summary": "login failed",
        "tags": ["sso", "login"],
        "details": {"username": "joe", "sourceipaddress": "10.1.2.3", "success": False},
    }


def test_timestamp_defaults_to_now_in_utc_with_offset():
    before = datetime.now(timezone.utc)
    stamp = Event(summary="x").to_document()["timestamp"]
    after = datetime.now(timezone.utc)
    assert stamp.endswith("+00:00")
    assert before <= datetime.fromisoformat(stamp) <= after


def test_aware_non_utc_timestamp_is_converted_to_utc():
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 11, 26, 15, 5, 48, 226939, tzinfo=paris)
    assert Event(summary="x", timestamp=local).to_document()["timestamp"] == (
        "2026-11-26T14:05:48.226939+00:00"
    )


def test_negative_offset_timestamp_crossing_midnight_is_converted_to_utc():
    new_york = timezone(timedelta(hours=-5))
    local = datetime(2026, 11, 26, 22, 30, tzinfo=new_york)
    assert Event(summary="x", timestamp=local).to_document()["timestamp"] == (
        "2026-11-27T03:30:00+00:00"
    )


def test_naive_timestamp_is_taken_as_utc():
    naive = datetime(2026, 11, 26, 14, 5, 48, 226939)
    assert Event(summary="x", timestamp=naive).to_document()["timestamp"] == (
        "2026-11-26T14:05:48.226939+00:00"
    )


def test_timestamp_must_be_a_datetime():
    with pytest.raises(ValidationError, match="timestamp must be a datetime, not str") as info:
        Event(summary="x", timestamp="2026-11-26")  # type: ignore[arg-type]
    assert info.value.path == "timestamp"


def test_hostname_is_the_fqdn(monkeypatch, fresh_hostname):
    monkeypatch.setattr(socket, "getfqdn", lambda: "web1.example.com")
    monkeypatch.setattr(socket, "gethostname", lambda: "web1")
    assert Event(summary="x").to_document()["hostname"] == "web1.example.com"


@pytest.mark.parametrize("useless_fqdn", ["localhost", "localhost.localdomain"])
def test_hostname_falls_back_to_gethostname_when_fqdn_is_localhost(
    monkeypatch, fresh_hostname, useless_fqdn
):
    monkeypatch.setattr(socket, "getfqdn", lambda: useless_fqdn)
    monkeypatch.setattr(socket, "gethostname", lambda: "web1")
    assert Event(summary="x").to_document()["hostname"] == "web1"


def test_hostname_is_looked_up_once_and_cached(monkeypatch, fresh_hostname):
    calls = []

    def getfqdn():
        calls.append(1)
        return "web1.example.com"

    monkeypatch.setattr(socket, "getfqdn", getfqdn)
    for _ in range(3):
        Event(summary="x").to_document()
    assert len(calls) == 1


def test_explicit_hostname_wins_over_lookup(monkeypatch, fresh_hostname):
    monkeypatch.setattr(socket, "getfqdn", lambda: "web1.example.com")
    assert Event(summary="x", hostname="other").to_document()["hostname"] == "other"


def test_processname_and_processid_default_to_this_program(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/vpn-puller", "--once"])
    document = Event(summary="x").to_document()
    assert document["processname"] == "vpn-puller"
    assert document["processid"] == os.getpid()


def test_processname_without_argv_is_python(monkeypatch):
    monkeypatch.setattr(sys, "argv", [])
    assert default_processname() == "python"


def test_processid_zero_is_kept_not_replaced_by_pid():
    assert Event(summary="x", processid=0).to_document()["processid"] == 0


@pytest.mark.parametrize("bad", ["42", 4.2, True])
def test_processid_must_be_an_integer(bad):
    with pytest.raises(ValidationError, match="processid must be an integer"):
        Event(summary="x", processid=bad)


def test_severity_defaults_to_info():
    assert Event(summary="x").to_document()["severity"] == "INFO"


@pytest.mark.parametrize(
    ("given", "sent"), [("warn", "WARNING"), ("Crit", "CRITICAL"), (Severity.ALERT, "ALERT")]
)
def test_severity_accepts_names_and_members(given, sent):
    event = Event(summary="x", severity=given)
    assert event.severity is Severity(sent)
    assert event.to_document()["severity"] == sent


def test_unknown_severity_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="unknown severity 'LOUD'"):
        Event(summary="x", severity="LOUD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        (Kind.GENERIC, "event"),
        (Kind.COMPLIANCE, "complianceitems"),
        (Kind.ASSET_HINT, "asset_hint"),
        (Kind.RRA, "rra_data"),
    ],
)
def test_category_defaults_per_kind(kind, category):
    assert Event(summary="x", kind=kind).to_document()["category"] == category


def test_kind_accepts_its_string_value():
    assert Event(summary="x", kind="asset-hint").kind is Kind.ASSET_HINT  # type: ignore[arg-type]


def test_unknown_kind_is_an_error_listing_the_kinds():
    with pytest.raises(ValidationError, match="unknown event kind 'alert'; expected one of"):
        Event(summary="x", kind="alert")  # type: ignore[arg-type]


def test_explicit_category_wins_over_kind_default():
    document = Event(summary="x", kind=Kind.RRA, category="custom").to_document()
    assert document["category"] == "custom"


def test_source_is_absent_unless_set():
    assert "source" not in Event(summary="x").to_document()
    assert Event(summary="x", source="vpn").to_document()["source"] == "vpn"


def test_tags_become_a_list_whatever_sequence_is_given():
    assert Event(summary="x", tags=("a", "b")).to_document()["tags"] == ["a", "b"]
    assert Event(summary="x").to_document()["tags"] == []


def test_tags_given_as_a_list_are_snapshotted():
    tags = ["a"]
    event = Event(summary="x", tags=tags)
    tags.append("b")
    assert event.to_document()["tags"] == ["a"]


@pytest.mark.parametrize("bad", ["sso", b"sso"])
def test_tags_as_a_single_string_are_refused(bad):
    with pytest.raises(ValidationError, match="tags must be a list of strings") as info:
        Event(summary="x", tags=bad)
    assert info.value.path == "tags"


def test_tag_that_is_not_a_string_is_refused_with_its_index():
    with pytest.raises(ValidationError, match=r"tags\[1\] must be a string, not int") as info:
        Event(summary="x", tags=["ok", 7])  # type: ignore[list-item]
    assert info.value.path == "tags[1]"


def test_details_default_to_an_empty_object():
    assert Event(summary="x").to_document()["details"] == {}


def test_details_must_be_a_mapping():
    with pytest.raises(ValidationError, match="details must be a mapping, not list"):
        Event(summary="x", details=[("a", 1)])  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["summary", "category", "source", "hostname", "processname"])
def test_string_fields_refuse_other_types(field):
    with pytest.raises(ValidationError, match=f"{field} must be a string, not int") as info:
        Event(**{"summary": "x", field: 5})
    assert info.value.path == field


def test_changing_an_event_after_it_was_prepared_changes_nothing_sent():
    """What is sent is the event as it was at send(): the bytes are a snapshot."""
    details = {"user": "joe"}
    event = Event(summary="x", details=details)
    encoded = prepare(event)
    event.summary = "y"
    details["user"] = "eve"
    sent = json.loads(encoded.payload)
    assert (sent["summary"], sent["details"]) == ("x", {"user": "joe"})


def test_document_event_is_sent_as_given_with_its_severity():
    document = {"summary": "x", "severity": "warn", "details": {"a": 1}}
    event = DocumentEvent(document)
    assert event.to_document() == document
    assert event.to_document() is not document
    assert event.severity is Severity.WARNING


def test_document_event_with_unknown_severity_reports_info_until_validated():
    assert DocumentEvent({"summary": "x", "severity": "LOUD"}).severity is Severity.INFO


def test_document_event_must_be_a_mapping():
    with pytest.raises(ValidationError, match="an event document is a mapping, not list"):
        DocumentEvent([1, 2])  # type: ignore[arg-type]


def test_vulnerability_event_is_the_callers_document():
    event = VulnerabilityEvent({"description": "CVE"})
    assert event.kind is Kind.VULNERABILITY
    assert event.to_document() == {"description": "CVE"}


def test_kind_from_category_guesses_kind():
    assert Kind.from_category("rra_data") is Kind.RRA
    assert Kind.from_category("authentication") is Kind.GENERIC
    assert Kind.from_category(None) is Kind.GENERIC


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        ({"asset": {}, "vuln": {}}, Kind.VULNERABILITY),  # MozDef's v1 shape
        ({"asset": {}, "zone": "dmz", "version": 2}, Kind.VULNERABILITY),  # v2
        ({"customendpoint": True, "endpoint": "vulnerability"}, Kind.VULNERABILITY),
        ({"category": "complianceitems"}, Kind.COMPLIANCE),
        ({"category": "asset_hint"}, Kind.ASSET_HINT),
        ({"category": "rra_data"}, Kind.RRA),
        ({"category": "authentication", "asset": {}, "vuln": {}}, Kind.GENERIC),
        ({"category": 3}, Kind.GENERIC),
        ({"summary": "no category"}, Kind.GENERIC),
        ({"asset": {}}, Kind.GENERIC),
    ],
)
def test_kind_of_document_recognises_vulnerabilities_by_shape_and_the_rest_by_category(
    document, kind
):
    assert Kind.of_document(document) is kind
