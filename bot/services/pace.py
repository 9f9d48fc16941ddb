"""A per-person pace for commands and button presses.

Every command or press a person sends costs the bot work and, mostly, a reply that takes one
of Telegram's 30 places a second that everyone shares. A token bucket per person lets a real
person do whatever they do (a burst of taps, then about one a second for as long as they like)
and stops a script: over the limit the person gets one notice, then silence until they slow
down. Inputs (what participants write back) are not counted here: they have their own rule
(`bot.services.inputs.FloodGate`), so one message never counts twice.

Time is an injected monotonic clock in seconds, not the event's `Clock`: the pace protects
real seconds of Telegram's rate, whatever time a rehearsal simulates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PaceRule:
    """How fast one person may go.

    - `burst`: how many commands and presses in a row pass at once. Checking in is four
      (`/start`, consent, role, name or not), and a person who then looks at `/where` and
      `/agenda` or double-taps a button is still well inside 8.
    - `per_second`: the sustained pace after the burst. Reading an answer before the next tap
      takes a person more than a second; a script does not wait.
    - `debt`: how far below empty refused attempts drive the bucket. While someone keeps going
      faster than `per_second` the bucket stays below one and they stay unheard; once they
      stop, they are heard again after (debt + 1) / per_second seconds (5 s by default).
    """

    burst: float = 8.0
    per_second: float = 1.0
    debt: float = 4.0

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_second <= 0 or self.debt < 0:
            raise ValueError("a pace needs a burst of at least 1 and a positive rate")


@dataclass(frozen=True, slots=True)
class Admitted:
    pass


@dataclass(frozen=True, slots=True)
class Refused:
    """Over the limit: not handled. `notice` is True for the first refusal since the person
    was last admitted (tell them once), False after that (stay silent)."""

    notice: bool


@dataclass(slots=True)
class _Bucket:
    level: float
    at: float
    noticed: bool = False


class PaceGate:
    """Token buckets per person, in memory. A bucket that has filled up again is the same as
    none, so idle buckets are forgotten: memory follows the people active in the last few
    seconds, not everyone who ever wrote."""

    def __init__(
        self,
        rule: PaceRule | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        unlimited: bool = False,
    ) -> None:
        self.rule = rule if rule is not None else PaceRule()
        self.unlimited = unlimited
        self._monotonic = monotonic
        self._buckets: dict[int, _Bucket] = {}
        self._sweep_at = 1024  # forget idle buckets when this many are kept

    def admit(self, user_id: int, at: float | None = None) -> Admitted | Refused:
        """Count one command or press of `user_id` that arrived `at` (monotonic seconds; now
        if not given). The caller passes when it arrived, not when its turn came: a backlog
        worked off one a second would otherwise look like a person going at one a second."""
        if self.unlimited:
            return Admitted()
        rule = self.rule
        now = self._monotonic() if at is None else at
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = _Bucket(rule.burst, now)
            if len(self._buckets) >= self._sweep_at:
                self._sweep(now)
        else:
            elapsed = max(0.0, now - bucket.at)
            bucket.level = min(rule.burst, bucket.level + elapsed * rule.per_second)
            bucket.at = now
        if bucket.level >= 1.0:
            bucket.level -= 1.0
            bucket.noticed = False
            return Admitted()
        # A refused attempt costs too (down to the debt): going on at the same speed keeps
        # the person unheard, slowing down lets the bucket fill.
        bucket.level = max(-self.rule.debt, bucket.level - 1.0)
        notice = not bucket.noticed
        bucket.noticed = True
        return Refused(notice)

    def __len__(self) -> int:
        """How many people's buckets are kept (for tests and `/health`)."""
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        rule = self.rule
        full = [
            user_id
            for user_id, b in self._buckets.items()
            if b.level + (now - b.at) * rule.per_second >= rule.burst
        ]
        for user_id in full:
            del self._buckets[user_id]
        # Sweep again when the kept buckets have doubled: each sweep's cost is paid for by
        # as many new buckets, and memory stays within twice the recently active people.
        self._sweep_at = max(1024, 2 * len(self._buckets))
