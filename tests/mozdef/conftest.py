"""Real MozDef (the peer kit) for this folder's tests: one intake for the whole module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mozdef_kit import KitUnavailable, MozDef, start_mozdef

from amqp_helpers import require


@pytest.fixture(scope="module")
def mozdef(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MozDef]:
    """MozDef's loginput on a free port, publishing to a private exchange we capture.

    Skips when the kit, its Python or RabbitMQ is missing; fails instead under
    MOZDEF_TEST_REQUIRE_SERVICES=1 (CI).
    """
    try:
        intake = start_mozdef(tmp_path_factory.mktemp("mozdef"))
    except KitUnavailable as exc:
        require(False, f"real MozDef is not available: {exc}")
        raise AssertionError("unreachable") from exc
    yield intake
    intake.stop()
