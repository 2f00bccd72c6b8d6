"""``mozdef-client demo``: send an event of each kind to a local receiver.

Needs no MozDef: it starts the development receiver on a free loopback port,
sends through the modern and the legacy API, and prints what arrived.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from .client import Client
from .event import Event, Kind, VulnerabilityEvent
from .legacy import MozDefEvent
from .receiver import Receiver
from .severity import Severity

__all__ = ["run_demo", "sample_events"]


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


def run_demo(out: TextIO) -> int:
    """Run the demo, printing to ``out``; returns the process exit code."""
    with Receiver() as receiver:
        url = f"{receiver.base_url}/events"
        out.write(f"development receiver listening on {receiver.base_url}\n")
        client = Client(url)
        for event in sample_events():
            client.send(event)
        legacy = MozDefEvent(url)
        legacy.summary = "sent through the mozdef_client 1.1 API"
        legacy.tags = ["legacy", "demo"]
        legacy.details = {"alert": False}
        legacy.send()
        client.close()
        arrived = receiver.events
    for received in arrived:
        out.write(_describe(received.document) + "\n")
    expected = len(sample_events()) + 1
    out.write(f"{len(arrived)} of {expected} events arrived\n")
    return 0 if len(arrived) == expected else 1


def _describe(document: Any) -> str:
    category = document.get("category") or "vulnerability"
    summary = document.get("summary") or document.get("description")
    return f"  [{category}] {summary}\n    {json.dumps(document, sort_keys=True)[:160]}..."
