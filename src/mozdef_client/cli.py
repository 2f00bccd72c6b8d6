"""The ``mozdef-client`` command (also ``python -m mozdef_client``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._version import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mozdef-client", description="Send security events to MozDef."
    )
    parser.add_argument("--version", action="version", version=f"mozdef-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo", help="start a local receiver, send an event of each kind, print what arrived"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(sys.stdout)
    return 2


if __name__ == "__main__":
    sys.exit(main())
