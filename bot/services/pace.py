"""A per-person pace for commands and button presses.

Every command or press a person sends costs the bot work and, mostly, a reply that takes one
of Telegram's 30 places a second that everyone shares. A token bucket per person lets a real
person do whatever they do (a burst of taps, then about one a second for as long as they like)
and stops a script: over the limit the person gets one notice, then silence until they slow
down. Inputs (what participants write back) are not counted here: they have their own rule
(`bot.services.inputs.FloodGate`), so one message never counts twice.

Beside it, `SaidOnce`: an explanation (not checked in, no question open, write it as text…)
is said to a person once a minute at most, however often they write; a command is not subject
to it (it asks for something, and the pace already bounds it).

Time is an injected monotonic clock in seconds, not the event's `Clock`: the pace protects
real seconds of Telegram's rate, whatever time a rehearsal simulates.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
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


# Facilitators and organisers star, hide and relay cards: on a phone that is a run of quick
# taps through a feed (a site's feed after a question holds 20-40 cards), then about as fast as
# a thumb reads a card. 30 at once and 3 a second let them through; a script holding a role is
# still bounded, at a tenth of Telegram's 30 a second, and there are a handful of role holders.
MODERATOR_RULE = PaceRule(burst=30.0, per_second=3.0, debt=12.0)


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


class _Buckets:
    """Token buckets per person under one rule. A bucket that has filled up again is the same
    as none, so idle buckets are forgotten: memory follows the people active in the last few
    seconds, not everyone who ever wrote."""

    def __init__(self, rule: PaceRule) -> None:
        self.rule = rule
        self._buckets: dict[int, _Bucket] = {}
        self._sweep_at = 1024  # forget idle buckets when this many are kept

    def admit(self, user_id: int, now: float) -> Admitted | Refused:
        rule = self.rule
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
        bucket.level = max(-rule.debt, bucket.level - 1.0)
        notice = not bucket.noticed
        bucket.noticed = True
        return Refused(notice)

    def holds(self, user_id: int, now: float) -> bool:
        """Whether `user_id` has a bucket that has not filled up again by `now`."""
        bucket = self._buckets.get(user_id)
        return bucket is not None and bucket.level + (now - bucket.at) * self.rule.per_second < (
            self.rule.burst
        )

    def __len__(self) -> int:
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


class SaidOnce:
    """Which explanation each person was given in the last `window` seconds.

    A person who writes again and again while nothing changed (a stranger, someone writing
    between questions) already has the answer: repeating it tells them nothing and takes one
    of the 30 places a second everyone shares. A minute is long enough that 40 people writing
    once a second cost 40 sentences a minute instead of 40 a second, and short enough that
    someone who missed it, or came back later, is told again. What counts as "the same" is
    the sentence as rendered: when something changed that the sentence says (the next
    question, the time it comes), it is a new sentence and is said.

    Kept in the order said, so the entries past their window are always at the front and are
    dropped as new ones come; at most `capacity` entries (10,000 people with two different
    explanations each in one minute): past that the oldest is forgotten early, which only
    means it may be said again sooner."""

    def __init__(
        self,
        window: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        capacity: int = 20_000,
        unlimited: bool = False,
    ) -> None:
        if window <= 0 or capacity < 1:
            raise ValueError("a window and a capacity must be positive")
        self.window = window
        self.capacity = capacity
        self.unlimited = unlimited
        self._monotonic = monotonic
        self._said: OrderedDict[tuple[int, int], float] = OrderedDict()

    def first(self, user_id: int, sentence: str, at: float | None = None) -> bool:
        """True if `sentence` is to be said to `user_id` now (and it is noted as said); False
        if they were given it within the window."""
        if self.unlimited:
            return True
        now = self._monotonic() if at is None else at
        said = self._said
        while said:
            oldest = next(iter(said.values()))
            if now - oldest < self.window:
                break
            said.popitem(last=False)
        key = (user_id, hash(sentence))
        if key in said:
            return False
        said[key] = now
        if len(said) > self.capacity:
            said.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._said)


class PaceGate:
    """The pace of every person for commands and presses (`rule`), a larger one for the
    presses of facilitators and organisers (`moderator_rule`), and the explanations given
    (`said`), in memory."""

    def __init__(
        self,
        rule: PaceRule | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        moderator_rule: PaceRule = MODERATOR_RULE,
        repeat_window: float = 60.0,
        unlimited: bool = False,
    ) -> None:
        self.rule = rule if rule is not None else PaceRule()
        self.moderator_rule = moderator_rule
        self.unlimited = unlimited
        self._monotonic = monotonic
        self._people = _Buckets(self.rule)
        self._moderators = _Buckets(moderator_rule)
        self.said = SaidOnce(repeat_window, monotonic, unlimited=unlimited)

    def admit(
        self, user_id: int, at: float | None = None, *, moderator: bool = False
    ) -> Admitted | Refused:
        """Count one command or press of `user_id` that arrived `at` (monotonic seconds; now
        if not given). The caller passes when it arrived, not when its turn came: a backlog
        worked off one a second would otherwise look like a person going at one a second.
        `moderator`: a press of a facilitator or organiser, counted under `moderator_rule`."""
        if self.unlimited:
            return Admitted()
        now = self._monotonic() if at is None else at
        return (self._moderators if moderator else self._people).admit(user_id, now)

    def moderating(self, user_id: int, at: float | None = None) -> bool:
        """Whether `user_id`'s presses are being counted as a moderator's right now (so the
        caller need not look up their role again for each press of a run)."""
        now = self._monotonic() if at is None else at
        return self._moderators.holds(user_id, now)

    async def admit_press(
        self, user_id: int, at: float | None, holds_role: Callable[[], Awaitable[bool]]
    ) -> Admitted | Refused:
        """Count a button press. A facilitator or organiser moderating cards presses faster
        than anyone: a press over the ordinary pace counts under `moderator_rule` if
        `holds_role()` says so. The role is asked only then (a press the ordinary pace lets
        through costs no lookup), and not again while their run of presses lasts."""
        if self.moderating(user_id, at):
            return self.admit(user_id, at, moderator=True)
        verdict = self.admit(user_id, at)
        if isinstance(verdict, Refused) and await holds_role():
            return self.admit(user_id, at, moderator=True)
        return verdict

    def __len__(self) -> int:
        """How many people's buckets are kept (for tests and `/health`)."""
        return len(self._people) + len(self._moderators)
