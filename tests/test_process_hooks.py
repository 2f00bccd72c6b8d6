"""Process-wide state has one home: one fork hook and one exit hook, in a documented order."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "mozdef_client"

# Registers a part in every stage, in the opposite order of the stages, then
# forks (the child reports its order) and exits (the exit order is printed).
SCRIPT = textwrap.dedent(
    """
    import os, sys, warnings
    import mozdef_client  # every module registers its own parts first
    from mozdef_client import _process

    for stage in reversed(_process.FORK_STAGES):
        _process.at_fork(stage, lambda stage=stage: print("fork", stage, flush=True))
    for stage in reversed(_process.EXIT_STAGES):
        _process.at_exit(stage, lambda stage=stage: print("exit", stage, flush=True))
    _process.at_fork("identity", lambda: 1 / 0)  # a failing part stops no other

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print("parent done", flush=True)
    """
)


def test_fork_and_exit_parts_run_stage_by_stage_in_the_documented_order() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stdout.splitlines()
    assert lines == [
        "fork identity",
        "fork connections",
        "fork delivery",
        "fork shared clients",
        "parent done",
        "exit delivery",
        "exit shared clients",
    ]
    assert "ZeroDivisionError" in done.stderr  # logged, not swallowed


def test_no_module_but_process_installs_fork_or_exit_hooks() -> None:
    hooks = re.compile(r"register_at_fork|atexit\.register")
    installers = sorted(
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if hooks.search(path.read_text(encoding="utf-8"))
    )
    assert installers == ["_process.py"]
