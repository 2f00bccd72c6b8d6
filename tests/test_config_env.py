"""Client settings from MOZDEF_* variables; explicit arguments win (issue 14, item 2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mozdef_client import Client, ConfigurationError, Event
from mozdef_client.config_env import VARIABLES
from mozdef_client.delivery.spool import LOCK_FILENAME
from mozdef_client.receiver import Receiver


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_several_comma_separated_urls_each_get_the_event(monkeypatch):
    with Receiver() as one, Receiver() as two:
        monkeypatch.setenv("MOZDEF_URL", f" {one.url} ,{two.bulk_url},")
        with Client() as client:
            assert client.destinations == [one.url, two.bulk_url]
            client.send(Event(summary="to both"))
        assert [e.document["summary"] for e in one.events + two.events] == ["to both"] * 2


def test_mozdef_token_is_sent_as_a_bearer_token(monkeypatch):
    monkeypatch.setenv("MOZDEF_TOKEN", "s3cret")
    with Receiver(token="s3cret") as receiver, Client(receiver.url) as client:
        client.send(Event(summary="authorised"))
        assert len(receiver.events) == 1
        assert "s3cret" not in repr(client)


def test_an_explicit_authorization_header_wins_over_mozdef_token(monkeypatch):
    monkeypatch.setenv("MOZDEF_TOKEN", "wrong")
    headers = {"authorization": "Bearer right"}
    with Receiver(token="right") as receiver, Client(receiver.url, headers=headers) as client:
        client.send(Event(summary="explicit wins"))
        assert len(receiver.events) == 1


def test_mozdef_mode_and_spool_dir_make_a_durable_client(monkeypatch, tmp_path):
    monkeypatch.setenv("MOZDEF_MODE", "durable")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MOZDEF_SPOOL_DIR", "~/spool")
    with Receiver() as receiver:
        client = Client(receiver.url)
        assert client.mode == "durable"
        client.send(Event(summary="spooled"))
        assert client.flush(10) == 0
        client.close()
        assert receiver.events[0].document["summary"] == "spooled"
    assert (tmp_path / "spool" / LOCK_FILENAME).exists()  # ~ expanded


def test_an_explicit_mode_wins_over_mozdef_mode(monkeypatch):
    monkeypatch.setenv("MOZDEF_MODE", "durable")  # and no spool: would fail if used
    monkeypatch.setenv("MOZDEF_SPOOL_DIR", "/nonexistent/never/used")
    with Receiver() as receiver, Client(receiver.url, mode="sync") as client:
        assert client.mode == "sync"
        client.send(Event(summary="sync"))


def test_spool_dir_argument_expands_the_home_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    with Receiver() as receiver:
        client = Client(receiver.url, mode="durable", spool_dir="~/myspool")
        client.close()
    assert (tmp_path / "myspool" / LOCK_FILENAME).exists()
    assert not Path("~").exists()


def test_spool_dir_in_sync_mode_is_an_error(tmp_path):
    with pytest.raises(ConfigurationError, match="spool_dir is only used in"):
        Client("http://127.0.0.1:9/events", spool_dir=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_verify_ca_bundle_and_timeouts_come_from_the_environment(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    monkeypatch.setenv("MOZDEF_VERIFY", "no")
    monkeypatch.setenv("MOZDEF_CONNECT_TIMEOUT", "1.5")
    monkeypatch.setenv("MOZDEF_READ_TIMEOUT", "7")
    client = Client("https://127.0.0.1:9/events")
    options = client._transports[0]._options  # type: ignore[attr-defined]
    assert (options.verify, options.connect_timeout, options.read_timeout) == (False, 1.5, 7.0)
    client = Client("https://127.0.0.1:9/events", verify=True, read_timeout=3)
    options = client._transports[0]._options  # type: ignore[attr-defined]
    assert (options.verify, options.read_timeout) == (True, 3)  # arguments win
    monkeypatch.setenv("MOZDEF_CA_BUNDLE", str(bundle))
    monkeypatch.delenv("MOZDEF_VERIFY")
    with pytest.raises(ConfigurationError, match=r"ca\.pem"):  # read: the file is missing
        Client("https://127.0.0.1:9/events")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOZDEF_MODE", "fast"),
        ("MOZDEF_VERIFY", "maybe"),
        ("MOZDEF_CONNECT_TIMEOUT", "soon"),
        ("MOZDEF_READ_TIMEOUT", "-1"),
        ("MOZDEF_READ_TIMEOUT", "nan"),
        ("MOZDEF_TOKEN", "caf\u00e9\u2026"),
        ("MOZDEF_TOKEN", "a\nb"),
    ],
)
def test_an_invalid_value_is_a_configuration_error_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name) as caught:
        Client("http://127.0.0.1:9/events")
    if name == "MOZDEF_TOKEN":
        assert value not in str(caught.value)


def test_no_destination_at_all_names_mozdef_url():
    with pytest.raises(ConfigurationError, match="MOZDEF_URL"):
        Client()
    os.environ["MOZDEF_URL"] = " , "
    try:
        with pytest.raises(ConfigurationError, match="MOZDEF_URL"):
            Client()
    finally:
        del os.environ["MOZDEF_URL"]


def test_serve_stops_on_sigint_even_when_started_with_sigint_ignored():
    """A non-interactive shell's background job starts with SIGINT ignored (issue 11, 19)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mozdef_client", "serve", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert process.stdout is not None
        banner = ""
        deadline = time.monotonic() + 30
        while "stop with Ctrl-C" not in banner and time.monotonic() < deadline:
            banner += process.stdout.readline()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "received 0 events in 0 requests" in out


def test_mozdef_mode_durable_without_a_spool_says_which_variables(monkeypatch):
    monkeypatch.setenv("MOZDEF_MODE", "durable")
    with pytest.raises(ConfigurationError, match=r"MOZDEF_SPOOL_DIR.*MOZDEF_MODE asks"):
        Client("http://127.0.0.1:9/events")
