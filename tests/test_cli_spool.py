"""``mozdef-client spool DIR status|replay|purge|export`` on a real durable spool."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from mozdef_client import Client, DeliveryOptions, Event
from mozdef_client.cli import Exit, main
from mozdef_client.receiver import Receiver
from servers import free_port


@pytest.fixture
def spool(tmp_path, monkeypatch) -> Path:
    """A spool holding 3 events for a dead destination and 2 dead letters (401)."""
    monkeypatch.delenv("MOZDEF_TOKEN", raising=False)
    directory = tmp_path / "spool"
    dead = f"http://127.0.0.1:{free_port()}/events"
    client = Client(dead, mode="durable", spool_dir=str(directory))
    for n in range(3):
        client.send(Event(summary=f"pending {n}"))
    client.close(0)
    with Receiver(token="needed") as refusing:
        client = Client(refusing.url, mode="durable", spool_dir=str(directory))
        for n in range(2):
            client.send(Event(summary=f"refused {n}"))
        client.flush(10)
        client.close(1)
    return directory


def test_status_shows_pending_per_destination_and_dead_letters_by_reason(spool, capsys):
    assert main(["spool", str(spool), "status"]) == Exit.OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"spool {spool}"
    assert out[1].startswith("pending: 3 events, ")
    assert out[2].startswith("  http://127.0.0.1:") and ": 3 events, " in out[2]
    assert out[2].endswith("s old")
    assert out[3] == "dead letters: 2 (by destination and reason):"
    assert ": 2 events: " in out[4] and "HTTP 401" in out[4]


def test_export_prints_pending_events_or_dead_letters_as_jsonl(spool, capsys):
    assert main(["spool", str(spool), "export"]) == Exit.OK
    pending = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["summary"] for d in pending] == ["pending 0", "pending 1", "pending 2"]
    assert main(["spool", str(spool), "export", "dead-letters", "--envelope"]) == Exit.OK
    letters = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["document"]["summary"] for d in letters] == ["refused 0", "refused 1"]
    assert all("401" in d["error"] and d["destination"].endswith("/events") for d in letters)


def test_replay_puts_dead_letters_back_into_the_queue(spool, capsys):
    assert main(["spool", str(spool), "replay"]) == Exit.OK
    assert "moved 2 dead letters back into the queue" in capsys.readouterr().out
    main(["spool", str(spool), "status"])
    out = capsys.readouterr().out
    assert "pending: 5 events" in out and "dead letters: 0" in out
    # A durable client for that destination now delivers them.
    main(["spool", str(spool), "export", "dead-letters"])
    assert capsys.readouterr().out == ""


def test_purge_without_yes_asks_and_refuses_without_a_terminal(spool, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["spool", str(spool), "purge"]) == Exit.USAGE
    err = capsys.readouterr().err
    assert "purge would delete 3 pending events and 2 dead letters; add --yes" in err
    assert main(["spool", str(spool), "purge", "dead-letters", "--yes"]) == Exit.OK
    assert capsys.readouterr().out == "deleted 0 pending events and 2 dead letters\n"
    assert main(["spool", str(spool), "purge", "--yes"]) == Exit.OK
    assert capsys.readouterr().out == "deleted 3 pending events and 0 dead letters\n"
    main(["spool", str(spool), "status"])
    assert "pending: 0 events" in capsys.readouterr().out


def test_purge_asks_on_a_terminal_and_keeps_everything_unless_told_yes(spool, tmp_path):
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "mozdef_client", "spool", str(spool), "purge", "pending"]
    process = subprocess.Popen(command, stdin=follower, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    os.write(leader, b"n\n")
    out, err = process.communicate(timeout=60)
    os.close(follower)
    os.close(leader)
    assert "delete 3 pending events and 0 dead letters from" in err
    assert process.returncode == Exit.FAILED and out == "nothing deleted\n"


def test_a_directory_without_a_spool_is_a_usage_error(tmp_path, capsys):
    assert main(["spool", str(tmp_path), "status"]) == Exit.USAGE
    assert "no spool in" in capsys.readouterr().err


def test_replayed_dead_letters_are_delivered_by_the_next_durable_client(spool, monkeypatch):
    main(["spool", str(spool), "replay"])
    letters_for = next(line for line in _export(spool) if "refused" in line["document"]["summary"])
    destination = letters_for["destination"]
    port = int(destination.split(":")[2].split("/")[0])
    with Receiver(port=port) as receiver:
        client = Client(destination, mode="durable", spool_dir=str(spool),
                        delivery=DeliveryOptions(flush_interval=0.05))  # fmt: skip
        assert client.flush(10) == 0
        client.close(1)
        assert sorted(e.document["summary"] for e in receiver.events) == ["refused 0", "refused 1"]


def _export(spool: Path) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "mozdef_client", "spool", str(spool), "export", "--envelope"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in result.stdout.splitlines()]
