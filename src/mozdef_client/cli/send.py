"""``mozdef-client send``: one event from flags, or a stream of NDJSON documents.

One event goes synchronously, so the exit status says whether MozDef took
it. A stream (``--jsonl FILE|-``) goes through the background pipeline, or
the durable one with ``--spool-dir``; each line is a complete MozDef document
sent as :class:`DocumentEvent` with the kind inferred from its category.
Lines that are not valid JSON or not valid events are reported with their
line number, counted as failed, and not sent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, TextIO

from ..client import Client
from ..delivery import DeliveryOptions, Mode
from ..delivery.spool import spool_status
from ..errors import ConfigurationError, DeliveryError, MozDefError, SpoolError, ValidationError
from ..event import DocumentEvent, Event, Kind, VulnerabilityEvent
from ..receiver.intake import infer_kind
from ..severity import Severity
from .common import Exit, delivery_hint, url_hint

__all__ = [
    "StreamResult",
    "build_event",
    "complete_document",
    "open_client",
    "parse_details",
    "run_send",
]

TOKEN_VARIABLE = "MOZDEF_TOKEN"
URL_VARIABLE = "MOZDEF_URL"


class UsageError(Exception):
    """Bad flags or input for one event: exit 2, nothing sent."""


def run_send(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
        return _send_stream(args, out, err)
    try:
        event = build_event(args)
    except (UsageError, ValidationError, ConfigurationError, OSError) as exc:
        err.write(f"mozdef-client send: {exc}\n")
        return Exit.USAGE
    try:
        client = open_client(args, "sync")
    except ConfigurationError as exc:
        _report(err, f"mozdef-client send: {exc}", url_hint(args.url or _env_url()))
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
        _report(err, f"mozdef-client send: not delivered: {exc}", delivery_hint(exc))
        return Exit.FAILED
    finally:
        client.close()
    out.write(f"sent 1 event to {', '.join(client.destinations)}\n")
    return Exit.OK


TOO_DEEP = "JSON nested too deeply (over Python's recursion limit)"


def _report(err: TextIO, message: str, hint: str | None) -> None:
    err.write(message + "\n" + (f"{hint}\n" if hint else ""))


def _env_url() -> str | None:
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
        category = document.get("category")
        kind = Kind.from_category(category if isinstance(category, str) else None)
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


# -- a stream --------------------------------------------------------------


@dataclass
class StreamResult:
    """What happened to a stream, for the summary and the exit status."""

    lines: int = 0
    invalid: int = 0
    submitted: int = 0
    delivered: int = 0
    dropped: int = 0
    dead_lettered: int = 0
    in_spool: int = 0
    last_error: str | None = None
    interrupted: bool = False

    @property
    def failed(self) -> int:
        return self.invalid + self.dropped

    def summary(self, spool_dir: str | None) -> str:
        text = f"sent {self.delivered}, failed {self.failed}, dead-lettered {self.dead_lettered}"
        details = []
        if self.invalid:
            details.append(f"{self.invalid} invalid lines not sent")
        if self.dropped:
            details.append(f"{self.dropped} not delivered")
        if self.in_spool:
            details.append(
                f"{self.in_spool} still in the spool; the next run with --spool-dir "
                f"{spool_dir} sends them"
            )
        if self.interrupted:
            details.append("interrupted")
        if details:
            text += " (" + "; ".join(details) + ")"
        if self.last_error and (self.dropped or self.dead_lettered or self.in_spool):
            text += f"\nlast error: {self.last_error}"
        return text + "\n"

    def exit_status(self) -> int:
        if self.interrupted:
            return Exit.INTERRUPTED
        ok = not (self.failed or self.dead_lettered or self.in_spool)
        return Exit.OK if ok else Exit.FAILED


def _send_stream(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    mode: Mode = "durable" if args.spool_dir else "background"
    try:
        source = _open_binary(args.jsonl)
    except OSError as exc:
        err.write(f"mozdef-client send: cannot read {args.jsonl}: {exc.strerror or exc}\n")
        return Exit.USAGE
    try:
        client = open_client(args, mode, args.spool_dir)
    except MozDefError as exc:  # ConfigurationError, or a spool that cannot open
        source.close()
        _report(err, f"mozdef-client send: {exc}", url_hint(args.url or _env_url()))
        return Exit.USAGE
    if args.spool_dir:
        _note_held_for_others(args.spool_dir, client.destinations, err)
    result = StreamResult()
    name = "<stdin>" if args.jsonl == "-" else args.jsonl
    # A progress display only where a person watches it: a file (so the total
    # is known) and a terminal on stderr; the summary is printed either way.
    show_progress = args.jsonl != "-" and not args.no_progress and _is_terminal(err)
    total = _count_lines(source) if show_progress else None
    with source, _interrupt_on_sigterm(), _progress(name, total, err) as show:

        def update() -> None:
            stats = client.stats()
            show(stats.delivered, result.invalid + stats.dropped_total + stats.dead_lettered)

        try:
            stream_documents(source, name, client, result, err, update)
            _drain(client, args.timeout, update)
        except KeyboardInterrupt:
            result.interrupted = True
        try:
            client.close(0 if result.interrupted else args.timeout)
        except KeyboardInterrupt:
            result.interrupted = True
            client.close(0)
        update()
    _settle(client, result)
    out.write(result.summary(args.spool_dir))
    hint = delivery_hint(result.last_error) if result.last_error else None
    if hint and (result.dropped or result.dead_lettered or result.in_spool):
        out.write(hint + "\n")
    return result.exit_status()


def _drain(client: Client, timeout: float, update: Callable[[], None]) -> None:
    """Wait up to ``timeout`` for the queued events, showing progress meanwhile."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if client.flush(min(0.2, left)) == 0:
            return
        update()


