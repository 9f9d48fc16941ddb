"""The one in-process publication of committed changes: what the walls are told, when."""

from __future__ import annotations

from typing import Any

from bot.clock import ManualClock
from bot.event import Event
from bot.sandbox.harness import BotHarness
from bot.services.live import (
    AgendaChange,
    AgendaChanged,
    InputChange,
    InputChanged,
    LiveEvent,
)
from tests.handlers.helpers import at, become_facilitator, check_in, run_until
from tests.handlers.test_inputs import buttons


async def test_each_committed_change_is_published_once_and_only_after_its_commit(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    seen: list[tuple[LiveEvent, list[tuple[Any, ...]]]] = []

    def subscriber(event: LiveEvent) -> None:
        # Another connection sees only what has committed: the state at publication.
        seen.append((event, harness.query("SELECT id, state FROM inputs ORDER BY id")))

    harness.services.live.subscribe(subscriber)
    host = harness.api.user(690, "Vært", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    anna = harness.api.user(601, "Anna Andersen", language_code="da")
    await check_in(harness, anna, "aalborg-t2")
    await run_until(harness, clock, at(seed_event, "13:41"))
    started = [e for e, _ in seen if isinstance(e, AgendaChanged)]
    assert AgendaChanged(AgendaChange.STARTED, "aalborg") in started
    assert AgendaChanged(AgendaChange.STARTED, "kobenhavn") in started

    seen.clear()
    anna.send("Politikerne skal sætte rammen")
    await harness.settle()
    (input_id,) = (row[0] for row in harness.query("SELECT id FROM inputs"))
    added = [(e, rows) for e, rows in seen if isinstance(e, InputChanged)]
    assert added == [
        (InputChanged(InputChange.ADDED, "aalborg", input_id), [(input_id, "visible")])
    ]

    seen.clear()
    card = host.last()
    host.press(card, dict(buttons(card))["⭐ Stjerne (0)"])
    await harness.settle()
    host.press(host.last(), dict(buttons(host.last()))["🙈 Skjul"])
    await harness.settle()
    changes = [(e, rows) for e, rows in seen if isinstance(e, InputChanged)]
    assert changes == [
        (InputChanged(InputChange.STARRED, "aalborg", input_id), [(input_id, "visible")]),
        (InputChanged(InputChange.HIDDEN, "aalborg", input_id), [(input_id, "hidden")]),
    ]
