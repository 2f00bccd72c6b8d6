"""Every path a user can take into MozDef, through MozDef's own unmodified code.

MozDef's ``loginput/index.py`` (the HTTP intake) publishes to RabbitMQ, and its
``esworker_eventtask`` worker with every plugin (Elasticsearch stubbed by the
peer kit) decides what is indexed where. One module-wide run sends every path
and kind with a unique marker each, reads everything MozDef published from a
capture queue, and runs the worker once over all of it; the tests then check,
per path: the messages MozDef published are exactly the events sent (no junk,
none lost), and each is indexed where MozDef keeps its kind with its fields
intact.

MozDef's normalisations, compared modulo: ``processid`` becomes a string,
``severity`` is upper-cased, ``timestamp`` is re-written by ``toUTC`` (and
copied to ``utctimestamp``), and the worker adds ``receivedtimestamp``,
``mozdefhostname``, ``type`` and ``mozdef.plugins``. Vulnerability documents
are saved whole to ``vulnerabilities`` with ``endpoint``, ``customendpoint``
and ``type: vulnerability_state`` added. Compliance items: MozDef's
complianceitems plugin calls ``hashlib.md5(str)``, which raises on Python 3,
so this MozDef indexes no compliance item whatever the sender does; the test
asserts exactly that, so it will notice when MozDef fixes it.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from mozdef_kit import MozDef, Worker, mozdef_fixture  # noqa: F401 - the fixture

from mozdef_client import Client, DocumentEvent, Event, Kind, Severity, VulnerabilityEvent
from mozdef_client.handler import MozDefHandler
from mozdef_client.legacy import (
    MozDefAssetHint,
    MozDefCompliance,
    MozDefEvent,
    MozDefRRA,
    MozDefVulnerability,
)

pytestmark = pytest.mark.slow

FIXED = datetime(2026, 11, 26, 14, 5, 48, 226939, tzinfo=timezone.utc)
IDENTITY = {"hostname": "web1.example.test", "processname": "mdk-app", "processid": 4242}
MARKER = re.compile(r"mdk:[a-z0-9-]+:[a-z0-9-]+:\d+")
KINDS = ("event", "compliance", "vulnerability", "vulnerability-v2", "asset-hint", "rra")
# The ten fields MozDef's generic document is made of.
FIELDS = ("summary", "details", "tags", "severity", "category", "source",
          "timestamp", "hostname", "processname", "processid")  # fmt: skip
BULK_EVENTS = 10_000


@dataclass
class Sent:
    """One event sent: its marker, its kind and the fields MozDef must get as sent."""

    marker: str
    kind: str
    fields: dict[str, Any]


@dataclass
class Run:
    sent: dict[str, list[Sent]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    published: dict[str, list[Any]] = field(default_factory=dict)
    junk: list[Any] = field(default_factory=list)
    content_types: Counter[str] = field(default_factory=Counter)
    indexed: dict[str, Worker] = field(default_factory=dict)


# --- what each kind looks like ------------------------------------------------------


def details_for(marker: str, kind: str) -> dict[str, Any]:
    if kind == "compliance":
        return {
            "marker": marker,
            "target": "web1.example.test",
            "policy": {"level": "medium", "name": "system", "url": "https://example.test/p"},
            "check": {
                "description": "sshd: no root login",
                "location": "/etc/ssh/sshd_config",
                "name": "sshd-root-login",
                "ref": f"sshd-1-{marker}",
                "test": {"type": "config", "value": "PermitRootLogin no"},
            },
            "compliance": True,
            "link": "https://example.test/check",
            "utctimestamp": FIXED.isoformat(),
        }
    if kind == "asset-hint":
        return {"marker": marker, "hostname": "new.example.test", "owner": "ops"}
    if kind == "rra":
        return {"marker": marker, "service": "billing", "risk": {"impact": "low"}}
    return {"marker": marker, "username": "joe", "success": False, "attempts": 3,
            "nested": {"list": [1, "two", None]}}  # fmt: skip


def vulnerability_for(marker: str, version: int = 1) -> dict[str, Any]:
    if version == 2:
        return {
            "version": 2,
            "utctimestamp": FIXED.isoformat(),
            "description": f"{marker} scan of web1",
            "sourcename": "scanner",
            "zone": "dmz",
            "asset": {"hostname": "web1.example.test", "ipaddress": "10.0.0.5",
                      "os": "linux", "owner": {"team": "ops"}},
            "vulnerabilities": [{"name": "openssl", "risk": "high", "cves": ["CVE-2014-0160"]}],
        }  # fmt: skip
    return {
        "utctimestamp": FIXED.isoformat(),
        "description": f"{marker} scanner finding",
        "sourcename": "scanner",
        "asset": {"assetid": 7, "ipv4address": "10.0.0.5", "hostname": "web1.example.test",
                  "macaddress": "00:11:22:33:44:55"},
        "vuln": {"status": "open", "vulnid": marker, "title": "openssl out of date",
                 "discovery_time": 1764165948, "age_days": 3.5, "known_malware": False,
                 "known_exploits": False, "cvss": 7.5, "cves": ["CVE-2014-0160"]},
    }  # fmt: skip


_CORE_KIND = {"event": Kind.GENERIC, "compliance": Kind.COMPLIANCE,
              "asset-hint": Kind.ASSET_HINT, "rra": Kind.RRA}  # fmt: skip


def core_event(marker: str, kind: str) -> tuple[Event | DocumentEvent, dict[str, Any]]:
    """The library's event for ``kind`` and the fields MozDef must receive."""
    if kind.startswith("vulnerability"):
        document = vulnerability_for(marker, 2 if kind.endswith("v2") else 1)
        return VulnerabilityEvent(document), copy.deepcopy(document)
    category = {"event": "authentication"}.get(kind)
    event = Event(
        summary=f"{marker} happened",
        kind=_CORE_KIND[kind],
        category=category,
        severity=Severity.WARNING,
        source="sso",
        tags=["mdk", kind],
        details=details_for(marker, kind),
        timestamp=FIXED,
        **IDENTITY,  # type: ignore[arg-type]
    )
    document = event.to_document()
    return event, document


