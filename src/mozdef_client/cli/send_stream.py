"""``mozdef-client send --jsonl FILE|-``: a stream of NDJSON documents.

The stream goes through the background pipeline, or the durable one with
``--spool-dir``; each line is a complete MozDef document sent as
:class:`DocumentEvent` with its kind inferred from the document. Lines that
are not valid JSON or not valid events are reported with their line number,
counted as failed, and not sent. A summary and the exit status say what
was delivered.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TextIO

from ..client import Client
from ..delivery import Mode
from ..delivery.spool import spool_status
from ..errors import MozDefError, SpoolError, ValidationError
from ..event import DocumentEvent, Kind
from ..ndjson import read_lines
from .common import Exit, delivery_hint, url_hint
from .send import TOO_DEEP, complete_document, env_url, open_client, report

__all__ = ["StreamResult", "send_stream", "stream_documents"]


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


def send_stream(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
        report(err, f"mozdef-client send: {exc}", url_hint(args.url or env_url()))
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
    for number, document, error in read_lines(source):
        result.lines += 1
        if result.lines % 256 == 0:
            update()
        if isinstance(error, RecursionError):
            result.invalid += 1
            err.write(f"{name}:{number}: not sent: {TOO_DEEP}\n")
            continue
        if error is not None:
            result.invalid += 1
            err.write(f"{name}:{number}: not valid JSON, not sent: {error}\n")
            continue
        if not isinstance(document, dict):
            result.invalid += 1
            err.write(f"{name}:{number}: not a JSON object, not sent\n")
            continue
        kind = Kind.of_document(document)
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
