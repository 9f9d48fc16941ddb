"""The per-person pace for commands and presses, on a clock the test moves."""

from __future__ import annotations

import pytest

from bot.services.pace import Admitted, PaceGate, PaceRule, Refused, SaidOnce


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def attempts(gate: PaceGate, user_id: int, count: int) -> list[Admitted | Refused]:
    return [gate.admit(user_id) for _ in range(count)]


def test_a_burst_passes_then_one_notice_then_silence() -> None:
    gate = PaceGate(PaceRule(burst=8, per_second=1, debt=4), Ticks())
    verdicts = attempts(gate, 1, 20)
    assert verdicts[:8] == [Admitted()] * 8
    assert verdicts[8] == Refused(notice=True)
    assert verdicts[9:] == [Refused(notice=False)] * 11


def test_a_person_at_one_a_second_is_never_refused() -> None:
    ticks = Ticks()
    gate = PaceGate(PaceRule(burst=8, per_second=1), ticks)
    for _ in range(600):  # ten minutes of tapping once a second, after a burst
        assert gate.admit(1) == Admitted()
        ticks.now += 1.0
    assert attempts(gate, 1, 8) == [Admitted()] * 8


def test_a_script_twice_the_pace_stays_unheard_for_as_long_as_it_goes_on() -> None:
    ticks = Ticks()
    gate = PaceGate(PaceRule(burst=8, per_second=1, debt=4), ticks)
    verdicts = []
    for _ in range(200):  # 100 s at two a second
        verdicts.append(gate.admit(1))
        ticks.now += 0.5
    first = verdicts.index(Refused(notice=True))
    # The burst, and what refilled while it was used: 8 + 1 a second for 8 s at most.
    assert verdicts[:first] == [Admitted()] * first
    assert first <= 16
    assert verdicts[first + 1 :] == [Refused(notice=False)] * (199 - first)


def test_after_a_pause_the_person_is_heard_again_and_told_again_if_they_flood_again() -> None:
    ticks = Ticks()
    gate = PaceGate(PaceRule(burst=8, per_second=1, debt=4), ticks)
    attempts(gate, 1, 30)
    ticks.now += 4.9  # not yet: the flood left a debt of four
    assert gate.admit(1) == Refused(notice=False)
    ticks.now += 6.0
    assert gate.admit(1) == Admitted()
    assert Refused(notice=True) in attempts(gate, 1, 10)


def test_people_are_counted_apart() -> None:
    gate = PaceGate(PaceRule(burst=2, per_second=1), Ticks())
    attempts(gate, 1, 5)
    assert attempts(gate, 2, 2) == [Admitted()] * 2


def test_an_unlimited_gate_admits_everything() -> None:
    gate = PaceGate(PaceRule(burst=1), Ticks(), unlimited=True)
    assert attempts(gate, 1, 100) == [Admitted()] * 100


def test_memory_follows_the_people_active_in_the_last_seconds_not_everyone() -> None:
    ticks = Ticks()
    gate = PaceGate(PaceRule(burst=8, per_second=1), ticks)
    for user_id in range(10_000):  # 10,000 people, each pressing once within 10 s
        gate.admit(user_id)
        ticks.now += 0.001
    assert len(gate) <= 10_000
    ticks.now += 60.0  # everyone idle for a minute: their buckets are full again
    for user_id in range(10_000, 12_000):
        gate.admit(user_id)
    # Only buckets that could still refuse someone are kept, within a factor of two.
    assert len(gate) <= 2 * 2_000
    # A person forgotten while idle starts again with a full burst.
    assert attempts(gate, 5, 8) == [Admitted()] * 8


def test_a_person_still_in_debt_is_not_forgotten_by_a_sweep() -> None:
    ticks = Ticks()
    gate = PaceGate(PaceRule(burst=8, per_second=1, debt=4), ticks)
    attempts(gate, 1, 30)
    for user_id in range(2, 3_000):  # enough newcomers to sweep, within the same second
        gate.admit(user_id)
    assert gate.admit(1) == Refused(notice=False)


def test_a_rule_without_a_burst_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        PaceRule(burst=0)


def test_an_explanation_is_said_once_within_the_window_then_again() -> None:
    ticks = Ticks()
    said = SaidOnce(60.0, ticks)
    assert said.first(1, "not checked in")
    ticks.now += 59.0
    assert not said.first(1, "not checked in")
    assert said.first(2, "not checked in")  # another person
    assert said.first(1, "next question at 14:00")  # something changed: a new sentence
    ticks.now += 1.0
    assert said.first(1, "not checked in")


def test_what_was_said_is_forgotten_after_the_window_and_kept_within_capacity() -> None:
    ticks = Ticks()
    said = SaidOnce(60.0, ticks, capacity=10_000)
    for user_id in range(15_000):
        said.first(user_id, "not checked in")
    assert len(said) == 10_000
    assert said.first(0, "not checked in")  # the oldest was forgotten early: said again
    ticks.now += 60.0
    said.first(99_999, "not checked in")
    assert len(said) == 1


def test_a_moderators_presses_have_a_larger_burst_and_rate_of_their_own() -> None:
    ticks = Ticks()
    moderator = PaceRule(burst=30, per_second=3, debt=12)
    gate = PaceGate(PaceRule(burst=8, per_second=1), ticks, moderator_rule=moderator)
    verdicts = [gate.admit(1, moderator=True) for _ in range(31)]
    assert verdicts[:30] == [Admitted()] * 30
    assert verdicts[30] == Refused(notice=True)
    assert gate.moderating(1)
    assert gate.admit(1) == Admitted()  # commands keep the ordinary pace, untouched
    ticks.now += 40.0  # filled up again: the run is over
    assert not gate.moderating(1)
    for _ in range(60):  # three a second, for ever
        ticks.now += 1 / 3
        assert gate.admit(1, moderator=True) == Admitted()
