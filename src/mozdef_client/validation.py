"""Per-kind validation of MozDef documents.

Each check raises :class:`ValidationError` naming the dotted field path at
fault (``details.check.test.value is missing``). The rules work on the
document, not on :class:`Event`, so the CLI and the development receiver
can check documents that arrive as JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import ValidationError
from .event import Event, Kind
from .severity import Severity

__all__ = ["recommended_field_warnings", "validate_document", "validate_event"]

_VULN_TOP = ("utctimestamp", "description", "vuln", "asset", "sourcename")
_VULN_ASSET = ("assetid", "ipv4address", "hostname", "macaddress")
_VULN_VULN = (
    "status",
    "vulnid",
    "title",
    "discovery_time",
    "age_days",
    "known_malware",
    "known_exploits",
    "cvss",
    "cves",
)
_COMPLIANCE_DETAILS = ("target", "policy", "check", "compliance", "link", "utctimestamp")
_COMPLIANCE_POLICY = ("level", "name", "url")
_COMPLIANCE_CHECK = ("description", "location", "name", "test")
_COMPLIANCE_TEST = ("type", "value")

_RECOMMENDED = ("timestamp", "hostname", "processname", "severity", "category", "summary")


def validate_document(document: Mapping[str, Any], kind: Kind) -> None:
    """Check ``document`` against the rules of ``kind``.

    Raises:
        ValidationError: the first rule broken, with its field path.
    """
    if not isinstance(document, Mapping):
        raise ValidationError(f"an event must be a JSON object, not {type(document).__name__}")
    _VALIDATORS[kind](document)


def validate_event(event: Event) -> None:
    """Check an :class:`Event` against its kind's rules.

    The Event checked its field types when it was made, so only the rules
    on content remain: a summary, and the kind's details.

    Raises:
        ValidationError: the first rule broken, with its field path.
    """
    if not event.summary:
        raise ValidationError(_NO_SUMMARY, "summary")
    kind = event.kind
    if kind is Kind.GENERIC:
        return
    if kind is Kind.VULNERABILITY:
        validate_document(event.to_document(), kind)
    else:
        _DETAIL_RULES[kind](event.details)


_NO_SUMMARY = "summary is missing (every event needs a summary)"


def recommended_field_warnings(document: Mapping[str, Any]) -> list[str]:
    """Soft findings for a generic document: recommended fields that are absent."""
    if Kind.from_category(document.get("category")) is Kind.VULNERABILITY:
        return []
    return [f"{name} is missing (recommended)" for name in _RECOMMENDED if name not in document]


def _validate_generic(document: Mapping[str, Any]) -> None:
    summary = document.get("summary")
    if summary is None:
        raise ValidationError(_NO_SUMMARY, "summary")
    if not isinstance(summary, str):
        raise ValidationError(f"summary must be a string, not {type(summary).__name__}", "summary")
    if not str.__len__(summary):  # not ==: a str subclass may override it
        raise ValidationError(_NO_SUMMARY, "summary")
    severity = document.get("severity")
    if severity is not None:
        try:
            Severity.parse(severity)
        except ValueError as exc:
            raise ValidationError(str(exc), "severity") from None
    tags = document.get("tags")
    if tags is not None:
        if not isinstance(tags, (list, tuple)):
            raise ValidationError(f"tags must be a list, not {type(tags).__name__}", "tags")
        for index, tag in enumerate(tags):
            if not isinstance(tag, str):
                raise ValidationError(f"tags[{index}] must be a string", f"tags[{index}]")
    details = document.get("details")
    if details is not None and not isinstance(details, Mapping):
        raise ValidationError(f"details must be an object, not {type(details).__name__}", "details")


def _validate_compliance(document: Mapping[str, Any]) -> None:
    _validate_generic(document)
    _compliance_details(_require_mapping(document, "details", "details"))


def _compliance_details(details: Mapping[str, Any]) -> None:
    _require_keys(details, _COMPLIANCE_DETAILS, "details")
    policy = _require_mapping(details, "policy", "details.policy")
    _require_keys(policy, _COMPLIANCE_POLICY, "details.policy")
    check = _require_mapping(details, "check", "details.check")
    _require_keys(check, _COMPLIANCE_CHECK, "details.check")
    test = _require_mapping(check, "test", "details.check.test")
    _require_keys(test, _COMPLIANCE_TEST, "details.check.test")


def _validate_vulnerability(document: Mapping[str, Any]) -> None:
    _require_keys(document, _VULN_TOP, "")
    asset = _require_mapping(document, "asset", "asset")
    _require_keys(asset, _VULN_ASSET, "asset")
    vuln = _require_mapping(document, "vuln", "vuln")
    _require_keys(vuln, _VULN_VULN, "vuln")


def _validate_with_details(document: Mapping[str, Any]) -> None:
    """Asset hints and RRA events: a generic event with non-empty details."""
    _validate_generic(document)
    _non_empty_details(_require_mapping(document, "details", "details"))


def _non_empty_details(details: Mapping[str, Any]) -> None:
    if not details:
        raise ValidationError("details is empty (this kind of event needs details)", "details")


_VALIDATORS: dict[Kind, Callable[[Mapping[str, Any]], None]] = {
    Kind.GENERIC: _validate_generic,
    Kind.COMPLIANCE: _validate_compliance,
    Kind.VULNERABILITY: _validate_vulnerability,
    Kind.ASSET_HINT: _validate_with_details,
    Kind.RRA: _validate_with_details,
}


_DETAIL_RULES: dict[Kind, Callable[[Mapping[str, Any]], None]] = {
    Kind.COMPLIANCE: _compliance_details,
    Kind.ASSET_HINT: _non_empty_details,
    Kind.RRA: _non_empty_details,
}


def _require_keys(mapping: Mapping[str, Any], keys: tuple[str, ...], prefix: str) -> None:
    for key in keys:
        if key not in mapping:
            path = f"{prefix}.{key}" if prefix else key
            raise ValidationError(f"{path} is missing", path)


def _require_mapping(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    if key not in parent or parent[key] is None:
        raise ValidationError(f"{path} is missing", path)
    value = parent[key]
    if not isinstance(value, Mapping):
        raise ValidationError(f"{path} must be an object, not {type(value).__name__}", path)
    return value
