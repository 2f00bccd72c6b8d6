"""The ``mozdef-client`` command (also ``python -m mozdef_client``).

Subcommands: ``serve`` (a development receiver), ``send`` (one event from
flags, or a stream of NDJSON documents), ``validate`` (check documents in
files), ``spool`` (look into a durable spool) and ``demo``. Each is a module
here with ``add_arguments()`` and ``run()``; a module imports at its top only
what its arguments need, and the rest inside ``run()``, so
``mozdef-client --help`` stays fast. Exit codes are in :class:`Exit`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from . import demo, send, serve, spool, validate
from .common import Exit

__all__ = ["Exit", "main"]

# In the order --help lists them.
_COMMANDS = (serve, send, validate, spool, demo)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mozdef-client",
        description="Send security events to MozDef, check them, or receive them locally.",
        epilog="exit codes: 0 ok, 1 some events failed or are invalid, "
        "2 usage or configuration error, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"mozdef-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.add_arguments(commands).set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (see :class:`Exit`)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else Exit.USAGE
    status: int = args.run(args, sys.stdout, sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
