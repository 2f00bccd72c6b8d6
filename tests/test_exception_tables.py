"""Every foreign exception a transport can meet becomes a MozDefError at its boundary.

Each transport lists the exceptions of its library and of the OS in a
table; this module raises each listed class (and one no table lists) through
the boundary and checks that ``except MozDefError`` catches it, with the
class the table says. It does so twice: through ``translating()`` with the
bare table, and through each transport's own ``send()``, with the wire call
made to raise, so a transport that stops using its table fails here.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mozdef_client import (
    Client,
    EncodedEvent,
    Event,
    FileTransport,
    HTTPTransport,
    MozDefError,
    PermanentError,
    RemoteSyslogOptions,
    RemoteSyslogTransport,
    SyslogOptions,
    SyslogTransport,
)
from mozdef_client.errors import DeliveryError, ForeignCause, RetryableError
from mozdef_client.transports import _http_pool as http_pool
from mozdef_client.transports import file as file_module
from mozdef_client.transports._deadline import Deadline
from mozdef_client.transports._failures import (
    CATCH_ALL,
    Rule,
    os_detail,
    translate,
    translating,
)
from mozdef_client.transports.file import FILE_FAILURES
from mozdef_client.transports.http import HTTP_FAILURES
from mozdef_client.transports.remote_syslog import (
    REMOTE_SYSLOG_CONNECT_FAILURES,
    REMOTE_SYSLOG_FAILURES,
)
from mozdef_client.transports.syslog import SYSLOG_FAILURES

#: A deadline that never passes, for calling a transport's boundary directly.
NO_DEADLINE = Deadline(float("inf"))


def _tables() -> dict[str, tuple[Rule, ...]]:
    tables = {
        "http": HTTP_FAILURES,
        "syslog": SYSLOG_FAILURES,
        "remote syslog": REMOTE_SYSLOG_FAILURES,
        "remote syslog connect": REMOTE_SYSLOG_CONNECT_FAILURES,
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


# -- each transport's boundary applies its table -------------------------------------


def _expected(table: tuple[Rule, ...], foreign: type[BaseException]) -> type[DeliveryError]:
    return next(rule.error for rule in table if issubclass(foreign, rule.foreign))


def _listed(table: tuple[Rule, ...]) -> list[type[BaseException]]:
    return [foreign for rule in table for foreign in rule.foreign] + [Unlisted]


def _raiser(foreign: type[BaseException]) -> Callable[..., Any]:
    def fail(*args: object, **kwargs: object) -> Any:
        raise _instance(foreign)

    return fail


def _assert_send_raises(
    transport: Any, foreign: type[BaseException], table: tuple[Rule, ...]
) -> None:
    with pytest.raises(MozDefError) as caught:
        transport.send([EncodedEvent(b'{"summary":"x"}')])
    assert type(caught.value) is _expected(table, foreign), foreign
    assert transport.name in str(caught.value)


@pytest.mark.parametrize("foreign", _listed(FILE_FAILURES), ids=lambda f: f.__name__)
def test_the_file_transport_translates_each_listed_exception(
    foreign: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_module, "_write_whole", _raiser(foreign))
    _assert_send_raises(FileTransport(str(tmp_path / "out")), foreign, FILE_FAILURES)


@pytest.mark.parametrize("foreign", _listed(SYSLOG_FAILURES), ids=lambda f: f.__name__)
def test_the_syslog_transport_translates_each_listed_exception(
    foreign: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = SyslogTransport(SyslogOptions(socket_path=str(tmp_path / "log")))
    monkeypatch.setattr(transport, "_connected", _raiser(foreign))
    _assert_send_raises(transport, foreign, SYSLOG_FAILURES)


@pytest.mark.parametrize("foreign", _listed(REMOTE_SYSLOG_CONNECT_FAILURES),
                         ids=lambda f: f.__name__)  # fmt: skip
def test_the_remote_syslog_transport_translates_each_listed_connect_exception(
    foreign: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = RemoteSyslogTransport(RemoteSyslogOptions(host="127.0.0.1", protocol="tcp"))
    monkeypatch.setattr(transport, "_connect", _raiser(foreign))
    _assert_send_raises(transport, foreign, REMOTE_SYSLOG_CONNECT_FAILURES)


@pytest.mark.parametrize("foreign", _listed(REMOTE_SYSLOG_FAILURES), ids=lambda f: f.__name__)
def test_the_remote_syslog_transport_translates_each_listed_write_exception(
    foreign: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailingSocket:
        sendall = staticmethod(_raiser(foreign))

        def close(self) -> None:
            pass

    transport = RemoteSyslogTransport(RemoteSyslogOptions(host="127.0.0.1", protocol="udp"))
    monkeypatch.setattr(transport, "_connected", FailingSocket)
    _assert_send_raises(transport, foreign, REMOTE_SYSLOG_FAILURES)


@pytest.mark.parametrize("foreign", _listed(HTTP_FAILURES), ids=lambda f: f.__name__)
def test_the_http_transport_translates_each_listed_exception(
    foreign: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailingPool:
        request = staticmethod(_raiser(foreign))

    monkeypatch.setattr(http_pool.POOLS, "get", lambda tls: FailingPool())
    transport = HTTPTransport("http://127.0.0.1:9/events?token=secret-value")
    with pytest.raises(MozDefError) as caught:
        transport.send([EncodedEvent(b'{"summary":"x"}')])
    assert type(caught.value) is _expected(HTTP_FAILURES, foreign), foreign
    # urllib3's exceptions carry the URL: the cause chained is a stand-in.
    assert isinstance(caught.value.__cause__, ForeignCause)
    assert "secret-value" not in str(caught.value) + str(caught.value.__cause__)


def test_the_sqs_transport_translates_each_listed_exception() -> None:
    pytest.importorskip("boto3")
    from mozdef_client.transports.sqs import SQSOptions, SQSTransport, sqs_failures

    transport = SQSTransport(SQSOptions(queue_name="q", region="us-east-1"))
    table = sqs_failures()
    for foreign in _listed(table):
        with pytest.raises(MozDefError) as caught:
            transport._call(NO_DEADLINE, _raiser(foreign))
        assert type(caught.value) is _expected(table, foreign), foreign


def test_the_sqs_transport_decides_an_aws_answer_by_its_code() -> None:
    pytest.importorskip("boto3")
    from botocore.exceptions import ClientError

    from mozdef_client.transports.sqs import SQSOptions, SQSTransport

    transport = SQSTransport(SQSOptions(queue_name="q", region="us-east-1"))

    def answer(code: str, status: int) -> Callable[..., Any]:
        def fail(**kwargs: object) -> Any:
            response: Any = {
                "Error": {"Code": code, "Message": "m"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            raise ClientError(response, "SendMessage")

        return fail

    with pytest.raises(RetryableError) as retryable:
        transport._call(NO_DEADLINE, answer("RequestThrottled", 400))
    assert retryable.value.status == 400
    with pytest.raises(PermanentError) as permanent:
        transport._call(NO_DEADLINE, answer("AccessDenied", 403))
    assert "AccessDenied" in str(permanent.value)
    assert isinstance(permanent.value.__cause__, ClientError)


# -- translating()'s hooks -----------------------------------------------------------


def test_decide_is_asked_first_and_the_table_answers_when_it_declines() -> None:
    decided = PermanentError("decided", destination="d")

    def decide(exc: BaseException) -> DeliveryError | None:
        return decided if isinstance(exc, KeyError) else None

    with pytest.raises(PermanentError) as caught, translating(FILE_FAILURES, "d", decide=decide):
        raise KeyError("k")
    assert caught.value is decided
    with pytest.raises(RetryableError), translating(FILE_FAILURES, "d", decide=decide):
        raise OSError("disk")


def test_unwrap_translates_and_chains_the_wrapped_exception() -> None:
    inner = PermissionError(13, "Permission denied")
    wrapper = RuntimeError(inner)
    with (
        pytest.raises(PermanentError) as caught,
        translating(FILE_FAILURES, "d", unwrap=lambda exc: exc.args[0], detail=os_detail),
    ):
        raise wrapper
    assert str(caught.value) == "cannot write d: Permission denied"
    assert caught.value.__cause__ is inner
