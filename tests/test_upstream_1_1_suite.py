"""mozilla/mozdef_client 1.1's own test suite, run unchanged against this package.

The 22 tests live in the shared kit (``<repo>/../shared/peers/mozdef_client-1.1``,
or ``$MOZDEF_CLIENT_1_1_KIT``), never in this repository. They run in a pytest
of their own, from a temporary directory, against the installed package.
All pass but ``test_error.py::TestMozDefError::test_init``, which checks 1.1's
``str(MozDefError("x")) == "'x'"`` quirk: the one difference docs/migration.md
documents as breaking a test. Any other failure, skip or error fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from amqp_helpers import require

ROOT = Path(__file__).resolve().parent.parent
KIT = Path(
    os.environ.get("MOZDEF_CLIENT_1_1_KIT", ROOT.parent / "shared" / "peers" / "mozdef_client-1.1")
)
EXPECTED_FAILURE = ("test_error.py", "TestMozDefError", "test_init")
EXPECTED_TESTS = 22


def run_upstream_suite(workdir: Path) -> dict[tuple[str, str, str], str]:
    """Run the kit's tests; returns (file, class, test) -> "passed"/"failed"/"error"/"skipped"."""
    report = workdir / "upstream.xml"
    # An empty ini of our own: no configuration of this repository (or of a
    # folder above the kit) changes how the upstream tests run.
    (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the kit may be read-only
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(workdir / "pytest.ini"),
         "--rootdir", str(workdir), "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--junitxml={report}", "-q", str(KIT / "tests")],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = f"{completed.stdout}\n{completed.stderr}"
    assert report.exists(), f"the upstream suite did not run:\n{output}"
    outcomes: dict[tuple[str, str, str], str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        module, _, cls = case.get("classname", "").rpartition(".")
        file = module.rpartition(".")[2] + ".py"
        outcome = "passed"
        for child, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            if case.find(child) is not None:
                outcome = name
        outcomes[(file, cls, case.get("name", ""))] = outcome
    outcomes[("", "", "<output>")] = completed.stdout[-3000:] + completed.stderr[-3000:]
    return outcomes


def test_upstream_1_1_suite_passes_but_for_the_documented_str_quirk(tmp_path: Path) -> None:
    """21 of 22 pass; the one failure is the str(MozDefError) quirk, by name."""
    require(
        (KIT / "tests" / "mozdef_client").is_dir(),
        f"mozdef_client 1.1's test kit is not at {KIT} (set MOZDEF_CLIENT_1_1_KIT)",
    )
    outcomes = run_upstream_suite(tmp_path)
    output = outcomes.pop(("", "", "<output>"))
    unexpected = {
        "::".join(test): outcome
        for test, outcome in outcomes.items()
        if outcome != ("failed" if test == EXPECTED_FAILURE else "passed")
    }
    assert not unexpected, f"unexpected outcomes: {unexpected}\n{output}"
    assert len(outcomes) == EXPECTED_TESTS, f"ran {len(outcomes)} tests:\n{output}"
    assert outcomes[EXPECTED_FAILURE] == "failed"
    assert sum(outcome == "passed" for outcome in outcomes.values()) == EXPECTED_TESTS - 1
