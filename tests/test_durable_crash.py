"""Durable mode across a SIGKILL: every event whose send() returned arrives.

tests/durable_sender.py prints each number once its durable send() returned.
The test kills it with SIGKILL mid-stream, runs it again on the same spool
(which sends what the first run left), and checks the receiver got every
acknowledged event. Duplicates are allowed only for the batch in flight at
the kill, and the second run counts them in ``stats().duplicates``.
"""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from delivery_helpers import numbers_of, python_env, wait_until
from servers import Fault

TESTS = Path(__file__).parent


class Sender:
    """tests/durable_sender.py in a subprocess, reading what it acknowledged."""

    def __init__(
        self, spool: Path, url: str, start: int, count: int, pause: float = 0.0,
        fsync: str = "off",
    ):  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, str(TESTS / "durable_sender.py"), str(spool), url,
             str(start), str(count), str(pause), fsync],
            stdout=subprocess.PIPE, text=True, env=python_env(),
        )  # fmt: skip
        self.acknowledged: list[int] = []
        self.stats: dict[str, int] = {}

    def read_until(self, count: int) -> None:
        """Read acknowledgements until ``count`` of them (or the end)."""
        assert self.process.stdout is not None
        while len(self.acknowledged) < count:
            line = self.process.stdout.readline()
            if not line:
                return
            self._note(line)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.finish(expect=-signal.SIGKILL)

    def finish(self, expect: int = 0) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:  # what it printed before it ended
            self._note(line)
        self.process.stdout.close()
        assert self.process.wait(60) == expect

    def _note(self, line: str) -> None:
        if line.startswith("STATS "):
            self.stats = json.loads(line[6:])
        elif line.endswith("\n"):  # a number cut off by the kill was not acknowledged
            self.acknowledged.append(int(line))


# "interval" syncs from a thread of its own: a kill must lose nothing either.
@pytest.mark.parametrize("fsync", ["off", "interval"])
def test_sigkill_mid_stream_then_restart_delivers_every_acknowledged_event(
    receiver, tmp_path, fsync
):
    first = Sender(tmp_path, receiver.url, 0, 3000, pause=0.002, fsync=fsync)
    first.read_until(1000)
    wait_until(lambda: len(receiver.events) >= 200, message="delivery under way")
    first.kill()
    acknowledged = set(first.acknowledged)
    assert 1000 <= len(acknowledged) < 3000  # killed mid-stream
    assert acknowledged == set(range(len(acknowledged)))

    second = Sender(tmp_path, receiver.url, 10_000, 100)
    second.finish()
    assert second.stats["left"] == 0

    counts = collections.Counter(numbers_of(receiver.events))
    assert acknowledged | set(range(10_000, 10_100)) <= set(counts)
    # At most the send() under way at the kill committed without printing.
    assert set(counts) - acknowledged - set(range(10_000, 10_100)) <= {len(acknowledged)}
    duplicates = sum(c - 1 for c in counts.values())
    assert max(counts.values()) <= 2
    # Only the batch in flight at the kill can come twice, and each such
    # event is counted (the count may include events that had not arrived).
    assert duplicates <= second.stats["duplicates"] <= 100


def test_a_batch_delivered_but_not_acknowledged_at_the_kill_is_sent_again_and_counted(
    receiver, tmp_path
):
    # The receiver takes the first batch but answers only after 5 s: the
    # sender is killed in between, holding that batch leased and unacknowledged.
    receiver.script(Fault(delay=5.0))
    first = Sender(tmp_path, receiver.url, 0, 500, pause=0.001)
    wait_until(lambda: len(receiver.requests) == 1, message="first batch received")
    first.read_until(300)
    first.kill()
    in_flight = numbers_of(receiver.requests[0].documents)
    assert in_flight

    second = Sender(tmp_path, receiver.url, 10_000, 10)
    second.finish()
    assert second.stats["left"] == 0

    counts = collections.Counter(numbers_of(receiver.events))
    assert set(first.acknowledged) | set(range(10_000, 10_010)) <= set(counts)
    assert sorted(n for n, c in counts.items() if c == 2) == sorted(in_flight)
    assert max(counts.values()) == 2
    # Exactly the unacknowledged batch came twice, and the restart counted exactly it.
    assert second.stats["duplicates"] == len(in_flight)
