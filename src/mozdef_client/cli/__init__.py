"""The ``mozdef-client`` command (also ``python -m mozdef_client``).

Subcommands: ``serve`` (a development receiver), ``send`` (one event from
flags, or a stream of NDJSON documents), ``validate`` (check documents in
files), ``spool`` (look into a durable spool) and ``demo``. Each lives in
its own module, imported only when used, so ``mozdef-client --help`` stays
fast. Exit codes are in :class:`Exit`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from .common import KINDS, Exit

__all__ = ["Exit", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mozdef-client",
        description="Send security events to MozDef, check them, or receive them locally.",
        epilog="exit codes: 0 ok, 1 some events failed or are invalid, "
        "2 usage or configuration error, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"mozdef-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(commands)
    _add_send(commands)
    _add_validate(commands)
    _add_spool(commands)
    commands.add_parser(
        "demo",
        help="start a local receiver, send an event of each kind, print what arrived",
        description="Start a development receiver on a free loopback port, send an event of "
        "each kind through each delivery path, and print what arrived. Needs no MozDef.",
    )
    return parser


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _add_send(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _add_validate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = commands.add_parser(
        "validate",
        help="check events in files against MozDef's format",
        description="Check events (a JSON object, a JSON array, or newline-delimited JSON) "
        "against their kind's rules and MozDef's field conventions. Without --kind, the kind "
        "is inferred from each event's category.",
        epilog="exit codes: 0 every event is valid; 1 some are invalid (or have warnings, "
        "with --strict); 2 a file cannot be read or a bad option",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="files to check ('-': stdin)")
    validate.add_argument("--kind", choices=KINDS, help="check every event as this kind")
    validate.add_argument(
        "--strict",
        action="store_true",
        help="missing recommended fields are errors too (and are labelled so)",
    )
    validate.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default): one finding a line; json: one JSON document with the counts "
        "and every finding (location, level, message, field)",
    )


def _add_spool(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (see :class:`Exit`)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else Exit.USAGE
    if args.command == "serve":
        from .serve import run_serve

        return run_serve(args, sys.stdout, sys.stderr)
    if args.command == "send":
        from .send import run_send

        return run_send(args, sys.stdout, sys.stderr)
    if args.command == "validate":
        from .validate import run_validate

        return run_validate(args, sys.stdout, sys.stderr)
    if args.command == "spool":
        from .spool import run_spool

        return run_spool(args, sys.stdout, sys.stderr)
    from .demo import run_demo

    return run_demo(sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
