"""When a queued message comes back: the delays SubmitFunction and FinaliseFunction hand a message back with
(ChangeMessageVisibility), and the messages' retry budget (template.yaml sizes maxReceiveCount from it).

- A retryable failure (AKOOL 1005, 5xx, timeouts, anything unexpected): exponential backoff with full
  jitter by the message's receive count: a random delay in [1, min(CAP, BASE * 2^(n-1))] seconds.
- No AKOOL slot free (pacing.py) or the job held by another worker: a short delay, so the message is soon
  back and AKOOL's slots stay busy; the submission has already waited inside its invocation.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BACKOFF_BASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 900
SHORT_DELAY_SECONDS = (5, 15)
# SQS's largest visibility timeout is 12 hours.
_MAX_VISIBILITY = 43_200

Uniform = Callable[[float, float], float]


class RetrySoon(Exception):
    """This message's work cannot be done now but soon can: hand it back with the short delay."""


class RetryLater(Exception):
    """This message's work cannot be done now (e.g. another finaliser holds the job, maybe a crashed one
    whose lease must lapse first): hand it back with the backoff delay, without logging an error."""


def full_jitter(attempt: int, base: float, cap: float, uniform: Uniform = random.uniform) -> float:
    """Exponential backoff with full jitter, the one formula every retry uses (AKOOL calls in place, queue
    messages handed back): a random delay in [0, min(cap, base * 2^(attempt-1))], attempt 1 = first retry.
    Full jitter spreads retries of many workers that failed together (AWS Architecture Blog, "Exponential
    Backoff And Jitter")."""
    exponent = min(max(attempt, 1) - 1, 20)
    return uniform(0.0, float(min(cap, base * 2**exponent)))


def backoff_seconds(receive_count: int, uniform: Uniform = random.uniform) -> int:
    """The delay before the next try of a message received `receive_count` times (1 = first time)."""
    return _clamp(full_jitter(receive_count, BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, uniform))


def short_delay_seconds(uniform: Uniform = random.uniform) -> int:
    low, high = SHORT_DELAY_SECONDS
    return _clamp(uniform(float(low), float(high)))


def _clamp(seconds: float) -> int:
    return max(1, min(_MAX_VISIBILITY, round(seconds)))
