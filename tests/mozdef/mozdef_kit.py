"""MozDef's own intake, run from the real-MozDef peer kit, for the tests in this folder.

The kit (``<repo root>/../shared/peers/mozdef``, or ``$MOZDEF_PEER_KIT``) holds
MozDef's unmodified ``loginput/index.py`` and ``mq/esworker_eventtask.py`` with
its plugins, and scripts to run them; its virtualenv lives outside the clone
(``$MOZDEF_PEER_VENV``, default ``~/.cache/mozdef-peer-venv``) and is made by
the kit's own ``setup.sh`` (0.5 s once done). Everything runs on a private
exchange per session, so parallel runs and MozDef's real ``eventtask`` queue
see nothing of each other.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from amqp_helpers import require

REPO = Path(__file__).resolve().parents[2]
KIT_VARIABLE = "MOZDEF_PEER_KIT"
VENV_VARIABLE = "MOZDEF_PEER_VENV"


def kit_path() -> Path:
    return Path(os.environ.get(KIT_VARIABLE) or REPO.parent / "shared" / "peers" / "mozdef")


def venv_path() -> Path:
    default = Path.home() / ".cache" / "mozdef-peer-venv"
    return Path(os.environ.get(VENV_VARIABLE) or default)


class KitUnavailable(Exception):
    """The kit, its Python or RabbitMQ is missing: the reason says which."""


def set_up_venv(kit: Path, venv: Path) -> Path:
    """Run the kit's setup.sh (idempotent); the venv's python."""
    if not (kit / "setup.sh").is_file():
        raise KitUnavailable(f"no real-MozDef peer kit at {kit} (set {KIT_VARIABLE})")
    result = subprocess.run(
        ["bash", str(kit / "setup.sh"), str(venv)], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise KitUnavailable(f"the kit's setup.sh failed: {result.stderr.strip()[-800:]}")
    return venv / "bin" / "python"


@dataclass
class Worker:
    """What MozDef's worker did with one published message (esworker.py's record)."""

    body: Any
    outcome: str  # saved, dropped or error
    index: str | None
    id: str | None  # the document id MozDef chose (None: Elasticsearch picks one)
    doc: dict[str, Any] | None
    errors: list[str]


class MozDef:
    """loginput on a free port, a capture queue on a private exchange, and the worker."""

    def __init__(self, kit: Path, python: Path, workdir: Path) -> None:
        self.kit, self.python, self.workdir = kit, python, workdir
        self.exchange = f"mozdef-client-test-{uuid.uuid4().hex[:12]}"
        self.capture_queue = f"{self.exchange}.capture"
        self._loginput: subprocess.Popen[str] | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> MozDef:
        # The capture queue first: loginput publishes to an exchange, and
        # whatever finds no bound queue is gone.
        result = self._kit("capture.py", "declare", self.capture_queue)
        if result.returncode != 0:
            raise KitUnavailable(f"cannot reach RabbitMQ through the kit: {result.stderr.strip()}")
        log = open(self.workdir / "loginput.log", "w")  # noqa: SIM115 - the process keeps it
        self._loginput = subprocess.Popen(
            [str(self.python), str(self.kit / "loginput.py"), "0", "--exchange", self.exchange],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        line = self._loginput.stdout.readline() if self._loginput.stdout else ""
        if not line.startswith("PORT "):
            self.stop()
            raise KitUnavailable(
                "MozDef's loginput did not start: "
                + (self.workdir / "loginput.log").read_text()[-800:]
            )
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self._loginput is not None:
            self._loginput.send_signal(signal.SIGTERM)
            try:
                self._loginput.wait(10)
            except subprocess.TimeoutExpired:
                self._loginput.kill()
                self._loginput.wait()
            if self._loginput.stdout:
                self._loginput.stdout.close()
            self._loginput = None
        # loginput also declares a durable queue named after the exchange.
        self._kit("capture.py", "delete", self.capture_queue, self.exchange)
        self._kit("capture.py", "delete-exchange")

    # -- where to send ------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def amqp_url(self) -> str:
        """MozDef's RabbitMQ intake as loginput publishes to it (our private exchange)."""
        return (
            f"amqp://guest:guest@127.0.0.1:5672/%2F?exchange={self.exchange}"
            f"&routing_key={self.exchange}"
        )

    # -- what MozDef did ------------------------------------------------------------

    def drain(self, count: int, name: str = "published") -> list[dict[str, Any]]:
        """Every message published to the exchange so far (at least ``count`` awaited):
        ``{"body", "content_type", ...}`` each, the body decoded as MozDef's worker gets it."""
        out = self.workdir / f"{name}.jsonl"
        result = self._kit(
            "capture.py", "drain", self.capture_queue, "--count", str(count),
            "--idle", "1", "--timeout", "60", "--out", str(out), "--meta",
        )  # fmt: skip
        if result.returncode not in (0, 1):  # 1: fewer than count; the caller's asserts say so
            raise RuntimeError(f"capture.py drain failed: {result.stderr}")
        return [json.loads(line) for line in out.read_text().splitlines()]

    def index(self, published: list[Any], name: str = "worker") -> list[Worker]:
        """Run MozDef's worker (esworker_eventtask, every plugin) over ``published``."""
        source = self.workdir / f"{name}-input.jsonl"
        source.write_text("".join(json.dumps(body) + "\n" for body in published))
        out = self.workdir / f"{name}.jsonl"
        result = self._kit("esworker.py", "--input", str(source), "--out", str(out), timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"esworker.py exited {result.returncode}: {result.stderr[-2000:]}")
        return [Worker(**{k: r[k] for k in Worker.__dataclass_fields__}) for r in _lines(out)]

    def index_sqs(self, queue: str, endpoint: str, count: int) -> list[Worker]:
        """Run MozDef's SQS worker (esworker_sqs's own loop, every plugin) on ``queue``."""
        out = self.workdir / f"sqs-{queue}.jsonl"
        result = subprocess.run(
            [str(self.python), str(self.kit / "esworker.py"), "--sqs", queue,
             "--endpoint-url", endpoint, "--region", "us-east-1", "--count", str(count),
             "--idle", "1", "--timeout", "60", "--out", str(out)],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        )  # fmt: skip
        if result.returncode not in (0, 1):
            raise RuntimeError(f"esworker.py --sqs exited {result.returncode}: {result.stderr}")
        return [Worker(**{k: r[k] for k in Worker.__dataclass_fields__}) for r in _lines(out)]

    def _kit(
        self, script: str, *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), str(self.kit / script), *args, "--exchange", self.exchange],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def start_mozdef(workdir: Path) -> MozDef:
    """Set the kit up and start MozDef's intake; :class:`KitUnavailable` says why not."""
    if shutil.which("bash") is None:
        raise KitUnavailable("bash is needed to run the kit's setup.sh")
    kit = kit_path()
    python = set_up_venv(kit, venv_path())
    return MozDef(kit, python, workdir).start()


@pytest.fixture(scope="module", name="mozdef")
def mozdef_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MozDef]:
    """MozDef's loginput on a free port, publishing to a private exchange we capture.

    Imported by the test modules here (a conftest.py in this folder would shadow
    tests/conftest.py, which other modules import by name). Skips when the kit,
    its Python or RabbitMQ is missing; fails instead under
    MOZDEF_TEST_REQUIRE_SERVICES=1 (CI).
    """
    try:
        intake = start_mozdef(tmp_path_factory.mktemp("mozdef"))
    except KitUnavailable as exc:
        require(False, f"real MozDef is not available: {exc}")
        raise AssertionError("unreachable") from exc
    yield intake
    intake.stop()
