"""JSON encoding of MozDef documents: the one place events become bytes.

Output is compact UTF-8 JSON. Values JSON has no type for are converted the
way MozDef's users expect (``datetime``/``date`` to ISO 8601; IP addresses,
UUIDs, ``Decimal`` and paths to strings; sets and tuples to lists). Anything
that would make invalid or lossy JSON (NaN, infinities, non-string keys,
integers beyond 64 bits, bytes or strings that are not valid UTF-8, unknown
types) raises :class:`EncodingError` naming the field path, so invalid JSON
never reaches the wire.

Encoding also snapshots the caller's data: later changes to their dicts do
not change what is sent.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import ipaddress
import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

from .errors import EncodingError, MozDefError

__all__ = ["MAX_DEPTH", "encode_document", "encode_json_array"]

# Containers nested deeper than this are refused: it is orjson's own limit, so
# both encoders accept the same documents.
MAX_DEPTH = 254

_SCALARS = (str, type(None))
_UTC = _dt.timezone.utc
_MINUTE = _dt.timedelta(minutes=1)
# orjson refuses integers outside these bounds; the stdlib encoder would take
# them. Refusing them on both paths keeps the output the same either way.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_AS_STRING = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    uuid.UUID,
    PurePath,
)


def _stdlib_dumps() -> Callable[[Any], bytes]:
    # The C encoder, made once: json.JSONEncoder.encode would build it again
    # on every call. No circular check: only documents the plain check has
    # bounded (or the walk has rebuilt) reach it.
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # a Python without the C accelerator
        encoder = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain_default
        )
        return lambda value: encoder.encode(value).encode("utf-8")
    iterencode = make_encoder(
        None,
        _plain_default,
        json.encoder.c_encode_basestring,  # type: ignore[attr-defined]
        None,
        ":",
        ",",
        False,
        False,
        False,  # allow_nan off: NaN and infinities raise, and the walk names them
    )

    def dumps(value: Any) -> bytes:
        return "".join(iterencode(value, 0)).encode("utf-8")

    return dumps


def _plain_default(value: Any) -> Any:
    # Only the datetimes _plain_mapping lets through: no tzinfo of the caller's
    # is ever asked for an offset here.
    return _dt.datetime.isoformat(value)


def _orjson_dumps() -> Callable[[Any], bytes] | None:
    try:
        import orjson
    except ImportError:
        return None
    dumps = orjson.dumps

    def encode(value: Any) -> bytes:
        # orjson's bytes keep its whole output buffer (about 4 KiB) allocated;
        # a right-sized copy keeps a queue of 50,000 events at ~20 MB, not 200.
        return memoryview(dumps(value)).tobytes()

    return encode


_dumps: Callable[[Any], bytes] = _orjson_dumps() or _stdlib_dumps()


def encode_document(document: Mapping[str, Any]) -> bytes:
    """Encode one MozDef document as compact UTF-8 JSON.

    The common document (plain JSON types and UTC or naive datetimes) is
    checked by a quick type scan and handed to the C encoder as it is; any
    other goes through the walk that converts values and names what is wrong.

    Raises:
        EncodingError: a value cannot be encoded; the message names its path.
    """
    if type(document) is dict and _plain_mapping(document, 0):
        try:
            return _dumps(document)
        except Exception:  # a lone surrogate: the walk names it
            pass
    try:
        clean = _normalise(document, "", 0)
    except RecursionError:
        # A caller's object recursed on its own (a Mapping whose items() does),
        # or the caller's stack was already nearly full.
        raise EncodingError(
            "event cannot be encoded: a value nests or recurses too deeply", "event"
        ) from None
    try:
        return _dumps(clean)
    except Exception as exc:
        # The walk already rejected every other problem; what is left is a
        # string with lone surrogates. Find it so the error can name it.
        path = _find_unencodable_string(clean, "")
        if not path:
            raise EncodingError(f"event cannot be encoded as JSON: {type(exc).__name__}") from None
        raise EncodingError(
            f"{path or 'event'} is not valid UTF-8 (it holds a lone surrogate)", path
        ) from None


# -- the quick check: is this document plain JSON as it is? --------------------
# Exact types only (a subclass may override anything), so nothing of the
# caller's code runs; ints within 64 bits, finite floats, depth bounded.
# The value test is written out in both loops on purpose: a shared helper
# would add a call per value to every send() on the hot path.


def _plain_mapping(mapping: dict[Any, Any], depth: int) -> bool:
    if depth >= MAX_DEPTH:
        return False
    for key, item in mapping.items():
        if type(key) is not str:
            return False
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if _INT_MIN <= item <= _INT_MAX:
                continue
            return False
        if kind is dict:
            if _plain_mapping(item, depth + 1):
                continue
            return False
        if kind is list:
            if _plain_list(item, depth + 1):
                continue
            return False
        if kind is float:
            if item - item == 0.0:  # finite: inf - inf and NaN are NaN
                continue
            return False
        if kind is _dt.datetime and (item.tzinfo is _UTC or item.tzinfo is None):
            continue  # Event's timestamp
        return False
    return True


def _plain_list(items: list[Any], depth: int) -> bool:
    if depth >= MAX_DEPTH:
        return False
    for item in items:
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if _INT_MIN <= item <= _INT_MAX:
                continue
            return False
        if kind is dict:
            if _plain_mapping(item, depth + 1):
                continue
            return False
        if kind is list:
            if _plain_list(item, depth + 1):
                continue
            return False
        if kind is float and item - item == 0.0:
            continue
        return False
    return True


# -- the walk: converts what JSON has no type for, and names what cannot be ---


def encode_json_array(payloads: Sequence[bytes]) -> bytes:
    """Join encoded documents into one JSON array (``[a,b,...]``), as MozDef's ``/_bulk`` wants.

    A body of one JSON object would be iterated by its keys there; an array
    is published element by element whatever its length.
    """
    return b"[" + b",".join(payloads) + b"]"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _normalise(value: Any, path: str, depth: int) -> Any:
    try:
        return _convert(value, path, depth)
    except MozDefError:
        raise
    except RecursionError:
        raise
    except Exception as exc:
        # The caller's own code (a Mapping, an Enum, a tzinfo...) raised.
        raise EncodingError(
            f"{path or 'event'} could not be read: its {type(exc).__name__} raised", path
        ) from None


def _convert(value: Any, path: str, depth: int) -> Any:
    # Plain JSON types first: they are nearly everything.
    if isinstance(value, _SCALARS):
        # A str subclass may override anything; the encoder only needs the text.
        return value if type(value) is str or value is None else str.__str__(value)
    if isinstance(value, int):  # bool too
        if type(value) is bool:
            return value
        number = int.__int__(value)  # the value itself, whatever a subclass overrides
        if _INT_MIN <= number <= _INT_MAX:
            return number
        raise EncodingError(
            f"{path or 'value'} is an integer outside the 64-bit range JSON consumers accept",
            path,
        )
    if isinstance(value, float):
        real = float.__float__(value)
        if not math.isfinite(real):
            raise EncodingError(f"{path or 'value'} is {real!r}, which JSON cannot carry", path)
        return real
    if depth >= MAX_DEPTH:
        raise EncodingError(
            f"{path} is nested more than {MAX_DEPTH} levels deep (or refers to itself)", path
        )
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if type(key) is not str:
                if not isinstance(key, str):
                    raise EncodingError(
                        f"{path or 'event'} has a key {_describe_key(key)}; "
                        "JSON keys must be strings",
                        path,
                    )
                key = str.__str__(key)
            result[key] = _normalise(item, _join(path, key), depth + 1)
        return result
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_normalise(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, enum.Enum):
        return _normalise(value.value, path, depth + 1)
    if isinstance(value, (_dt.datetime, _dt.time)):
        return _iso_with_safe_offset(value, path)
    if isinstance(value, _dt.date):
        return _dt.date.isoformat(value)
    if isinstance(value, _AS_STRING):
        return str(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise EncodingError(f"{path} is Decimal('{value}'), which JSON cannot carry", path)
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError(f"{path} is bytes that are not valid UTF-8", path) from None
    raise EncodingError(
        f"{path or 'value'} has type {type(value).__name__}, which cannot be encoded as JSON",
        path,
    )


def _iso_with_safe_offset(value: _dt.datetime | _dt.time, path: str) -> str:
    """ISO 8601 with an offset this code computed, never the caller's tzinfo's text.

    The tzinfo is asked once, through the base class (which checks it answers
    a timedelta under a day); an offset that is not whole minutes has no
    RFC 3339 spelling, so such a time is written in UTC instead.
    """
    if isinstance(value, _dt.datetime):
        offset = _dt.datetime.utcoffset(value)
        naive = _dt.datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
        )
        if offset is not None and offset % _MINUTE:
            naive, offset = naive - offset, _dt.timedelta(0)
    else:
        offset = _dt.time.utcoffset(value)
        naive_time = _dt.time(value.hour, value.minute, value.second, value.microsecond)
        if offset is None:
            return naive_time.isoformat()
        if offset % _MINUTE:
            raise EncodingError(
                f"{path} is a time whose UTC offset is not a whole number of minutes", path
            )
        return naive_time.isoformat() + _offset_text(offset)
    text = naive.isoformat()
    return text if offset is None else text + _offset_text(offset)


def _offset_text(offset: _dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _describe_key(key: object) -> str:
    """A key for an error message, without running the caller's __repr__."""
    kind = type(key)
    if kind is int and key.bit_length() > 64:  # type: ignore[attr-defined]
        return f"of type int ({key.bit_length()} bits)"  # type: ignore[attr-defined]
    if kind in (int, float, bool, type(None)) or (kind in (bytes, tuple) and _short_and_plain(key)):
        return f"{key!r} of type {kind.__name__}"
    return f"of type {kind.__name__}"


def _short_and_plain(value: Any) -> bool:
    if type(value) is bytes:
        return len(value) <= 64
    return len(value) <= 8 and all(
        (type(item) is str and len(item) <= 64)
        or (type(item) is int and item.bit_length() <= 64)
        or type(item) in (float, bool, type(None))
        for item in value
    )


def _find_unencodable_string(value: Any, path: str) -> str:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "event"
        return ""
    if isinstance(value, dict):
        for key, item in value.items():
            key_path = _join(path, key)
            if _find_unencodable_string(key, key_path):
                return key_path
            found = _find_unencodable_string(item, key_path)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_unencodable_string(item, f"{path}[{index}]")
            if found:
                return found
    return ""
