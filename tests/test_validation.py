"""Per-kind validation: every broken rule is a ValidationError naming the field path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mozdef_client import (
    Event,
    Kind,
    MozDefError,
    ValidationError,
    VulnerabilityEvent,
    prepare,
    validate_document,
)
from mozdef_client.validation import recommended_field_warnings


def compliance_details() -> dict[str, Any]:
    return {
        "target": "web1.example.com",
        "policy": {"level": "medium", "name": "system", "url": "https://example.com/policy"},
        "check": {
            "description": "sshd allows root login",
            "location": "/etc/ssh/sshd_config",
            "name": "sshd-root",
            "ref": "sshd-1",
            "test": {"type": "file", "value": "PermitRootLogin no"},
        },
        "compliance": False,
        "link": "https://example.com/check/sshd-root",
        "utctimestamp": "2026-11-26T14:05:48+00:00",
    }


def vulnerability_document() -> dict[str, Any]:
    return {
        "utctimestamp": "2026-11-26T14:05:48+00:00",
        "description": "scanner found a vulnerable openssl",
        "sourcename": "scanner",
        "asset": {
            "assetid": 12,
            "ipv4address": "10.1.2.3",
            "hostname": "web1.example.com",
            "macaddress": "00:11:22:33:44:55",
        },
        "vuln": {
            "status": "open",
            "vulnid": "nessus-1234",
            "title": "OpenSSL heartbleed",
            "discovery_time": 1700000000,
            "age_days": 3,
            "known_malware": False,
            "known_exploits": True,
            "cvss": 7.5,
            "cves": ["CVE-2014-0160"],
        },
    }


def generic_document(**fields: Any) -> dict[str, Any]:
    return Event(summary="login failed", **fields).to_document()


def without(document: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of ``document`` with the dotted ``path`` removed."""
    result = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = result
    for parent in parents:
        node = node[parent]
    del node[last]
    return result


