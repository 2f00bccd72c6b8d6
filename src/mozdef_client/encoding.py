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

from .errors import EncodingError

__all__ = ["MAX_DEPTH", "encode_document", "encode_json_array"]

# Containers nested deeper than this are refused: it is orjson's own limit, so
# both encoders accept the same documents.
MAX_DEPTH = 254

_SCALARS = (str, type(None))
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
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    def dumps(value: Any) -> bytes:
        return encoder.encode(value).encode("utf-8")

    return dumps


def _orjson_fast_path() -> Callable[[Mapping[str, Any]], bytes | None] | None:
    """orjson encoding of the caller's document as it is, or None when not installed.

    orjson converts most types itself and refuses non-string keys, bad UTF-8
    and huge integers; the rest go through ``_fast_default``. It writes NaN
    and infinities as ``null``, so output holding ``null`` is checked by the
    full walk. Any refusal also falls back to the walk, which names the path.
    """
    try:
        import orjson
    except ImportError:
        return None
    dumps = orjson.dumps
    passthrough = orjson.OPT_PASSTHROUGH_DATACLASS

    def encode(document: Mapping[str, Any]) -> bytes | None:
        try:
            # Dataclasses go to _fast_default (which refuses them), as the walk
            # refuses them: both encoders accept the same values.
            encoded = dumps(document, default=_fast_default, option=passthrough)
        except (TypeError, ValueError):
            return None
        if b"null" in encoded:
            return None
        # orjson's bytes keep its whole output buffer (about 4 KiB) allocated;
        # a right-sized copy keeps a queue of 50,000 events at ~20 MB, not 200.
        return memoryview(encoded).tobytes()

    return encode


def _fast_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, _AS_STRING):
        return str(value)
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8")
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError  # the full walk says what and where


_fast_encode = _orjson_fast_path()
_dumps: Callable[[Any], bytes]
try:
    import orjson as _orjson

    _dumps = _orjson.dumps
except ImportError:
    _dumps = _stdlib_dumps()


def encode_document(document: Mapping[str, Any]) -> bytes:
    """Encode one MozDef document as compact UTF-8 JSON.

    Raises:
        EncodingError: a value cannot be encoded; the message names its path.
    """
    if _fast_encode is not None:
        encoded = _fast_encode(document)
        if encoded is not None:
            return encoded
    clean = _normalise(document, "", 0)
    try:
        return memoryview(_dumps(clean)).tobytes()  # right-sized, as above
    except (UnicodeEncodeError, TypeError, ValueError) as exc:
        # The walk already rejected every other problem; what is left is a
        # string with lone surrogates. Find it so the error can name it.
        path = _find_unencodable_string(clean, "")
        if not path:
            raise EncodingError(f"event cannot be encoded as JSON: {exc}") from exc
        raise EncodingError(
            f"{path or 'event'} is not valid UTF-8 (it holds a lone surrogate)", path
        ) from exc


def encode_json_array(payloads: Sequence[bytes]) -> bytes:
    """Join encoded documents into one JSON array (``[a,b,...]``), as MozDef's ``/_bulk`` wants.

    A body of one JSON object would be iterated by its keys there; an array
    is published element by element whatever its length.
    """
    return b"[" + b",".join(payloads) + b"]"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _normalise(value: Any, path: str, depth: int) -> Any:
    # Plain JSON types first: they are nearly everything.
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, int):  # bool too
        if _INT_MIN <= value <= _INT_MAX:
            return value
        raise EncodingError(
            f"{path or 'value'} is an integer outside the 64-bit range JSON consumers accept",
            path,
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EncodingError(f"{path or 'value'} is {value!r}, which JSON cannot carry", path)
        return value
    if depth >= MAX_DEPTH:
        raise EncodingError(
            f"{path} is nested more than {MAX_DEPTH} levels deep (or refers to itself)", path
        )
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError(
                    f"{path or 'event'} has a key {key!r} of type {type(key).__name__}; "
                    "JSON keys must be strings",
                    path,
                )
            result[key] = _normalise(item, _join(path, key), depth + 1)
        return result
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_normalise(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, enum.Enum):
        return _normalise(value.value, path, depth)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _AS_STRING):
        return str(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise EncodingError(f"{path} is {value!r}, which JSON cannot carry", path)
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
