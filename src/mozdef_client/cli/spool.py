"""``mozdef-client spool DIR status|replay|purge|export``: look into a durable spool.

The spool is the one a durable client (``mode="durable"``, ``send --jsonl
--spool-dir DIR``) keeps in DIR. Everything here goes through the few
functions of :mod:`mozdef_client.delivery.spool` made for it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, TextIO

from .common import Commands, Exit

if TYPE_CHECKING:
    from ..delivery.spool import SpoolStatus

__all__ = ["add_arguments", "format_status", "run"]


def add_arguments(commands: Commands) -> argparse.ArgumentParser:
    """The ``spool`` subcommand and its actions."""
    spool = commands.add_parser(
        "spool",
        help="look into a durable spool: status, replay, purge, export",
        description="Look into the durable spool in DIR (as made by a durable client or "
        "send --jsonl --spool-dir DIR): what waits for which destination, and the dead letters.",
        epilog="exit codes: 0 done; 1 purge not confirmed; 2 no spool in DIR or a bad option",
    )
    spool.add_argument("directory", metavar="DIR", help="the spool's directory")
    actions = spool.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "status",
        help="pending events per destination (count, bytes, oldest), dead letters by reason",
    )
    replay = actions.add_parser(
        "replay", help="put the dead letters back into the queue, to be sent again"
    )
    purge = actions.add_parser("purge", help="delete pending events and/or dead letters")
    purge.add_argument(
        "what", nargs="?", choices=("pending", "dead-letters", "all"), default="all",
        help="what to delete (default: all)",
    )  # fmt: skip
    purge.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    export = actions.add_parser(
        "export",
        help="print pending events (or dead letters) as JSONL, one document a line",
        description="Print the pending events (or the dead letters) as JSONL, oldest first: "
        "the documents as they would be sent, so 'send --jsonl' can send them elsewhere.",
    )
    export.add_argument(
        "what", nargs="?", choices=("pending", "dead-letters"), default="pending",
        help="what to print (default: pending)",
    )  # fmt: skip
    export.add_argument(
        "--envelope",
        action="store_true",
        help="wrap each document with its destination, spool time and error",
    )
    for action in (replay, purge, export):
        action.add_argument("--destination", metavar="NAME", help="only this destination's")
    return spool


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run one ``spool`` action; returns the exit status."""
    from ..delivery.spool import requeue_dead_letters, spool_status
    from ..errors import SpoolError

    try:
        if args.action == "status":
            out.write(format_status(spool_status(args.directory), time.time()))
            return Exit.OK
        if args.action == "replay":
            moved = requeue_dead_letters(args.directory, args.destination)
            out.write(
                f"moved {moved} dead letters back into the queue; the next durable client "
                f"on this spool (send --jsonl ... --spool-dir {args.directory}) sends them\n"
            )
            return Exit.OK
        if args.action == "purge":
            return _purge(args, out, err)
        return _export(args, out)
    except SpoolError as exc:
        err.write(f"mozdef-client spool: {exc}\n")
        return Exit.USAGE


def format_status(status: SpoolStatus, now: float) -> str:
    lines = [f"spool {status.path}"]
    total = sum(b.events for b in status.pending)
    lines.append(
        f"pending: {total} events, {_bytes(sum(b.bytes for b in status.pending))}"
        + (":" if total else "")
    )
    for backlog in status.pending:
        lines.append(
            f"  {backlog.destination}: {backlog.events} events, {_bytes(backlog.bytes)}, "
            f"oldest {_age(now - backlog.oldest)} old"
        )
    dead = sum(group.events for group in status.dead_letters)
    lines.append(f"dead letters: {dead}" + (" (by destination and reason):" if dead else ""))
    for group in status.dead_letters:
        lines.append(f"  {group.destination}: {group.events} events: {group.reason}")
    return "\n".join(lines) + "\n"


def _purge(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..delivery.spool import purge_spool, spool_status

    pending = args.what in ("pending", "all")
    dead = args.what in ("dead-letters", "all")
    status = spool_status(args.directory)
    count_pending = sum(
        b.events for b in status.pending if pending and args.destination in (None, b.destination)
    )
    count_dead = sum(
        g.events for g in status.dead_letters if dead and args.destination in (None, g.destination)
    )
    if count_pending + count_dead == 0:
        out.write("nothing to purge\n")
        return Exit.OK
    what = f"{count_pending} pending events and {count_dead} dead letters"
    if not args.yes:
        if not sys.stdin.isatty():
            err.write(f"mozdef-client spool: purge would delete {what}; add --yes to confirm\n")
            return Exit.USAGE
        err.write(f"delete {what} from {status.path}? [y/N] ")
        err.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            out.write("nothing deleted\n")
            return Exit.FAILED
    deleted_pending, deleted_dead = purge_spool(
        args.directory, pending=pending, dead_letters=dead, destination=args.destination
    )
    out.write(f"deleted {deleted_pending} pending events and {deleted_dead} dead letters\n")
    return Exit.OK


def _export(args: argparse.Namespace, out: TextIO) -> int:
    from ..delivery.spool import export_spool

    dead = args.what == "dead-letters"
    for stored in export_spool(args.directory, dead_letters=dead, destination=args.destination):
        document = stored.payload.decode("utf-8", "replace")
        if args.envelope:
            envelope = {
                "destination": stored.destination,
                "spooled_at": stored.created,
                "error": stored.error,
                "document": json.loads(document),
            }
            document = json.dumps(envelope, ensure_ascii=False)
        out.write(document.rstrip("\n") + "\n")
    out.flush()
    return Exit.OK


def _bytes(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
