"""RetryPolicy: which failures are retried, and how long the pipeline waits between tries."""

from __future__ import annotations

import dataclasses
import random

import pytest

from mozdef_client.delivery import RetryPolicy
from mozdef_client.errors import (
    ConfigurationError,
    DeliveryError,
    EventTooLargeError,
    PermanentError,
    RetryableError,
)


def test_policy_is_immutable():
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.backoff_max = 1.0  # type: ignore[misc]
    changed = dataclasses.replace(policy, backoff_max=60.0)
    assert changed.backoff_max == 60.0 and policy.backoff_max == 30.0


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        RetryPolicy(0.1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backoff_initial": -1}, "backoff_initial"),
        ({"backoff_max": "2"}, "backoff_max"),
        ({"retry_after_max": True}, "retry_after_max"),
        ({"backoff_initial": 5.0, "backoff_max": 1.0}, "backoff_max must be >= backoff_initial"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2.5}, "max_attempts"),
    ],
)
def test_bad_options_are_configuration_errors_naming_the_option(options, message):
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy(**options)


@pytest.mark.parametrize(
    "error",
    [
        RetryableError("connection refused"),
        RetryableError("HTTP 503", status=503),
        RetryableError("HTTP 429", status=429, retry_after=3.0),
    ],
)
def test_retryable_errors_are_retried(error):
    assert RetryPolicy().should_retry(error, attempts=1)
    assert RetryPolicy().should_retry(error, attempts=1000)


@pytest.mark.parametrize(
    "error",
    [
        PermanentError("HTTP 400", status=400),
        PermanentError("HTTP 401", status=401),
        EventTooLargeError("HTTP 413", status=413),
        DeliveryError("some delivery failure of no known kind"),
    ],
)
def test_permanent_errors_are_never_retried(error):
    assert not RetryPolicy().should_retry(error, attempts=1)


def test_max_attempts_counts_every_try_including_the_first():
    policy = RetryPolicy(max_attempts=3)
    error = RetryableError("HTTP 503", status=503)
    assert [policy.should_retry(error, n) for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert not RetryPolicy(max_attempts=1).should_retry(error, 1)


def test_backoff_without_jitter_doubles_up_to_the_cap():
    policy = RetryPolicy(backoff_initial=0.5, backoff_max=5.0, jitter=False)
    error = RetryableError("timed out")
    delays = [policy.delay(error, attempts) for attempts in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_backoff_with_full_jitter_spreads_waits_under_the_exponential_ceiling():
    policy = RetryPolicy(backoff_initial=0.1, backoff_max=2.0)
    error = RetryableError("connection reset")
    rng = random.Random(1234)
    for attempts, ceiling in [
        (1, 0.1),
        (2, 0.2),
        (3, 0.4),
        (4, 0.8),
        (5, 1.6),
        (6, 2.0),
        (30, 2.0),
    ]:
        waits = [policy.delay(error, attempts, rng) for _ in range(300)]
        assert all(0.0 <= w <= ceiling for w in waits), attempts
        # Full jitter: the waits cover the range, they are not bunched at the top.
        assert min(waits) < ceiling * 0.1 and max(waits) > ceiling * 0.9, attempts


def test_jitter_is_reproducible_with_a_seeded_random():
    policy = RetryPolicy(backoff_initial=0.1, backoff_max=2.0)
    error = RetryableError("HTTP 502", status=502)
    first = [policy.delay(error, n, random.Random(7)) for n in range(1, 10)]
    again = [policy.delay(error, n, random.Random(7)) for n in range(1, 10)]
    assert first == again
    expected_rng = random.Random(7)
    assert first[3] == expected_rng.uniform(0.0, 0.8)


def test_a_huge_attempt_count_stays_at_the_cap():
    policy = RetryPolicy(backoff_initial=0.1, backoff_max=3.0, jitter=False)
    assert policy.delay(RetryableError("x"), attempts=5000) == 3.0


def test_retry_after_is_honoured_instead_of_the_backoff():
    policy = RetryPolicy(backoff_initial=0.01, backoff_max=0.2)
    error = RetryableError("HTTP 429", status=429, retry_after=7.0)
    # Not jittered and not limited by backoff_max: the server said when.
    assert [policy.delay(error, n, random.Random(n)) for n in (1, 2, 9)] == [7.0, 7.0, 7.0]


def test_retry_after_is_capped_at_retry_after_max():
    policy = RetryPolicy(retry_after_max=10.0)
    assert policy.delay(RetryableError("HTTP 503", retry_after=3600.0), 1) == 10.0
    assert policy.delay(RetryableError("HTTP 503", retry_after=0.0), 1) == 0.0
