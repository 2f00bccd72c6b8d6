"""Helpers shared by the delivery pipeline's tests: fast options, numbered events, peers."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mozdef_client import Client, Event
from mozdef_client.delivery import DeliveryOptions, RetryPolicy

TESTS = Path(__file__).parent

# Small waits, so a test of retries takes fractions of a second.
FAST_RETRY = RetryPolicy(backoff_initial=0.01, backoff_max=0.2)


def fast(**changes: Any) -> DeliveryOptions:
    """DeliveryOptions for tests: quick retries and flushes; ``changes`` override."""
    options: dict[str, Any] = {"retry": FAST_RETRY, "flush_interval": 0.05, "exit_timeout": None}
    options.update(changes)
    return DeliveryOptions(**options)


def send_numbered(client: Client, numbers: Iterable[int], label: str = "n") -> list[bool]:
    """Send one event per number; each carries it in ``details[label]``."""
    return [client.send(Event(summary=f"event {n}", details={label: n})) for n in numbers]


def numbers_of(events: Iterable[dict[str, Any]], label: str = "n") -> list[int]:
    return [event["details"][label] for event in events if label in event.get("details", {})]


def assert_each_once(received: list[int], expected: Iterable[int]) -> None:
    """Every expected number arrived, exactly once, and nothing else did."""
    counts = collections.Counter(received)
    twice = sorted(n for n, c in counts.items() if c > 1)
    assert not twice, f"{len(twice)} events arrived more than once, e.g. {twice[:5]}"
    expected = set(expected)
    missing = sorted(expected - set(counts))
    assert not missing, f"{len(missing)} events never arrived, e.g. {missing[:5]}"
    extra = sorted(set(counts) - expected)
    assert not extra, f"unexpected events arrived: {extra[:5]}"


def wait_until(condition: Any, timeout: float = 20.0, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {message}")
        time.sleep(0.02)


class ReceiverProcess:
    """``python tests/servers.py PORT LOG`` as a process that can be killed and restarted.

    The log gets every accepted event (one JSON line) before it is answered.
    """

    def __init__(self, port: int, log: Path, chaos: bool = False) -> None:
        self.port = port
        self.log = log
        self.chaos = chaos  # refuse some requests with 503, 429 and 413
        self.url = f"http://127.0.0.1:{port}/events"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        # A restart can find the port briefly taken: a client retrying a dead
        # loopback port in the ephemeral range may connect to itself on it.
        for _ in range(50):
            self.process = subprocess.Popen(
                [sys.executable, str(TESTS / "servers.py"), str(self.port), str(self.log)]
                + (["chaos"] if self.chaos else []),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert self.process.stdout is not None
            if self.process.stdout.readline().strip() == "ready":
                return
            self.process.wait(10)
            self.process.stdout.close()
            time.sleep(0.05)
        raise AssertionError(f"the receiver could not listen on port {self.port}")

    def kill(self) -> None:
        """Kill it at once: connections drop, unanswered requests are lost."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        # The last line may be half-written while the receiver runs: leave it out.
        lines = self.log.read_text().split("\n")[:-1]
        return [json.loads(line) for line in lines if line]

    def close(self) -> None:
        if self.process is not None:
            self.kill()


def python_env() -> dict[str, str]:
    """The environment for a Python subprocess that imports this project and the helpers."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env
