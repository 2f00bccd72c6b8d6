"""``mozdef-client send``: what --jsonl and --json documents get, deep JSON
(issue 11, item 9), hints on common failures, and events held in the spool
for other destinations."""

from __future__ import annotations

import json
import os

from mozdef_client.cli import Exit, main
from mozdef_client.receiver import Receiver
from servers import free_port

DEEP = '{"summary": "deep", "details": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"


def write_lines(path, *lines: str) -> str:
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def test_jsonl_lines_get_the_same_defaults_as_a_json_document(intake, tmp_path, capsys):
    bare = {"summary": "bare", "severity": "warn", "details": {"a": 1}}
    stream = write_lines(tmp_path / "in.jsonl", json.dumps(bare))
    whole = tmp_path / "one.json"
    whole.write_text(json.dumps(bare))
    assert main(["send", "--jsonl", stream, "--no-progress"]) == Exit.OK
    assert main(["send", "--json", str(whole)]) == Exit.OK
    assert intake.wait_for_events(2)
    from_stream, from_json = (event.document for event in intake.events)
    for document in (from_stream, from_json):
        assert document["severity"] == "WARNING"  # normalised like --severity warn
        assert document["category"] == "event"
        assert document["processid"] == from_json["processid"]  # the same process
        for name in ("timestamp", "hostname", "processname"):
            assert document[name], name
        assert document["details"] == {"a": 1}
    assert from_stream.keys() == from_json.keys()
    assert not any(event.warnings for event in intake.events)


def test_a_json_documents_own_severity_is_normalised(intake, tmp_path):
    whole = tmp_path / "one.json"
    whole.write_text(json.dumps({"summary": "x", "severity": "crit", "details": {}}))
    assert main(["send", "--json", str(whole)]) == Exit.OK
    assert intake.events[0].document["severity"] == "CRITICAL"


def test_a_document_severity_that_is_no_severity_is_refused_by_name(intake, tmp_path, capsys):
    stream = write_lines(tmp_path / "in.jsonl", json.dumps({"summary": "x", "severity": "LOUD"}))
    assert main(["send", "--jsonl", stream, "--no-progress"]) == Exit.FAILED
    assert "in.jsonl:1: invalid generic event, not sent:" in capsys.readouterr().err


def test_deeply_nested_jsonl_lines_are_reported_and_the_rest_sent(intake, tmp_path, capsys):
    stream = write_lines(
        tmp_path / "in.jsonl",
        json.dumps({"summary": "before"}),
        DEEP,
        json.dumps({"summary": "after"}),
    )
    assert main(["send", "--jsonl", stream, "--no-progress"]) == Exit.FAILED
    out, err = capsys.readouterr()
    assert f"{stream}:2: not sent: JSON nested too deeply" in err
    assert out.startswith("sent 2, failed 1")
    assert [e.document["summary"] for e in intake.events] == ["before", "after"]


def test_a_deeply_nested_json_file_is_a_usage_error(intake, tmp_path, capsys):
    whole = tmp_path / "deep.json"
    whole.write_text(DEEP)
    assert main(["send", "--json", str(whole)]) == Exit.USAGE
    assert "JSON nested too deeply" in capsys.readouterr().err


def test_401_hints_at_mozdef_token_and_headers(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MOZDEF_TOKEN", raising=False)
    with Receiver(token="needed") as receiver:
        assert main(["send", "--url", receiver.url, "--summary", "x"]) == Exit.FAILED
        err = capsys.readouterr().err
        assert "answered HTTP 401" in err
        assert "MOZDEF_TOKEN" in err and "headers=" in err
        stream = write_lines(tmp_path / "in.jsonl", json.dumps({"summary": "x"}))
        assert main(["send", "--url", receiver.url, "--jsonl", stream, "--no-progress"]) == 1
        assert "MOZDEF_TOKEN" in capsys.readouterr().out
        monkeypatch.setenv("MOZDEF_TOKEN", "needed")
        assert main(["send", "--url", receiver.url, "--summary", "x"]) == Exit.OK


def test_a_refused_connection_hints_at_the_url_and_mozdef_being_up(capsys, monkeypatch):
    monkeypatch.delenv("MOZDEF_TOKEN", raising=False)
    url = f"http://127.0.0.1:{free_port()}/events"
    assert main(["send", "--url", url, "--summary", "x"]) == Exit.FAILED
    err = capsys.readouterr().err
    assert "hint: the connection was refused: check the URL" in err
    assert "is up" in err


def test_host_and_port_without_a_scheme_hints_at_http(capsys):
    assert main(["send", "--url", "localhost:8080", "--summary", "x"]) == Exit.USAGE
    assert "did you mean http://localhost:8080/events ?" in capsys.readouterr().err


def test_send_spool_dir_says_when_events_for_other_destinations_are_held(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("MOZDEF_TOKEN", raising=False)
    spool = str(tmp_path / "spool")
    dead = f"http://127.0.0.1:{free_port()}/events"
    stream = write_lines(
        tmp_path / "in.jsonl", *(json.dumps({"summary": f"{n}"}) for n in range(3))
    )
    args = ["--jsonl", stream, "--spool-dir", spool, "--no-progress", "--timeout", "0.3"]
    assert main(["send", "--url", dead, *args]) == Exit.FAILED
    capsys.readouterr()
    with Receiver() as receiver:
        assert main(["send", "--url", receiver.url, *args]) == Exit.OK
        err = capsys.readouterr().err
    assert "note: the spool also holds 3 events for other destinations" in err
    assert dead.replace("/events", "") in err
    assert f"mozdef-client spool {spool} status" in err
    assert os.path.isdir(spool)
