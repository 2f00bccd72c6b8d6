"""``mozdef-client send``: one event from flags, or a stream of NDJSON documents.

One event goes synchronously, so the exit status says whether MozDef took
it. A stream (``--jsonl FILE|-``) is :mod:`.send_stream`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, TextIO

from ..errors import ConfigurationError, DeliveryError, UsageError, ValidationError
from ..event import DocumentEvent, Event, Kind, VulnerabilityEvent
from ..severity import Severity
from .common import KINDS, Commands, Exit, delivery_hint, url_hint

if TYPE_CHECKING:
    from ..client import Client
    from ..delivery import Mode

__all__ = [
    "add_arguments",
    "build_event",
    "complete_document",
    "open_client",
    "parse_details",
    "run",
]

TOKEN_VARIABLE = "MOZDEF_TOKEN"
URL_VARIABLE = "MOZDEF_URL"


def add_arguments(commands: Commands) -> argparse.ArgumentParser:
    """The ``send`` subcommand and its options."""
    send = commands.add_parser(
        "send",
        help="send one event from flags, or stream NDJSON documents",
        description="Send one event built from flags (or from --json FILE), or stream "
        "newline-delimited JSON documents with --jsonl FILE|- through the background "
        "pipeline (durable with --spool-dir). The destination is --url or MOZDEF_URL.",
        epilog="exit codes: 0 every event was delivered; 1 some events were invalid, failed "
        "or were dead-lettered; 2 usage or configuration error (including an invalid event "
        "given by flags); 130 interrupted",
    )
    send.add_argument("--url", help="destination URL (default: the MOZDEF_URL variable)")
    event = send.add_argument_group("one event")
    event.add_argument("--summary", help="short human-readable text")
    event.add_argument("--severity", help="DEBUG, INFO (default), NOTICE, WARNING, ERROR, ...")
    event.add_argument("--category", help="default: the kind's (event, complianceitems, ...)")
    event.add_argument("--source", help="the component or system the event comes from")
    event.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="a tag (repeatable)"
    )
    event.add_argument(
        "--detail",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a details field (repeatable); VALUE is parsed as JSON when it parses, else "
        "taken as a string; a dotted KEY (a.b=1) nests",
    )
    event.add_argument("--kind", choices=KINDS, help="the event's kind (default: generic)")
    event.add_argument(
        "--json",
        metavar="FILE",
        help="a JSON object from FILE ('-' for stdin): the whole document when it has a "
        "'details' key (for --kind vulnerability, always), otherwise the details",
    )
    stream = send.add_argument_group("a stream of events")
    stream.add_argument(
        "--jsonl",
        metavar="FILE",
        help="send each line of FILE ('-' for stdin) as a complete MozDef document",
    )
    stream.add_argument(
        "--spool-dir", metavar="DIR", help="durable delivery: spool events on disk in DIR first"
    )
    stream.add_argument(
        "--no-progress", action="store_true", help="no progress display for --jsonl files"
    )
    send.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the last events to be delivered (default 30)",
    )
    send.add_argument("--ca-bundle", metavar="FILE", help="PEM file of CAs to trust for HTTPS")
    send.add_argument("--insecure", action="store_true", help="do not verify HTTPS certificates")
    return send


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``send``; returns the exit status (see :class:`~mozdef_client.cli.Exit`)."""
    single = [args.summary, args.severity, args.category, args.source, args.kind, args.json]
    if args.jsonl is not None and (any(v is not None for v in single) or args.tag or args.detail):
        err.write("mozdef-client send: --jsonl takes complete documents; drop the event flags\n")
        return Exit.USAGE
    if args.spool_dir is not None and args.jsonl is None:
        err.write("mozdef-client send: --spool-dir works with --jsonl\n")
        return Exit.USAGE
    if args.timeout <= 0:
        err.write("mozdef-client send: --timeout must be positive\n")
        return Exit.USAGE
    if args.jsonl is not None:
        from .send_stream import send_stream

        return send_stream(args, out, err)
    try:
        event = build_event(args)
    except (UsageError, ValidationError, ConfigurationError, OSError) as exc:
        err.write(f"mozdef-client send: {exc}\n")
        return Exit.USAGE
    try:
        client = open_client(args, "sync")
    except ConfigurationError as exc:
        report(err, f"mozdef-client send: {exc}", url_hint(args.url or env_url()))
        return Exit.USAGE
    try:
        client.send(event)
    except ValidationError as exc:
        err.write(f"mozdef-client send: invalid event, not sent: {exc}\n")
        return Exit.USAGE
    except ConfigurationError as exc:  # a kind this destination cannot carry
        err.write(f"mozdef-client send: not sent: {exc}\n")
        return Exit.USAGE
    except RecursionError:
        err.write(f"mozdef-client send: invalid event, not sent: {TOO_DEEP}\n")
        return Exit.USAGE
    except DeliveryError as exc:
        report(err, f"mozdef-client send: not delivered: {exc}", delivery_hint(exc))
        return Exit.FAILED
    finally:
        client.close()
    out.write(f"sent 1 event to {', '.join(client.destinations)}\n")
    return Exit.OK


TOO_DEEP = "JSON nested too deeply (over Python's recursion limit)"


