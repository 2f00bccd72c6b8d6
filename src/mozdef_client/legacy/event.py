"""MozDefEvent, 1.1's generic event, and its kinds: compliance, asset hint, RRA.

``send()`` builds the core :class:`Event` once, validates it once and encodes
it once; a subclass with its own ``construct()`` or ``validate_log()`` gets
1.1's steps instead (construct ``_sendlog``, check it, send it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from ..encoding import encode_document
from ..errors import ConfigurationError, EncodingError, MozDefError, ValidationError
from ..event import DocumentEvent, Event, Kind
from ..severity import Severity
from ..transports.base import EncodedEvent
from ..validation import validate_document, validate_event
from ._support import snapshot
from .message import MozDefMessage

__all__ = ["MozDefAssetHint", "MozDefCompliance", "MozDefEvent", "MozDefRRA", "resolve_severity"]

# 1.1's numeric severities: MozDefEvent.SEVERITY_DEBUG is 0 ... SEVERITY_EMERGENCY 7.
_LEGACY_SEVERITIES = (
    Severity.DEBUG, Severity.INFO, Severity.NOTICE, Severity.WARNING,
    Severity.ERROR, Severity.CRITICAL, Severity.ALERT, Severity.EMERGENCY,
)  # fmt: skip


def resolve_severity(value: object) -> Severity:
    """A 1.1 severity constant, a name (any case, with aliases) or a Severity."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(_LEGACY_SEVERITIES):
            return _LEGACY_SEVERITIES[value]
        raise ConfigurationError(
            f"unknown severity {value!r}; use MozDefEvent.SEVERITY_* or a name such as 'INFO'"
        )
    if isinstance(value, (str, Severity)):
        return Severity.parse(value)
    raise ConfigurationError(f"severity must be a name or a SEVERITY_* constant, not {value!r}")


