"""The public names, and what ``import mozdef_client`` pulls in."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import mozdef_client

EXPECTED = {
    "AMQPOptions",
    "AMQPTransport",
    "Client",
    "ConfigurationError",
    "DeadLetter",
    "DeliveryError",
    "DeliveryOptions",
    "DestinationStats",
    "DocumentEvent",
    "EncodedEvent",
    "EncodingError",
    "Event",
    "EventTooLargeError",
    "Facility",
    "FileTransport",
    "HTTPOptions",
    "HTTPTransport",
    "Kind",
    "MozDefAssetHint",
    "MozDefCompliance",
    "MozDefError",
    "MozDefEvent",
    "MozDefHandler",
    "MozDefMessage",
    "MozDefMsg",
    "MozDefProcessor",
    "MozDefRRA",
    "MozDefVulnerability",
    "PartialDeliveryError",
    "PermanentError",
    "RemoteSyslogOptions",
    "RemoteSyslogTransport",
    "RetryPolicy",
    "RetryableError",
    "SQSOptions",
    "SQSTransport",
    "Severity",
    "SpoolError",
    "SpoolFullError",
    "Stats",
    "SyslogOptions",
    "SyslogTransport",
    "TLSOptions",
    "Transport",
    "ValidationError",
    "VulnerabilityEvent",
    "__version__",
    "encode_document",
    "prepare",
    "validate_document",
}

# Optional dependencies: importing the package must not load them.
LAZY = ("boto3", "botocore", "pika", "structlog", "click", "mypy_boto3_sqs")


def run_python(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_all_is_exactly_the_public_names():
    assert set(mozdef_client.__all__) == EXPECTED
    assert len(mozdef_client.__all__) == len(EXPECTED), "a name is listed twice"


def test_every_public_name_is_imported_on_first_use_from_its_module():
    """The package imports a name's module lazily; the table must list every name."""
    assert set(mozdef_client._MODULE_OF) | {"__version__"} == EXPECTED
    assert set(dir(mozdef_client)) >= EXPECTED
    loaded = run_python(
        """
        import json, sys
        import mozdef_client
        http = "mozdef_client.transports.http"
        before = http in sys.modules
        mozdef_client.HTTPTransport
        print(json.dumps({"before": before, "after": http in sys.modules}))
        """
    )
    assert loaded == {"before": False, "after": True}


def test_every_name_in_all_exists_and_belongs_to_the_package():
    for name in mozdef_client.__all__:
        value = getattr(mozdef_client, name)
        module = getattr(value, "__module__", "mozdef_client")
        assert module.startswith("mozdef_client"), f"{name} comes from {module}"


def test_star_import_gives_exactly_all():
    namespace: dict[str, object] = {}
    exec("from mozdef_client import *", namespace)
    assert set(namespace) - {"__builtins__"} == EXPECTED


def test_version_is_a_string():
    assert isinstance(mozdef_client.__version__, str)
    assert mozdef_client.__version__.startswith("2.")


def test_import_loads_no_optional_dependency():
    loaded = run_python(
        f"""
        import json, sys
        import mozdef_client
        print(json.dumps({{"loaded": [m for m in {LAZY!r} if m in sys.modules]}}))
        """
    )
    assert loaded == {"loaded": []}


def test_import_and_send_work_with_only_the_core_dependency(tmp_path):
    """With every optional package unimportable, the package imports, encodes and writes a file."""
    out = tmp_path / "events.ndjson"
    blocked = (*LAZY, "orjson")
    result = run_python(
        f"""
        import json, sys
        for name in {blocked!r}:
            sys.modules[name] = None  # makes "import name" raise ImportError
        import mozdef_client
        client = mozdef_client.Client("file://{out}")
        client.send(mozdef_client.Event(summary="café", details={{"f": 1e-7}}))
        client.close()
        print(json.dumps({{"loaded": [m for m in {blocked!r} if sys.modules.get(m)]}}))
        """
    )
    assert result == {"loaded": []}
    [line] = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["summary"] == "café"
    # The stdlib spells this float 1e-07 (orjson: 1e-7): the fallback encoder wrote it.
    assert '"f":1e-07' in line
