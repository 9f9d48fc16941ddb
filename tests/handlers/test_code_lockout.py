"""Codes cannot be guessed flat out: five wrong codes in ten minutes lock a person out of code
attempts for fifteen, a right code included, with one polite answer per attempt."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import ManualClock
from bot.sandbox.harness import BotHarness


async def test_five_wrong_codes_lock_out_even_the_right_code_for_fifteen_minutes(
    harness: BotHarness, clock: ManualClock
) -> None:
    guesser = harness.api.user(666, "Guesser", language_code="en")
    for n in range(5):
        guesser.send(f"/checkin guess-{n}")
        await harness.deliver()
    assert "15 minutes" in guesser.last()["text"]

    guesser.send("/checkin demo-arrangoer-Xk42pQ9t")  # the right organiser code, too late
    await harness.deliver()
    assert "minutes" in guesser.last()["text"]
    assert harness.query("SELECT * FROM roles") == []

    clock.advance(timedelta(minutes=15))
    guesser.send("/checkin demo-arrangoer-Xk42pQ9t")
    await harness.deliver()
    assert harness.query("SELECT user_id, role FROM roles") == [(666, "organiser")]


async def test_wrong_codes_spread_over_more_than_ten_minutes_never_lock_out(
    harness: BotHarness, clock: ManualClock
) -> None:
    anna = harness.api.user(101, "Anna", language_code="en")
    for n in range(8):
        anna.send(f"/checkin typo-{n}")
        await harness.deliver()
        assert "I do not know that code" in anna.last()["text"]
        clock.advance(timedelta(minutes=3))
    anna.send("/checkin aalborg-t2")
    await harness.deliver()
    assert harness.query("SELECT user_id, group_key FROM checkins") == [(101, "t2")]
