"""The durable spool's public names; the store itself is :mod:`.store`.

``append`` is one ``os.write`` of a checksummed record to the end of this
process's segment file: once it returns, the event survives the process
being killed at any instant; ``fsync`` adds a power-loss guarantee, per
append or per interval, at a measured cost (docs/delivery.md).
"""

from __future__ import annotations

from .store.admin import (
    Backlog,
    DeadLetterGroup,
    SpoolStatus,
    StoredEvent,
    export_spool,
    purge_spool,
    requeue_dead_letters,
    spool_path,
    spool_status,
)
from .store.dead_letters import DeadLetter
from .store.segments import (
    ACK_SUFFIX,
    DEAD_LETTERS_FILENAME,
    LOCK_FILENAME,
    LOG_SUFFIX,
    SEGMENT_PREFIX,
    SPOOL_FILENAME,
    SpooledEvent,
)
from .store.spool import Spool
from .store.sync import FSYNC_INTERVAL, Fsync

__all__ = [
    "ACK_SUFFIX",
    "DEAD_LETTERS_FILENAME",
    "FSYNC_INTERVAL",
    "LOCK_FILENAME",
    "LOG_SUFFIX",
    "SEGMENT_PREFIX",
    "SPOOL_FILENAME",
    "Backlog",
    "DeadLetter",
    "DeadLetterGroup",
    "Fsync",
    "Spool",
    "SpoolStatus",
    "SpooledEvent",
    "StoredEvent",
    "export_spool",
    "purge_spool",
    "requeue_dead_letters",
    "spool_path",
    "spool_status",
]
