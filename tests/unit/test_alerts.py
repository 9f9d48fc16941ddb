"""The organisers' alerts, without Telegram: the rate limit on a test clock, and what an alert
may say."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.event import Event
from bot.i18n import Catalogue
from bot.ports import StorageUnavailableError
from bot.services.access import AccessService
from bot.services.alerts import AlertService, error_name
from storage.unit_of_work import SqliteUnitOfWork


def alerting(
    event: Event, uow: SqliteUnitOfWork, clock: ManualClock, organisers: frozenset[int]
) -> AlertService:
    texts = Catalogue.load(default=event.default_language)
    access = AccessService(
        event, uow, clock, organiser_ids=organisers, ui_languages=texts.languages
    )
    return AlertService(event, uow, clock, texts, access)


async def queued(uow: SqliteUnitOfWork, clock: ManualClock) -> list[tuple[int, str]]:
    async with uow.transaction():
        rows = await uow.outbox.next_pending(clock.now() + timedelta(days=1), 100)
    return [(row.chat_id, row.message.text) for row in rows]


async def test_one_alert_a_minute_to_every_organiser_and_the_ones_held_back_are_counted(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    alerts = alerting(seed_event, uow, clock, frozenset({2, 1}))
    assert await alerts.handler_failed(KeyError("x"), "handlers.inputs.vote_button") == 2
    clock.advance(timedelta(seconds=30))
    assert await alerts.handler_failed(KeyError("x"), "handlers.inputs.vote_button") == 0
    assert await alerts.handler_failed(KeyError("x"), "handlers.inputs.vote_button") == 0
    assert len(await queued(uow, clock)) == 2
    clock.advance(timedelta(seconds=30))
    assert await alerts.handler_failed(TypeError("y"), "job agenda:wake") == 2
    [first_1, first_2, second_1, second_2] = await queued(uow, clock)
    assert [first_1[0], first_2[0], second_1[0], second_2[0]] == [1, 2, 1, 2]
    assert first_1[1] == first_2[1]
    assert "KeyError i handlers.inputs.vote_button" in first_1[1]
    assert "fejl mere" not in first_1[1]
    assert "TypeError i job agenda:wake" in second_1[1]
    assert second_1[1].endswith("Siden den forrige advarsel er der sket 2 fejl mere.")


async def test_without_organisers_there_is_no_alert(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    alerts = alerting(seed_event, uow, clock, frozenset())
    assert await alerts.handler_failed(KeyError("x"), "message") == 0
    assert await queued(uow, clock) == []


async def test_an_alert_names_the_error_class_never_its_message(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    alerts = alerting(seed_event, uow, clock, frozenset({1}))
    error = ValueError("Anna Andersen wrote: vi vil have borgerbudgetter")
    await alerts.handler_failed(error, "handlers.inputs.message_input (message)")
    [(_, text)] = await queued(uow, clock)
    assert "ValueError" in text
    assert "Anna" not in text
    assert "borgerbudgetter" not in text


async def test_a_place_that_is_not_a_code_name_is_not_shown(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    alerts = alerting(seed_event, uow, clock, frozenset({1}))
    await alerts.handler_failed(KeyError("x"), "<b>hej</b>\nmed venlig hilsen")
    [(_, text)] = await queued(uow, clock)
    assert "hej" not in text
    assert "KeyError i ?." in text


def test_an_error_is_named_by_its_class_and_the_class_of_its_cause() -> None:
    assert error_name(KeyError("Anna")) == "KeyError"
    assert error_name(sqlite3.OperationalError("database is locked")) == (
        "sqlite3.OperationalError"
    )
    wrapped = StorageUnavailableError("could not open /data/samtidig.sqlite3")
    wrapped.__cause__ = sqlite3.OperationalError("disk I/O error")
    assert (
        error_name(wrapped) == "bot.ports.StorageUnavailableError (from sqlite3.OperationalError)"
    )


async def test_a_failure_while_queueing_is_counted_in_the_next_alert(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    alerts = alerting(seed_event, uow, clock, frozenset({1}))

    async def broken(*args: object) -> int:
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patched:
        patched.setattr(alerts, "_enqueue", broken)
        with pytest.raises(sqlite3.OperationalError):
            await alerts.handler_failed(KeyError("x"), "message")
    clock.advance(timedelta(minutes=1))
    assert await alerts.handler_failed(KeyError("x"), "message") == 1
    [(_, text)] = await queued(uow, clock)
    assert text.endswith("1 fejl mere.")
