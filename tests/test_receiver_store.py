"""What the receiver stores (JSONL, SQLite) and prints as events arrive."""

from __future__ import annotations

import io
import json
import sqlite3

import urllib3

from mozdef_client import Client, Event, Severity
from mozdef_client.cli.demo import sample_events
from mozdef_client.receiver import ReceivedEvent, Receiver, check_document
from mozdef_client.receiver.store import ConsolePrinter, JSONLStore, SQLiteStore, describe_event


def test_jsonl_store_appends_each_document_on_one_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"earlier": true}\n')
    store = JSONLStore(path)
    with Receiver(on_events=store) as receiver, Client(receiver.url) as client:
        for event in sample_events():
            client.send(event)
    store.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"earlier": True}  # appended, not truncated
    documents = [json.loads(line) for line in lines[1:]]
    assert [d.get("summary") for d in documents] == [
        e.to_document().get("summary") for e in sample_events()
    ]


def test_jsonl_store_keeps_non_ascii_text_readable(tmp_path):
    store = JSONLStore(tmp_path / "e.jsonl")
    store([ReceivedEvent("/events", {"summary": "connexion refusée"})])
    store.close()
    assert "refusée" in (tmp_path / "e.jsonl").read_text(encoding="utf-8")


def test_sqlite_store_keeps_arrival_details_findings_and_the_document(tmp_path):
    path = tmp_path / "events.db"
    store = SQLiteStore(path)
    with Receiver(on_events=store) as receiver:
        with Client(receiver.url) as client:
            client.send(
                Event(summary="login failed", category="authentication", details={"user": "joe"})
            )
        http = urllib3.PoolManager(retries=False)
        http.request("POST", receiver.bulk_url, body=b'{"summary": "bare"}\n[1]\n')
    store.close()
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT path, kind, category, summary, errors, warnings,"
        " json_extract(document, '$.details.user') FROM events ORDER BY id"
    ).fetchall()
    db.close()
    assert rows[0] == ("/events", "generic", "authentication", "login failed", "[]", "[]", "joe")
    assert rows[1][:4] == ("/_bulk", "generic", None, "bare")
    assert "hostname is missing (recommended)" in json.loads(rows[1][5])
    assert rows[2][1] is None and json.loads(rows[2][4]) == [
        "an event must be a JSON object, not list"
    ]


def test_sqlite_store_reopens_an_existing_database(tmp_path):
    path = tmp_path / "events.db"
    for summary in ("one", "two"):
        store = SQLiteStore(path)
        store([ReceivedEvent("/events", {"summary": summary})])
        store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT summary FROM events ORDER BY id").fetchall() == [("one",), ("two",)]
    db.close()


def test_describe_event_shows_time_severity_category_and_summary():
    event = ReceivedEvent(
        "/events",
        Event(summary="login\nfailed", category="auth", severity=Severity.ERROR).to_document(),
        received_at=0.0,
    )
    line = describe_event(event)
    assert line.split()[1:] == ["ERROR", "auth", "login", "failed"]
    assert "\n" not in line


def test_describe_event_for_vulnerability_custom_and_odd_documents():
    [vulnerability] = [e for e in sample_events() if e.kind.value == "vulnerability"]
    vuln = check_document("/events", vulnerability.to_document(), 0.0)
    assert describe_event(vuln).split()[1:3] == ["-", "vulnerability"]
    assert describe_event(vuln).endswith("scanner finding")
    custom = describe_event(ReceivedEvent("/custom/app", {"k": 1}))
    assert custom.split()[1:] == ["-", "app", '{"k":1}']
    assert describe_event(ReceivedEvent("/events", [1, 2])).endswith("[1,2]")
    long = describe_event(ReceivedEvent("/events", {"summary": "x" * 500}))
    assert len(long) < 200 and long.endswith("…")


def test_console_printer_prints_one_line_per_event_and_its_findings():
    out = io.StringIO()
    printer = ConsolePrinter(out)
    printer(
        [
            ReceivedEvent("/events", {"summary": "a", "category": "c", "severity": "INFO"}),
            ReceivedEvent("/events", {"summary": ""}, errors=("summary is missing",)),
        ]
    )
    lines = out.getvalue().splitlines()
    assert lines[0].split()[1:] == ["INFO", "c", "a"]
    assert lines[2] == "    error: summary is missing"


def test_console_printer_puts_an_events_warnings_on_one_line():
    out = io.StringIO()
    ConsolePrinter(out)([ReceivedEvent("/events", {"summary": "a"}, warnings=("w1", "w2"))])
    assert out.getvalue().splitlines()[1] == "    warning: w1; w2"


def test_console_printer_can_leave_out_warnings():
    out = io.StringIO()
    ConsolePrinter(out, show_warnings=False)(
        [ReceivedEvent("/events", {"summary": "a"}, warnings=("hostname is missing",))]
    )
    assert "warning" not in out.getvalue()
