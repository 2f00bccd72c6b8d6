"""How a log record becomes a MozDef event: the rules shared by the logging
handler and the structlog processor, and the guards that keep logging about
delivery from feeding back into delivery.

Mapping rules (docs/logging.md has the full table):

- level -> severity: the level's registered *name* first (``NOTICE``,
  ``ALERT``, ``EMERGENCY``, ``WARN``, ``CRIT``... as :meth:`Severity.parse`
  knows them), else its number, rounded down to a standard level;
- message -> summary; logger name -> source; the record's own ``category``,
  ``source`` and ``tags`` fields override the defaults;
- other fields -> details, through a rename dict or a callable;
- an exception -> ``details.exception``: type, message and where it was
  raised, the whole traceback only when asked for.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from ._checks import is_number
from .client import Client, prepare
from .delivery import DeliveryOptions, in_delivery_thread
from .encoding import encode_document
from .errors import ConfigurationError, EncodingError, EventDroppedError
from .event import Event
from .severity import Severity

__all__ = [
    "EventDroppedError",
    "ExtraMapping",
    "LogSender",
    "MappingOptions",
    "build_event",
    "encodable",
    "exception_details",
    "is_library_record",
    "report_error",
    "safe_str",
    "sending",
    "severity_for_level",
    "severity_for_name",
]

#: A rename dict (``{"user": "username", "password": None}``; ``None`` drops the
#: field, unlisted fields keep their names) or a callable that gets the fields
#: and returns the details.
ExtraMapping = Callable[[dict[str, Any]], Mapping[str, Any]] | Mapping[str, str | None]

ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]

#: Record fields with a meaning of their own; they never land in details.
SPECIAL_FIELDS = ("category", "source", "tags", "details")

_NO_MESSAGE = "(no message)"
_REPR_LIMIT = 1024
_LIBRARY = "mozdef_client"


# -- level -> severity ----------------------------------------------------------

_FLOORS = (
    (logging.CRITICAL, Severity.CRITICAL),
    (logging.ERROR, Severity.ERROR),
    (logging.WARNING, Severity.WARNING),
    (logging.INFO, Severity.INFO),
)


@functools.lru_cache(maxsize=512)
def severity_for_name(name: str) -> Severity | None:
    """The severity a level name stands for (any case, usual aliases), or None."""
    try:
        return Severity.parse(name)
    except ConfigurationError:
        return None


def severity_for_level(level: int) -> Severity:
    """The severity of a numeric logging level.

    The name registered for the level (``logging.addLevelName``) decides when
    it is a severity name or alias; otherwise the number is rounded down to a
    standard level (below INFO is DEBUG, 25 is INFO, 55 is CRITICAL).
    """
    name = logging.getLevelName(level)
    if isinstance(name, str):
        found = severity_for_name(name)
        if found is not None:
            return found
    for floor, severity in _FLOORS:
        if level >= floor:
            return severity
    return Severity.DEBUG


# -- options ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MappingOptions:
    """How records become events: defaults and the details mapping."""

    category: str = "event"
    tags: Sequence[str] = ()
    extra_mapping: ExtraMapping | None = None
    include_traceback: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.category, str) or not self.category:
            raise ConfigurationError("category must be a non-empty string")
        tags = self.tags
        if isinstance(tags, str) or not isinstance(tags, Sequence):
            raise ConfigurationError("tags must be a list of strings")
        if not all(isinstance(tag, str) for tag in tags):
            raise ConfigurationError("tags must be a list of strings")
        object.__setattr__(self, "tags", tuple(tags))
        mapping = self.extra_mapping
        if mapping is not None and not callable(mapping):
            if not isinstance(mapping, Mapping) or not all(
                isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in mapping.items()
            ):
                raise ConfigurationError(
                    "extra_mapping must be a callable or a dict of field name -> "
                    "details name (or None to drop the field)"
                )
            object.__setattr__(self, "extra_mapping", dict(mapping))
        if not isinstance(self.include_traceback, bool):
            raise ConfigurationError("include_traceback must be True or False")


# -- building the event ----------------------------------------------------------


def build_event(
    *,
    summary: str,
    severity: Severity,
    source: str | None,
    fields: Mapping[str, Any],
    options: MappingOptions,
    timestamp: datetime | None = None,
    exception: Mapping[str, Any] | None = None,
    stack: str | None = None,
) -> Event:
    """The event for one record.

    ``fields`` are the record's own fields (``extra=`` or the event dict's
    keys); ``exception`` is :func:`exception_details` of its exception.

    Raises:
        ValidationError: a ``category``, ``source`` or ``tags`` field has the
            wrong type, or the mapping returned something that is not a dict.
    """
    rest: dict[str, Any] = {}
    if fields:
        rest = {key: value for key, value in fields.items() if key not in SPECIAL_FIELDS}
        nested = fields.get("details")
        if isinstance(nested, Mapping):
            # extra={"details": {...}} reaches names LogRecord reserves ("name", "filename").
            rest.update(nested)
        elif nested is not None:
            rest["details"] = nested
    details = dict(_apply_mapping(rest, options.extra_mapping))
    if exception is not None:
        details["exception"] = exception
    if stack and options.include_traceback:
        details["stack"] = stack
    if not summary:
        summary = f"{exception.get('type')}: {exception.get('message')}" if exception else ""
    return Event(
        summary=summary or _NO_MESSAGE,
        category=fields.get("category") or options.category,
        severity=severity,
        source=fields.get("source", source),
        tags=_merge_tags(options.tags, fields.get("tags")),
        details=details,
        timestamp=timestamp or datetime.now(timezone.utc),
    )


def _apply_mapping(fields: dict[str, Any], mapping: ExtraMapping | None) -> Mapping[str, Any]:
    if mapping is None:
        return fields
    if callable(mapping):
        return mapping(fields)
    renamed: dict[str, Any] = {}
    for key, value in fields.items():
        name = mapping.get(key, key)
        if name is not None:
            renamed[name] = value
    return renamed


def _merge_tags(defaults: Sequence[str], extra: Any) -> Any:
    if extra is None:
        return defaults
    if isinstance(extra, str):
        extra = (extra,)  # one tag, not one tag per character
    if isinstance(extra, (list, tuple, set, frozenset)):
        return tuple(dict.fromkeys((*defaults, *extra)))
    return extra  # Event reports the wrong type, naming the field


def exception_details(exc_info: ExcInfo | None, include_traceback: bool) -> dict[str, Any] | None:
    """Type, message and the raising frame of an exception; its traceback if asked."""
    if exc_info is None:
        return None
    kind, value, tb = exc_info
    if value is None and kind is None:
        return None
    if value is not None:
        kind = type(value)
        tb = tb or value.__traceback__
    assert kind is not None
    module = getattr(kind, "__module__", "builtins")
    name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    details: dict[str, Any] = {
        "type": name,
        "message": safe_str(value) if value is not None else "",
    }
    if tb is not None:
        while tb.tb_next is not None:
            tb = tb.tb_next
        code = tb.tb_frame.f_code
        details.update(file=code.co_filename, line=tb.tb_lineno, function=code.co_name)
    if include_traceback:
        details["traceback"] = "".join(traceback.format_exception(kind, value, tb)).rstrip()
    return details


def safe_str(value: object) -> str:
    """``str(value)``, or its repr when ``__str__`` fails."""
    try:
        return str(value)
    except Exception:
        return _safe_repr(value)


def _safe_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _clean(text: str) -> str:
    """``text`` with lone surrogates (undecodable file names...) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def encodable(event: Event) -> Event:
    """``event`` with every value JSON cannot carry replaced by its ``repr``.

    Used only after encoding failed: a security event with one odd value is
    worth more sent with that value as text than lost.
    """
    details: dict[str, Any] = {}
    for key, value in event.details.items():
        name = _clean(key if isinstance(key, str) else safe_str(key))
        try:
            encode_document({"value": value})
        except EncodingError:
            value = _clean(_safe_repr(value))
        details[name] = value
    return dataclasses.replace(
        event,
        summary=_clean(event.summary or _NO_MESSAGE),
        category=_clean(event.category) if event.category else None,
        source=_clean(event.source) if event.source else None,
        tags=tuple(_clean(tag) for tag in event.tags),
        details=details,
    )


