"""Process-wide state has one home: what a forked child resets, what exit closes.

The library keeps a few things per process: the pid in each event, HTTP
connection pools, the deadline watchdog thread, every live delivery
pipeline, the clients the 1.1 classes share. A forked child must not use the
parent's sockets, threads or held locks, and at exit the queued events get
one last, bounded chance. Each module registers its part here under a stage;
this module alone installs the one fork hook and the one exit hook, and runs
the parts stage by stage, in this order:

After ``fork()``, in the child:

1. ``identity``: the pid stamped into events (:mod:`.event`).
2. ``connections``: new HTTP pools (:mod:`.transports.http`), a new deadline
   watchdog (:mod:`.transports._deadline`); before delivery, whose restarted
   durable lanes use them.
3. ``delivery``: each pipeline empties its queues, zeroes its counters,
   renews its locks and restarts durable lanes (:mod:`.delivery.pipeline`).
4. ``shared clients``: the 1.1 classes forget the parent's shared clients and
   build their own on first use (:mod:`._legacy_clients`).

At exit:

1. ``delivery``: every pipeline delivers what it can and closes, all within
   one shared deadline (each its own ``exit_timeout`` from the same start);
   warnings about what was left can still go through open sync clients.
2. ``shared clients``: the 1.1 classes' sync clients close their sockets.

Within a stage, parts run in the order they were registered. A part that
fails is logged and the others still run.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Callable
from typing import Literal

__all__ = ["EXIT_STAGES", "FORK_STAGES", "at_exit", "at_fork"]

logger = logging.getLogger("mozdef_client")

ForkStage = Literal["identity", "connections", "delivery", "shared clients"]
ExitStage = Literal["delivery", "shared clients"]
FORK_STAGES: tuple[ForkStage, ...] = ("identity", "connections", "delivery", "shared clients")
EXIT_STAGES: tuple[ExitStage, ...] = ("delivery", "shared clients")

_fork_parts: dict[str, list[Callable[[], None]]] = {stage: [] for stage in FORK_STAGES}
_exit_parts: dict[str, list[Callable[[], None]]] = {stage: [] for stage in EXIT_STAGES}


def at_fork(stage: ForkStage, part: Callable[[], None]) -> None:
    """Run ``part`` in a forked child, in ``stage``'s turn."""
    _fork_parts[stage].append(part)


def at_exit(stage: ExitStage, part: Callable[[], None]) -> None:
    """Run ``part`` at interpreter exit, in ``stage``'s turn."""
    _exit_parts[stage].append(part)


def _run(parts: dict[str, list[Callable[[], None]]], when: str) -> None:
    for stage_parts in parts.values():  # dicts keep the stages' order
        for part in list(stage_parts):
            try:
                part()
            except Exception:
                name = getattr(part, "__qualname__", repr(part))
                logger.exception("mozdef_client: %s failed %s", name, when)


def _after_fork_in_child() -> None:
    _run(_fork_parts, "after fork")


def _at_exit() -> None:
    _run(_exit_parts, "at exit")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
