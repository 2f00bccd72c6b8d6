"""The modern API posts an event to a real HTTP receiver on loopback."""

from mozdef_client import Client, Event, Severity


def test_send_posts_compact_json_event(receiver):
    client = Client(receiver.url)
    client.send(
        Event(
            summary="login failed",
            category="authentication",
            severity=Severity.WARNING,
            tags=["sso"],
            details={"username": "joe", "sourceipaddress": "10.1.2.3"},
        )
    )
    [request] = receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    assert b": " not in request.body and b"\n" not in request.body
    [event] = request.documents
    assert event["summary"] == "login failed"
    assert event["severity"] == "WARNING"
    assert event["details"] == {"username": "joe", "sourceipaddress": "10.1.2.3"}
