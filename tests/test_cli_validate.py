"""``mozdef-client validate``: every broken rule at once, --strict, --format json,
concatenated pretty-printed documents, and JSON nested too deeply (issue 11, item 9)."""

from __future__ import annotations

import json

from mozdef_client.cli import Exit, main

BROKEN_COMPLIANCE = {
    "category": "complianceitems",
    "summary": "check",
    "severity": "LOUD",
    "tags": ["ok", 3],
    "details": {"target": "web1", "policy": {"level": "x"}, "check": {"test": {}}},
}


def test_every_broken_rule_of_a_document_is_reported_at_once(tmp_path, capsys):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(BROKEN_COMPLIANCE))
    assert main(["validate", str(path)]) == Exit.FAILED
    out = capsys.readouterr().out
    errors = [line for line in out.splitlines() if ": error: " in line]
    messages = [line.split(": error: ", 1)[1] for line in errors]
    assert "tags[1] must be a string (compliance event)" in messages
    assert any(m.startswith("'LOUD' is not a severity") or "LOUD" in m for m in messages)
    for field in (
        "details.compliance",
        "details.link",
        "details.utctimestamp",
        "details.policy.name",
        "details.policy.url",
        "details.check.description",
        "details.check.name",
        "details.check.test.type",
        "details.check.test.value",
    ):
        assert f"{field} is missing (compliance event)" in messages, field
    assert len(messages) == len(set(messages))  # each once
    assert out.endswith("checked 1 events: 1 invalid, 0 with warnings\n")


def test_no_finding_repeats_itself_on_one_line(tmp_path, capsys):
    path = tmp_path / "bare.jsonl"
    path.write_text('{"summary": "bare"}\n')
    main(["validate", str(path)])
    (line,) = [line for line in capsys.readouterr().out.splitlines() if ": warning: " in line]
    assert line.endswith(
        "warning: recommended fields missing: timestamp, hostname, processname, severity, category"
    )
    assert line.count("missing") == 1


def test_format_json_gives_counts_and_every_finding(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(BROKEN_COMPLIANCE) + "\n" + '{"summary": "bare"}\n{oops\n')
    assert main(["validate", "--format", "json", str(path)]) == Exit.FAILED
    report = json.loads(capsys.readouterr().out)
    assert (report["events"], report["invalid"], report["with_warnings"]) == (3, 2, 1)
    first = [f for f in report["findings"] if f["location"] == f"{path}:1"]
    assert {"location": f"{path}:1", "level": "error",
            "message": "details.link is missing (compliance event)",
            "field": "details.link"} in first  # fmt: skip
    assert any(f["location"] == f"{path}:3" and f["message"].startswith("not valid JSON")
               for f in report["findings"])  # fmt: skip


def test_format_json_with_strict_labels_warnings_as_errors(tmp_path, capsys):
    path = tmp_path / "bare.json"
    path.write_text('{"summary": "bare"}')
    assert main(["validate", "--strict", "--format", "json", str(path)]) == Exit.FAILED
    report = json.loads(capsys.readouterr().out)
    assert [f["level"] for f in report["findings"]] == ["error"]
    assert report["invalid"] == 1


def test_concatenated_pretty_printed_documents_get_a_clear_message(tmp_path, capsys):
    good = {"summary": "one", "category": "event", "severity": "INFO", "timestamp": "t",
            "hostname": "h", "processname": "p"}  # fmt: skip
    path = tmp_path / "jq-output.json"
    path.write_text(json.dumps(good, indent=2) + "\n" + json.dumps({"summary": 5}, indent=2))
    assert main(["validate", str(path)]) == Exit.FAILED
    out = capsys.readouterr().out
    second = json.dumps(good, indent=2).count("\n") + 2
    assert f"{path}:{second}: error: a second JSON document starts here" in out
    assert "Put them in a JSON array, or one per line (jq -c . FILE)" in out
    assert f"{path}:{second}: error: summary must be a string, not int" in out
    assert out.endswith("checked 2 events: 2 invalid, 0 with warnings\n")


def test_deeply_nested_json_is_reported_and_the_next_lines_checked(tmp_path, capsys):
    path = tmp_path / "deep.jsonl"
    deep = '{"summary": "deep", "details": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text(deep + '\n{"summary": 5}\n')
    assert main(["validate", str(path)]) == Exit.FAILED
    out = capsys.readouterr().out
    assert f"{path}:1: error: not checked: nested too deeply" in out
    assert f"{path}:2: error: summary must be a string, not int" in out
    assert out.endswith("checked 2 events: 2 invalid, 0 with warnings\n")


def test_one_deeply_nested_document_is_reported(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["validate", str(path)]) == Exit.FAILED
    assert "nested too deeply" in capsys.readouterr().out


def test_help_documents_the_exit_codes(capsys):
    for command in ("send", "validate"):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "exit codes: 0" in text and "1 some" in text and "2 " in text
