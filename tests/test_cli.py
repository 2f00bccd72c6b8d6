"""The ``mozdef-client`` command, run in-process through ``main(argv)``.

Events go to the development receiver on loopback; the assertions read
what arrived there and what the command printed.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys

import pytest

from mozdef_client import __version__
from mozdef_client.cli import Exit, main
from mozdef_client.cli.demo import sample_events
from mozdef_client.cli.serve import _banner, is_loopback
from mozdef_client.receiver import Receiver
from servers import free_port


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mozdef-client {__version__}"


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == Exit.USAGE
    assert "COMMAND" in capsys.readouterr().err


def test_help_lists_the_commands_and_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("serve", "send", "validate", "demo"):
        assert command in out
    assert "2 usage or configuration error" in " ".join(out.split())


# -- send: one event ---------------------------------------------------------


def test_send_builds_an_event_from_flags(intake, capsys):
    status = main(
        [
            "send",
            "--summary", "login failed for joe",
            "--severity", "warn",
            "--category", "authentication",
            "--source", "sso",
            "--tag", "sso", "--tag", "vpn",
            "--detail", "username=joe",
            "--detail", "attempts=3",
            "--detail", "success=false",
            "--detail", "geo.country=FR",
            "--detail", "note=not json {",
        ]
    )  # fmt: skip
    assert status == Exit.OK
    assert capsys.readouterr().out == f"sent 1 event to {intake.url}\n"
    [event] = intake.events
    document = event.document
    assert document["summary"] == "login failed for joe"
    assert document["severity"] == "WARNING"
    assert (document["category"], document["source"]) == ("authentication", "sso")
    assert document["tags"] == ["sso", "vpn"]
    assert document["details"] == {
        "username": "joe",
        "attempts": 3,
        "success": False,
        "geo": {"country": "FR"},
        "note": "not json {",
    }
    assert event.valid and event.warnings == ()


def test_send_url_flag_wins_over_the_environment(intake, monkeypatch):
    monkeypatch.setenv("MOZDEF_URL", f"http://127.0.0.1:{free_port()}/events")
    assert main(["send", "--url", intake.url, "--summary", "x"]) == Exit.OK
    assert len(intake.events) == 1


def test_send_without_a_destination_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("MOZDEF_URL", raising=False)
    assert main(["send", "--summary", "x"]) == Exit.USAGE
    assert "MOZDEF_URL" in capsys.readouterr().err


def test_send_an_invalid_event_is_a_usage_error_naming_the_field(intake, capsys):
    status = main(["send", "--kind", "compliance", "--summary", "x", "--detail", "target=web1"])
    assert status == Exit.USAGE
    assert "details.policy is missing" in capsys.readouterr().err
    assert intake.events == []


def test_send_an_unknown_severity_is_a_usage_error(intake, capsys):
    assert main(["send", "--summary", "x", "--severity", "loud"]) == Exit.USAGE
    assert "unknown severity 'loud'" in capsys.readouterr().err


@pytest.mark.parametrize("pair", ["novalue", "=3", "a..b=1"])
def test_send_a_malformed_detail_is_a_usage_error(intake, capsys, pair):
    assert main(["send", "--summary", "x", "--detail", pair]) == Exit.USAGE
    assert "is not KEY=VALUE" in capsys.readouterr().err


def test_send_to_a_closed_port_fails_with_status_1(monkeypatch, capsys):
    monkeypatch.setenv("MOZDEF_URL", f"http://127.0.0.1:{free_port()}/events")
    assert main(["send", "--summary", "x"]) == Exit.FAILED
    assert "not delivered" in capsys.readouterr().err


def test_send_with_mozdef_token_sends_a_bearer_header(monkeypatch):
    monkeypatch.setenv("MOZDEF_TOKEN", "t0ken")
    with Receiver(token="t0ken") as receiver:
        assert main(["send", "--url", receiver.url, "--summary", "x"]) == Exit.OK
        assert len(receiver.events) == 1
    monkeypatch.delenv("MOZDEF_TOKEN")
    with Receiver(token="t0ken") as receiver:
        assert main(["send", "--url", receiver.url, "--summary", "x"]) == Exit.FAILED


def test_send_a_vulnerability_document_from_a_file(intake, tmp_path):
    [vulnerability] = [e for e in sample_events() if e.kind.value == "vulnerability"]
    path = tmp_path / "vuln.json"
    path.write_text(json.dumps(vulnerability.to_document()))
    assert main(["send", "--kind", "vulnerability", "--json", str(path)]) == Exit.OK
    [event] = intake.events
    assert event.document == vulnerability.to_document()
    assert event.kind is not None and event.kind.value == "vulnerability" and event.valid


def test_send_vulnerability_needs_json_and_no_flags(intake, tmp_path, capsys):
    assert main(["send", "--kind", "vulnerability"]) == Exit.USAGE
    path = tmp_path / "v.json"
    path.write_text("{}")
    assert main(["send", "--kind", "vulnerability", "--json", str(path), "--summary", "x"]) == 2
    err = capsys.readouterr().err
    assert "needs --json FILE" in err and "drop the flags" in err


def test_send_json_without_summary_or_details_is_the_details(intake, tmp_path):
    [compliance] = [e for e in sample_events() if e.kind.value == "compliance"]
    path = tmp_path / "details.json"
    path.write_text(json.dumps(compliance.to_document()["details"]))
    status = main(
        ["send", "--kind", "compliance", "--json", str(path), "--summary", "sshd checked"]
    )
    assert status == Exit.OK
    [event] = intake.events
    assert event.document["category"] == "complianceitems"
    assert event.document["details"] == compliance.to_document()["details"]
    assert event.valid and event.warnings == ()


def test_send_json_with_summary_is_the_whole_document_and_flags_override(intake, tmp_path):
    path = tmp_path / "doc.json"
    path.write_text(
        json.dumps(
            {"summary": "from file", "category": "rra_data", "details": {"a": 1}, "extra": "kept"}
        )
    )
    status = main(
        ["send", "--json", str(path), "--severity", "error", "--detail", "b=2", "--tag", "t"]
    )
    assert status == Exit.OK
    [event] = intake.events
    document = event.document
    assert event.kind is not None and event.kind.value == "rra"
    assert (document["summary"], document["severity"], document["extra"]) == (
        "from file",
        "ERROR",
        "kept",
    )
    assert document["details"] == {"a": 1, "b": 2}
    assert document["tags"] == ["t"]
    for name in ("timestamp", "hostname", "processname", "processid"):
        assert name in document  # filled in like an Event's
    assert event.warnings == ()


def test_send_json_that_is_not_an_object_is_a_usage_error(intake, tmp_path, capsys):
    path = tmp_path / "list.json"
    path.write_text("[1]")
    assert main(["send", "--json", str(path)]) == Exit.USAGE
    assert "expected a JSON object, not list" in capsys.readouterr().err


def test_send_jsonl_cannot_be_mixed_with_event_flags(intake, tmp_path, capsys):
    assert main(["send", "--jsonl", "-", "--summary", "x"]) == Exit.USAGE
    assert main(["send", "--summary", "x", "--spool-dir", str(tmp_path)]) == Exit.USAGE


# -- send: a stream ------------------------------------------------------------


def write_jsonl(path, documents, extra_lines=()):
    lines = [json.dumps(document) for document in documents]
    lines.extend(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def documents(count, **fields):
    return [{"summary": f"event {n}", "category": "stream", **fields} for n in range(count)]


def test_send_jsonl_streams_every_line_through_bulk(intake, tmp_path, capsys):
    path = write_jsonl(tmp_path / "in.jsonl", documents(500), extra_lines=[""])
    assert main(["send", "--jsonl", path, "--no-progress"]) == Exit.OK
    out, err = capsys.readouterr()
    assert out == "sent 500, failed 0, dead-lettered 0\n"
    assert err == ""
    assert sorted(e.document["summary"] for e in intake.events) == sorted(
        f"event {n}" for n in range(500)
    )
    assert {e.path for e in intake.events} == {"/_bulk"}  # batched by the pipeline


def test_send_jsonl_reports_bad_lines_by_number_and_sends_the_rest(intake, tmp_path, capsys):
    path = write_jsonl(
        tmp_path / "in.jsonl",
        documents(2),
        extra_lines=['{"summary": ', '{"summary": ""}', "[1, 2]", json.dumps(documents(1)[0])],
    )
    assert main(["send", "--jsonl", path, "--no-progress"]) == Exit.FAILED
    out, err = capsys.readouterr()
    assert out.startswith("sent 3, failed 3, dead-lettered 0 (3 invalid lines not sent)")
    assert f"{path}:3: not valid JSON, not sent" in err
    assert f"{path}:4: invalid generic event, not sent: summary is missing" in err
    assert f"{path}:5: not a JSON object, not sent" in err
    assert len(intake.events) == 3


def test_send_jsonl_infers_each_documents_kind(intake, tmp_path, capsys):
    lines = [json.dumps(e.to_document()) for e in sample_events()]
    lines.append(json.dumps({"summary": "no details", "category": "complianceitems"}))
    path = tmp_path / "kinds.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["send", "--jsonl", str(path), "--no-progress"]) == Exit.FAILED
    err = capsys.readouterr().err
    assert f"{path}:6: invalid compliance event, not sent: details is missing" in err
    assert len(intake.events) == len(sample_events())
    assert all(e.valid for e in intake.events)


def test_send_jsonl_durable_goes_through_the_spool(intake, tmp_path, capsys):
    path = write_jsonl(tmp_path / "in.jsonl", documents(200))
    spool = tmp_path / "spool"
    assert main(["send", "--jsonl", path, "--spool-dir", str(spool), "--no-progress"]) == 0
    assert capsys.readouterr().out == "sent 200, failed 0, dead-lettered 0\n"
    assert len(intake.events) == 200
    assert any(spool.iterdir())  # the spool was used


def test_send_jsonl_durable_keeps_what_it_could_not_deliver_for_the_next_run(
    tmp_path, capsys, monkeypatch
):
    port = free_port()
    url = f"http://127.0.0.1:{port}/events"
    path = write_jsonl(tmp_path / "in.jsonl", documents(20))
    spool = str(tmp_path / "spool")
    args = ["send", "--url", url, "--jsonl", path, "--spool-dir", spool, "--no-progress"]
    assert main([*args, "--timeout", "0.5"]) == Exit.FAILED
    out = capsys.readouterr().out
    assert "20 still in the spool; the next run with --spool-dir" in out
    assert "last error:" in out
    with Receiver(port=port) as receiver:
        empty = write_jsonl(tmp_path / "empty.jsonl", [])
        rerun = ["send", "--url", url, "--jsonl", empty, "--spool-dir", spool, "--no-progress"]
        assert main(rerun) == Exit.OK
        assert receiver.wait_for_events(20, timeout=10)
    assert capsys.readouterr().out.startswith("sent 20, failed 0")


def test_send_jsonl_to_a_dead_destination_counts_the_events_failed(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/events"
    path = write_jsonl(tmp_path / "in.jsonl", documents(5))
    status = main(["send", "--url", url, "--jsonl", path, "--timeout", "0.5", "--no-progress"])
    assert status == Exit.FAILED
    out = capsys.readouterr().out
    assert out.startswith("sent 0, failed 5, dead-lettered 0 (5 not delivered)")
    assert "last error: could not connect to" in out


def test_send_jsonl_refused_for_good_is_dead_lettered(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MOZDEF_TOKEN", raising=False)
    with Receiver(token="needed") as receiver:
        path = write_jsonl(tmp_path / "in.jsonl", documents(4))
        status = main(["send", "--url", receiver.url, "--jsonl", path, "--no-progress"])
    assert status == Exit.FAILED
    out = capsys.readouterr().out
    assert out.startswith("sent 0, failed 0, dead-lettered 4")
    assert "401" in out


def test_send_jsonl_unreadable_file_is_a_usage_error(intake, tmp_path, capsys):
    assert main(["send", "--jsonl", str(tmp_path / "missing.jsonl")]) == Exit.USAGE
    assert "cannot read" in capsys.readouterr().err


# -- validate --------------------------------------------------------------------


def test_validate_accepts_valid_events_of_every_kind(tmp_path, capsys):
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(json.dumps(e.to_document()) for e in sample_events()) + "\n")
    assert main(["validate", str(path)]) == Exit.OK
    assert capsys.readouterr().out == "checked 5 events: 0 invalid, 0 with warnings\n"


def test_validate_names_the_field_path_and_the_line(tmp_path, capsys):
    [compliance] = [e for e in sample_events() if e.kind.value == "compliance"]
    broken = copy.deepcopy(compliance.to_document())
    del broken["details"]["check"]["test"]["value"]
    path = tmp_path / "c.jsonl"
    path.write_text("\n" + json.dumps(compliance.to_document()) + "\n" + json.dumps(broken) + "\n")
    assert main(["validate", str(path)]) == Exit.FAILED
    out = capsys.readouterr().out
    assert f"{path}:3: error: details.check.test.value is missing (compliance event)\n" in out
    assert out.endswith("checked 2 events: 1 invalid, 0 with warnings\n")


def test_validate_kind_flag_overrides_the_category(tmp_path, capsys):
    path = tmp_path / "e.json"
    path.write_text(json.dumps(documents(1)[0]))
    assert main(["validate", "--kind", "rra", str(path)]) == Exit.FAILED
    assert f"{path}:1: error: details is missing (rra event)" in capsys.readouterr().out


def test_validate_reads_a_pretty_printed_object_and_an_array(tmp_path, capsys):
    event = sample_events()[0].to_document()
    pretty = tmp_path / "pretty.json"
    pretty.write_text("\n\n" + json.dumps(event, indent=2))
    array = tmp_path / "array.json"
    array.write_text(json.dumps([event, {"summary": 5}]))
    assert main(["validate", str(pretty), str(array)]) == Exit.FAILED
    out = capsys.readouterr().out
    assert str(pretty) not in out  # valid, nothing to say
    assert f"{array}[1]: error: summary must be a string, not int (generic event)" in out


def test_validate_reports_broken_json_where_it_is(tmp_path, capsys):
    pretty = tmp_path / "broken.json"
    pretty.write_text('{\n  "summary": "x",\n  "tags": [1,\n}\n')
    ndjson = tmp_path / "broken.jsonl"
    ndjson.write_text('{"summary": "a"}\n{nope\n{"summary": "n", "details": {"x": NaN}}\n')
    assert main(["validate", str(pretty), str(ndjson)]) == Exit.FAILED
    out = capsys.readouterr().out
    assert f"{pretty}:4: error: not valid JSON" in out
    assert f"{ndjson}:2: error: not valid JSON" in out
    assert f"{ndjson}:3: error: details.x is nan, which JSON cannot carry" in out
    assert out.endswith("checked 4 events: 3 invalid, 1 with warnings\n")


def test_validate_warnings_fail_only_with_strict(tmp_path, capsys):
    path = tmp_path / "bare.json"
    path.write_text('{"summary": "bare"}')
    assert main(["validate", str(path)]) == Exit.OK
    assert capsys.readouterr().out == (
        f"{path}:1: warning: recommended fields missing: timestamp, hostname, processname, "
        "severity, category\nchecked 1 events: 0 invalid, 1 with warnings\n"
    )
    assert main(["validate", "--strict", str(path)]) == Exit.FAILED
    assert capsys.readouterr().out == (
        f"{path}:1: error: recommended fields missing: timestamp, hostname, processname, "
        "severity, category\nchecked 1 events: 1 invalid, 0 with warnings\n"
    )


def test_validate_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.json")]) == Exit.USAGE
    assert "cannot read: No such file or directory" in capsys.readouterr().err


def test_validate_says_when_a_file_holds_no_events(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    assert main(["validate", str(path)]) == Exit.OK
    assert f"{path}: warning: no events in this file" in capsys.readouterr().out


# -- demo ------------------------------------------------------------------------


def test_demo_sends_every_kind_through_every_path_and_exits_0(capsys):
    assert main(["demo"]) == Exit.OK
    out = capsys.readouterr().out
    assert "sync HTTP" in out and "background bulk" in out and "durable" in out
    assert "the 1.1 API" in out
    assert out.rstrip().endswith("16 of 16 events arrived, 0 of them invalid.")
    assert out.count("vulnerability    scanner finding") == 3


# -- serve (the parts that can run in-process; the rest is in test_cli_subprocess)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("mozdef.example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_serve_warns_when_listening_beyond_loopback():
    args = argparse.Namespace(host="0.0.0.0", jsonl=None, sqlite="events.db")
    out, err = io.StringIO(), io.StringIO()
    with Receiver() as receiver:
        _banner(receiver, args, True, out, err)
    assert err.getvalue().startswith("warning: listening on 0.0.0.0, reachable from other")
    assert "storing events in SQLite file events.db" in out.getvalue()
    assert "Authorization: Bearer <token>" in out.getvalue()
    loopback = argparse.Namespace(host="127.0.0.1", jsonl=None, sqlite=None)
    quiet_err = io.StringIO()
    with Receiver() as receiver:
        _banner(receiver, loopback, False, io.StringIO(), quiet_err)
    assert quiet_err.getvalue() == ""


def test_serve_rejects_a_non_positive_body_cap(capsys):
    assert main(["serve", "--max-body-bytes", "0"]) == Exit.USAGE
    assert "must be positive" in capsys.readouterr().err


def test_send_jsonl_without_rich_installed_sends_with_no_progress(intake, tmp_path, capsys):
    path = write_jsonl(tmp_path / "in.jsonl", documents(3))
    with pytest.MonkeyPatch.context() as patch:
        for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")]:
            patch.delitem(sys.modules, name)
        patch.setitem(sys.modules, "rich", None)  # "import rich..." now fails
        assert main(["send", "--jsonl", path]) == Exit.OK
    out, err = capsys.readouterr()
    assert (out, err) == ("sent 3, failed 0, dead-lettered 0\n", "")
