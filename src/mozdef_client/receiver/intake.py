"""What the development receiver does with a request body: read it as MozDef's
loginput does, and check each event against MozDef's format.

This is the receiver's hot path (a bulk post carries thousands of events), so
the usual event, generic, valid and complete, is recognised by a quick check
made of exact type tests; anything else takes the full rules of
:mod:`mozdef_client.validation`, and the two must agree (a test checks it).
"""

from __future__ import annotations

import itertools
import json
from typing import Any, NamedTuple

from ..errors import BulkBodyError
from ..event import Kind
from ..ndjson import NOT_JSON, load_lines, load_whole
from ..severity import Severity
from ..validation import recommended_field_warnings, validate_document

__all__ = [
    "BulkBodyError",
    "ReceivedEvent",
    "check_document",
    "check_documents",
    "parse_body",
]


class ReceivedEvent(NamedTuple):
    """One event as it arrived, with what the MozDef format check found.

    ``kind`` is :meth:`Kind.of_document`'s (``None`` for ``/custom`` documents,
    which MozDef takes as they are, and for documents that are not objects;
    ``/custom/vulnerability`` documents are vulnerabilities). ``errors`` holds
    the first rule the event breaks (MozDef would still store it), or says
    "MozDef would strip this" for a vulnerability document outside
    ``/custom/vulnerability``; ``warnings`` the recommended fields it lacks.
    A named tuple, because the receiver makes one per event on its hot path.
    """

    path: str
    document: Any
    kind: Kind | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    received_at: float = 0.0

    @property
    def valid(self) -> bool:
        return not self.errors


def _bulk_shape_problem(whole: Any) -> str:
    if isinstance(whole, dict):
        keys = ", ".join(repr(k) for k in list(whole)[:3]) + (", ..." if len(whole) > 3 else "")
        return (
            "a /_bulk body that is one JSON object: MozDef's loginput would iterate its keys, "
            f"publish each key name ({keys}) as a junk message, lose the event and answer 200; "
            "send a JSON array ([{...}]) or post the event to /events"
        )
    return (
        f"a /_bulk body that is a JSON {type(whole).__name__}: MozDef's loginput publishes "
        "no event from it; send a JSON array of events"
    )


def parse_body(path: str, body: bytes) -> list[Any]:
    """The documents in a request body, the way MozDef's loginput reads them.

    ``/_bulk`` first parses the whole body, as MozDef does: a JSON array is
    taken element by element; one JSON object (or any other JSON value) is
    refused with :class:`BulkBodyError`, since MozDef would publish its key
    names as junk; anything else is NDJSON, read line by line. Elements and
    lines with a top-level ``index`` key are skipped, as MozDef skips them
    (Elasticsearch action lines). Other paths take one document.
    Bodies are read by :mod:`mozdef_client.ndjson` (orjson first when it is
    installed, then Python's json, which MozDef uses).

    Raises:
        BulkBodyError: a ``/_bulk`` body MozDef would mangle (answer 400).
        ValueError: the body is not valid JSON or UTF-8 (MozDef answers 500);
            for NDJSON the message names the line.
    """
    if not path.endswith("/_bulk"):
        return [json.loads(body)]
    whole, error = load_whole(body, fast=True)
    if isinstance(error, RecursionError):
        raise error
    if whole is not NOT_JSON:
        if not isinstance(whole, list):
            raise BulkBodyError(_bulk_shape_problem(whole))
        return [d for d in whole if not (type(d) is dict and "index" in d)]
    documents = load_lines(body.strip().split(b"\n"), fast=True)
    # Elasticsearch bulk action lines, which MozDef skips.
    return [d for d in documents if not (type(d) is dict and "index" in d)]


_STRIPPED = (
    "MozDef would strip this: it indexes a vulnerability document whole only from "
    "/custom/vulnerability (elsewhere its keyMapping keeps only utctimestamp and sourcename, "
    "and its vulnerability plugin never runs); post it to /custom/vulnerability"
)


