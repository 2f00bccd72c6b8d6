"""Run the benchmarks side by side against one local keep-alive receiver.

Each scenario runs in its own process (so each has its own peak RSS), one
after another, against the same receiver process. Numbers on a shared
machine are noisy: compare the ratios within one run, not runs.

    python benchmarks/run.py            # full run (installs mozdef-client 1.1
                                        # into a throwaway venv first)
    python benchmarks/run.py --quick    # a smoke run with small counts

mozdef-client 1.1 is installed from PyPI into a throwaway venv under
build/bench-venv-1.1, never into the project's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEGACY_VENV = HERE.parent / "build" / "bench-venv-1.1"


class ReceiverProcess:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "fast_receiver.py"), *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        self.url = f"http://127.0.0.1:{line[1]}/events"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def legacy_python(install: bool) -> Path | None:
    python = LEGACY_VENV / "bin" / "python"
    if python.exists():
        return python
    if not install:
        return None
    print("installing mozdef-client 1.1 into a throwaway venv ...", file=sys.stderr)
    venv.create(LEGACY_VENV, with_pip=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "mozdef-client==1.1"],
        check=True,
    )
    return python


def run(python: Path | str, script: str, *args: str) -> dict[str, object]:
    output = subprocess.run(
        [str(python), str(HERE / script), *args], check=True, capture_output=True, text=True
    )
    result: dict[str, object] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--no-legacy", action="store_true", help="skip mozdef-client 1.1")
    args = parser.parse_args()
    sync_n, pipe_n, durable_n, down_n = (
        (200, 2_000, 1_000, 5_000) if args.quick else (1_000, 500_000, 100_000, 1_000_000)
    )

    legacy = None if args.no_legacy else legacy_python(install=not args.quick)
    rows: list[tuple[str, dict[str, object]]] = []
    receiver = ReceiverProcess()
    try:
        if legacy is not None:
            rows.append(
                (
                    "mozdef-client 1.1, sync send()",
                    run(legacy, "legacy_1_1.py", receiver.url, str(sync_n)),
                )
            )
        rows.append(
            (
                "urllib3 pool, 1 event/request",
                run(sys.executable, "scenarios.py", "urllib3_single", receiver.url, str(sync_n)),
            )
        )
        rows.append(
            (
                "legacy sync send() (this project)",
                run(sys.executable, "scenarios.py", "legacy_sync", receiver.url, str(sync_n)),
            )
        )
        rows.append(
            (
                "legacy fire-and-forget send()",
                run(sys.executable, "scenarios.py", "legacy_fire_and_forget", receiver.url,
                    str(pipe_n // 10)),
            )
        )  # fmt: skip
        rows.append(
            (
                "background send()",
                run(sys.executable, "scenarios.py", "background", receiver.url, str(pipe_n)),
            )
        )
        rows.append(
            (
                "durable send()",
                run(sys.executable, "scenarios.py", "durable", receiver.url, str(durable_n)),
            )
        )
    finally:
        receiver.stop()
    down = ReceiverProcess("--status", "503")
    try:
        rows.append(
            (
                "background, receiver down (drop_oldest)",
                run(sys.executable, "scenarios.py", "background_down", down.url, str(down_n)),
            )
        )
        rows.append(
            (
                "durable, receiver down",
                run(sys.executable, "scenarios.py", "durable_down", down.url, str(down_n // 10)),
            )
        )
    finally:
        down.stop()

    print_table(rows, args.quick)
    return check(rows)


def print_table(rows: list[tuple[str, dict[str, object]]], quick: bool) -> None:
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}{' (quick run)' if quick else ''}"
    )
    print(
        f"{'scenario':42} {'events':>9} {'events/s':>10} {'median µs':>10} "
        f"{'p99 µs':>9} {'peak RSS MB':>11}  notes"
    )
    for name, r in rows:
        notes = {
            k: v
            for k, v in r.items()
            if k in ("arrived", "left", "dropped", "pending_memory", "pending_spool") and v
        }
        print(
            f"{name:42} {r['events']:>9} {r['events_per_s']:>10,.0f} "
            f"{r['caller_median_us']:>10.1f} {r['caller_p99_us']:>9.1f} "
            f"{r['peak_rss_mb']:>11.1f}  {json.dumps(notes) if notes else ''}"
        )


def check(rows: list[tuple[str, dict[str, object]]]) -> int:
    """Every scenario that should deliver everything did: a benchmark that lost
    events would be measuring the wrong thing."""
    failed = 0
    for name, r in rows:
        if "arrived" in r and r["arrived"] != r["events"]:
            print(f"ERROR: {name}: {r['arrived']} of {r['events']} events arrived")
            failed += 1
    by_name = dict(rows)
    base = by_name.get("mozdef-client 1.1, sync send()")
    if base:
        for name in ("legacy sync send() (this project)", "background send()"):
            ratio = float(by_name[name]["events_per_s"]) / float(base["events_per_s"])  # type: ignore[arg-type]
            print(f"{name}: {ratio:.1f}x mozdef-client 1.1")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
