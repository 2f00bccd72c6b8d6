"""``MozDefProcessor``: a structlog processor that sends each event dict to MozDef.

::

    import structlog
    from mozdef_client import MozDefProcessor

    structlog.configure(processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        MozDefProcessor("https://mozdef.example.com/events", category="authentication"),
        structlog.processors.JSONRenderer(),
    ])

It uses the logging handler's mapping rules and returns the event dict
unchanged, so the rest of the chain renders it as before. This module never
imports structlog: a processor is just a callable, so the ``structlog`` extra
only pins a version known to work.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .client import Client
from .delivery import DeliveryOptions
from .log_mapping import (
    ExcInfo,
    ExtraMapping,
    LogSender,
    MappingOptions,
    build_event,
    exception_details,
    is_library_record,
    report_error,
    safe_str,
    sending,
    severity_for_level,
    severity_for_name,
)
from .severity import Severity

__all__ = ["MozDefProcessor"]

# Keys structlog's own processors add; each maps to a part of the event.
_RESERVED = frozenset(
    {"event", "level", "level_number", "logger", "timestamp", "exc_info", "exception", "stack"}
)
# Method names that are not level names.
_METHOD_SEVERITY = {"exception": Severity.ERROR, "msg": Severity.INFO, "log": Severity.INFO}
_RANK = {severity: rank for rank, severity in enumerate(Severity)}

EventDict = MutableMapping[str, Any]


class MozDefProcessor:
    """A structlog processor sending events to MozDef, passing them on unchanged.

    Place it after the processors that add ``level``, ``logger`` and
    ``timestamp`` and before the renderer. The keys it reads: ``event``
    (summary), ``level`` (severity; else the method name), ``logger`` (source;
    else the wrapped logger's name), ``timestamp`` (ISO 8601 or UNIX time),
    ``exc_info`` / ``exception`` / ``stack``, and ``category``, ``source``,
    ``tags``, ``details``; the other keys become details.

    Args:
        url, client, category, tags, extra_mapping, include_traceback,
        delivery, drop_report_interval: as for :class:`MozDefHandler`.
        min_severity: events less severe than this are passed on, not sent.

    Raises:
        ConfigurationError: no destination, or an option is not valid.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Client | None = None,
        category: str = "event",
        tags: Sequence[str] = (),
        extra_mapping: ExtraMapping | None = None,
        include_traceback: bool = False,
        min_severity: Severity | str = Severity.DEBUG,
        delivery: DeliveryOptions | None = None,
        drop_report_interval: float = 60.0,
    ) -> None:
        self.mapping = MappingOptions(
            category=category,
            tags=tags,
            extra_mapping=extra_mapping,
            include_traceback=include_traceback,
        )
        self.min_severity = Severity.parse(min_severity)
        self._sender = LogSender(url, client, delivery, drop_report_interval)

    def __repr__(self) -> str:
        return f"<MozDefProcessor {self._sender.client!r}>"

    @property
    def client(self) -> Client:
        """The client events go through (for ``stats()``, ``flush()``...)."""
        return self._sender.client

    def __call__(self, logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
        """Send ``event_dict`` (unless it is filtered out) and return it unchanged.

        Never raises: a failure is printed to stderr while
        ``logging.raiseExceptions`` is true, and dropped events are counted.
        """
        try:
            if not isinstance(event_dict, Mapping):
                raise TypeError(
                    "MozDefProcessor got a rendered event, not a dict: place it before the renderer"
                )
            if self._wanted(logger, event_dict):
                with sending() as outermost:
                    if outermost:
                        self._send(logger, method_name, event_dict)
        except Exception:
            report_error("MozDef structlog processor error")
        return event_dict

    def _wanted(self, logger: Any, event_dict: EventDict) -> bool:
        record = event_dict.get("_record")  # a stdlib record, via ProcessorFormatter
        if isinstance(record, logging.LogRecord) and is_library_record(
            record.name, record.threadName
        ):
            return False
        return not is_library_record(_logger_name(logger, event_dict))

    def _send(self, logger: Any, method_name: str, event_dict: EventDict) -> None:
        severity = _severity(event_dict.get("level"), method_name)
        if _RANK[severity] < _RANK[self.min_severity]:
            return
        fields = {
            key: value
            for key, value in event_dict.items()
            if key not in _RESERVED and key[:1] != "_"
        }
        timestamp = _timestamp(event_dict.get("timestamp"))
        if timestamp is None and "timestamp" in event_dict:
            fields["timestamp"] = event_dict["timestamp"]  # not a time we can read
        summary = event_dict.get("event")
        stack = event_dict.get("stack")
        event = build_event(
            summary=summary
            if isinstance(summary, str)
            else ""
            if summary is None
            else str(summary),
            severity=severity,
            source=_logger_name(logger, event_dict),
            fields=fields,
            options=self.mapping,
            timestamp=timestamp,
            exception=self._exception(event_dict),
            stack=stack if isinstance(stack, str) else None,
        )
        self._sender.send(event)

    def _exception(self, event_dict: Mapping[str, Any]) -> dict[str, Any] | None:
        """From ``exc_info`` as logged, or ``exception`` as format_exc_info or
        dict_tracebacks rendered it."""
        include = self.mapping.include_traceback
        details = exception_details(_exc_info(event_dict.get("exc_info")), include)
        rendered = event_dict.get("exception")
        if details is None and isinstance(rendered, str) and rendered.strip():
            details = _from_text(rendered, include)
        elif details is None and isinstance(rendered, list):
            details = _from_dicts(rendered, include)
        return details

    def flush(self, timeout: float = 2.0) -> int:
        """Wait up to ``timeout`` seconds for queued events; returns how many remain."""
        return self._sender.flush(timeout)

    def close(self, timeout: float = 2.0) -> int:
        """Close the owned client (or flush a given one); returns events left."""
        return self._sender.close(timeout)


def _logger_name(logger: Any, event_dict: Mapping[str, Any]) -> str | None:
    """``logger`` as add_logger_name set it, else the stdlib record's or logger's name."""
    name = event_dict.get("logger")
    if isinstance(name, str):
        return name
    record = event_dict.get("_record")
    name = record.name if isinstance(record, logging.LogRecord) else getattr(logger, "name", None)
    return name if isinstance(name, str) else None


def _severity(level: object, method_name: str) -> Severity:
    """The event's ``level`` (a name or number), else the method name, else INFO."""
    for candidate in (level, method_name):
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return severity_for_level(candidate)
        if isinstance(candidate, str):
            found = severity_for_name(candidate) or _METHOD_SEVERITY.get(candidate.lower())
            if found is not None:
                return found
            number = logging.getLevelName(candidate.upper())  # a registered custom level
            if isinstance(number, int):
                return severity_for_level(number)
    return Severity.INFO


def _timestamp(value: object) -> datetime | None:
    """A time from a TimeStamper: ISO 8601 text, UNIX seconds or a datetime.

    Times without an offset are local time, as ``TimeStamper(utc=False)`` writes them.
    """
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, timezone.utc)
        if isinstance(value, str):
            text = value.strip()
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.astimezone()
    except (ValueError, OverflowError, OSError):
        pass
    return None


def _exc_info(value: object) -> ExcInfo | None:
    if value is None or value is False:
        return None
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3:
        return value
    return sys.exc_info() if value else None


def _from_text(text: str, include_traceback: bool) -> dict[str, Any]:
    """Details from a traceback rendered as text: its last line names the exception."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1].strip()
    kind, colon, message = last.partition(": ")
    details: dict[str, Any] = (
        {"type": kind, "message": message} if colon else {"type": last, "message": ""}
    )
    if include_traceback:
        details["traceback"] = text.rstrip()
    return details


def _from_dicts(chain: list[Any], include_traceback: bool) -> dict[str, Any] | None:
    """Details from ``dict_tracebacks`` output: exception dicts, the one raised last last."""
    last = chain[-1] if chain else None
    if not isinstance(last, Mapping):
        return None
    details: dict[str, Any] = {
        "type": safe_str(last.get("exc_type", "")),
        "message": safe_str(last.get("exc_value", "")),
    }
    frames = last.get("frames")
    if isinstance(frames, list) and frames and isinstance(frames[-1], Mapping):
        frame = frames[-1]
        details.update(
            file=frame.get("filename"), line=frame.get("lineno"), function=frame.get("name")
        )
    if include_traceback:
        details["traceback"] = chain
    return details
