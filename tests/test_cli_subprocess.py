"""The command as users run it: a separate process, signals, pipes, real stdin.

``python -m mozdef_client`` is used throughout; one test checks that the
installed ``mozdef-client`` script is the same command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from mozdef_client import __version__
from mozdef_client.cli import Exit
from mozdef_client.receiver import Receiver

COMMAND = [sys.executable, "-m", "mozdef_client"]
HTTP = urllib3.PoolManager(retries=False, timeout=10)


def run(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **kwargs.pop("env", {})}
    env.pop("MOZDEF_TOKEN", None)
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=120, env=env, **kwargs
    )


class Server:
    """``mozdef-client serve`` in a subprocess, on a free port it reports."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert self.process.stdout is not None
        self.banner = ""
        deadline = time.monotonic() + 30
        while "stop with Ctrl-C" not in self.banner:
            line = self.process.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start: {self.banner!r}")
            self.banner += line
        found = re.search(r"http://127\.0\.0\.1:(\d+)", self.banner)
        assert found, self.banner
        self.url = f"http://127.0.0.1:{found.group(1)}"

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()


def event(summary: str, **fields: object) -> bytes:
    document = {
        "timestamp": "2026-11-26T14:05:48+00:00",
        "hostname": "web1",
        "processname": "app",
        "severity": "WARNING",
        "category": "authentication",
        "summary": summary,
        **fields,
    }
    return json.dumps(document).encode()


