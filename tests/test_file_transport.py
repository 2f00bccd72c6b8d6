"""The file transport: newline-delimited JSON appended to a real file."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from mozdef_client import (
    Client,
    EncodedEvent,
    Event,
    FileTransport,
    PermanentError,
    prepare,
)


def encoded(summary: str = "test event", **fields: object) -> EncodedEvent:
    return prepare(Event(summary=summary, **fields))  # type: ignore[arg-type]


def test_events_are_appended_one_json_line_each(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"earlier":"line"}\n')
    transport = FileTransport(str(path))
    first = [encoded("one"), encoded("two")]
    second = [encoded("three")]
    transport.send(first)
    transport.send(second)

    lines = path.read_bytes().splitlines()
    assert lines == [b'{"earlier":"line"}'] + [event.payload for event in first + second]
    assert [json.loads(line).get("summary") for line in lines[1:]] == ["one", "two", "three"]
    assert path.read_bytes().endswith(b"\n")


def test_a_new_file_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    previous = os.umask(0o022)  # the usual umask would allow 0644
    try:
        FileTransport(str(path)).send([encoded()])
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_files_mode_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    path.touch()
    path.chmod(0o640)
    FileTransport(str(path)).send([encoded()])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_directory_is_a_permanent_error_naming_it(tmp_path: Path) -> None:
    transport = FileTransport(str(tmp_path))
    with pytest.raises(PermanentError) as caught:
        transport.send([encoded()])
    assert str(tmp_path) in str(caught.value)
    assert caught.value.destination == f"file://{tmp_path}"
    assert isinstance(caught.value.__cause__, IsADirectoryError)


def test_a_file_url_writes_to_that_path(tmp_path: Path) -> None:
    path = tmp_path / "via-url.jsonl"
    with Client(f"file://{path}") as client:
        client.send(Event(summary="via file URL"))
    [line] = path.read_bytes().splitlines()
    assert json.loads(line)["summary"] == "via file URL"


def test_a_dash_writes_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    event = encoded("to stdout")
    FileTransport("-").send([event])
    assert capsys.readouterr().out.encode() == event.payload + b"\n"


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    """Two transports on one file, several threads each: every line stays whole."""
    path = tmp_path / "busy.jsonl"
    transports = [FileTransport(str(path)), FileTransport(str(path))]
    batch = [encoded("x" * 5000, details={"thread": str(i)}) for i in range(10)]

    def write(transport: FileTransport) -> None:
        for _ in range(20):
            transport.send(batch)

    threads = [threading.Thread(target=write, args=(transports[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 6 * 20 * 10
    assert set(lines) == {event.payload for event in batch}
