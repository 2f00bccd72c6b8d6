"""``MozDefHandler``: a ``logging.Handler`` that sends each record to MozDef.

::

    import logging
    from mozdef_client import MozDefHandler

    logging.getLogger().addHandler(MozDefHandler("https://mozdef.example.com/events"))
    logging.getLogger("auth").warning(
        "login failed", extra={"username": "alice", "sourceipaddress": "192.0.2.7"}
    )

The record becomes an event by the rules in :mod:`mozdef_client.log_mapping`
(docs/logging.md). Logging never blocks on MozDef and never raises into the
program: failures go to :meth:`logging.Handler.handleError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ._checks import is_number
from .client import Client
from .delivery import DeliveryOptions
from .errors import ConfigurationError
from .event import Event
from .log_mapping import (
    ExtraMapping,
    LogSender,
    MappingOptions,
    build_event,
    exception_details,
    is_library_record,
    sending,
    severity_for_level,
)

__all__ = ["MozDefHandler"]

# Attributes every LogRecord has (and those formatters add): not extra= fields.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class MozDefHandler(logging.Handler):
    """Sends log records to MozDef as events.

    Args:
        url: the destination (``https://host/events``, ``sqs://...``, any URL
            :class:`Client` takes); ``None`` reads ``MOZDEF_URL``. The handler
            then owns a background-mode client and closes it in :meth:`close`.
        client: a :class:`Client` to send through instead (not closed by the
            handler). A sync-mode client makes logging wait for MozDef.
        category: the events' category, unless a record sets ``category``.
        level: the handler's threshold, as for any handler.
        tags: tags on every event; a record's ``tags`` are added to them.
        extra_mapping: turns a record's ``extra=`` fields into details: a
            dict renaming fields (``None`` drops one) or a callable taking the
            fields and returning the details.
        include_traceback: put the whole traceback (and ``stack_info``) in
            details; by default only the exception's type, message and the
            place it was raised are sent.
        delivery: queue and retry options of the owned client; the default
            drops the newest event when the queue is full instead of waiting.
        flush_timeout: the longest :meth:`flush` waits (``logging.shutdown``
            flushes every handler).
        close_timeout: the longest :meth:`close` waits for an owned client.
        drop_report_interval: a dropped event is reported through
            :meth:`handleError` at most once in this many seconds; every drop
            is counted in ``client.stats()``.

    Raises:
        ConfigurationError: no destination, or an option is not valid.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Client | None = None,
        category: str = "event",
        level: int | str = logging.NOTSET,
        tags: Sequence[str] = (),
        extra_mapping: ExtraMapping | None = None,
        include_traceback: bool = False,
        delivery: DeliveryOptions | None = None,
        flush_timeout: float = 2.0,
        close_timeout: float = 2.0,
        drop_report_interval: float = 60.0,
    ) -> None:
        for name, value in (("flush_timeout", flush_timeout), ("close_timeout", close_timeout)):
            if not is_number(value, at_least=0):
                raise ConfigurationError(f"{name} must be a number of seconds >= 0")
        self.mapping = MappingOptions(
            category=category,
            tags=tags,
            extra_mapping=extra_mapping,
            include_traceback=include_traceback,
        )
        self._sender = LogSender(url, client, delivery, drop_report_interval)
        self.flush_timeout = float(flush_timeout)
        self.close_timeout = float(close_timeout)
        super().__init__(level)

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<MozDefHandler {self._sender.client!r} ({level})>"

    @property
    def client(self) -> Client:
        """The client events go through (for ``stats()``, ``flush()``...)."""
        return self._sender.client

    def make_event(self, record: logging.LogRecord) -> Event:
        """The MozDef event for ``record``.

        Raises:
            ValidationError: a ``category``, ``source`` or ``tags`` field has
                the wrong type.
        """
        attributes = vars(record)
        fields = {}
        # Most records have no extra= fields: a set difference (in C) finds that fast.
        if attributes.keys() - _RECORD_ATTRIBUTES:
            fields = {
                key: value
                for key, value in attributes.items()
                if key not in _RECORD_ATTRIBUTES and key[:1] != "_"
            }
        return build_event(
            summary=record.getMessage(),
            severity=severity_for_level(record.levelno),
            source=record.name,
            fields=fields,
            options=self.mapping,
            timestamp=datetime.fromtimestamp(record.created, timezone.utc),
            exception=exception_details(record.exc_info, self.mapping.include_traceback),
            stack=record.stack_info,
        )

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter and emit ``record``, never taking the lock for the library's own records.

        They are never sent; taking the handler's lock for them would make a
        thread that logs while another sends through a sync client (the
        in-process test receiver, a delivery worker) wait for that send.
        """
        if is_library_record(record.name, record.threadName):
            return False
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record's event; anything that goes wrong goes to handleError."""
        if is_library_record(record.name, record.threadName):
            return
        with sending() as outermost:
            if not outermost:
                return  # logged while this thread was sending a record
            try:
                self._sender.send(self.make_event(record))
            except Exception:
                self.handleError(record)

    def flush(self) -> None:
        """Wait up to ``flush_timeout`` for queued events to be delivered.

        The handler's lock is not held: other threads keep logging meanwhile.
        """
        self._sender.flush(self.flush_timeout)

    def close(self) -> None:
        """Close the owned client (up to ``close_timeout``), or flush a given one."""
        try:
            self._sender.close(self.close_timeout)
        finally:
            super().close()
