"""Shared fixtures: real peers on loopback, started and stopped per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import Receiver, SyslogSink


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