def test_python_m_is_the_command():
    result = run("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"mozdef-client {__version__}")


def test_the_installed_script_is_the_same_command():
    script = shutil.which("mozdef-client", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == f"mozdef-client {__version__}"


def test_a_usage_error_exits_2():
    result = run("send", "--severity")
    assert result.returncode == 2
    assert "expected one argument" in result.stderr


def test_demo_exits_0_and_shows_what_arrived():
    result = run("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "16 of 16 events arrived, 0 of them invalid." in result.stdout


def test_serve_prints_events_stores_them_and_summarises_on_ctrl_c(tmp_path, servers):
    jsonl, db = tmp_path / "events.jsonl", tmp_path / "events.db"
    server = Server("--jsonl", str(jsonl), "--sqlite", str(db))
    servers.append(server)
    assert f"storing events in JSONL file {jsonl}" in server.banner
    assert HTTP.request("POST", server.url + "/events", body=event("login failed")).status == 200
    bulk = event("one") + b"\n" + b'{"summary": "bare"}' + b"\n"
    assert HTTP.request("POST", server.url + "/_bulk", body=bulk).status == 200
    assert HTTP.request("POST", server.url + "/events", body=b"{oops").status == 500
    status, out, err = server.stop(signal.SIGINT)
    assert status == 0, err
    lines = out.splitlines()
    expected = ["WARNING", "authentication", "login", "failed"]
    assert any(line.split()[1:] == expected for line in lines)
    assert "    warning: timestamp is missing (recommended); hostname is missing" in out
    assert lines[-3:] == [
        "received 3 events in 2 requests: 0 invalid, 1 with warnings; 1 requests refused",
        "  by category: authentication 2, - 1",
        "  by severity: WARNING 2, - 1",
    ]
    assert [json.loads(line)["summary"] for line in jsonl.read_text().splitlines()] == [
        "login failed",
        "one",
        "bare",
    ]
    assert db.exists()
    assert err == ""


def test_serve_quiet_prints_no_events_and_sigterm_stops_it_cleanly(servers):
    server = Server("--quiet")
    servers.append(server)
    assert HTTP.request("POST", server.url + "/events", body=event("hidden")).status == 200
    status, out, _ = server.stop(signal.SIGTERM)
    assert status == 0
    assert "hidden" not in out
    assert out.splitlines()[-3].startswith("received 1 events in 1 requests")


def test_serve_with_a_token_from_the_environment_never_prints_it(servers):
    server = Server(env={"MOZDEF_RECEIVER_TOKEN": "sup3rsecret"})
    servers.append(server)
    assert "Authorization: Bearer <token>" in server.banner
    refused = HTTP.request("POST", server.url + "/events", body=event("x"))
    accepted = HTTP.request(
        "POST",
        server.url + "/events",
        body=event("x"),
        headers={"Authorization": "Bearer sup3rsecret"},
    )
    assert (refused.status, accepted.status) == (401, 200)
    _, out, err = server.stop()
    assert "sup3rsecret" not in out + err + server.banner


def test_serve_on_a_port_in_use_exits_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run("serve", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1" in result.stderr


def test_serve_survives_abuse_from_other_processes(servers):
    server = Server("--quiet", "--timeout", "1")
    servers.append(server)
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    garbage = b"\x00\xff garbage\r\n\r\n"
    stalled = b"POST /events HTTP/1.1\r\nContent-Length: 99\r\n\r\n"
    for junk in (garbage, stalled):
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(junk)
            sock.recv(1024)
    assert HTTP.request("GET", server.url + "/status").status == 200
    assert server.process.poll() is None
    status, _, err = server.stop()
    assert status == 0 and err == ""


def test_send_streams_stdin_line_by_line_as_lines_come(tmp_path):
    """``tail -F app.jsonl | mozdef-client send --jsonl -``: events go before stdin ends."""
    with Receiver() as receiver:
        process = subprocess.Popen(
            [*COMMAND, "send", "--jsonl", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "MOZDEF_URL": receiver.url},
        )
        assert process.stdin is not None
        try:
            process.stdin.write(event("first") + b"\n")
            process.stdin.flush()
            assert receiver.wait_for_events(1, timeout=30), "the first line was not sent early"
            rest = b"not json\n" + event("second") + b"\n"
            out, err = process.communicate(rest, timeout=60)  # then stdin ends
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 1
        assert out.decode() == ("sent 2, failed 1, dead-lettered 0 (1 invalid lines not sent)\n")
        assert "<stdin>:2: not valid JSON, not sent" in err.decode()
        assert "━" not in err.decode()  # no progress display for stdin
        assert [e.document["summary"] for e in receiver.events] == ["first", "second"]


def test_send_sigterm_stops_a_stream_with_a_summary_and_exit_130():
    with Receiver() as receiver:
        process = subprocess.Popen(
            [*COMMAND, "send", "--jsonl", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "MOZDEF_URL": receiver.url},
        )
        assert process.stdin is not None
        try:
            process.stdin.write(event("before the signal") + b"\n")
            process.stdin.flush()
            assert receiver.wait_for_events(1, timeout=30)
            process.send_signal(signal.SIGTERM)
            out, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130
    assert out.decode().startswith("sent 1, failed 0, dead-lettered 0 (interrupted)")


def run_with_terminal_stderr(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal, as in a person's shell."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "COLUMNS": "160", **env},
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    out, _ = process.communicate(timeout=120)
    os.close(leader)
    return process.returncode, out.decode(), seen.decode(errors="replace")


def test_send_a_file_shows_progress_in_events_on_a_terminal_only(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(event(f"n{n}") for n in range(300)) + b"\n{oops\n")
    with Receiver() as receiver:
        env = {"MOZDEF_URL": receiver.url}
        status, out, terminal = run_with_terminal_stderr("send", "--jsonl", str(path), env=env)
        piped = run("send", "--jsonl", str(path), env=env)
    assert status == Exit.FAILED
    assert out == "sent 300, failed 1, dead-lettered 0 (1 invalid lines not sent)\n"
    assert "sending events.jsonl" in terminal  # rich's display, on stderr
    # It counts events delivered and failed, not bytes read.
    assert "300/301 events delivered, 1 failed" in terminal
    assert "MB" not in terminal and "kB" not in terminal
    # Not a terminal: no display, only the bad line's report; the summary as ever.
    assert piped.stderr.splitlines() == [f"{path}:301: not valid JSON, not sent: "
                                         "Expecting property name enclosed in double quotes: "
                                         "line 1 column 2 (char 1)"]  # fmt: skip
    assert piped.stdout == out


def test_importing_the_cli_does_not_import_rich_or_the_receiver():
    code = (
        "import sys, mozdef_client.cli, mozdef_client.cli.send, mozdef_client.cli.validate;"
        "print(sorted(m for m in ('rich', 'mozdef_client.receiver') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


# What only running a command needs: --help must stay fast without them.
HEAVY = (
    "urllib3", "sqlite3", "ssl", "http.server", "socketserver", "rich", "boto3", "pika",
    "mozdef_client.client", "mozdef_client.delivery", "mozdef_client.transports",
    "mozdef_client.receiver", "mozdef_client.legacy",
)  # fmt: skip


@pytest.mark.parametrize(
    "argv", [["--help"], ["send", "--help"], ["serve", "--help"], ["spool", "x", "--help"]]
)
def test_help_imports_no_transport_no_receiver_and_no_client(argv):
    code = (
        "import contextlib, io, sys\n"
        "from mozdef_client.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    status = main({argv!r})\n"
        "assert status == 0 and 'usage: mozdef-client' in out.getvalue(), out.getvalue()\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_validate_from_stdin_exits_1_naming_the_field():
    document = {"summary": "c", "category": "complianceitems", "details": {"target": "web1"}}
    result = run("validate", "-", input=json.dumps(document) + "\n")
    assert result.returncode == 1
    assert "<stdin>:1: error: details.policy is missing (compliance event)" in result.stdout
