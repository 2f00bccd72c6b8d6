"""Every exception class the library defines lives in errors.py, drawn in its docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import mozdef_client
from mozdef_client import errors

# Exceptions private to the CLI and the receiver, never raised to a caller of
# the library (the CLI turns one into an exit status, the receiver into an
# HTTP 400): defined and drawn in errors.py like the rest, but not exported.
PRIVATE_TO_A_FACE = {"UsageError", "BulkBodyError"}


def _defined_in_errors() -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, BaseException) and value.__module__ == errors.__name__
    }


def _modules() -> list[str]:
    names = [mozdef_client.__name__]
    for info in pkgutil.walk_packages(mozdef_client.__path__, f"{mozdef_client.__name__}."):
        names.append(info.name)
    return names


def test_every_exception_class_is_defined_in_errors_py() -> None:
    strays = []
    for name in _modules():
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional dependency is missing
            continue
        for _, value in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(value, BaseException)
                and value.__module__ == name
                and name != errors.__name__
            ):
                strays.append(f"{name}.{value.__qualname__}")
    assert strays == []


def _drawing() -> dict[str, int]:
    """Each class drawn in the docstring, and the column its name starts at."""
    drawn = {}
    for line in (errors.__doc__ or "").splitlines():
        text = line.lstrip(" │├└─")
        name = text.split(" ")[0]
        if line.startswith("    ") and name in _defined_in_errors():
            drawn[name] = len(line) - len(text)
    return drawn


def test_the_docstring_draws_every_class_of_errors_py() -> None:
    assert set(_drawing()) == _defined_in_errors()


def test_errors_py_exports_every_class_but_those_private_to_a_face() -> None:
    assert set(errors.__all__) == _defined_in_errors() - PRIVATE_TO_A_FACE
    assert PRIVATE_TO_A_FACE.isdisjoint(mozdef_client.__all__)


def test_the_drawing_shows_each_class_one_level_under_its_base() -> None:
    drawing = _drawing()
    for name, column in drawing.items():
        base = getattr(errors, name).__mro__[1].__name__
        if base in drawing:
            assert drawing[base] == column - 4, (name, base)
        else:
            assert column == 4, (name, "a root is drawn at the left")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("mozdef_client.transports.base", "PartialDeliveryError"),
        ("mozdef_client.transports", "PartialDeliveryError"),
        ("mozdef_client", "PartialDeliveryError"),
        ("mozdef_client.log_mapping", "EventDroppedError"),
        ("mozdef_client.transports._failures", "ForeignCause"),
        ("mozdef_client.cli.send", "UsageError"),
        ("mozdef_client.receiver.intake", "BulkBodyError"),
    ],
)
def test_an_old_import_location_gives_the_class_from_errors_py(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_every_error_but_the_foreign_stand_in_is_a_mozdef_error() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.MozDefError) == (name != "ForeignCause"), name