class MozDefEvent(MozDefMessage):
    """A generic event: set ``summary``, ``tags`` and ``details``, then ``send()``."""

    # 1.1's values; SEVERITY_CRIT is the alias its README uses.
    SEVERITY_DEBUG = 0
    SEVERITY_INFO = 1
    SEVERITY_NOTICE = 2
    SEVERITY_WARNING = 3
    SEVERITY_ERROR = 4
    SEVERITY_CRITICAL = 5
    SEVERITY_CRIT = 5
    SEVERITY_ALERT = 6
    SEVERITY_EMERGENCY = 7

    #: 1.1's table of severity constant -> [name, syslog priority].
    _sevmap: ClassVar[dict[int, list[str | int]]] = {
        number: [severity.name, 7 - number]  # syslog.LOG_DEBUG is 7 ... LOG_EMERG 0
        for number, severity in enumerate(_LEGACY_SEVERITIES)
    }

    _kind = Kind.GENERIC

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_EVENT
        self._category = self._kind.default_category
        self._source: str | None = None
        self._severity: int | str | Severity = self.SEVERITY_INFO
        self._process_name = sys.argv[0] if sys.argv and sys.argv[0] else "python"
        self._process_id: int | None = None
        self._updatelog: dict[str, Any] | None = None
        self.timestamp: datetime | str | None = None
        self.summary: str | None = None
        self.tags: list[str] = []
        self.details: dict[str, Any] = {}

    # Plain attributes 1.1 silently ignored; properties so that subclasses
    # overriding them keep working, and the private names stay in step.
    @property
    def category(self) -> str:
        return self._category

    @category.setter
    def category(self, value: str) -> None:
        self._category = value

    @property
    def source(self) -> str | None:
        return self._source

    @source.setter
    def source(self, value: str | None) -> None:
        self._source = value

    @property
    def severity(self) -> int | str | Severity:
        return self._severity

    @severity.setter
    def severity(self, value: int | str | Severity) -> None:
        self._severity = value

    def set_severity(self, severity: int | str | Severity) -> None:
        """A ``SEVERITY_*`` constant or a severity name (``"NOTICE"``, ``"crit"``)."""
        resolve_severity(severity)  # fail here, where the mistake is
        self._severity = severity

    def set_severity_from_string(self, name: str) -> None:
        """Set the severity by name; 1.1 silently took an unknown name as INFO."""
        self._severity = _LEGACY_SEVERITIES.index(Severity.parse(name))

    def set_category(self, category: str) -> None:
        self._category = category

    def set_source(self, source: str | None) -> None:
        self._source = source

    def set_simple_update_log(self, log: dict[str, Any] | None) -> None:
        """Extra fields for the document; the event's own fields take precedence."""
        self._updatelog = log

    def _invalid(self) -> ValidationError | None:
        if self.summary is None or self.summary == "":
            return ValidationError("summary is missing (every event needs a summary)", "summary")
        return None

    def validate_log(self) -> bool:
        try:
            validate_document(self._sendlog, self._kind)
        except MozDefError:
            return False
        return True

    def syslog_convert(self) -> str:
        """The constructed document as JSON, as 1.1 returned it: ``json.dumps(self._sendlog)``.

        Values 1.1 could not convert (a ``datetime`` in details) are converted
        as they are sent. (What goes to syslog is the same document as compact JSON.)

        Raises:
            EncodingError: a value cannot be JSON at all (names the field).
        """
        try:
            return json.dumps(self._sendlog)
        except (TypeError, ValueError, RecursionError):
            return json.dumps(json.loads(encode_document(self._sendlog)))

    def send(
        self,
        timestamp: datetime | str | None = None,
        summary: str | None = None,
        tags: list[str] | None = None,
        details: dict[str, Any] | None = None,
        hostname: str | None = None,
    ) -> None:
        """Send the event; arguments given here replace the attributes for this call only.

        Raises:
            ValidationError: the event is invalid (the message names the field).
            ConfigurationError: an unknown severity or facility, or a bad setting.
            DeliveryError: a destination failed (unless fire-and-forget is on).
        """
        given = {"timestamp": timestamp, "summary": summary, "tags": tags,
                 "details": details, "hostname": hostname}  # fmt: skip
        overrides = {name: value for name, value in given.items() if value is not None}
        saved = {name: getattr(self, name) for name in overrides}
        for name, value in overrides.items():
            setattr(self, name, value)
        try:
            if self._one_path:
                self._send_once()
            else:
                super().send()
        finally:
            for name, value in saved.items():
                setattr(self, name, value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass with its own construct() or validate_log() gets 1.1's
        # steps, in 1.1's order: construct, then its check of _sendlog.
        cls._one_path = (
            cls.construct is MozDefEvent.construct and cls.validate_log is MozDefEvent.validate_log
        )

    _one_path: ClassVar[bool] = True

    def _send_once(self) -> None:
        """Build the event once, validate it once, encode it once, deliver it.

        The encoder snapshots the caller's data, so nothing is deep-copied;
        ``_sendlog`` is decoded from the sent JSON only if a program reads it.
        """
        if not self.validate():
            raise self._invalid() or ValidationError(
                f"{type(self).__name__}.validate() returned False"
            )
        event = self._event_from_attributes()
        validate_event(event)
        document = event.document_for_encoding()
        if self._updatelog:
            document = _with_updatelog(self._updatelog, document)
        if isinstance(self.timestamp, str):
            document["timestamp"] = self.timestamp  # 1.1 sent a string as given
        try:
            payload = encode_document(document)
        except EncodingError:
            raise
        except Exception as exc:
            # What the encoder could not even walk (a mapping that fails when
            # read): the copying walk names the field.
            snapshot(document, "", 0)
            raise EncodingError(f"event cannot be encoded as JSON: {exc}") from exc
        self._sendlog_value = None
        self._sent_json = payload
        self._deliver(EncodedEvent(payload, event.severity))

    def construct(self) -> None:
        event = self._event_from_attributes()
        # Copies: the caller's details and tags are never aliased by _sendlog.
        document = event.to_document()
        if self._updatelog:
            document = _with_updatelog(self._updatelog, document)
        document = snapshot(document, "", 0)
        if isinstance(self.timestamp, str):
            document["timestamp"] = self.timestamp
        self._sendlog = document

    def _event_from_attributes(self) -> Event:
        timestamp = self.timestamp if isinstance(self.timestamp, datetime) else None
        extra = {"timestamp": timestamp} if timestamp is not None else {}
        return Event(
            summary=self.summary,
            category=self.category,
            severity=resolve_severity(self.severity),
            source=self.source,
            tags=self.tags if self.tags is not None else (),
            details=self.details if self.details is not None else {},
            kind=self._kind,
            hostname=self.hostname,
            processname=self._process_name,
            processid=self._process_id,
            **extra,
        )

    def _core_event(self) -> Event | DocumentEvent:
        # _sendlog may carry _updatelog's extra fields and a string timestamp,
        # so send the constructed document itself.
        return DocumentEvent(self._sendlog, self._kind)


class MozDefCompliance(MozDefEvent):
    """A compliance event: ``details`` must follow MozDef's compliance format."""

    _kind = Kind.COMPLIANCE

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_COMPLIANCE


class MozDefAssetHint(MozDefEvent):
    """An asset hint: a generic event in category ``asset_hint`` with details."""

    _kind = Kind.ASSET_HINT

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_ASSETHINT

    def _invalid(self) -> ValidationError | None:
        return super()._invalid() or _empty_details(self)


class MozDefRRA(MozDefEvent):
    """An RRA event: category ``rra_data``, with details."""

    _kind = Kind.RRA

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_RRA

    def _invalid(self) -> ValidationError | None:
        invalid = super()._invalid()
        if invalid is None and self.category != "rra_data":
            invalid = ValidationError(
                f"category is {self.category!r}; a MozDefRRA event's category must be "
                "'rra_data' (as in 1.1)",
                "category",
            )
        return invalid or _empty_details(self)


def _with_updatelog(updatelog: object, document: dict[str, Any]) -> dict[str, Any]:
    """``_updatelog``'s extra fields, then the event's own (which win)."""
    if not isinstance(updatelog, Mapping):
        raise ValidationError(
            f"_updatelog must be a dict, not {type(updatelog).__name__}", "_updatelog"
        )
    try:
        return {**updatelog, **document}
    except Exception as exc:  # a mapping that fails when read
        raise EncodingError(f"_updatelog cannot be read: {type(exc).__name__}: {exc}") from exc


def _empty_details(event: MozDefEvent) -> ValidationError | None:
    """1.1's check of asset hints and RRA events: details must not be empty."""
    details = event.details
    if isinstance(details, Mapping) and details:
        return None
    if isinstance(details, Mapping) or details is None:
        problem = "is empty"
    else:
        problem = f"must be a dict, not {type(details).__name__}"
    return ValidationError(f"details {problem} (a {type(event).__name__} needs details)", "details")
