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

__all__ = [
    "document_errors",
    "missing_recommended_fields",
    "recommended_field_warnings",
    "validate_document",
    "validate_event",
]

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
# MozDef's vulnerability plugin, "version": 2 documents: these keys, the four
# strings non-empty.
_VULN_V2_TOP = ("utctimestamp", "description", "asset", "sourcename", "zone")
_VULN_V2_ASSET = ("hostname", "ipaddress")
_COMPLIANCE_DETAILS = ("target", "policy", "check", "compliance", "link", "utctimestamp")
_COMPLIANCE_POLICY = ("level", "name", "url")
# MozDef's complianceitems plugin also reads check.ref (it builds the document id from it).
_COMPLIANCE_CHECK = ("description", "location", "name", "ref", "test")
_COMPLIANCE_TEST = ("type", "value")

_RECOMMENDED = ("timestamp", "hostname", "processname", "severity", "category", "summary")


def validate_document(document: Mapping[str, Any], kind: Kind) -> None:
    """Check ``document`` against the rules of ``kind``.

    Raises:
        ValidationError: the first rule broken, with its field path.
    """
    if not isinstance(document, Mapping):
        raise ValidationError(f"an event must be a JSON object, not {type(document).__name__}")
    _VALIDATORS[kind](document, _raise)


def document_errors(document: Mapping[str, Any], kind: Kind) -> list[ValidationError]:
    """Every rule of ``kind`` that ``document`` breaks, each with its field path
    (:func:`validate_document` stops at the first)."""
    if not isinstance(document, Mapping):
        return [ValidationError(f"an event must be a JSON object, not {type(document).__name__}")]
    errors: list[ValidationError] = []
    _VALIDATORS[kind](document, errors.append)
    return errors


# Each rule reports what it finds here: raise it (the first is enough), or
# collect it and go on (to list them all).
Report = Callable[[ValidationError], None]


def _raise(error: ValidationError) -> None:
    raise error


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
        _DETAIL_RULES[kind](event.details, _raise)


_NO_SUMMARY = "summary is missing (every event needs a summary)"
_INDEX_KEY = (
    "index is a top-level key: MozDef's /_bulk intake silently skips any event that has "
    "one (it takes it for an Elasticsearch action line), and MozDef keeps no unknown "
    "top-level field anyway; move it into details"
)


def recommended_field_warnings(document: Mapping[str, Any], kind: Kind) -> list[str]:
    """Soft findings for a document of ``kind``: recommended fields that are absent."""
    missing = missing_recommended_fields(document, kind)
    return [f"{name} is missing (recommended)" for name in missing]


def missing_recommended_fields(document: Mapping[str, Any], kind: Kind) -> list[str]:
    """The recommended fields a document of ``kind`` lacks (none for a vulnerability
    document, which MozDef takes whole with fields of its own)."""
    if kind is Kind.VULNERABILITY:
        return []
    return [name for name in _RECOMMENDED if name not in document]


def _validate_generic(document: Mapping[str, Any], report: Report) -> None:
    if "index" in document:
        # Not an Event field, so only a whole document can hold it.
        report(ValidationError(_INDEX_KEY, "index"))
    summary = document.get("summary")
    if summary is None:
        report(ValidationError(_NO_SUMMARY, "summary"))
    elif not isinstance(summary, str):
        report(
            ValidationError(f"summary must be a string, not {type(summary).__name__}", "summary")
        )
    elif not str.__len__(summary):  # not ==: a str subclass may override it
        report(ValidationError(_NO_SUMMARY, "summary"))
    severity = document.get("severity")
    if severity is not None:
        try:
            Severity.parse(severity)
        except ValueError as exc:
            report(ValidationError(str(exc), "severity"))
    tags = document.get("tags")
    if tags is not None:
        if not isinstance(tags, (list, tuple)):
            report(ValidationError(f"tags must be a list, not {type(tags).__name__}", "tags"))
        else:
            for index, tag in enumerate(tags):
                if not isinstance(tag, str):
                    report(ValidationError(f"tags[{index}] must be a string", f"tags[{index}]"))
    details = document.get("details")
    if details is not None and not isinstance(details, Mapping):
        report(
            ValidationError(f"details must be an object, not {type(details).__name__}", "details")
        )


def _validate_compliance(document: Mapping[str, Any], report: Report) -> None:
    _validate_generic(document, report)
    details = _require_mapping(document, "details", "details", report)
    if details is not None:
        _compliance_details(details, report)


