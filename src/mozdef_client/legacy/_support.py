"""What the 1.1 face needs beyond the core: upstream's facility names, a
bounded copy of the caller's data, and errors that are botocore's too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..encoding import MAX_DEPTH
from ..errors import DeliveryError, EncodingError
from ..severity import Facility

__all__ = ["FACILITY_MAP", "also_botocore", "from_botocore", "snapshot"]

# Upstream master's MozDefEvent._facilitymap (added after 1.1): name -> the
# stdlib syslog.LOG_* value, which is the facility number shifted left by three.
FACILITY_MAP = {
    name: int(Facility[name.upper()]) << 3
    for name in ("kern", "user", "mail", "daemon", "auth", "lpr", "news", "uucp", "cron",
                 "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7")
}  # fmt: skip


def from_botocore(error: BaseException) -> bool:
    # By module, so botocore (an optional dependency) is never imported here.
    return type(error).__module__.split(".")[0] == "botocore"


_error_classes: dict[tuple[type, type], type[DeliveryError]] = {}


def _error_class(ours: type[DeliveryError], theirs: type[BaseException]) -> type[DeliveryError]:
    """A class that is both ``ours`` and the botocore exception ``theirs`` (made once)."""
    combined = _error_classes.get((ours, theirs))
    if combined is None:
        combined = type(ours.__name__, (ours, theirs), {"__module__": ours.__module__})
        combined.__qualname__ = ours.__qualname__
        combined = _error_classes.setdefault((ours, theirs), combined)
    return combined


def also_botocore(exc: DeliveryError, botocore_error: BaseException) -> DeliveryError:
    """``exc``, also an instance of the botocore exception behind it.

    1.1 let botocore's exceptions through (``ClientError`` for a missing
    queue or a denied send), and programs catch them by that class; the
    result still is a ``MozDefError`` with our message and attributes, and
    carries botocore's too (``response``, ``operation_name``).
    """
    cls = _error_class(type(exc), type(botocore_error))
    combined = cls.__new__(cls, *exc.args)
    combined.__dict__.update(botocore_error.__dict__)
    combined.__dict__.update(exc.__dict__)
    return combined


def snapshot(value: Any, path: str, depth: int) -> Any:
    """A copy of the containers in ``value``, so the caller's later changes
    do not change what was sent; leaves are shared (they are immutable, or
    the encoder refuses them naming the field).

    Unlike ``copy.deepcopy`` it calls no copy hooks of the caller's objects and
    cannot recurse without bound: nesting deeper than the encoder takes (or a
    container holding itself) is an :class:`EncodingError` naming the field.
    """
    if isinstance(value, (str, int, float)) or value is None:
        return value
    if isinstance(value, (dict, list, tuple, set, frozenset, Mapping)) and depth >= MAX_DEPTH:
        raise EncodingError(
            f"{path or 'event'} is nested more than {MAX_DEPTH} levels deep (or refers to itself)",
            path,
        )
    if isinstance(value, Mapping):
        try:
            items = list(value.items())
        except Exception as exc:  # a hostile mapping: say where, not how deep
            raise EncodingError(
                f"{path or 'event'} cannot be read: {type(exc).__name__}: {exc}", path
            ) from exc
        return {
            key: snapshot(item, f"{path}.{key}" if path else str(key), depth + 1)
            for key, item in items
        }
    if isinstance(value, (list, tuple)):
        copied = [snapshot(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        return copied if isinstance(value, list) else tuple(copied)
    if isinstance(value, (set, frozenset)):
        return set(value)
    return value
