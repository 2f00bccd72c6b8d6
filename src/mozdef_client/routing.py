"""Where MozDef indexes each kind of event, and how a document is marked to get there.

MozDef's worker normalises every event through ``keyMapping``, which keeps
only the generic fields. A vulnerability document survives whole only as a
*custom* document: loginput's ``/custom/vulnerability`` adds
``"endpoint": "vulnerability"`` and ``"customendpoint": true`` before
publishing, the worker then skips ``keyMapping``, and its vulnerability
plugin saves the document to the ``vulnerabilities`` index.

So a vulnerability document is encoded with those two fields first. The
same bytes then work on every wire that reaches MozDef's workers: AMQP and
SQS messages are treated as custom documents, and HTTP transports recognise
the marked payload and post it, without the marks, to
``/custom/vulnerability`` (which adds them). The mark lives in the payload,
so it survives the durable spool and dead letters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "CUSTOM_VULNERABILITY_PATH",
    "is_custom_vulnerability",
    "mark_custom_vulnerability",
    "unmark_custom_vulnerability",
]

#: Where MozDef's loginput takes vulnerability documents (relative to /events).
CUSTOM_VULNERABILITY_PATH = "custom/vulnerability"

# What loginput's /custom/vulnerability handler sets, in the order encoded.
_MARKERS: dict[str, Any] = {"customendpoint": True, "endpoint": "vulnerability"}
# Both encoders write compact JSON in insertion order, so a marked document
# always starts with these bytes (then "," or "}").
_MARKED_PREFIX = b'{"customendpoint":true,"endpoint":"vulnerability"'


def mark_custom_vulnerability(document: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` with MozDef's custom-endpoint fields first (a new dict).

    A document's own ``endpoint`` or ``customendpoint`` is replaced, as
    loginput's ``/custom/vulnerability`` replaces them.
    """
    marked = dict(_MARKERS)
    for key, value in document.items():
        if key not in marked:
            marked[key] = value
    return marked


def is_custom_vulnerability(payload: bytes) -> bool:
    """Whether an encoded event is a marked vulnerability document."""
    return payload.startswith(_MARKED_PREFIX)


def unmark_custom_vulnerability(payload: bytes) -> bytes:
    """The caller's own document from a marked one, for ``/custom/vulnerability``
    (where loginput adds the marks itself): what 1.1 posted, byte for byte."""
    return b"{" + payload[len(_MARKED_PREFIX) + 1 :]
