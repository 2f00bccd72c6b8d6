"""The mozdef_client 1.1 API, as a face over :class:`Event` and :class:`Client`.

Programs written for 1.1 keep working unchanged: 1.1's own test suite passes
(but for ``str(MozDefError)``), ``validate()`` answers True/False as 1.1 did,
a missing local syslog socket is warned about and counted, never raised, and
SQS failures are still botocore exceptions too. What 1.1 got wrong is fixed
here (each change is listed in docs/migration.md): ``send()`` raises on every
other failure, certificates are verified, plain ``.category``/``.source``/
``.severity`` attributes are honoured, and the caller's dicts are never
mutated. No logic lives only here: documents are built by :class:`Event`,
checked by :mod:`validation`, encoded by :mod:`encoding` and delivered by a
:class:`Client` (one per configuration, shared process-wide).

The modules, each one class family of 1.1:

- :mod:`.message`: ``MozDefMessage``, the destination settings and delivery;
- :mod:`.event`: ``MozDefEvent`` and its kinds (compliance, asset hint, RRA);
- :mod:`.vulnerability`: ``MozDefVulnerability``;
- :mod:`.msg`: ``MozDefMsg``, the oldest API;
- :mod:`._clients`: the clients shared process-wide, and their stats;
- :mod:`._support`: upstream's facility names, the bounded copy, botocore errors.

Every name is imported from here (``from mozdef_client.legacy import ...``),
as when this was one module; the library logs under ``mozdef_client.legacy``.
"""

from __future__ import annotations

from ..errors import ConfigurationError as ConfigurationError
from ..errors import DeliveryError as DeliveryError
from ..errors import EncodingError as EncodingError
from ..errors import MozDefError
from ..errors import ValidationError as ValidationError
from ..validation import validate_document as validate_document
from ..validation import validate_event as validate_event
from ._clients import (
    close_fire_and_forget,
    delivery_stats,
    fire_and_forget_stats,
    flush_fire_and_forget,
)
from ._clients import shared_client as shared_client
from ._support import FACILITY_MAP as FACILITY_MAP
from ._support import snapshot as snapshot
from .event import MozDefAssetHint, MozDefCompliance, MozDefEvent, MozDefRRA
from .event import resolve_severity as resolve_severity
from .message import MozDefMessage
from .message import logger as logger
from .msg import MozDefMsg
from .vulnerability import MozDefVulnerability

__all__ = [
    "MozDefAssetHint",
    "MozDefCompliance",
    "MozDefError",
    "MozDefEvent",
    "MozDefMessage",
    "MozDefMsg",
    "MozDefRRA",
    "MozDefVulnerability",
    "close_fire_and_forget",
    "delivery_stats",
    "fire_and_forget_stats",
    "flush_fire_and_forget",
]
