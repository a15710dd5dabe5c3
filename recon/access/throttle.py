"""Throttling: failed sign-ins per user and per address lock out for exponentially growing delays.

What is kept is one ``Counter`` per key (``user:<name>``, ``address:<address>``): the failures since the
last success, when the last one was, and how many attempts a lock refused since. The store changes the
counters of one sign-in in a single transaction (``AuthStorage.update_counters``), and an attempt is
counted as a failure *before* its password is checked (``claim``) and cleared if it succeeds
(``settle``): 30 guesses at once see the counts of the ones before them, and only the allowance is
checked. ``locked_until`` is a pure function of the counters.

Addresses: only an address the app can attribute to one client is counted (``source_lockable``); behind
a reverse proxy the settings do not trust, every user shares the proxy's address, and counting it would
let anyone lock everybody out (the per-user lockout still applies).

Bounded: counters older than the window are forgotten and at most ``max_counters`` are kept; the access
log gets a line per checked failure and one per lock, at most ``logged_failures_per_minute`` a minute
(then one line saying how many were not written).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

USER_KEY, ADDRESS_KEY, LOG_KEY = "user:", "address:", "log:failures"


@dataclass(frozen=True)
class LockoutPolicy:
    """Failed-login throttling. After ``free_failures`` consecutive failures for a user (or
    ``source_free_failures`` from one address, across users) each further failure locks for
    ``base_delay`` doubled per extra failure, capped at ``max_delay``. A success resets the count;
    counts older than ``window`` are forgotten."""

    free_failures: int = 5
    source_free_failures: int = 20
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    window: timedelta = timedelta(hours=24)
    max_counters: int = 10_000
    logged_failures_per_minute: int = 60

    def free(self, key: str) -> int:
        return self.source_free_failures if key.startswith(ADDRESS_KEY) else self.free_failures


@dataclass(frozen=True)
class Counter:
    """Failed sign-ins against one key since its last success: how many, the last one's time, and how
    many attempts a lock has refused since (for the ``log:failures`` key: failures logged and not logged
    in the minute starting at ``last_failure_at``)."""

    key: str
    failures: int = 0
    last_failure_at: datetime | None = None
    refused: int = 0


@dataclass(frozen=True)
class Claim:
    """What counting one attempt decided: refused until ``locked_until`` (``None``: check the
    password), and whether this is the lock's first refusal (the one worth a log line)."""

    locked_until: datetime | None
    first_refusal: bool = False


def keys_for(username: str, source: str, source_lockable: bool) -> tuple[str, ...]:
    """The counters a sign-in as ``username`` from ``source`` is counted against."""
    return (USER_KEY + username, *((ADDRESS_KEY + source,) if source_lockable else ()))


def fresh(counter: Counter | None, key: str, now: datetime, policy: LockoutPolicy) -> Counter:
    """``counter``, or a zero one when there is none or its last failure is older than the window."""
    if counter is None or counter.last_failure_at is None or counter.last_failure_at < now - policy.window:
        return Counter(key)
    return counter


def lock_end(counter: Counter, policy: LockoutPolicy) -> datetime | None:
    """When the lock of ``counter`` ends (``None``: the failures are within the allowance)."""
    extra = counter.failures - policy.free(counter.key)
    if extra < 0 or counter.last_failure_at is None:
        return None
    return counter.last_failure_at + min(policy.base_delay * (2 ** min(extra, 32)), policy.max_delay)


def locked_until(counters: Mapping[str, Counter], now: datetime, policy: LockoutPolicy = LockoutPolicy()
                 ) -> datetime | None:
    """When a sign-in counted against ``counters`` is allowed again; ``None`` when it is now."""
    ends = [lock_end(fresh(counter, key, now, policy), policy) for key, counter in counters.items()]
    latest = max((end for end in ends if end is not None), default=None)
    return latest if latest is not None and latest > now else None


def claim(keys: Iterable[str], counters: Mapping[str, Counter], now: datetime,
          policy: LockoutPolicy) -> tuple[Claim, dict[str, Counter]]:
    """Count one attempt against the counters of ``keys`` (``counters``: the stored ones): refused while
    locked (not extending the lock), else counted as a failure before the password is checked."""
    current = {key: fresh(counters.get(key), key, now, policy) for key in keys}
    until = locked_until(current, now, policy)
    if until is not None:
        first = all(counter.refused == 0 for counter in current.values() if lock_end(counter, policy))
        return Claim(until, first), {key: dataclasses.replace(c, refused=c.refused + 1) for key, c in current.items()}
    return Claim(None), {key: dataclasses.replace(c, failures=c.failures + 1, last_failure_at=now, refused=0)
                         for key, c in current.items()}


def settle(keys: Iterable[str], counters: Mapping[str, Counter], succeeded: bool) -> dict[str, Counter]:
    """After the password was checked: a success clears the counters of ``keys`` (the claim already
    counted a failure)."""
    return {key: Counter(key) if succeeded or key not in counters else counters[key] for key in keys}


def log_budget(counter: Counter | None, now: datetime, policy: LockoutPolicy) -> tuple[bool, int, Counter]:
    """Whether a failed sign-in at ``now`` may have its own access-log line, how many went unlogged in
    the minute before (to say so once), and the ``log:failures`` counter after it."""
    minute = now.replace(second=0, microsecond=0)
    if counter is None or counter.last_failure_at != minute:
        unlogged = counter.refused if counter is not None else 0
        return True, unlogged, Counter(LOG_KEY, failures=1, last_failure_at=minute)
    if counter.failures < policy.logged_failures_per_minute:
        return True, 0, dataclasses.replace(counter, failures=counter.failures + 1)
    return False, 0, dataclasses.replace(counter, refused=counter.refused + 1)


__all__ = ["ADDRESS_KEY", "LOG_KEY", "USER_KEY", "Claim", "Counter", "LockoutPolicy", "claim", "keys_for",
           "lock_end", "locked_until", "log_budget", "settle"]