def _note_held_for_others(spool_dir: str, destinations: list[str], err: TextIO) -> None:
    """Say so when the spool holds events for destinations this run does not have
    (an earlier run's, with another URL): they stay there until one does."""
    try:
        status = spool_status(spool_dir)
    except SpoolError:
        return
    others = [b for b in status.pending if b.destination not in destinations]
    if not others:
        return
    held = "; ".join(f"{b.events} for {b.destination}" for b in others)
    err.write(
        f"note: the spool also holds {sum(b.events for b in others)} events for other "
        f"destinations ({held}); this run does not send them. See "
        f"'mozdef-client spool {spool_dir} status', or export or purge them.\n"
    )


def stream_documents(
    source: IO[bytes],
    name: str,
    client: Client,
    result: StreamResult,
    err: TextIO,
    update: Callable[[], None] = lambda: None,
) -> None:
    """Send each line of ``source`` as a MozDef document; report bad lines on ``err``.

    Each document is completed like ``--json``'s (:func:`complete_document`).
    A bad line (not JSON, nested too deeply, invalid) is reported with its
    number, counted, and the stream goes on.
    """
    for number, line in enumerate(source, 1):
        if number % 256 == 0:
            update()
        if not line.strip():
            continue
        result.lines += 1
        try:
            document = json.loads(line)
        except RecursionError:
            result.invalid += 1
            err.write(f"{name}:{number}: not sent: {TOO_DEEP}\n")
            continue
        except ValueError as exc:
            result.invalid += 1
            err.write(f"{name}:{number}: not valid JSON, not sent: {exc}\n")
            continue
        if not isinstance(document, dict):
            result.invalid += 1
            err.write(f"{name}:{number}: not a JSON object, not sent\n")
            continue
        kind = infer_kind(document)
        try:
            client.send(DocumentEvent(complete_document(document, kind), kind))
        except ValidationError as exc:
            result.invalid += 1
            err.write(f"{name}:{number}: invalid {kind} event, not sent: {exc}\n")
            continue
        except RecursionError:
            result.invalid += 1
            err.write(f"{name}:{number}: invalid {kind} event, not sent: {TOO_DEEP}\n")
            continue
        except MozDefError as exc:  # the spool could not take it (durable)
            err.write(f"{name}:{number}: not sent: {exc}\n")
            result.dropped += 1
            continue
        result.submitted += 1


def _settle(client: Client, result: StreamResult) -> None:
    stats = client.stats()
    result.delivered = stats.delivered
    result.dropped += stats.dropped_total
    result.dead_lettered = stats.dead_lettered
    result.in_spool = stats.pending_spool
    result.last_error = stats.last_error


def _open_binary(path: str) -> IO[bytes]:
    if path == "-":
        # A separate handle on fd 0, so closing it leaves sys.stdin alone.
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    return open(path, "rb")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _count_lines(file: IO[bytes]) -> int | None:
    """The number of non-blank lines in a regular file (then back to its start)."""
    try:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None
        count = sum(1 for line in file if line.strip())
        file.seek(0)
    except OSError:
        return None
    return count


@contextlib.contextmanager
def _progress(name: str, total: int | None, err: TextIO) -> Iterator[Callable[[int, int], None]]:
    """A display on ``err`` of events delivered and failed out of ``total``
    (when known, and rich is installed); yields ``show(delivered, failed)``."""
    if total is None:
        yield lambda delivered, failed: None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:  # the 'cli' extra is not installed: no display
        yield lambda delivered, failed: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} events delivered, {task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(file=err)) as progress:
        task = progress.add_task(f"sending {os.path.basename(name)}", total=total, failed=0)
        yield lambda delivered, failed: progress.update(task, completed=delivered, failed=failed)


@contextlib.contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM stops the stream like Ctrl-C: flush, summary, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
