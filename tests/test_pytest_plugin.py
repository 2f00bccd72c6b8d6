"""The pytest plugin, run the way a user's test suite runs it (through pytester).

The plugin is found through its ``pytest11`` entry point, as in a user's
project; nothing here registers it by hand.
"""

from __future__ import annotations

pytest_plugins = ["pytester"]


def run(pytester, *args):
    # Hypothesis's plugin takes seconds to start a session; it is not under test.
    return pytester.runpytest(*args, "-p", "no:cacheprovider", "-p", "no:hypothesispytest")


APP = '''
from mozdef_client import Client, Event, MozDefEvent, Severity

def login(user, password):
    """Code under test that uses the modern API and MOZDEF_URL."""
    with Client() as client:
        client.send(Event(summary=f"login failed for {user}", category="authentication",
                          severity=Severity.WARNING, details={"username": user}))

def legacy_login(url, user):
    """Code under test written for mozdef_client 1.1, given a URL."""
    message = MozDefEvent(url)
    message.summary = f"login failed for {user}"
    message.set_category("authentication")
    message.details = {"username": user}
    message.send()
'''


def test_the_issue_example_passes_with_a_client_that_reads_mozdef_url(pytester):
    pytester.makepyfile(app=APP)
    pytester.makepyfile(
        """
        from app import login

        def test_login(mozdef_events):
            login("joe", "wrong")
            assert mozdef_events.one(category="authentication").details["username"] == "joe"
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_legacy_code_is_given_the_fixture_url(pytester):
    pytester.makepyfile(app=APP)
    pytester.makepyfile(
        """
        from app import legacy_login

        def test_legacy(mozdef_events):
            legacy_login(mozdef_events.url, "ann")
            event = mozdef_events.one(details__username="ann")
            assert event.category == "authentication"
            assert event.summary == "login failed for ann"
            assert event.path == "/events"
            assert event.valid
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_one_fails_with_a_listing_of_what_arrived(pytester):
    pytester.makepyfile(app=APP)
    pytester.makepyfile(
        """
        from app import login

        def test_wrong_user(mozdef_events):
            login("joe", "wrong")
            mozdef_events.one(details__username="bob")
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected exactly one MozDef event with details.username='bob', found 0.",
            "*1 events arrived:",
            "*/events*'category': 'authentication'*'login failed for joe'*",
        ]
    )


def test_one_fails_when_more_than_one_matches(pytester):
    pytester.makepyfile(app=APP)
    pytester.makepyfile(
        """
        from app import login

        def test_twice(mozdef_events):
            login("joe", "a")
            login("joe", "b")
            mozdef_events.one(category="authentication")
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*found 2.*", "*2 events arrived:*"])


def test_filter_all_wait_and_background_clients(pytester):
    pytester.makepyfile(
        """
        from mozdef_client import Client, Event

        def test_background(mozdef_events):
            client = Client(mozdef_events.bulk_url, mode="background")
            for n in range(3):
                client.send(Event(summary=f"n{n}", category="batch"))
            client.send(Event(summary="other"))
            found = mozdef_events.wait(3, timeout=10, category="batch")
            assert sorted(e.summary for e in found) == ["n0", "n1", "n2"]
            client.close(timeout=5)
            assert len(mozdef_events.all()) == 4
            assert [e.summary for e in mozdef_events.filter(summary="other")] == ["other"]
            assert {e.path for e in mozdef_events} == {"/_bulk"}
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_clear_forgets_earlier_events_and_wait_sees_only_new_ones(pytester):
    pytester.makepyfile(
        """
        from mozdef_client import Client, Event

        def test_clear(mozdef_events):
            Client().send(Event(summary="old"))
            mozdef_events.clear()
            assert mozdef_events.all() == []
            client = Client(mode="background")
            client.send(Event(summary="new"))
            [event] = mozdef_events.wait(1, timeout=10)
            assert event.summary == "new"
            client.close(timeout=5)
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_wait_fails_after_its_timeout_saying_what_arrived(pytester):
    pytester.makepyfile(
        """
        def test_nothing_sent(mozdef_events):
            mozdef_events.wait(1, timeout=0.3)
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*waited 0.3 s for 1 MozDef events with any fields*"])


def test_events_read_as_attributes_keys_and_mappings(pytester):
    pytester.makepyfile(
        """
        import pytest
        from mozdef_client import Client, Event

        def test_access(mozdef_events):
            Client().send(Event(summary="s", category="c", tags=["t"]))
            event = mozdef_events.one()
            assert event["summary"] == event.summary == "s"
            assert dict(event)["tags"] == ["t"]
            assert event.get("source") is None
            with pytest.raises(AttributeError, match="no field 'source'; its fields: "):
                event.source
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_assert_valid_names_the_broken_field(pytester):
    pytester.makepyfile(
        """
        import urllib3

        def test_broken(mozdef_events):
            body = b'{"summary": "x", "category": "complianceitems", "details": {}}'
            urllib3.request("POST", mozdef_events.url, body=body)
            mozdef_events.assert_valid()
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*1 MozDef events are not valid:*", "*details.target is missing*"])


def test_each_test_gets_its_own_receiver_and_mozdef_url(pytester, monkeypatch):
    monkeypatch.delenv("MOZDEF_URL", raising=False)
    pytester.makepyfile(
        """
        import os
        seen = []

        def test_first(mozdef_events):
            seen.append(os.environ["MOZDEF_URL"])
            assert mozdef_events.url == os.environ["MOZDEF_URL"]
            assert mozdef_events.all() == []

        def test_second(mozdef_events):
            assert os.environ["MOZDEF_URL"] != seen[0]

        def test_after():
            assert "MOZDEF_URL" not in os.environ
        """
    )
    run(pytester).assert_outcomes(passed=3)


def test_the_fixture_is_documented_in_pytest_fixtures(pytester):
    result = run(pytester, "--fixtures")
    result.stdout.fnmatch_lines(["mozdef_events*", "*development receiver for this test*"])
