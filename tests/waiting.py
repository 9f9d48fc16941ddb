"""Waiting for the thing itself, not for "long enough": the one polling helper of the tests.

A sleep long enough on a quiet laptop is too short on a loaded CI machine and too long
everywhere else. Where the code under test sets nothing a test can await, the test polls
what it can observe (a row in the database, a call the fake Bot API recorded) until it holds,
and fails at the deadline saying what it waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Short next to the steps the tests wait for; long enough that a predicate reading the
# database or thousands of recorded calls does not slow down the bot it watches.
POLL_INTERVAL = 0.01


async def eventually(
    predicate: Callable[[], T | None],
    timeout: float = 15.0,  # noqa: ASYNC109 - the horizon of a failing test, not a pace
    what: str = "the condition",
) -> T:
    """Return the predicate's first truthy value, checked now and then every
    `POLL_INTERVAL`; raise AssertionError naming `what` if `timeout` seconds pass first.

    The horizon only matters when a test fails, so it is generous: the suite runs on two
    cores, where a step that takes 50 ms on a laptop may take a second.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if value := predicate():
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(POLL_INTERVAL)
