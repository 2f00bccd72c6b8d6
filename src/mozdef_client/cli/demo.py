"""``mozdef-client demo``: send an event of each kind to a local receiver.

Needs no MozDef: it starts the development receiver on a free loopback port,
sends an event of each kind through each delivery path (sync HTTP, background
bulk, durable spool) and the 1.1 API, and prints what arrived.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from ..event import Event, Kind, VulnerabilityEvent
from ..severity import Severity
from .common import Commands, Exit

if TYPE_CHECKING:
    from ..receiver import Receiver

__all__ = ["add_arguments", "run", "sample_events"]


def add_arguments(commands: Commands) -> argparse.ArgumentParser:
    """The ``demo`` subcommand (it takes no options)."""
    return commands.add_parser(
        "demo",
        help="start a local receiver, send an event of each kind, print what arrived",
        description="Start a development receiver on a free loopback port, send an event of "
        "each kind through each delivery path, and print what arrived. Needs no MozDef.",
    )


def sample_events() -> list[Event | VulnerabilityEvent]:
    """One valid event of each kind, as a MozDef integration would send them."""
    return [
        Event(
            summary="login failed for joe",
            category="authentication",
            severity=Severity.WARNING,
            source="sso",
            tags=["sso", "demo"],
            details={"username": "joe", "sourceipaddress": "10.1.2.3", "success": False},
        ),
        Event(
            kind=Kind.COMPLIANCE,
            summary="ssh root login disabled on web1",
            details={
                "target": "web1.example.com",
                "policy": {"level": "medium", "name": "system", "url": "https://example.com/p"},
                "check": {
                    "description": "sshd forbids root login",
                    "location": "/etc/ssh/sshd_config",
                    "name": "sshd-root-login",
                    "ref": "sshd-1",
                    "test": {"type": "config", "value": "PermitRootLogin no"},
                },
                "compliance": True,
                "link": "https://example.com/checks/sshd-root-login",
                "utctimestamp": "2026-11-26T14:05:48+00:00",
            },
        ),
        VulnerabilityEvent(
            {
                "utctimestamp": "2026-11-26T14:05:48+00:00",
                "description": "scanner finding",
                "sourcename": "demo-scanner",
                "asset": {
                    "assetid": 1,
                    "ipv4address": "10.1.2.4",
                    "hostname": "web1.example.com",
                    "macaddress": "00:16:3e:00:00:01",
                },
                "vuln": {
                    "status": "open",
                    "vulnid": "CVE-2026-0001",
                    "title": "example vulnerability",
                    "discovery_time": 1764165948,
                    "age_days": 3,
                    "known_malware": False,
                    "known_exploits": False,
                    "cvss": 7.5,
                    "cves": ["CVE-2026-0001"],
                },
            }
        ),
        Event(
            kind=Kind.ASSET_HINT,
            summary="new host detected",
            details={"hostname": "web2.example.com", "ipaddress": "10.1.2.5"},
        ),
        Event(
            kind=Kind.RRA,
            summary="RRA for the demo service",
            details={"service": "demo", "risk": "low"},
        ),
    ]


@dataclass(frozen=True)
class _Path:
    """One way of sending: a label, and what to call with the receiver."""

    label: str
    send: Callable[[Receiver, str], int]  # (receiver, spool dir) -> events sent


def _sync(receiver: Receiver, spool_dir: str) -> int:
    from ..client import Client

    with Client(receiver.url, mode="sync") as client:  # whatever MOZDEF_MODE says
        for event in sample_events():
            client.send(event)
    return len(sample_events())


def _background(receiver: Receiver, spool_dir: str) -> int:
    from ..client import Client

    client = Client(receiver.bulk_url, mode="background")
    for event in sample_events():
        client.send(event)
    client.close(timeout=10)
    return len(sample_events())


def _durable(receiver: Receiver, spool_dir: str) -> int:
    from ..client import Client

    client = Client(receiver.bulk_url, mode="durable", spool_dir=spool_dir)
    for event in sample_events():
        client.send(event)
    client.close(timeout=10)
    return len(sample_events())


def _legacy(receiver: Receiver, spool_dir: str) -> int:
    from ..legacy import MozDefEvent

    legacy = MozDefEvent(receiver.url)
    legacy.summary = "sent through the mozdef_client 1.1 API"
    legacy.tags = ["legacy", "demo"]
    legacy.details = {"alert": False}
    legacy.send()
    return 1


PATHS = (
    _Path("sync HTTP, one event a request (Client, POST /events)", _sync),
    _Path('background bulk (Client(mode="background"), POST /_bulk)', _background),
    _Path('durable, through an on-disk spool (Client(mode="durable"), POST /_bulk)', _durable),
    _Path("the 1.1 API (MozDefEvent.send(), POST /events)", _legacy),
)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the demo, printing to ``out``; returns the exit status."""
    from ..errors import MozDefError
    from ..receiver import Receiver
    from ..receiver.store import describe_event

    with Receiver() as receiver, tempfile.TemporaryDirectory(prefix="mozdef-demo-") as spool:
        out.write(f"MozDef development receiver listening on {receiver.base_url}\n\n")
        expected = 0
        failed = False
        for path in PATHS:
            before = len(receiver.events)
            try:
                sent = path.send(receiver, spool)
            except MozDefError as exc:
                out.write(f"{path.label}: FAILED: {exc}\n\n")
                failed = True
                continue
            expected += sent
            receiver.wait_for_events(before + sent, timeout=10)
            out.write(f"{path.label}\n")
            for received in receiver.events[before:]:
                out.write(f"  {describe_event(received)}\n")
                for problem in received.errors:
                    out.write(f"      error: {problem}\n")
            out.write("\n")
        arrived = receiver.events
    invalid = sum(1 for event in arrived if event.errors)
    if arrived:
        out.write(f"One of them, as MozDef stores it:\n{_pretty(arrived[0].document)}\n\n")
    out.write(f"{len(arrived)} of {expected} events arrived, {invalid} of them invalid.\n")
    ok = not failed and len(arrived) == expected and invalid == 0
    return Exit.OK if ok else Exit.FAILED


def _pretty(document: Any) -> str:
    return "\n".join("  " + line for line in json.dumps(document, indent=2).splitlines())