# --- the paths ----------------------------------------------------------------------------


class Paths:
    """Each method sends one path's events and returns what it sent."""

    def __init__(self, mozdef: MozDef, workdir: Path) -> None:
        self.mozdef, self.workdir = mozdef, workdir

    def _client_kinds(self, path: str, client: Client, *, trickle: bool = False) -> list[Sent]:
        sent = []
        for n, kind in enumerate(KINDS):
            marker = f"mdk:{path}:{kind}:{n}"
            event, fields = core_event(marker, kind)
            client.send(event)
            sent.append(Sent(marker, kind, fields))
            if trickle:
                assert client.flush(10) == 0
        assert client.close(10) == 0
        stats = client.stats()
        assert stats.delivered == len(sent) and not stats.dropped and not stats.dead_lettered
        return sent

    def sync_events(self, path: str) -> list[Sent]:
        return self._client_kinds(path, Client(self.mozdef.url("/events")))

    def sync_bulk(self, path: str) -> list[Sent]:
        return self._client_kinds(path, Client(self.mozdef.url("/_bulk")))

    def background_events_trickle(self, path: str) -> list[Sent]:
        client = Client(self.mozdef.url("/events"), mode="background")
        return self._client_kinds(path, client, trickle=True)

    def background_bulk_trickle(self, path: str) -> list[Sent]:
        """A sporadic sender: every batch holds one event."""
        client = Client(self.mozdef.url("/_bulk"), mode="background")
        return self._client_kinds(path, client, trickle=True)

    def background_bulk_batch(self, path: str) -> list[Sent]:
        """Every kind in one batch: one JSON array, and /custom/vulnerability."""
        return self._client_kinds(path, Client(self.mozdef.url("/_bulk"), mode="background"))

    def background_bulk_one(self, path: str) -> list[Sent]:
        client = Client(self.mozdef.url("/_bulk"), mode="background")
        marker = f"mdk:{path}:event:0"
        event, fields = core_event(marker, "event")
        client.send(event)
        assert client.close(10) == 0
        assert client.stats().delivered == 1
        return [Sent(marker, "event", fields)]

    def background_bulk_10k(self, path: str) -> list[Sent]:
        return self._bulk_10k(path, Client(self.mozdef.url("/_bulk"), mode="background"))

    def durable_bulk_10k(self, path: str) -> list[Sent]:
        spool = str(self.workdir / "spool-10k")
        return self._bulk_10k(path, Client(self.mozdef.url("/_bulk"), mode="durable",
                                           spool_dir=spool))  # fmt: skip

    def _bulk_10k(self, path: str, client: Client) -> list[Sent]:
        sent = []
        for n in range(BULK_EVENTS):
            marker = f"mdk:{path}:event:{n}"
            event = Event(summary=marker, details={"marker": marker, "n": n}, tags=["bulk"],
                          source="load", timestamp=FIXED, **IDENTITY)  # type: ignore[arg-type]  # fmt: skip
            client.send(event)
            sent.append(Sent(marker, "event", {"summary": marker}))
        assert client.close(60) == 0
        assert client.stats().delivered == BULK_EVENTS
        return sent

    def durable_events(self, path: str) -> list[Sent]:
        client = Client(self.mozdef.url("/events"), mode="durable",
                        spool_dir=str(self.workdir / "spool-events"))  # fmt: skip
        return self._client_kinds(path, client)

    def durable_bulk(self, path: str) -> list[Sent]:
        client = Client(self.mozdef.url("/_bulk"), mode="durable",
                        spool_dir=str(self.workdir / "spool-bulk"))  # fmt: skip
        return self._client_kinds(path, client)

    def amqp_sync(self, path: str) -> list[Sent]:
        return self._client_kinds(path, Client(self.mozdef.amqp_url))

    def amqp_background(self, path: str) -> list[Sent]:
        return self._client_kinds(path, Client(self.mozdef.amqp_url, mode="background"))

    def legacy_events(self, path: str) -> list[Sent]:
        return self._legacy(path, "/events")

    def legacy_bulk(self, path: str) -> list[Sent]:
        return self._legacy(path, "/_bulk")

    def _legacy(self, path: str, intake: str) -> list[Sent]:
        """mozdef_client 1.1's classes, each kind's own, sync ``send()``."""
        url = self.mozdef.url(intake)
        sent = []
        classes = {"event": MozDefEvent, "compliance": MozDefCompliance,
                   "asset-hint": MozDefAssetHint, "rra": MozDefRRA}  # fmt: skip
        for n, kind in enumerate(KINDS):
            marker = f"mdk:{path}:{kind}:{n}"
            if kind.startswith("vulnerability"):
                vulnerability = MozDefVulnerability(url)
                vulnerability.log = vulnerability_for(marker, 2 if kind.endswith("v2") else 1)
                vulnerability.send()
                sent.append(Sent(marker, kind, copy.deepcopy(vulnerability.log)))
                continue
            message = classes[kind](url)
            message.summary = f"{marker} happened"
            message.tags = ["mdk", kind]
            message.details = details_for(marker, kind)
            message.set_severity(MozDefEvent.SEVERITY_WARNING)
            message.source = "sso"
            if kind == "event":
                message.set_category("authentication")
            message.send()
            fields = {"summary": message.summary, "tags": message.tags, "source": "sso",
                      "details": message.details, "severity": "WARNING"}  # fmt: skip
            sent.append(Sent(marker, kind, fields))
        return sent

    def logging_handler_bulk(self, path: str) -> list[Sent]:
        return self._logging(path, "/_bulk")

    def logging_handler_events(self, path: str) -> list[Sent]:
        return self._logging(path, "/events")

    def _logging(self, path: str, intake: str) -> list[Sent]:
        handler = MozDefHandler(self.mozdef.url(intake), tags=["mdk"])
        logger = logging.getLogger(f"mdk.{path}")
        logger.propagate = False
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        sent = []
        try:
            for n in range(3):
                marker = f"mdk:{path}:event:{n}"
                logger.warning("%s login failed for %s", marker, "joe")
                sent.append(Sent(marker, "event", {"summary": f"{marker} login failed for joe",
                                                   "severity": "WARNING"}))  # fmt: skip
                handler.flush()  # a trickle: each batch holds one record
        finally:
            logger.removeHandler(handler)
            handler.close()
        return sent

    def _cli(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "mozdef_client", "send", *args],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "MOZDEF_URL": ""},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr

    def cli_summary_bulk(self, path: str) -> list[Sent]:
        """The issue's own check: `mozdef-client send --url http://HOST/_bulk --summary x`."""
        marker = f"mdk:{path}:event:0"
        self._cli("--url", self.mozdef.url("/_bulk"), "--summary", marker)
        return [Sent(marker, "event", {"summary": marker, "category": "event"})]

    def cli_flags_events(self, path: str) -> list[Sent]:
        marker = f"mdk:{path}:event:0"
        self._cli(
            "--url", self.mozdef.url("/events"), "--summary", marker, "--severity", "warn",
            "--category", "authentication", "--source", "sso", "--tag", "mdk", "--tag", "cli",
            "--detail", f"marker={marker}", "--detail", "attempts=3", "--detail", "user.name=joe",
        )  # fmt: skip
        details = {"marker": marker, "attempts": 3, "user": {"name": "joe"}}
        fields = {"summary": marker, "severity": "WARNING", "category": "authentication",
                  "source": "sso", "tags": ["mdk", "cli"], "details": details}  # fmt: skip
        return [Sent(marker, "event", fields)]

    def cli_jsonl_bulk(self, path: str) -> list[Sent]:
        return self._cli_jsonl(path, "/_bulk")

    def cli_jsonl_events(self, path: str) -> list[Sent]:
        return self._cli_jsonl(path, "/events")

    def _cli_jsonl(self, path: str, intake: str) -> list[Sent]:
        sent, lines = [], []
        for n, kind in enumerate(KINDS):
            marker = f"mdk:{path}:{kind}:{n}"
            _, document = core_event(marker, kind)
            lines.append(json.dumps(document))
            sent.append(Sent(marker, kind, document))
        source = self.workdir / f"{path}.jsonl"
        source.write_text("\n".join(lines) + "\n")
        self._cli("--url", self.mozdef.url(intake), "--jsonl", str(source), "--no-progress")
        return sent


