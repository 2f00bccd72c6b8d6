"""Shared fixtures: real peers on loopback, started and stopped per test."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from servers import Receiver, SyslogSink, free_port


@pytest.fixture(autouse=True)
def _close_fire_and_forget_clients() -> Iterator[None]:
    """Fire-and-forget tests leave process-wide background clients behind
    (some aimed at receivers that are gone): close them with each test, so
    none retries into later tests or reports lost events at exit."""
    yield
    from mozdef_client.legacy import close_fire_and_forget

    close_fire_and_forget(timeout=0)


@pytest.fixture
def intake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The development receiver, named by MOZDEF_URL, with no other MOZDEF_*
    setting of the environment in the way (the CLI's tests; modules that
    need a bare receiver define their own ``intake``)."""
    from mozdef_client.config_env import URL, VARIABLES
    from mozdef_client.receiver import Receiver as DevelopmentReceiver

    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with DevelopmentReceiver() as development:
        monkeypatch.setenv(URL, development.url)
        yield development


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP receiver on a free loopback port, recording what it gets."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def syslog_sink() -> Iterator[SyslogSink]:
    """A unix datagram socket standing in for /dev/log."""
    sink = SyslogSink()
    yield sink
    sink.close()


# --- SQS: moto's server on loopback ------------------------------------------------


@dataclass
class MotoSQS:
    """moto's SQS server in a thread, recording each API call it answers.

    ``calls`` holds ``(action, request JSON)`` pairs, e.g. ``("SendMessageBatch",
    {"QueueUrl": ..., "Entries": [...]})``, so tests can see how a batch was split.
    """

    url: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def calls_of(self, action: str, queue_url: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == action and
                body.get("QueueUrl") == queue_url]  # fmt: skip


def _recording(app: Any, calls: list[tuple[str, dict[str, Any]]]) -> Any:
    """WSGI middleware noting the action and JSON body of each request."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        if action:
            calls.append((action, json.loads(body or b"{}")))
        return app(environ, start_response)

    return wrapped


@pytest.fixture(scope="session")
def moto_sqs() -> Iterator[MotoSQS]:
    """moto's ThreadedMotoServer on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    sqs = MotoSQS(f"http://127.0.0.1:{port}")
    # The only way to watch the requests without a proxy: wrap the server's app.
    server._server.app = _recording(server._server.app, sqs.calls)  # type: ignore[union-attr]
    yield sqs
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake AWS credentials and region; the user's own AWS config is never read."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