def _vulnerability_route_error(path: str, document: dict[str, Any]) -> tuple[str, ...]:
    """Why MozDef would not index a vulnerability document that came in on ``path``."""
    marked = document.get("customendpoint") is True and document.get("endpoint") == "vulnerability"
    if path == "/_bulk" and marked:
        return ()  # published as it is: MozDef's worker takes it as a custom document
    return (_STRIPPED,)


def _check_custom(path: str, document: Any, received_at: float) -> ReceivedEvent:
    """A /custom/<app> document: MozDef takes any; its vulnerability plugin checks those."""
    errors: tuple[str, ...] = ()
    if path == "/custom/vulnerability":
        try:
            validate_document(document, Kind.VULNERABILITY)
        except ValueError as exc:
            errors = (f"MozDef's vulnerability plugin would drop this: {exc}",)
        except Exception as exc:  # never let an odd document break the receiver
            errors = (f"could not be checked: {exc!r}",)
        return ReceivedEvent(path, document, Kind.VULNERABILITY, errors, (), received_at)
    return ReceivedEvent(path, document, None, errors, (), received_at)


def check_document(path: str, document: Any, received_at: float) -> ReceivedEvent:
    """Check one arrived document against MozDef's format (the full rules)."""
    if path.startswith("/custom/"):
        return _check_custom(path, document, received_at)
    if not isinstance(document, dict):
        error = f"an event must be a JSON object, not {type(document).__name__}"
        return ReceivedEvent(path, document, None, (error,), (), received_at)
    kind = Kind.of_document(document)
    errors: tuple[str, ...] = ()
    try:
        validate_document(document, kind)
    except ValueError as exc:  # ValidationError, or a bad value deeper down
        errors = (str(exc),)
    except Exception as exc:  # never let an odd document break the receiver
        errors = (f"could not be checked: {exc!r}",)
    if kind is Kind.VULNERABILITY:
        errors = _vulnerability_route_error(path, document) + errors
    warnings = tuple(recommended_field_warnings(document, kind))
    return ReceivedEvent(path, document, kind, errors, warnings, received_at)


_SEVERITY_NAMES = frozenset(severity.value for severity in Severity)
_RECOMMENDED_KEYS = frozenset(
    ("timestamp", "hostname", "processname", "severity", "category", "summary")
)
_SPECIAL_CATEGORIES = frozenset(k.default_category for k in Kind if k is not Kind.GENERIC)
_GENERIC = Kind.GENERIC
_STR = itertools.repeat(str)
_new = tuple.__new__


def check_documents(path: str, documents: list[Any], received_at: float) -> list[ReceivedEvent]:
    """Check a request's documents; the same answers as :func:`check_document`, faster.

    The quick test accepts only what the generic rules accept with no
    warning, using exact types (JSON gives nothing else), so every event it
    passes would pass the full check too.
    """
    if path.startswith("/custom/"):
        return [_check_custom(path, d, received_at) for d in documents]
    events: list[ReceivedEvent] = []
    append = events.append
    for document in documents:
        if (
            type(document) is dict
            and document.keys() >= _RECOMMENDED_KEYS
            and "index" not in document  # refused by the full rules
        ):
            category = document["category"]
            summary = document["summary"]
            severity = document["severity"]
            tags = document.get("tags")
            details = document.get("details")
            if (
                type(category) is str
                and category not in _SPECIAL_CATEGORIES
                and type(summary) is str
                and summary
                and type(severity) is str
                and severity in _SEVERITY_NAMES
                and (details is None or type(details) is dict)
                and (tags is None or (type(tags) is list and all(map(isinstance, tags, _STR))))
            ):
                append(_new(ReceivedEvent, (path, document, _GENERIC, (), (), received_at)))
                continue
        append(check_document(path, document, received_at))
    return events
