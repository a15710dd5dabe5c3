"""Throttling: failed sign-ins per user and per source lock out for exponentially growing delays;
``locked_until`` is a pure function of the recorded attempts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from recon.access.users import LoginAttempt

# ------------------------------------------------------------------------------------------ throttling

@dataclass(frozen=True)
class LockoutPolicy:
    """Failed-login throttling. After ``free_failures`` consecutive failures for a user (or
    ``source_free_failures`` from one source, across users) each further failure locks for
    ``base_delay`` doubled per extra failure, capped at ``max_delay``. A success resets the count;
    attempts older than ``window`` are forgotten."""

    free_failures: int = 5
    source_free_failures: int = 20
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    window: timedelta = timedelta(hours=24)


def _lock_end(attempts: list[LoginAttempt], free: int, policy: LockoutPolicy) -> datetime | None:
    """When the lock from these attempts (one user's, or one source's, oldest first) ends."""
    failures: list[datetime] = []
    for attempt in attempts:
        failures = [] if attempt.succeeded else [*failures, attempt.at]
    extra = len(failures) - free
    if extra < 0:
        return None
    delay = min(policy.base_delay * (2 ** min(extra, 32)), policy.max_delay)
    return failures[-1] + delay


def locked_until(attempts: Iterable[LoginAttempt], username: str, source: str, now: datetime,
                 policy: LockoutPolicy = LockoutPolicy()) -> datetime | None:
    """When logging in as ``username`` from ``source`` is allowed again; ``None`` when it is now."""
    recent = sorted((a for a in attempts if a.at >= now - policy.window), key=lambda a: a.at)
    ends = [
        _lock_end([a for a in recent if a.username == username], policy.free_failures, policy),
        _lock_end([a for a in recent if a.source == source], policy.source_free_failures, policy),
    ]
    latest = max((end for end in ends if end is not None), default=None)
    return latest if latest is not None and latest > now else None


