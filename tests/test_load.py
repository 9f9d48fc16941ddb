"""Fair under load and abuse (issue 14), against `python -m bot run` and the fake Bot API on
loopback with Telegram's flood limits on (the scenarios are in `bot.sandbox.load`)."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.load import (
    flood_during_broadcast,
    parallel_checkins,
    percentile,
    stranger_flood,
)
from bot.services.pace import PaceRule


async def test_forty_flooders_leave_a_broadcast_within_twice_its_time_and_where_answered(
    tmp_path: Path,
) -> None:
    figures = await flood_during_broadcast(tmp_path)
    print(f"\n{figures}")  # noqa: T201 - the figures, visible with -s
    assert figures.inputs_sent >= 40 * 3  # the flood really ran while the broadcast went out
    assert figures.loaded is not None, f"{figures.loaded_reached} of 150 copies"
    assert figures.loaded <= 2 * figures.unloaded
    assert figures.stopped_cleanly
    assert figures.unanswered_where == 0
    assert figures.where_latencies
    assert max(figures.where_latencies) < 2.0


async def test_forty_strangers_writing_leave_a_broadcast_within_twice_its_time_and_where_answered(
    tmp_path: Path,
) -> None:
    figures = await flood_during_broadcast(tmp_path, flooders_checked_in=False)
    print(f"\n{figures}")  # noqa: T201 - the figures, visible with -s
    assert figures.inputs_sent >= 40 * 3  # the strangers really wrote while it went out
    assert figures.inputs_acknowledged == 0  # nothing of theirs was stored
    assert figures.answers_to_writers == 40  # each told once: the run is under a minute
    assert figures.loaded is not None, f"{figures.loaded_reached} of 150 copies"
    assert figures.loaded <= 2 * figures.unloaded
    assert figures.stopped_cleanly
    assert figures.unanswered_where == 0
    assert figures.where_latencies
    assert max(figures.where_latencies) < 2.0


async def test_a_stranger_flooding_help_gets_one_notice_and_delays_no_one(
    tmp_path: Path,
) -> None:
    figures = await stranger_flood(tmp_path)
    print(f"\n{figures}")  # noqa: T201 - the figures, visible with -s
    assert figures.sent >= 500
    assert figures.helped == PaceRule().burst
    assert figures.notices == 1
    assert figures.other == 0
    assert figures.unanswered_where == 0
    assert len(figures.where_latencies) >= 4  # asked all through the flood
    assert max(figures.where_latencies) < 2.0


async def test_three_hundred_parallel_check_ins_lose_no_answer(tmp_path: Path) -> None:
    figures = await parallel_checkins(tmp_path)
    print(  # noqa: T201 - the figures, visible with -s
        f"\n{figures.people} check-ins: {figures.lost} lost, "
        f"p50 {percentile(figures.completed, 0.5):.1f} s, "
        f"p99 {percentile(figures.completed, 0.99):.1f} s"
    )
    assert figures.lost == 0
    assert figures.checked_in == figures.people == 300
