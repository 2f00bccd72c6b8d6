"""``mozdef-client serve``: the development receiver as a command."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
import threading
from typing import TYPE_CHECKING, TextIO

from .common import Commands, Exit

if TYPE_CHECKING:
    from ..receiver import Receiver
    from ..receiver.store import Stores

__all__ = ["add_arguments", "is_loopback", "run"]

TOKEN_VARIABLE = "MOZDEF_RECEIVER_TOKEN"


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def add_arguments(commands: Commands) -> argparse.ArgumentParser:
    """The ``serve`` subcommand and its options."""
    serve = commands.add_parser(
        "serve",
        help="run a development receiver compatible with MozDef's HTTP intake",
        description="A development receiver compatible with MozDef's HTTP intake: POST/PUT "
        "/events, POST /_bulk (JSON array or NDJSON), /custom/<app>, GET /status. Checks each "
        "event against MozDef's format and prints it. Stop it with Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8080, help="port (default 8080, MozDef's; 0 picks a free one)"
    )
    serve.add_argument("--jsonl", metavar="PATH", help="append each event's document to PATH")
    serve.add_argument("--sqlite", metavar="PATH", help="store events in an SQLite database")
    serve.add_argument(
        "--quiet", "-q", action="store_true", help="do not print events as they arrive"
    )
    serve.add_argument(
        "--token",
        help="require 'Authorization: Bearer TOKEN' (or set MOZDEF_RECEIVER_TOKEN, which "
        "other users cannot see in the process list)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=32 * 1024 * 1024,
        metavar="N",
        help="answer 413 to larger bodies (default 32 MiB)",
    )
    serve.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close a connection that stays silent this long (default 30)",
    )
    return serve


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve until interrupted; returns the exit status."""
    from ..receiver import Receiver
    from ..receiver.store import ConsolePrinter, JSONLStore, SQLiteStore, Stores, Tally
    from ..receiver.web import EventLog, WebView

    if args.max_body_bytes <= 0 or args.timeout <= 0:
        err.write("mozdef-client serve: --max-body-bytes and --timeout must be positive\n")
        return Exit.USAGE
    token = args.token or os.environ.get(TOKEN_VARIABLE) or None
    try:
        receiver = Receiver(
            args.host,
            args.port,
            max_body_bytes=args.max_body_bytes,
            token=token,
            keep=False,  # a long run must not grow without bound
            connection_timeout=args.timeout,
        )
    except OSError as exc:
        err.write(f"mozdef-client serve: cannot listen on {args.host}:{args.port}: {exc}\n")
        return Exit.USAGE
    stores = Stores(None, None)
    try:
        if args.jsonl:
            stores.jsonl = JSONLStore(args.jsonl)
        if args.sqlite:
            stores.sqlite = SQLiteStore(args.sqlite)
    except Exception as exc:  # OSError, sqlite3.Error: both name the file
        err.write(f"mozdef-client serve: cannot open the store: {exc}\n")
        _close(receiver, stores)
        return Exit.USAGE
    # Stored first: the console and the tally show only what was stored.
    receiver.add_sink(stores)
    tally = Tally()
    receiver.add_sink(tally)
    log = EventLog()
    receiver.add_sink(log)
    receiver.serve_pages(WebView(log))
    if not args.quiet:
        receiver.add_sink(ConsolePrinter(out))
    # Before the banner: whoever waits for it may signal at once.
    _stop_on_signals()
    with contextlib.suppress(KeyboardInterrupt):
        _banner(receiver, args, token is not None, out, err)
        receiver.serve_forever()
    _close(receiver, stores)
    stats = receiver.stats()
    out.write(
        f"received {stats.events} events in {stats.requests} requests: {stats.invalid} "
        f"invalid, {stats.with_warnings} with warnings; {stats.rejected} requests refused\n"
    )
    out.write(tally.summary())
    out.flush()
    return Exit.OK


def _banner(
    receiver: Receiver, args: argparse.Namespace, token: bool, out: TextIO, err: TextIO
) -> None:
    if not is_loopback(args.host):
        err.write(
            f"warning: listening on {args.host}, reachable from other machines; events (and "
            "any token) travel unencrypted. This receiver is for development only.\n"
        )
    out.write(
        f"MozDef development receiver on {receiver.base_url}\n"
        "  POST/PUT /events, POST /_bulk (JSON array or NDJSON), /custom/<app>, GET /status\n"
        f"  web view (from this machine): {receiver.base_url}/\n"
    )
    if token:
        out.write("  requests must carry 'Authorization: Bearer <token>'\n")
    for label, path in (("JSONL", args.jsonl), ("SQLite", args.sqlite)):
        if path:
            out.write(f"  storing events in {label} file {path}\n")
    out.write("  stop with Ctrl-C\n")
    out.flush()
    err.flush()


def _stop_on_signals() -> None:
    # A service manager's SIGTERM gets the same clean stop (and summary) as
    # Ctrl-C. SIGINT is set explicitly: Python leaves it ignored when the
    # process started with it ignored, as a non-interactive shell's background
    # jobs do, and "kill -INT" must still stop the receiver.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _close(receiver: Receiver, stores: Stores) -> None:
    receiver.close()
    stores.close()
