"""The retry policy: which failures to retry, and how long to wait between tries.

A small immutable value, like urllib3's ``Retry``: exponential backoff with
full jitter and a cap, honouring a server's ``Retry-After`` up to a cap of
its own. It knows nothing of queues or threads, so it is tested alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .._checks import is_number, is_whole
from ..errors import ConfigurationError, DeliveryError, RetryableError

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How the delivery pipeline retries a batch that failed.

    Args:
        backoff_initial: the first wait, in seconds.
        backoff_max: no wait is longer than this.
        retry_after_max: the longest ``Retry-After`` honoured; longer asks are cut.
        max_attempts: give up (dead-letter) after this many tries; ``None``
            retries until delivered (the durable mode's age limit still applies).
        jitter: spread waits randomly over [0, backoff] ("full jitter"), so
            many clients recovering at once do not retry in step.
    """

    backoff_initial: float = 0.1
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    max_attempts: int | None = None
    jitter: bool = True

    def __post_init__(self) -> None:
        for name in ("backoff_initial", "backoff_max", "retry_after_max"):
            value = getattr(self, name)
            if not is_number(value, at_least=0):
                raise ConfigurationError(f"RetryPolicy.{name} must be a number >= 0")
        if self.backoff_max < self.backoff_initial:
            raise ConfigurationError("RetryPolicy.backoff_max must be >= backoff_initial")
        if self.max_attempts is not None and not is_whole(self.max_attempts, at_least=1):
            raise ConfigurationError("RetryPolicy.max_attempts must be None or an integer >= 1")

    def should_retry(self, error: DeliveryError, attempts: int) -> bool:
        """Whether a batch that failed with ``error`` after ``attempts`` tries goes again."""
        if not isinstance(error, RetryableError):
            return False
        return self.max_attempts is None or attempts < self.max_attempts

    def delay(self, error: DeliveryError, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before try number ``attempts + 1``."""
        retry_after: float | None = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.retry_after_max)
        # The exponent is bounded: durable mode retries without end, and 2.0 ** 1024
        # overflows a float (64 doublings pass any sensible cap).
        exponent = min(max(0, attempts - 1), 64)
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0**exponent)
        if not self.jitter:
            return float(ceiling)
        return (rng or random.Random()).uniform(0.0, ceiling)
