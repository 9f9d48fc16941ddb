"""The loop monitor notices a blocked event loop and warns past 100 ms."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.health import LoopMonitor
from tests.waiting import eventually


async def test_a_blocked_loop_is_measured_and_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = LoopMonitor()
    monitor.start()
    await asyncio.sleep(0)  # one turn of the loop: the monitor starts timing its first tick
    with caplog.at_level(logging.WARNING, logger="bot.health"):
        time.sleep(0.2)  # noqa: ASYNC251 - the point: block the loop
        await eventually(
            lambda: any("blocked for" in r.getMessage() for r in caplog.records),
            what="the monitor's warning",
        )
    await monitor.stop()
    assert monitor.longest >= 0.15
    assert monitor.take_longest() >= 0.15
    assert monitor.longest == 0.0
    assert monitor.longest_ever >= 0.15
    assert any("blocked for" in r.getMessage() for r in caplog.records)


def test_an_export_ending_does_not_unfreeze_what_the_running_bot_froze() -> None:
    import gc

    from bot.health import GcFrozen

    frozen = GcFrozen()
    assert gc.get_freeze_count() == 0
    frozen.hold()  # the bot, once started
    bot_only = gc.get_freeze_count()
    assert bot_only > 0
    with frozen:  # an export, start to end: freezes nothing more (its garbage would stay)
        assert gc.get_freeze_count() == bot_only
    assert gc.get_freeze_count() == bot_only  # still set aside for the bot
    frozen.let_go()  # the bot stops
    assert gc.get_freeze_count() == 0
