"""One path for a legacy event: built once, validated once, encoded once, no deep copy.

``MozDefEvent.send()`` used to build an Event, turn it into a dict, copy it
deeply, wrap it, copy it again and validate it twice. Now the encoder's
snapshot is the only copy; ``_sendlog`` is decoded from what was sent when a
program reads it; a subclass that overrides ``construct()`` or
``validate_log()`` still gets 1.1's steps.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytest

from mozdef_client import MozDefCompliance, MozDefEvent, MozDefMsg, ValidationError, validation
from mozdef_client.legacy import flush_fire_and_forget
from servers import Receiver


def patch_where_used(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    """Replace ``name`` in every module of the legacy package that has it."""
    users = [
        module
        for module_name, module in sorted(sys.modules.items())
        if module_name.startswith("mozdef_client.legacy.") and hasattr(module, name)
    ]
    assert users, f"no legacy module uses {name}"
    for module in users:
        monkeypatch.setattr(module, name, value)


@pytest.fixture
def no_deep_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a legacy send copied the event deeply")

    monkeypatch.setattr(copy, "deepcopy", refuse)
    patch_where_used(monkeypatch, "snapshot", refuse)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the validators called, in order."""
    calls: list[str] = []
    for name in ("validate_event", "validate_document"):
        original = getattr(validation, name)

        def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls.append(_name)
            return _original(*args)

        patch_where_used(monkeypatch, name, counted)
    return calls


@pytest.mark.usefixtures("no_deep_copy")
@pytest.mark.parametrize("fire_and_forget", [False, True])
def test_a_legacy_send_does_not_deep_copy_and_validates_once(
    receiver: Receiver, validations: list[str], fire_and_forget: bool
) -> None:
    details = {"user": {"name": "joe"}, "ids": [1, 2]}
    msg = MozDefEvent(receiver.url)
    msg.summary = "one path"
    msg.details = details
    msg.timestamp = "2026-12-01T00:00:00+00:00"
    msg.set_simple_update_log({"extra": {"k": "v"}})
    msg.set_fire_and_forget(fire_and_forget)
    msg.send()
    details["user"]["name"] = "mallory"  # after send: changes nothing sent
    assert flush_fire_and_forget(timeout=10) == 0
    [event] = receiver.wait_for_events(1)
    assert event["details"] == {"user": {"name": "joe"}, "ids": [1, 2]}
    assert event["extra"] == {"k": "v"}
    assert event["timestamp"] == "2026-12-01T00:00:00+00:00"
    assert validations == ["validate_event"]
    assert msg._sendlog == event  # decoded from what was sent, sharing nothing
    assert msg._sendlog["details"] is not details


@pytest.mark.usefixtures("no_deep_copy")
def test_mozdefmsg_and_the_kinds_take_the_one_path(receiver: Receiver) -> None:
    MozDefMsg(receiver.url, summary="via MozDefMsg").send()
    compliance = MozDefCompliance(receiver.url)
    compliance.summary = "compliance"
    compliance.details = {"target": "t"}  # incomplete: refused, naming the field
    with pytest.raises(ValidationError, match=r"details\.policy is missing"):
        compliance.send()
    assert [e["summary"] for e in receiver.events] == ["via MozDefMsg"]


def test_a_subclass_with_its_own_validate_log_gets_it_called_on_sendlog(
    receiver: Receiver,
) -> None:
    seen: list[dict[str, Any]] = []

    class Checked(MozDefEvent):
        def validate_log(self) -> bool:
            seen.append(dict(self._sendlog))
            return self._sendlog["details"].get("ok") is True

    msg = Checked(receiver.url)
    msg.summary = "checked"
    msg.details = {"ok": True}
    msg.send()
    msg.details = {"ok": False}
    with pytest.raises(ValidationError, match="post-construct validation"):
        msg.send()
    assert [s["details"] for s in seen] == [{"ok": True}, {"ok": False}]
    assert [e["details"] for e in receiver.events] == [{"ok": True}]


def test_a_subclass_with_its_own_construct_sends_its_sendlog(receiver: Receiver) -> None:
    class Custom(MozDefEvent):
        def construct(self) -> None:
            super().construct()
            self._sendlog["custom"] = "added by construct()"

    msg = Custom(receiver.url)
    msg.summary = "custom"
    msg.send()
    assert receiver.events[0]["custom"] == "added by construct()"
