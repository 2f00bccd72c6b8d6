"""What every ``mozdef-client`` command shares: the exit codes, the argparse
choices, and the hints added to the messages for the failures people hit first.

The commands import this module, never the package's ``__init__``, so that
``cli/__init__.py`` can import the commands without a cycle.

Hints are for people reading a terminal; nothing decides anything by them.
Where an exception carries no status (a ``stats().last_error`` string), the
message text is all there is to go on.
"""

from __future__ import annotations

import argparse
import enum
import re
from typing import TypeAlias

__all__ = ["KINDS", "Commands", "Exit", "delivery_hint", "url_hint"]

# What each command's add_arguments() adds its subcommand parser to.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

KINDS = ("generic", "compliance", "vulnerability", "asset-hint", "rra")


class Exit(enum.IntEnum):
    """What the command's exit status means (the same for every subcommand)."""

    OK = 0  # everything was sent / valid / served
    FAILED = 1  # some events failed, were dead-lettered, or are invalid
    USAGE = 2  # a bad option, a missing destination, an unreadable file
    INTERRUPTED = 130  # Ctrl-C or SIGTERM (a summary is printed first)


_HOST_PORT = re.compile(r"^\[?[\w.:-]+\]?:\d{1,5}(/.*)?$")
_STATUS = re.compile(r"answered HTTP (\d{3})")
_REFUSED = ("Connection refused", "[Errno 111]", "ConnectionRefusedError")


def url_hint(url: str | None) -> str | None:
    """A hint for a destination URL written as ``host:port`` without a scheme."""
    if url is None:
        return None
    for candidate in url.split(","):
        candidate = candidate.strip()
        if _HOST_PORT.match(candidate) and "//" not in candidate:
            path = "" if "/" in candidate else "/events"
            return f"hint: a URL needs a scheme; did you mean http://{candidate}{path} ?"
    return None


def delivery_hint(error: BaseException | str | None) -> str | None:
    """A hint for a refused token (401/403) or a refused connection."""
    if error is None:
        return None
    status = getattr(error, "status", None)
    text = str(error)
    if status is None:
        found = _STATUS.search(text)
        status = int(found.group(1)) if found else None
    if status in (401, 403):
        return (
            f"hint: MozDef answered {status}: check the token. The command sends "
            "'Authorization: Bearer $MOZDEF_TOKEN' when MOZDEF_TOKEN is set; a program "
            'passes Client(..., headers={"Authorization": "Bearer ..."}) or sets MOZDEF_TOKEN'
        )
    if _refused(error) or any(marker in text for marker in _REFUSED):
        return (
            "hint: the connection was refused: check the URL (host and port) and that "
            "MozDef (or 'mozdef-client serve') is up and listening there"
        )
    return None


def _refused(error: BaseException | str) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error if isinstance(error, BaseException) else None
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError
        if isinstance(reason, BaseException) and id(reason) not in seen:
            current = reason
            continue
        current = current.__cause__ or current.__context__
    return False
