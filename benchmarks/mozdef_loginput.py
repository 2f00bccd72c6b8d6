"""Throughput into real MozDef: /_bulk through MozDef's own loginput vs AMQP direct.

Runs MozDef's unmodified ``loginput/index.py`` from the peer kit
(``<repo>/../shared/peers/mozdef`` or ``$MOZDEF_PEER_KIT``; its venv is
``$MOZDEF_PEER_VENV``, default ``~/.cache/mozdef-peer-venv``, made by the kit's
``setup.sh``) in front of the local RabbitMQ, on a private exchange with one
capture queue, and times each way of getting N events into that exchange:

- ``Client(".../_bulk", mode="background")``: the library's JSON-array batches;
- pre-encoded JSON arrays of 1,000 events over one connection: loginput's own
  ceiling (it publishes one message per event, from one thread);
- ``Client(".../events")`` in sync mode: one event per request;
- ``Client("amqp://...", mode="background")``: straight into RabbitMQ,
  publisher confirms, no loginput.

Each time runs from the first send until RabbitMQ holds every event (checked
by counting the capture queue). Not a test; prints a table.

    python benchmarks/mozdef_loginput.py [--events 10000] [--events-single 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3

from mozdef_client import Client, Event

REPO = Path(__file__).resolve().parents[1]


def kit() -> Path:
    return Path(os.environ.get("MOZDEF_PEER_KIT") or REPO.parent / "shared" / "peers" / "mozdef")


def venv_python(kit_dir: Path) -> Path:
    venv = Path(os.environ.get("MOZDEF_PEER_VENV") or Path.home() / ".cache/mozdef-peer-venv")
    subprocess.run(["bash", str(kit_dir / "setup.sh"), str(venv)], check=True, stdout=sys.stderr)
    return venv / "bin" / "python"


class Intake:
    """loginput on a free port publishing to a private exchange, one capture queue."""

    def __init__(self) -> None:
        self.kit = kit()
        self.python = venv_python(self.kit)
        self.exchange = f"mozdef-client-bench-{uuid.uuid4().hex[:8]}"
        self.queue = self.exchange + ".capture"
        self._run("capture.py", "declare", self.queue)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - loginput writes to it until close()
        self._channel: Any = None
        self.process = subprocess.Popen(
            [str(self.python), str(self.kit / "loginput.py"), "0", "--exchange", self.exchange],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit("MozDef's loginput did not start")
        self.base = f"http://127.0.0.1:{line.split()[1]}"
        self.amqp = (
            f"amqp://guest:guest@127.0.0.1:5672/%2F?exchange={self.exchange}"
            f"&routing_key={self.exchange}"
        )

    def _run(self, script: str, *args: str) -> str:
        result = subprocess.run(
            [str(self.python), str(self.kit / script), *args, "--exchange", self.exchange],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return result.stdout

    def waiting(self) -> int:
        if self._channel is None:
            import pika  # the dev extra has it; a passive declare counts without a subprocess

            connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
            self._channel = connection.channel()
        declared = self._channel.queue_declare(self.queue, passive=True)
        return int(declared.method.message_count)

    def wait_for(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while (waiting := self.waiting()) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {waiting} of {count} events reached RabbitMQ")
            time.sleep(0.005)
        if waiting != count:
            raise SystemExit(f"{waiting} messages for {count} events: MozDef published junk")

    def purge(self) -> None:
        self._run("capture.py", "purge", self.queue)

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        self._log.close()
        if self._channel is not None:
            self._channel.connection.close()
        self._run("capture.py", "delete", self.queue, self.exchange)
        self._run("capture.py", "delete-exchange")


def event(number: int) -> Event:
    return Event(
        summary=f"login succeeded for user{number}",
        category="authentication",
        source="sso",
        tags=["sso", "bench"],
        details={"username": f"user{number}", "success": True},
    )


def timed(intake: Intake, count: int, send: Callable[[], None]) -> float:
    intake.purge()
    start = time.perf_counter()
    send()
    intake.wait_for(count)
    return count / (time.perf_counter() - start)


def through_client(url: str, count: int, mode: str) -> Callable[[], None]:
    def send() -> None:
        with Client(url, mode=mode) as client:  # type: ignore[arg-type]
            for number in range(count):
                client.send(event(number))
            assert client.flush(120) == 0
            assert client.stats().delivered == count

    return send


def pre_encoded(url: str, count: int, batch: int = 1000) -> Callable[[], None]:
    bodies = []
    for first in range(0, count, batch):
        documents = [event(n).to_document() for n in range(first, min(first + batch, count))]
        bodies.append(json.dumps(documents, separators=(",", ":")).encode())
    pool = urllib3.PoolManager(retries=False)

    def send() -> None:
        for body in bodies:
            response = pool.request("POST", url, body=body,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
            assert response.status == 200

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--events-single", type=int, default=1_000,
                        help="events for /events, one a request (slow)")  # fmt: skip
    args = parser.parse_args()
    intake = Intake()
    try:
        n, single = args.events, args.events_single
        rows = [
            ("/_bulk, Client background (JSON arrays)", n,
             timed(intake, n, through_client(intake.base + "/_bulk", n, "background"))),
            ("/_bulk, pre-encoded arrays of 1,000", n,
             timed(intake, n, pre_encoded(intake.base + "/_bulk", n))),
            ("/events, Client sync (one a request)", single,
             timed(intake, single, through_client(intake.base + "/events", single, "sync"))),
            ("AMQP direct, Client background (confirms)", n,
             timed(intake, n, through_client(intake.amqp, n, "background"))),
        ]  # fmt: skip
    finally:
        intake.close()
    print(f"{'into MozDef RabbitMQ via':<44} {'events':>7} {'events/s':>9}")
    for name, count, rate in rows:
        print(f"{name:<44} {count:>7} {rate:>9,.0f}")


if __name__ == "__main__":
    main()
