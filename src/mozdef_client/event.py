"""The event model: what a caller builds, and the MozDef document it becomes.

:class:`Event` covers generic, compliance, asset-hint and RRA events (they
share MozDef's generic document). :class:`VulnerabilityEvent` wraps a
vulnerability document, which the caller supplies whole.
"""

from __future__ import annotations

import enum
import functools
import os
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import _process
from .errors import EncodingError, ValidationError
from .severity import Severity

__all__ = [
    "DocumentEvent",
    "Event",
    "Kind",
    "VulnerabilityEvent",
    "default_hostname",
    "default_processname",
]


class Kind(str, enum.Enum):
    """The kinds of MozDef event, each with its own validation rules."""

    GENERIC = "generic"
    COMPLIANCE = "compliance"
    VULNERABILITY = "vulnerability"
    ASSET_HINT = "asset-hint"
    RRA = "rra"

    def __str__(self) -> str:
        return self.value

    @property
    def default_category(self) -> str:
        return _DEFAULT_CATEGORY[self]

    @classmethod
    def from_category(cls, category: str | None) -> Kind:
        """The kind a category names (generic when unknown); for a whole
        document, :meth:`of_document` also recognises vulnerabilities."""
        return _KIND_BY_CATEGORY.get(category or "", cls.GENERIC)

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> Kind:
        """The kind of a whole MozDef document, the one rule for every reader.

        A vulnerability document is the caller's own dict with no category,
        so it is recognised as MozDef's vulnerability plugin recognises it,
        by its shape (``asset`` with ``vuln`` in v1, ``zone`` in v2), or by
        the marks of ``/custom/vulnerability`` (see :mod:`.routing`). Other
        kinds come from the category; anything else is generic.
        """
        category = document.get("category")
        if category is None and "asset" in document and ("vuln" in document or "zone" in document):
            return cls.VULNERABILITY
        if document.get("customendpoint") is True and document.get("endpoint") == "vulnerability":
            return cls.VULNERABILITY
        return (
            _KIND_BY_CATEGORY.get(category, cls.GENERIC)
            if isinstance(category, str)
            else cls.GENERIC
        )


_DEFAULT_CATEGORY = {
    Kind.GENERIC: "event",
    Kind.COMPLIANCE: "complianceitems",
    Kind.VULNERABILITY: "vulnerability",
    Kind.ASSET_HINT: "asset_hint",
    Kind.RRA: "rra_data",
}
_KIND_BY_CATEGORY = {
    "complianceitems": Kind.COMPLIANCE,
    "asset_hint": Kind.ASSET_HINT,
    "rra_data": Kind.RRA,
    "vulnerability": Kind.VULNERABILITY,
}


@functools.lru_cache(maxsize=1)
def default_hostname() -> str:
    """The sending host's FQDN, falling back to the plain hostname.

    Some systems resolve their FQDN to ``localhost.localdomain``; MozDef
    would then see every such host as the same one.
    """
    name = socket.getfqdn()
    if name in ("localhost", "localhost.localdomain", ""):
        name = socket.gethostname()
    return name


