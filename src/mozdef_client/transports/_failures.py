"""How transports fail: foreign exceptions translated at the boundary, batch errors.

Each transport has a table (a sequence of :class:`Rule`) of the foreign
exceptions its library and the OS raise, and the :class:`DeliveryError`
subclass each becomes; :func:`translating` applies a table around the code
that talks to the wire, so ``except MozDefError`` catches every failure.
Where a class alone cannot decide (an AWS error code, the end of a deadline),
the transport passes a ``decide`` function that is asked first. Code that
must keep going after one event failed (to report a partial batch) calls
:func:`translate` with the same table. tests/test_exception_tables.py checks
every row, and that each transport's boundary applies its table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from .._redact import redact
from ..errors import (
    DeliveryError,
    ForeignCause,
    MozDefError,
    PartialDeliveryError,
    RetryableError,
)

__all__ = [
    "CATCH_ALL",
    "ForeignCause",
    "Rule",
    "batch_error",
    "describe",
    "os_detail",
    "sanitized_cause",
    "translate",
    "translating",
]


def batch_error(failures: dict[int, DeliveryError], size: int, destination: str) -> DeliveryError:
    """The error for a batch of ``size`` events where ``failures`` were not delivered.

    When every event failed the same way, that error itself (so a one-event
    batch raises a plain :class:`RetryableError` or :class:`PermanentError`);
    otherwise a :class:`PartialDeliveryError` naming each failed event.
    """
    first = failures[min(failures)]
    if len(failures) == size and all(type(e) is type(first) for e in failures.values()):
        return first
    return PartialDeliveryError(
        f"{len(failures)} of {size} events were not delivered to {destination}: {first}",
        destination=destination,
        failures=failures,
    )


# -- foreign exceptions at a transport's boundary ------------------------------------


@dataclass(frozen=True)
class Rule:
    """One row of a transport's table: foreign exceptions, our class, what happened.

    ``what`` starts the message: "could not connect to" + the destination.
    """

    foreign: tuple[type[BaseException], ...]
    error: type[DeliveryError]
    what: str


#: The last row of every table: whatever a library raises that no row names
#: is still a MozDefError (retryable: it may be a passing fault).
CATCH_ALL = Rule((Exception,), RetryableError, "unexpected failure talking to")


def describe(exc: BaseException) -> str:
    """The useful text of a foreign exception (its type when it has none)."""
    try:
        text = str(exc).strip()
    except Exception:  # a broken __str__ must not hide the failure itself
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def os_detail(exc: BaseException) -> str:
    """The OS's words for an OSError ("Connection refused"), else :func:`describe`."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return describe(exc)


def translate(
    table: Sequence[Rule],
    exc: BaseException,
    destination: str,
    secrets: Sequence[str] = (),
    detail: str | None = None,
) -> DeliveryError:
    """Our error for foreign exception ``exc``: the first row of ``table`` that matches.

    ``detail`` replaces the exception's own text in the message.
    """
    rule = next((row for row in table if isinstance(exc, row.foreign)), CATCH_ALL)
    detail = describe(exc) if detail is None else detail
    text = redact(f"{rule.what} {destination}: {detail}", secrets)
    return rule.error(text, destination=destination)


def sanitized_cause(exc: BaseException, secrets: Sequence[str] = ()) -> ForeignCause:
    """A stand-in for ``exc`` to chain to, with no secret in it."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return ForeignCause(redact(f"{name}: {exc}", secrets))


@contextmanager
def translating(
    table: Sequence[Rule],
    destination: str,
    *,
    secrets: Sequence[str] = (),
    keep_cause: bool = True,
    unwrap: Callable[[BaseException], BaseException] | None = None,
    decide: Callable[[BaseException], DeliveryError | None] | None = None,
    detail: Callable[[BaseException], str] | None = None,
) -> Iterator[None]:
    """Re-raise any exception but our own as the :class:`DeliveryError` ``table`` says.

    Args:
        keep_cause: chain the foreign exception itself (False: a
            :class:`ForeignCause`, for libraries whose exceptions carry URLs).
        unwrap: the exception that says what happened, for a library that
            wraps it (urllib3's ``MaxRetryError``).
        decide: the transport's own error for an exception its class cannot
            judge, or None to use the table.
        detail: the text of the message from the exception (default:
            :func:`describe`).
    """
    try:
        yield
    except MozDefError:
        raise
    except Exception as exc:
        foreign = exc if unwrap is None else unwrap(exc)
        error = None if decide is None else decide(foreign)
        if error is None:
            text = None if detail is None else detail(foreign)
            error = translate(table, foreign, destination, secrets, text)
        raise error from (foreign if keep_cause else sanitized_cause(foreign, secrets))
