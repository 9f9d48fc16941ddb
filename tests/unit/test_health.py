"""The loop monitor notices a blocked event loop and warns past 100 ms."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.health import LoopMonitor


async def test_a_blocked_loop_is_measured_and_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = LoopMonitor()
    monitor.start()
    await asyncio.sleep(0.12)
    with caplog.at_level(logging.WARNING, logger="bot.health"):
        time.sleep(0.2)  # noqa: ASYNC251 - the point: block the loop
        await asyncio.sleep(0.12)
    await monitor.stop()
    assert monitor.longest >= 0.15
    assert monitor.take_longest() >= 0.15
    assert monitor.longest == 0.0
    assert monitor.longest_ever >= 0.15
    assert any("blocked for" in r.getMessage() for r in caplog.records)