# -- guards against feedback ------------------------------------------------------

_guard = threading.local()


def is_library_record(logger_name: str | None, thread_name: str | None = None) -> bool:
    """Whether a record must never be sent: it comes from this library.

    That is any logger named ``mozdef_client`` or ``mozdef_client.*``, and any
    record logged on a delivery thread (urllib3, botocore or pika logging
    about a failing destination would otherwise make events about itself):
    the calling thread is one, or ``thread_name`` (the record's) names one.
    """
    if logger_name and (logger_name == _LIBRARY or logger_name.startswith(_LIBRARY + ".")):
        return True
    return in_delivery_thread(thread_name)


@contextmanager
def sending() -> Iterator[bool]:
    """Marks this thread as sending; yields False when it already was.

    Whatever is logged *while* a record is being sent (urllib3's debug lines
    in sync mode, a mapping callable that logs) is not sent again.
    """
    if getattr(_guard, "active", False):
        yield False
        return
    _guard.active = True
    try:
        yield True
    finally:
        _guard.active = False


# -- delivery ------------------------------------------------------------------------


class LogSender:
    """The client behind a handler or processor, and the way events reach it.

    Without ``client``, builds a background-mode client it owns for ``url``
    (or ``MOZDEF_URL``). Its default overflow policy drops the newest event
    rather than block the program that is logging.
    """

    def __init__(
        self,
        url: str | None,
        client: Client | None,
        delivery: DeliveryOptions | None,
        drop_report_interval: float,
    ) -> None:
        if not is_number(drop_report_interval):
            raise ConfigurationError("drop_report_interval must be a number of seconds")
        if client is not None:
            if url is not None or delivery is not None:
                raise ConfigurationError("pass either client, or url and delivery options")
            if not isinstance(client, Client):
                raise ConfigurationError(f"client must be a Client, not {type(client).__name__}")
            self.client, self.owned = client, False
        else:
            options = delivery or DeliveryOptions(overflow="drop_newest")
            self.client, self.owned = Client(url, mode="background", delivery=options), True
        self.closed = False
        self._interval = float(drop_report_interval)
        self._last_report: float | None = None

    def send(self, event: Event) -> None:
        """Queue ``event``.

        Raises:
            EventDroppedError: the client dropped it, and no drop was reported
                within the last ``drop_report_interval`` seconds.
            MozDefError: the event is invalid, or a sync/durable client failed.
        """
        try:
            encoded = prepare(event)
        except EncodingError:
            encoded = prepare(encodable(event))
        if self.client.send_encoded(encoded) or self.closed:
            return
        now = time.monotonic()
        # No lock (nothing to hold across fork()): racing threads may both report.
        if self._last_report is None or now - self._last_report >= self._interval:
            self._last_report = now
            dropped = dict(self.client.stats().dropped)
            raise EventDroppedError(
                f"MozDef log event dropped (drops so far, by reason: {dropped}); "
                f"further drops are only counted for {self._interval:g} s"
            )

    def flush(self, timeout: float) -> int:
        return self.client.flush(timeout)

    def close(self, timeout: float) -> int:
        """Close an owned client; flush one the caller owns (it stays open)."""
        if self.closed:
            return 0
        self.closed = True
        return self.client.close(timeout) if self.owned else self.client.flush(timeout)


def report_error(what: str) -> None:
    """Print the exception being handled, as ``logging.Handler.handleError`` does.

    Silent when ``logging.raiseExceptions`` is false (production settings).
    """
    if not logging.raiseExceptions or sys.stderr is None:
        return
    try:
        sys.stderr.write(f"--- {what} ---\n")
        traceback.print_exc(file=sys.stderr)
    except Exception:
        pass  # stderr is gone: nowhere left to report to