def report(err: TextIO, message: str, hint: str | None) -> None:
    err.write(message + "\n" + (f"{hint}\n" if hint else ""))


def env_url() -> str | None:
    return os.environ.get(URL_VARIABLE)


# -- one event -------------------------------------------------------------


def parse_details(pairs: list[str]) -> dict[str, Any]:
    """``["user=joe", "port=22", "geo.country=FR"]`` as a (nested) details dict.

    A value is parsed as JSON when it parses (``22``, ``true``, ``{"a": 1}``),
    else taken as a string; a dotted key nests, as Elasticsearch reads it.
    """
    details: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise UsageError(f"--detail {pair!r} is not KEY=VALUE")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        *parents, leaf = key.split(".")
        target = details
        for part in parents:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--detail {pair!r}: {part!r} already holds a value")
            target = child
        target[leaf] = value
    return details


def build_event(args: argparse.Namespace) -> Event | DocumentEvent:
    """The event the flags (and ``--json``) describe.

    ``--json FILE`` holds a JSON object: the whole document when it has a
    top-level ``summary`` or ``details`` key (for ``--kind vulnerability``,
    always), otherwise the details. Flags override the file's fields;
    ``--detail`` adds to its details.
    """
    kind = Kind(args.kind) if args.kind else None
    loaded = _read_json_object(args.json) if args.json else None
    flags = {
        name: getattr(args, name)
        for name in ("summary", "severity", "category", "source")
        if getattr(args, name) is not None
    }
    details = parse_details(args.detail)
    if kind is Kind.VULNERABILITY:
        if loaded is None:
            raise UsageError("--kind vulnerability needs --json FILE (the whole document)")
        if flags or args.tag or details:
            raise UsageError("a vulnerability document comes whole from --json; drop the flags")
        return VulnerabilityEvent(loaded)
    if loaded is not None and ("summary" in loaded or "details" in loaded):
        return _whole_document(loaded, flags, args.tag, details, kind)
    merged = {**(loaded or {}), **details}
    return Event(
        kind=kind or Kind.GENERIC,
        summary=args.summary,
        severity=Severity.parse(args.severity) if args.severity else Severity.INFO,
        category=args.category,
        source=args.source,
        tags=args.tag,
        details=merged,
    )


def _whole_document(
    loaded: Mapping[str, Any],
    flags: dict[str, str],
    tags: list[str],
    details: dict[str, Any],
    kind: Kind | None,
) -> DocumentEvent:
    document = {**loaded, **flags}
    if tags:
        document["tags"] = list(tags)
    if details:
        base = document.get("details")
        document["details"] = {**(base if isinstance(base, Mapping) else {}), **details}
    if kind is None:
        kind = Kind.of_document(document)
    return DocumentEvent(complete_document(document, kind), kind)


_DEFAULTED = ("timestamp", "hostname", "processname", "processid", "severity", "category")


def complete_document(document: dict[str, Any], kind: Kind) -> dict[str, Any]:
    """A whole document (``--json``, or a ``--jsonl`` line) made ready to send:
    what it leaves out gets the defaults an :class:`Event` would have, and its
    severity is written as ``--severity`` would write it (``warn`` is
    ``WARNING``). Vulnerability documents go as they are (MozDef takes them
    whole). A severity that is no severity is left for validation to report."""
    if kind is Kind.VULNERABILITY:
        return document
    severity = document.get("severity")
    if isinstance(severity, str):
        with contextlib.suppress(ValueError):
            document["severity"] = Severity.parse(severity).value
    missing = [name for name in _DEFAULTED if name not in document]
    if missing:
        defaults = Event(kind=kind).to_document()
        for name in missing:
            document[name] = defaults[name]
    return document


def _read_json_object(path: str) -> dict[str, Any]:
    with _open_text(path) as file:
        text = file.read()
    try:
        loaded = json.loads(text)
    except RecursionError:
        raise UsageError(f"--json {path}: {TOO_DEEP}") from None
    except ValueError as exc:
        raise UsageError(f"--json {path}: not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"--json {path}: expected a JSON object, not {type(loaded).__name__}")
    return loaded


def _open_text(path: str) -> contextlib.AbstractContextManager[IO[str]]:
    if path == "-":
        return contextlib.nullcontext(sys.stdin)
    return open(path, encoding="utf-8")


# -- the client ------------------------------------------------------------


def open_client(args: argparse.Namespace, mode: Mode, spool_dir: str | None = None) -> Client:
    """The Client for ``--url``/``MOZDEF_URL`` and the TLS and token options.

    Raises:
        ConfigurationError: no destination, or a bad one.
    """
    from ..client import Client
    from ..delivery import DeliveryOptions

    # Streams wait for room rather than drop when MozDef is slower than the file.
    delivery = DeliveryOptions(block_timeout=args.timeout) if mode != "sync" else None
    # The rest (MOZDEF_TOKEN, MOZDEF_VERIFY, MOZDEF_CA_BUNDLE, timeouts) the
    # Client reads from the environment itself, like any program's would.
    return Client(
        args.url or None,
        verify=False if args.insecure else None,
        ca_bundle=args.ca_bundle,
        mode=mode,
        spool_dir=spool_dir,
        delivery=delivery,
    )
