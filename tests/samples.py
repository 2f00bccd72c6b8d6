"""Sample documents shared by several test modules."""

from __future__ import annotations

from typing import Any


def vulnerability_document() -> dict[str, Any]:
    """A vulnerability event with every field MozDef requires (a new dict each call)."""
    return {
        "utctimestamp": "2026-11-26T14:05:48+00:00",
        "description": "scanner finding",
        "sourcename": "scanner",
        "asset": {
            "assetid": 1,
            "ipv4address": "10.0.0.1",
            "hostname": "host.example.com",
            "macaddress": "00:11:22:33:44:55",
        },
        "vuln": {
            "status": "open",
            "vulnid": "scanner-1",
            "title": "openssl out of date",
            "discovery_time": 1764165948,
            "age_days": 3.5,
            "known_malware": False,
            "known_exploits": False,
            "cvss": 7.5,
            "cves": ["CVE-2014-0160"],
        },
    }
