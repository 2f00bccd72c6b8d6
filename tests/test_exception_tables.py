"""Every foreign exception a transport can meet becomes a MozDefError at its boundary.

Each transport lists the exceptions of its library and of the OS in one
table; this module raises each listed class (and one no table lists) through
the boundary and checks that ``except MozDefError`` catches it, with the
class the table says.
"""

from __future__ import annotations

import io
import sys

import pytest

from mozdef_client import Client, Event, MozDefError
from mozdef_client.errors import DeliveryError, RetryableError
from mozdef_client.transports._failures import CATCH_ALL, Rule, translate, translating
from mozdef_client.transports.file import FILE_FAILURES
from mozdef_client.transports.http import HTTP_FAILURES
from mozdef_client.transports.remote_syslog import REMOTE_SYSLOG_FAILURES
from mozdef_client.transports.syslog import SYSLOG_FAILURES


def _tables() -> dict[str, tuple[Rule, ...]]:
    tables = {
        "http": HTTP_FAILURES,
        "syslog": SYSLOG_FAILURES,
        "remote syslog": REMOTE_SYSLOG_FAILURES,
        "file": FILE_FAILURES,
    }
    try:
        import pika

        from mozdef_client.transports.amqp import amqp_failures

        tables["amqp"] = amqp_failures(pika)
    except ImportError:
        pass
    try:
        from mozdef_client.transports.sqs import sqs_failures

        tables["sqs"] = sqs_failures()
    except ImportError:
        pass
    return tables


class Unlisted(Exception):
    """An exception no table names."""


def _instance(cls: type[BaseException]) -> BaseException:
    # Without calling the class's own __init__: each library's takes other
    # arguments, and a boundary must cope with whatever arrives.
    exc = cls.__new__(cls)
    BaseException.__init__(exc, "simulated failure")
    return exc


CASES = [
    (name, foreign)
    for name, table in _tables().items()
    for rule in table
    for foreign in rule.foreign
] + [(name, Unlisted) for name in _tables()]


@pytest.mark.parametrize(("table_name", "foreign"), CASES,
                         ids=[f"{n}-{f.__name__}" for n, f in CASES])  # fmt: skip
def test_each_listed_foreign_exception_becomes_a_mozdef_error(
    table_name: str, foreign: type[BaseException]
) -> None:
    table = _tables()[table_name]
    expected = next((rule.error for rule in table if issubclass(foreign, rule.foreign)), None)
    with pytest.raises(MozDefError) as caught, translating(table, "dest://x"):
        raise _instance(foreign)
    assert isinstance(caught.value, DeliveryError)
    assert type(caught.value) is (expected or RetryableError)
    assert "dest://x" in str(caught.value)


def test_every_table_ends_with_the_catch_all() -> None:
    for name, table in _tables().items():
        assert table[-1] is CATCH_ALL, name


def test_the_amqp_transport_translates_each_listed_pika_exception() -> None:
    pika = pytest.importorskip("pika")
    from mozdef_client.transports.amqp import AMQPTransport, amqp_failures

    transport = AMQPTransport()
    for rule in amqp_failures(pika):
        for foreign in rule.foreign:
            assert isinstance(transport._translate(_instance(foreign)), DeliveryError), foreign


def test_an_exception_with_a_broken_str_still_translates() -> None:
    class Hostile(OSError):
        def __str__(self) -> str:
            raise RuntimeError("no")

    error = translate(FILE_FAILURES, Hostile(), "file:///x")
    assert isinstance(error, RetryableError)
    assert "Hostile" in str(error)


def test_a_failure_no_table_lists_still_reaches_the_caller_as_a_mozdef_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Writing to a closed standard output raises ValueError, which is no OSError."""
    closed = io.TextIOWrapper(io.BytesIO())
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    with pytest.raises(MozDefError):
        Client("-").send(Event(summary="to a closed stdout"))