def default_processname() -> str:
    """The program's name: the last part of ``sys.argv[0]``."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    return os.path.basename(argv0) or argv0


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(kw_only=True, slots=True)
class Event:
    """A MozDef event of any kind but vulnerability.

    Fields left as ``None`` get defaults when the document is built: the
    category from ``kind``, this host's FQDN, the program name and its PID.
    ``severity`` accepts a :class:`Severity` or its name (``"warn"`` works).

    What is sent is the event as it is when ``send()`` encodes it; changing
    the object (or its details) afterwards changes nothing already sent. It
    is not frozen because a frozen dataclass costs about twice as much to
    build, and one is built per event sent.

    Raises:
        ConfigurationError: unknown severity.
        ValidationError: a field has the wrong type.
    """

    summary: str | None = None
    category: str | None = None
    severity: Severity = Severity.INFO
    source: str | None = None
    tags: Sequence[str] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    kind: Kind = Kind.GENERIC
    timestamp: datetime = field(default_factory=_now)
    hostname: str | None = None
    processname: str | None = None
    processid: int | None = None

    def __post_init__(self) -> None:
        # Normalise what callers commonly pass loosely. The `type(...) is`
        # tests come first: this runs on every send().
        if type(self.severity) is not Severity:
            self.severity = Severity.parse(self.severity)
        if type(self.kind) is not Kind:
            self.kind = _parse_kind(self.kind)
        if type(self.tags) is not tuple or self.tags:
            self.tags = _tags_tuple(self.tags)
        if self.summary is not None and type(self.summary) is not str:
            _check_optional_str(self.summary, "summary")
        if self.category is not None and type(self.category) is not str:
            _check_optional_str(self.category, "category")
        if self.source is not None:
            _check_optional_str(self.source, "source")
        if self.hostname is not None:
            _check_optional_str(self.hostname, "hostname")
        if self.processname is not None:
            _check_optional_str(self.processname, "processname")
        if type(self.details) is not dict and not isinstance(self.details, Mapping):
            raise ValidationError(
                f"details must be a mapping, not {type(self.details).__name__}", "details"
            )
        if type(self.timestamp) is not datetime and not isinstance(self.timestamp, datetime):
            raise ValidationError(
                f"timestamp must be a datetime, not {type(self.timestamp).__name__}", "timestamp"
            )
        if self.processid is not None and (
            isinstance(self.processid, bool) or not isinstance(self.processid, int)
        ):
            raise ValidationError("processid must be an integer", "processid")

    def to_document(self) -> dict[str, Any]:
        """The MozDef document (not yet encoded; values are the caller's)."""
        document = self.document_for_encoding()
        document["timestamp"] = document["timestamp"].isoformat()
        return document

    def document_for_encoding(self) -> dict[str, Any]:
        """:meth:`to_document` with ``timestamp`` still an aware UTC datetime.

        The encoder writes it exactly as ``isoformat()`` would; orjson does so
        several times faster, and this runs on every ``send()``.
        """
        timestamp = self.timestamp
        if timestamp.tzinfo is not timezone.utc or type(timestamp) is not datetime:
            timestamp = _utc_timestamp(timestamp)
        pid, processname = _process_identity()
        document: dict[str, Any] = {
            "timestamp": timestamp,
            "hostname": self.hostname or default_hostname(),
            "processname": self.processname or processname,
            "processid": self.processid if self.processid is not None else pid,
            # Severity is a str enum: the member is its name, without the
            # cost of the .value descriptor on this hot path.
            "severity": str.__str__(self.severity),
            "category": self.category
            or ("event" if self.kind is Kind.GENERIC else _DEFAULT_CATEGORY[self.kind]),
            "summary": self.summary,
            "tags": list(self.tags),
            "details": self.details,
        }
        if self.source is not None:
            document["source"] = self.source
        return document


def _utc_timestamp(timestamp: datetime) -> datetime:
    """A plain UTC datetime: the encoder never asks the caller's tzinfo anything."""
    try:
        # The base class's method checks the tzinfo answers a timedelta under a day.
        offset = datetime.utcoffset(timestamp)
        naive = datetime(
            timestamp.year,
            timestamp.month,
            timestamp.day,
            timestamp.hour,
            timestamp.minute,
            timestamp.second,
            timestamp.microsecond,
        )
    except Exception as exc:
        raise EncodingError(
            f"timestamp could not be read: its {type(exc).__name__} raised", "timestamp"
        ) from None
    # A naive time is taken to be UTC, as MozDef does.
    return (naive - offset if offset else naive).replace(tzinfo=timezone.utc)


# (pid, sys.argv[0], program name): os.getpid() is a system call, so the pid
# is kept here and renewed in a forked child.
_identity: tuple[int, object, str] = (os.getpid(), None, "")


def _process_identity() -> tuple[int, str]:
    """(pid, program name), the name recomputed when sys.argv[0] changes."""
    global _identity
    argv0 = sys.argv[0] if sys.argv else None
    if _identity[1] is not argv0:
        _identity = (_identity[0], argv0, default_processname())
    return _identity[0], _identity[2]


def _renew_pid_after_fork() -> None:
    global _identity
    _identity = (os.getpid(), None, "")


_process.at_fork("identity", _renew_pid_after_fork)


@dataclass(frozen=True, slots=True)
class DocumentEvent:
    """A finished MozDef document, sent as it is once it passes ``kind``'s rules.

    For documents that arrive whole: read from JSON, or built by other code.
    """

    document: Mapping[str, Any]
    kind: Kind = Kind.GENERIC

    def __post_init__(self) -> None:
        if not isinstance(self.document, Mapping):
            raise ValidationError(
                f"an event document is a mapping, not {type(self.document).__name__}"
            )
        if not isinstance(self.kind, Kind):
            object.__setattr__(self, "kind", _parse_kind(self.kind))

    @property
    def severity(self) -> Severity:
        """The document's severity (INFO when it has none)."""
        value = self.document.get("severity")
        try:
            return Severity.parse(value) if value is not None else Severity.INFO
        except ValueError:
            return Severity.INFO  # validation reports it with its field name

    def to_document(self) -> dict[str, Any]:
        return dict(self.document)


class VulnerabilityEvent(DocumentEvent):
    """A vulnerability event: MozDef takes the caller's document whole."""

    __slots__ = ()

    def __init__(self, document: Mapping[str, Any]) -> None:
        super().__init__(document, Kind.VULNERABILITY)


def _parse_kind(value: object) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        known = ", ".join(k.value for k in Kind)
        raise ValidationError(f"unknown event kind {value!r}; expected one of {known}") from None


def _tags_tuple(tags: object) -> tuple[str, ...]:
    if type(tags) is tuple or type(tags) is list:
        result = tuple(tags)
        for tag in result:
            if type(tag) is not str:
                break
        else:
            return result  # the usual case, without the ABC checks below
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Iterable):
        raise ValidationError(f"tags must be a list of strings, not {type(tags).__name__}", "tags")
    result = tuple(tags)
    for index, tag in enumerate(result):
        if not isinstance(tag, str):
            raise ValidationError(
                f"tags[{index}] must be a string, not {type(tag).__name__}", f"tags[{index}]"
            )
    return result


def _check_optional_str(value: object, name: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, not {type(value).__name__}", name)
