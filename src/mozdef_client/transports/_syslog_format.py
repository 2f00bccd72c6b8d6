"""Syslog message headers, shared by the local and remote syslog transports.

RFC 3164 (BSD syslog) and RFC 5424 headers, and the PRI value both start
with. Kept apart from the transports so neither format is written twice.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from ..severity import Facility
from .base import EncodedEvent

__all__ = ["clean_header_field", "rfc3164_header", "rfc5424_header", "syslog_priority"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def syslog_priority(facility: Facility, event: EncodedEvent) -> int:
    """The PRI value: facility times eight plus the severity's number."""
    return int(facility) * 8 + event.severity.syslog_priority


def clean_header_field(value: str, limit: int) -> str:
    """``value`` as a header field: printable ASCII, no spaces, at most ``limit`` characters.

    RFC 5424 allows only these characters in HOSTNAME, APP-NAME and PROCID; a
    space would shift every later field for the receiver's parser.
    """
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return cleaned or "-"


def rfc3164_header(
    priority: int, tag: str, pid: int, hostname: str | None = None, now: float | None = None
) -> bytes:
    """``<PRI>Mmm dd hh:mm:ss [HOSTNAME ]TAG[PID]: `` in local time.

    The local daemon adds the hostname itself, so ``hostname`` is for remote use.
    """
    local = time.localtime(now)
    stamp = f"{_MONTHS[local.tm_mon - 1]} {local.tm_mday:2d} {time.strftime('%H:%M:%S', local)}"
    host = f"{hostname} " if hostname else ""
    return f"<{priority}>{stamp} {host}{tag}[{pid}]: ".encode()


def rfc5424_header(
    priority: int,
    hostname: str,
    app_name: str,
    procid: str,
    msgid: str = "-",
    now: datetime | None = None,
) -> bytes:
    """``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - `` with a UTC timestamp.

    No structured data (``-``) and no BOM before the message: a BOM would make
    the JSON that follows unreadable to most JSON parsers.
    """
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="microseconds")
    return f"<{priority}>1 {stamp} {hostname} {app_name} {procid} {msgid} - ".encode("ascii")
