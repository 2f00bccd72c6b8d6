"""Validation follows what MozDef's own plugins need (mq/plugins/complianceitems.py and
vulnerability.py): what they would drop is refused at send(), naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from mozdef_client import DocumentEvent, Event, Kind, ValidationError, VulnerabilityEvent, prepare
from test_validation import compliance_details


def v2_document() -> dict[str, Any]:
    """MozDef's version 2 vulnerability format (one document per scanned asset)."""
    return {
        "version": 2,
        "utctimestamp": "2026-11-26T14:05:48+00:00",
        "description": "scan of web1",
        "sourcename": "scanner",
        "zone": "dmz",
        "asset": {"hostname": "web1.example.com", "ipaddress": "10.1.2.3"},
        "vulnerabilities": [{"name": "openssl", "risk": "high"}],
    }


@pytest.mark.parametrize("version", [2, "2"])
def test_version_2_vulnerability_documents_are_accepted(version: object) -> None:
    document = v2_document() | {"version": version}
    assert prepare(VulnerabilityEvent(document)).payload


@pytest.mark.parametrize("version", [1, 3, "two", None, True])
def test_other_versions_are_refused_as_mozdef_drops_them(version: object) -> None:
    document = v2_document() | {"version": version}
    with pytest.raises(ValidationError, match="version") as caught:
        prepare(VulnerabilityEvent(document))
    assert caught.value.path == "version"


@pytest.mark.parametrize("missing", ["zone", "sourcename", "description", "asset"])
def test_a_v2_document_names_a_missing_key(missing: str) -> None:
    document = v2_document()
    del document[missing]
    with pytest.raises(ValidationError, match=f"^{missing} is missing"):
        prepare(VulnerabilityEvent(document))


@pytest.mark.parametrize(
    ("path", "parent", "key"),
    [("zone", None, "zone"), ("asset.ipaddress", "asset", "ipaddress"),
     ("asset.hostname", "asset", "hostname"), ("sourcename", None, "sourcename")],
)  # fmt: skip
def test_a_v2_document_with_an_empty_required_string_is_refused(
    path: str, parent: str | None, key: str
) -> None:
    document = v2_document()
    (document[parent] if parent else document)[key] = ""
    with pytest.raises(ValidationError, match="is empty") as caught:
        prepare(VulnerabilityEvent(document))
    assert caught.value.path == path


def test_a_compliance_item_needs_check_ref() -> None:
    """MozDef's complianceitems plugin builds the document id from details.check.ref."""
    details = compliance_details()
    del details["check"]["ref"]
    with pytest.raises(ValidationError, match=r"^details\.check\.ref is missing") as caught:
        prepare(Event(summary="x", kind=Kind.COMPLIANCE, details=details))
    assert caught.value.path == "details.check.ref"


def test_a_document_with_a_top_level_index_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="skips any event") as caught:
        prepare(DocumentEvent({"summary": "x", "index": "events"}))
    assert caught.value.path == "index"


def test_an_index_key_inside_details_is_fine() -> None:
    assert prepare(DocumentEvent({"summary": "x", "details": {"index": "events"}})).payload
