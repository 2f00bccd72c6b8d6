"""The development receiver's web page: the events as they arrive, in a browser.

``GET /`` serves a page (``static/index.html``, ``static/app.js``, ``static/app.css``,
shipped in the package: no build step, nothing from the network) that polls
``GET /api/events?after=ID`` and shows a live table of the events, filters,
each event's whole document with its findings, and counts by category and
severity. Only clients on this machine (loopback) get it, even when the
receiver listens on another address.

:class:`EventLog` is the sink that remembers the newest events for the page,
a bounded number, so a long run does not grow.
"""

from __future__ import annotations

import collections
import ipaddress
import json
import threading
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .intake import ReceivedEvent
from .store import category_and_severity, summary_of

__all__ = ["EventLog", "Page", "WebView"]

DEFAULT_KEEP = 2000
# The most events one poll returns: a page that fell behind catches up in steps.
_BATCH = 500
_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/ui/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/ui/app.css": ("app.css", "text/css; charset=utf-8"),
}
Page = tuple[int, bytes, str]  # status, body, content type


class EventLog:
    """The newest ``keep`` events, numbered from 1, and counts of all of them."""

    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        self._lock = threading.Lock()
        self._events: collections.deque[tuple[int, ReceivedEvent]] = collections.deque(maxlen=keep)
        self._last = 0
        self.categories: collections.Counter[str] = collections.Counter()
        self.severities: collections.Counter[str] = collections.Counter()

    def __call__(self, events: Sequence[ReceivedEvent]) -> None:
        with self._lock:
            for event in events:
                self._last += 1
                self._events.append((self._last, event))
                category, severity = category_and_severity(event)
                self.categories[category] += 1
                self.severities[severity] += 1

    def since(self, after: int, limit: int = _BATCH) -> dict[str, Any]:
        """What the page asks for: events numbered above ``after``, and the counts."""
        with self._lock:
            newer = [(n, e) for n, e in self._events if n > after][:limit]
            return {
                "last": self._last,
                "events": [_row(number, event) for number, event in newer],
                "counts": {
                    "category": dict(self.categories.most_common()),
                    "severity": dict(self.severities.most_common()),
                },
            }


def _row(number: int, event: ReceivedEvent) -> dict[str, Any]:
    category, severity = category_and_severity(event)
    document = event.document if isinstance(event.document, dict) else {}
    source = document.get("source")
    return {
        "id": number,
        "time": time.strftime("%H:%M:%S", time.localtime(event.received_at)),
        "received_at": event.received_at,
        "path": event.path,
        "kind": event.kind.value if event.kind is not None else "custom",
        "category": category,
        "severity": severity,
        "source": source if isinstance(source, str) else "",
        "summary": summary_of(event)[:500],
        "errors": list(event.errors),
        "warnings": list(event.warnings),
        "document": event.document,
    }


class WebView:
    """Answers the page's GET requests from an :class:`EventLog`."""

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def __call__(self, raw_path: str, client_host: str) -> Page | None:
        """The answer to ``GET raw_path``, or ``None`` when it is not the page's."""
        parts = urlsplit(raw_path)
        if parts.path not in _FILES and parts.path != "/api/events":
            return None
        if not _is_loopback(client_host):
            return 403, b"the web view answers only on this machine (loopback)\n", "text/plain"
        if parts.path == "/api/events":
            try:
                after = int(parse_qs(parts.query).get("after", ["0"])[0])
            except ValueError:
                return 400, b"after must be an event number\n", "text/plain"
            body = json.dumps(self.log.since(after), ensure_ascii=True, default=str)
            return 200, body.encode(), "application/json"
        name, content_type = _FILES[parts.path]
        return 200, _asset(name), content_type


def _asset(name: str) -> bytes:
    return resources.files("mozdef_client.receiver").joinpath("static").joinpath(name).read_bytes()


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))
