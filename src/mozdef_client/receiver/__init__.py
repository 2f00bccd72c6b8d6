"""A development receiver compatible with MozDef's HTTP intake (loginput).

- :mod:`.server`: the HTTP server (:class:`Receiver`), its routes and limits;
- :mod:`.intake`: a request body read as loginput reads it, and each event
  checked against MozDef's format (:class:`ReceivedEvent`);
- :mod:`.store`: where ``mozdef-client serve`` writes events (console,
  JSONL, SQLite);
- :mod:`.web`: the web view, with its page in ``static/``.

For development and tests, not production.
"""

from __future__ import annotations

from .intake import ReceivedEvent, check_document, parse_body
from .server import DEFAULT_MAX_BODY_BYTES, Receiver, ReceiverStats

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ReceivedEvent",
    "Receiver",
    "ReceiverStats",
    "check_document",
    "parse_body",
]