def _compliance_details(details: Mapping[str, Any], report: Report) -> None:
    _require_keys(details, _COMPLIANCE_DETAILS, "details", report)
    policy = _require_mapping(details, "policy", "details.policy", report)
    if policy is not None:
        _require_keys(policy, _COMPLIANCE_POLICY, "details.policy", report)
    check = _require_mapping(details, "check", "details.check", report)
    if check is not None:
        _require_keys(check, _COMPLIANCE_CHECK, "details.check", report)
        test = _require_mapping(check, "test", "details.check.test", report)
        if test is not None:
            _require_keys(test, _COMPLIANCE_TEST, "details.check.test", report)


def _validate_vulnerability(document: Mapping[str, Any], report: Report) -> None:
    """MozDef's vulnerability plugin's rules: v1, or v2 with ``"version": 2``."""
    if "version" in document:
        _validate_vulnerability_v2(document, report)
        return
    # asset and vuln are reported by _require_mapping, with their own message.
    _require_keys(document, tuple(k for k in _VULN_TOP if k not in ("asset", "vuln")), "", report)
    asset = _require_mapping(document, "asset", "asset", report)
    if asset is not None:
        _require_keys(asset, _VULN_ASSET, "asset", report)
    vuln = _require_mapping(document, "vuln", "vuln", report)
    if vuln is not None:
        _require_keys(vuln, _VULN_VULN, "vuln", report)


def _validate_vulnerability_v2(document: Mapping[str, Any], report: Report) -> None:
    version = document["version"]
    # MozDef tests int(version) == 2 and drops every other version, 1 included.
    if isinstance(version, bool) or version not in (2, "2"):
        report(
            ValidationError(
                f"version is {version!r}; MozDef's vulnerability plugin takes version 2, or a "
                "document without a version (v1 format)",
                "version",
            )
        )
        return
    _require_keys(document, tuple(k for k in _VULN_V2_TOP if k != "asset"), "", report)
    asset = _require_mapping(document, "asset", "asset", report)
    if asset is not None:
        _require_keys(asset, _VULN_V2_ASSET, "asset", report)
    for value, path in (
        (document.get("zone"), "zone"),
        (document.get("sourcename"), "sourcename"),
        ((asset or {}).get("hostname"), "asset.hostname"),
        ((asset or {}).get("ipaddress"), "asset.ipaddress"),
    ):
        # A missing key was reported above; an empty one is reported here.
        if value == "" or (value is None and _has_path(document, path)):
            report(ValidationError(f"{path} is empty (a version 2 document needs it)", path))


def _has_path(document: Mapping[str, Any], path: str) -> bool:
    head, _, tail = path.partition(".")
    if head not in document:
        return False
    inner = document[head]
    return not tail or (isinstance(inner, Mapping) and tail in inner)


def _validate_with_details(document: Mapping[str, Any], report: Report) -> None:
    """Asset hints and RRA events: a generic event with non-empty details."""
    _validate_generic(document, report)
    details = _require_mapping(document, "details", "details", report)
    if details is not None:
        _non_empty_details(details, report)


def _non_empty_details(details: Mapping[str, Any], report: Report) -> None:
    if not details:
        report(ValidationError("details is empty (this kind of event needs details)", "details"))


_VALIDATORS: dict[Kind, Callable[[Mapping[str, Any], Report], None]] = {
    Kind.GENERIC: _validate_generic,
    Kind.COMPLIANCE: _validate_compliance,
    Kind.VULNERABILITY: _validate_vulnerability,
    Kind.ASSET_HINT: _validate_with_details,
    Kind.RRA: _validate_with_details,
}


_DETAIL_RULES: dict[Kind, Callable[[Mapping[str, Any], Report], None]] = {
    Kind.COMPLIANCE: _compliance_details,
    Kind.ASSET_HINT: _non_empty_details,
    Kind.RRA: _non_empty_details,
}


def _require_keys(
    mapping: Mapping[str, Any], keys: tuple[str, ...], prefix: str, report: Report
) -> None:
    for key in keys:
        if key not in mapping:
            path = f"{prefix}.{key}" if prefix else key
            report(ValidationError(f"{path} is missing", path))


def _require_mapping(
    parent: Mapping[str, Any], key: str, path: str, report: Report
) -> Mapping[str, Any] | None:
    """The object at ``key``; ``None`` (after reporting) when it is missing or not one."""
    if key not in parent or parent[key] is None:
        report(ValidationError(f"{path} is missing", path))
        return None
    value = parent[key]
    if not isinstance(value, Mapping):
        report(ValidationError(f"{path} must be an object, not {type(value).__name__}", path))
        return None
    return value