PATHS: dict[str, Callable[[Paths, str], list[Sent]]] = {
    "legacy-events": Paths.legacy_events,
    "legacy-bulk": Paths.legacy_bulk,
    "sync-events": Paths.sync_events,
    "sync-bulk": Paths.sync_bulk,
    "background-events-trickle": Paths.background_events_trickle,
    "background-bulk-one": Paths.background_bulk_one,
    "background-bulk-trickle": Paths.background_bulk_trickle,
    "background-bulk-batch": Paths.background_bulk_batch,
    "background-bulk-10k": Paths.background_bulk_10k,
    "durable-events": Paths.durable_events,
    "durable-bulk": Paths.durable_bulk,
    "durable-bulk-10k": Paths.durable_bulk_10k,
    "amqp-sync": Paths.amqp_sync,
    "amqp-background": Paths.amqp_background,
    "cli-summary-bulk": Paths.cli_summary_bulk,
    "cli-flags-events": Paths.cli_flags_events,
    "cli-jsonl-bulk": Paths.cli_jsonl_bulk,
    "cli-jsonl-events": Paths.cli_jsonl_events,
    "logging-handler-bulk": Paths.logging_handler_bulk,
    "logging-handler-events": Paths.logging_handler_events,
}


def marker_of(body: Any) -> str | None:
    found = set(MARKER.findall(json.dumps(body)))
    assert len(found) <= 1, f"one published message holds several events: {body!r}"
    return found.pop() if found else None