def raises_for(document: Any, kind: Kind, message: str, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_document(document, kind)
    assert str(info.value) == message
    assert info.value.path == path


# -- generic -------------------------------------------------------------------


def test_a_complete_generic_event_passes():
    validate_document(generic_document(tags=["a"], details={"x": 1}), Kind.GENERIC)


@pytest.mark.parametrize("summary", [None, ""])
def test_summary_is_mandatory(summary):
    document = generic_document()
    document["summary"] = summary
    raises_for(
        document, Kind.GENERIC, "summary is missing (every event needs a summary)", "summary"
    )


def test_absent_summary_is_missing():
    raises_for(
        without(generic_document(), "summary"),
        Kind.GENERIC,
        "summary is missing (every event needs a summary)",
        "summary",
    )


def test_summary_must_be_a_string():
    raises_for({"summary": 5}, Kind.GENERIC, "summary must be a string, not int", "summary")


def test_unknown_severity_names_the_field_and_value():
    with pytest.raises(ValidationError, match="unknown severity 'LOUD'") as info:
        validate_document({"summary": "x", "severity": "LOUD"}, Kind.GENERIC)
    assert info.value.path == "severity"


def test_severity_alias_in_a_document_is_accepted():
    validate_document({"summary": "x", "severity": "warn"}, Kind.GENERIC)


def test_tags_must_be_a_list():
    raises_for(
        {"summary": "x", "tags": "sso"}, Kind.GENERIC, "tags must be a list, not str", "tags"
    )


def test_each_tag_must_be_a_string():
    raises_for(
        {"summary": "x", "tags": ["a", "b", None]},
        Kind.GENERIC,
        "tags[2] must be a string",
        "tags[2]",
    )


def test_details_must_be_an_object():
    raises_for(
        {"summary": "x", "details": [1]},
        Kind.GENERIC,
        "details must be an object, not list",
        "details",
    )


def test_generic_document_without_optional_fields_passes():
    validate_document({"summary": "x"}, Kind.GENERIC)


@pytest.mark.parametrize("kind", list(Kind))
def test_an_event_that_is_not_an_object_is_refused(kind):
    with pytest.raises(ValidationError, match="an event must be a JSON object, not list"):
        validate_document([], kind)  # type: ignore[arg-type]


def test_recommended_field_warnings_list_absent_fields():
    assert recommended_field_warnings({"summary": "x", "severity": "INFO"}, Kind.GENERIC) == [
        "timestamp is missing (recommended)",
        "hostname is missing (recommended)",
        "processname is missing (recommended)",
        "category is missing (recommended)",
    ]
    assert recommended_field_warnings(generic_document(), Kind.GENERIC) == []
    vulnerability = {"category": "vulnerability"}
    assert recommended_field_warnings(vulnerability, Kind.of_document(vulnerability)) == []


def test_a_vulnerability_document_recognised_by_its_shape_gets_no_recommended_field_warnings():
    """It has no category; the guard used to read the category and warned anyway."""
    document = vulnerability_document()
    assert Kind.of_document(document) is Kind.VULNERABILITY
    assert recommended_field_warnings(document, Kind.of_document(document)) == []


# -- compliance ----------------------------------------------------------------


def test_a_complete_compliance_event_passes():
    validate_document(generic_document(details=compliance_details()), Kind.COMPLIANCE)


@pytest.mark.parametrize(
    "path",
    [
        "target",
        "policy",
        "check",
        "compliance",
        "link",
        "utctimestamp",
        "policy.level",
        "policy.name",
        "policy.url",
        "check.description",
        "check.location",
        "check.name",
        "check.test",
        "check.test.type",
        "check.test.value",
    ],
)
def test_compliance_missing_field_is_named_by_its_path(path):
    document = generic_document(details=without(compliance_details(), path))
    raises_for(document, Kind.COMPLIANCE, f"details.{path} is missing", f"details.{path}")


def test_compliance_without_details_is_missing_details():
    document = without(generic_document(), "details")
    raises_for(document, Kind.COMPLIANCE, "details is missing", "details")


def test_compliance_with_empty_details_names_the_first_missing_field():
    raises_for(generic_document(), Kind.COMPLIANCE, "details.target is missing", "details.target")


@pytest.mark.parametrize("path", ["policy", "check", "check.test"])
def test_compliance_part_that_is_not_an_object_is_named(path):
    details = compliance_details()
    *parents, last = path.split(".")
    node = details
    for parent in parents:
        node = node[parent]
    node[last] = "yes"
    raises_for(
        generic_document(details=details),
        Kind.COMPLIANCE,
        f"details.{path} must be an object, not str",
        f"details.{path}",
    )


def test_compliance_part_that_is_null_is_missing():
    details = compliance_details()
    details["check"]["test"] = None
    raises_for(
        generic_document(details=details),
        Kind.COMPLIANCE,
        "details.check.test is missing",
        "details.check.test",
    )


def test_compliance_still_needs_a_summary():
    document = generic_document(details=compliance_details())
    del document["summary"]
    raises_for(
        document, Kind.COMPLIANCE, "summary is missing (every event needs a summary)", "summary"
    )


# -- vulnerability -------------------------------------------------------------


def test_a_complete_vulnerability_document_passes():
    validate_document(vulnerability_document(), Kind.VULNERABILITY)


@pytest.mark.parametrize(
    "path",
    [
        "utctimestamp",
        "description",
        "vuln",
        "asset",
        "sourcename",
        "asset.assetid",
        "asset.ipv4address",
        "asset.hostname",
        "asset.macaddress",
        "vuln.status",
        "vuln.vulnid",
        "vuln.title",
        "vuln.discovery_time",
        "vuln.age_days",
        "vuln.known_malware",
        "vuln.known_exploits",
        "vuln.cvss",
        "vuln.cves",
    ],
)
def test_vulnerability_missing_field_is_named_by_its_path(path):
    raises_for(
        without(vulnerability_document(), path), Kind.VULNERABILITY, f"{path} is missing", path
    )


def test_vulnerability_needs_no_summary():
    """The caller's document is the whole event; it has no summary field."""
    assert "summary" not in vulnerability_document()
    validate_document(vulnerability_document(), Kind.VULNERABILITY)


@pytest.mark.parametrize("part", ["asset", "vuln"])
def test_vulnerability_part_that_is_not_an_object_is_named(part):
    document = vulnerability_document()
    document[part] = ["x"]
    raises_for(document, Kind.VULNERABILITY, f"{part} must be an object, not list", part)


def test_prepare_checks_a_vulnerability_event():
    document = without(vulnerability_document(), "vuln.cves")
    with pytest.raises(ValidationError, match=r"^vuln\.cves is missing$"):
        prepare(VulnerabilityEvent(document))


# -- asset hint and RRA ---------------------------------------------------------


@pytest.mark.parametrize("kind", [Kind.ASSET_HINT, Kind.RRA])
def test_empty_details_are_refused(kind):
    raises_for(
        generic_document(kind=kind),
        kind,
        "details is empty (this kind of event needs details)",
        "details",
    )


@pytest.mark.parametrize("kind", [Kind.ASSET_HINT, Kind.RRA])
def test_absent_details_are_missing(kind):
    raises_for(
        without(generic_document(kind=kind), "details"), kind, "details is missing", "details"
    )


@pytest.mark.parametrize("kind", [Kind.ASSET_HINT, Kind.RRA])
def test_non_empty_details_pass(kind):
    validate_document(generic_document(kind=kind, details={"hostname": "web1"}), kind)


@pytest.mark.parametrize("kind", [Kind.ASSET_HINT, Kind.RRA])
def test_asset_hint_and_rra_still_need_a_summary(kind):
    document = {"details": {"a": 1}}
    raises_for(document, kind, "summary is missing (every event needs a summary)", "summary")


# -- through the public entry point --------------------------------------------


def test_prepare_raises_the_validation_error_of_the_events_kind():
    event = Event(
        summary="sshd check",
        kind=Kind.COMPLIANCE,
        details=without(compliance_details(), "check.test.value"),
    )
    with pytest.raises(ValidationError) as info:
        prepare(event)
    assert str(info.value) == "details.check.test.value is missing"
    assert info.value.path == "details.check.test.value"


def test_validation_error_is_a_mozdef_error_and_a_value_error():
    with pytest.raises(MozDefError):
        prepare(Event())
    with pytest.raises(ValueError):
        prepare(Event())
