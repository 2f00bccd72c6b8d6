"""The checks option values share: whole numbers, numbers of seconds, ports.

``bool`` is an ``int`` in Python, so ``isinstance(True, int)`` holds; an
option that takes a number must still refuse ``True``. Each check is a
predicate, so the caller keeps its own message, naming the option at fault.
"""

from __future__ import annotations

from typing import TypeGuard

__all__ = ["is_number", "is_port", "is_whole"]


def is_whole(
    value: object, *, at_least: int | None = None, at_most: int | None = None
) -> TypeGuard[int]:
    """``value`` is an int (not a bool) within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (at_least is None or value >= at_least) and (at_most is None or value <= at_most)


def is_number(
    value: object, *, at_least: float | None = None, above: float | None = None
) -> TypeGuard[float]:
    """``value`` is an int or float (not a bool), ``>= at_least`` and ``> above``.

    The bounds are written as "not below", as the checks they replace were:
    a NaN passes them, as it did before.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if at_least is not None and value < at_least:
        return False
    return not (above is not None and value <= above)


def is_port(value: object) -> TypeGuard[int]:
    """``value`` is a TCP/UDP port number, 1 to 65535."""
    return is_whole(value, at_least=1, at_most=65535)