@pytest.fixture(scope="module")
def run(mozdef: MozDef, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Send every path, then read what MozDef published and what its worker indexed."""
    result = Run()
    paths = Paths(mozdef, tmp_path_factory.mktemp("paths"))
    for name, send in PATHS.items():
        try:
            result.sent[name] = send(paths, name)
        except Exception as exc:  # reported by that path's test, not by every test
            result.failures[name] = f"{type(exc).__name__}: {exc}"
    expected = sum(len(s) for s in result.sent.values())
    for record in mozdef.drain(expected):
        result.content_types[record["content_type"]] += 1
        marker = marker_of(record["body"])
        if marker is None:
            result.junk.append(record["body"])
        else:
            result.published.setdefault(marker, []).append(record["body"])
    bodies = [body for copies in result.published.values() for body in copies]
    for worker in mozdef.index(bodies + result.junk):
        marker = marker_of(worker.body)
        if marker is not None:
            result.indexed[marker] = worker
    yield result


# --- the checks ------------------------------------------------------------------------


def check_event_indexed(published: dict[str, Any], worker: Worker) -> None:
    """MozDef saved the event to `events` with every field it was given, as MozDef keeps it."""
    assert (worker.outcome, worker.index, worker.errors) == ("saved", "events", [])
    doc = worker.doc
    assert doc is not None
    for name in FIELDS:
        if name not in published:
            continue
        value = published[name]
        if name == "processid":
            value = str(value)
        elif name == "severity":
            value = value.upper()
        assert doc.get(name) == value, f"{name}: sent {value!r}, MozDef indexed {doc.get(name)!r}"
    if "timestamp" in published:
        assert doc["utctimestamp"] == published["timestamp"]
    assert doc["type"] == "event"


def check_vulnerability_indexed(sent: dict[str, Any], worker: Worker) -> None:
    """Saved whole to `vulnerabilities`, with only what /custom/vulnerability adds."""
    assert (worker.outcome, worker.index, worker.errors) == ("saved", "vulnerabilities", [])
    doc = dict(worker.doc or {})
    assert doc.pop("type") == "vulnerability_state"
    assert doc.pop("endpoint") == "vulnerability" and doc.pop("customendpoint") is True
    assert "vulnerability" in doc.pop("mozdef")["plugins"]
    assert doc == sent
    assert worker.id  # MozDef's id for the asset and finding: a re-scan updates it


def check_compliance_not_indexable(worker: Worker) -> None:
    """MozDef's complianceitems plugin raises on Python 3 (hashlib.md5 of a str)."""
    assert worker.outcome == "error" and worker.doc is None
    assert any("Strings must be encoded before hashing" in e for e in worker.errors), worker.errors


@pytest.mark.parametrize("path", list(PATHS))
def test_mozdef_publishes_each_event_once_and_indexes_it_whole(run: Run, path: str) -> None:
    assert path not in run.failures, run.failures.get(path)
    sent = run.sent[path]
    published = {s.marker: run.published.get(s.marker, []) for s in sent}
    lost = [m for m, copies in published.items() if not copies]
    doubled = [m for m, copies in published.items() if len(copies) > 1]
    assert (lost, doubled) == ([], []), "MozDef published each event sent exactly once"
    assert sum(1 for m in run.published if m.startswith(f"mdk:{path}:")) == len(sent)
    for event in sent:
        [body] = published[event.marker]
        assert isinstance(body, dict), body
        for name, value in event.fields.items():
            assert body.get(name) == value, f"{event.marker} {name}: MozDef got {body.get(name)!r}"
        worker = run.indexed[event.marker]
        if event.kind.startswith("vulnerability"):
            check_vulnerability_indexed(event.fields, worker)
        elif event.kind == "compliance":
            check_compliance_not_indexable(worker)
        else:
            check_event_indexed(body, worker)


def test_mozdef_published_no_junk_message(run: Run) -> None:
    """A one-object /_bulk body would have published its key names ("summary", ...)."""
    assert run.junk == []


def test_every_message_has_a_content_type_mozdefs_worker_accepts(run: Run) -> None:
    """loginput publishes with kombu's json serializer; AMQP direct must match it exactly
    (kombu compares the type literally: "application/json; charset=utf-8" kills the worker)."""
    assert set(run.content_types) == {"application/json"}


def test_the_kit_sees_every_path_and_kind(run: Run) -> None:
    """Every kind went through the run; prints the table (pytest -s): per path and kind,
    events sent / messages MozDef published / documents its worker indexed."""
    kinds = Counter(s.kind for sent in run.sent.values() for s in sent)
    assert set(kinds) == set(KINDS)
    assert len(run.sent) + len(run.failures) == len(PATHS)
    lines = ["path".ljust(26) + "".join(k.rjust(20) for k in KINDS)]
    for path, sent in run.sent.items():
        cells = []
        for kind in KINDS:
            of_kind = [s for s in sent if s.kind == kind]
            published = sum(len(run.published.get(s.marker, [])) for s in of_kind)
            indexed = sum(
                s.marker in run.indexed and run.indexed[s.marker].outcome == "saved"
                for s in of_kind
            )
            cells.append(f"{len(of_kind)}/{published}/{indexed}" if of_kind else "-")
        lines.append(path.ljust(26) + "".join(c.rjust(20) for c in cells))
    print("\nsent/published/indexed", *lines, sep="\n")
