"""``mozdef-client serve``: the development receiver as a command."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
import threading
from typing import TextIO

from .cli import Exit
from .receiver import Receiver
from .receiver_store import ConsolePrinter, JSONLStore, SQLiteStore

__all__ = ["is_loopback", "run_serve"]

TOKEN_VARIABLE = "MOZDEF_RECEIVER_TOKEN"


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def run_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve until interrupted; returns the exit status."""
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
    stores: list[JSONLStore | SQLiteStore] = []
    try:
        if args.jsonl:
            stores.append(JSONLStore(args.jsonl))
        if args.sqlite:
            stores.append(SQLiteStore(args.sqlite))
    except Exception as exc:  # OSError, sqlite3.Error: both name the file
        err.write(f"mozdef-client serve: cannot open the store: {exc}\n")
        _close(receiver, stores)
        return Exit.USAGE
    for store in stores:
        receiver.add_sink(store)
    if not args.quiet:
        receiver.add_sink(ConsolePrinter(out))
    _banner(receiver, args, token is not None, out, err)
    _stop_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt):
        receiver.serve_forever()
    _close(receiver, stores)
    stats = receiver.stats()
    out.write(
        f"received {stats.events} events in {stats.requests} requests: {stats.invalid} "
        f"invalid, {stats.with_warnings} with warnings; {stats.rejected} requests refused\n"
    )
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
    )
    if token:
        out.write("  requests must carry 'Authorization: Bearer <token>'\n")
    for label, path in (("JSONL", args.jsonl), ("SQLite", args.sqlite)):
        if path:
            out.write(f"  storing events in {label} file {path}\n")
    out.write("  stop with Ctrl-C\n")
    out.flush()
    err.flush()


def _stop_on_sigterm() -> None:
    # A service manager's SIGTERM gets the same clean stop (and summary) as Ctrl-C.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _close(receiver: Receiver, stores: list[JSONLStore | SQLiteStore]) -> None:
    receiver.close()
    for store in stores:
        store.close()
