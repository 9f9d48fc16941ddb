"""Privacy: what is stored is said plainly; consent is withdrawn as easily as given; a person
gets their own data; erasure leaves no trace in any table; old events are purged."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeBotApi
from bot.sandbox.harness import BotHarness
from bot.services.console import SignedIn
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import at, become_facilitator, check_in, run_until


def every_value(database: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) for every non-null value in every table of the schema."""
    found = []
    with sqlite3.connect(database) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - names from sqlite_master
                found += [
                    (table, column, str(value))
                    for column, value in zip(columns, row, strict=True)
                    if value is not None
                ]
    return found


async def test_privacy_says_what_is_stored_why_how_long_and_who_sees_it(
    harness: BotHarness,
) -> None:
    for lang, marks in (
        ("da", ["Hvad gemmes", "Hvorfor", "Hvem ser hvad", "90 dage", "/mydata", "/withdraw"]),
        ("en", ["What is stored", "Why", "Who sees what", "90 days", "/mydata", "/forget"]),
    ):
        person = harness.api.user(1500 if lang == "da" else 1501, "P", language_code=lang)
        person.send("/privacy")
        await harness.deliver()
        for mark in marks:
            assert mark in person.last()["text"], (lang, mark)


async def test_withdrawing_consent_stops_collection_and_pushes(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    anna = harness.api.user(1510, "Anna", language_code="da")
    await check_in(harness, anna, "aalborg-t1")
    await run_until(harness, clock, at(seed_event, "13:41"))
    anna.send("Før jeg trækker mig")
    await harness.settle()
    anna.send("/withdraw")
    await harness.settle()
    anna.press_button(anna.last(), "Ja, træk det tilbage")
    await harness.settle()
    assert "trukket tilbage" in anna.last()["text"]
    assert harness.query("SELECT withdrawn_at IS NOT NULL FROM consents") == [(1,)]
    anna.send("Efter jeg trak mig")
    await run_until(harness, clock, at(seed_event, "14:30"))
    assert harness.query("SELECT text FROM inputs") == [("Før jeg trækker mig",)]
    # No reminder and no break push reached her after the withdrawal.
    assert not any("Pause" in m["text"] for m in anna.inbox())


async def test_mydata_sends_the_persons_own_data_as_a_file(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    anna = harness.api.user(1520, "Anna Andersen", language_code="en")
    await check_in(harness, anna, "kobenhavn-t2")
    await run_until(harness, clock, at(seed_event, "13:41"))
    anna.send("Mit svar")
    await harness.settle()
    anna.send("/mydata")
    await harness.settle()
    document = anna.last()
    assert "document" in document
    stored = harness.api.files[document["document"]["file_id"]]
    data = json.loads(stored.content)
    assert data["schema"] == "samtidig-mydata/1"
    assert data["profile"]["display_name"] == "Anna Andersen"
    assert data["checkins"][0]["site_key"] == "kobenhavn"
    assert [i["text"] for i in data["inputs"]] == ["Mit svar"]
    assert data["consents"][0]["version"] == "2026-11-27.2"


async def test_forget_leaves_no_trace_of_the_person_in_any_table(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    host = harness.api.user(1530, "Vært", language_code="da")
    await become_facilitator(harness, seed_event, host, "aalborg")
    anna = harness.api.user(1531, "Annaleena Særpræg", language_code="da")
    bo = harness.api.user(1532, "Bo", language_code="da")
    await check_in(harness, anna, "aalborg-t1")
    await check_in(harness, bo, "aalborg-t2")
    await run_until(harness, clock, at(seed_event, "13:41"))
    secret = "Min helt særlige mening om budgettet"
    sent = anna.send(secret)
    await harness.settle()
    anna.edit(sent["message"], secret + " (rettet)")
    host.press(
        host.last(),
        next(
            b["callback_data"]
            for row in host.last()["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith("v1:mod:star-")
        ),
    )
    bo.send("Bos svar")
    await harness.settle()
    anna.send("/inputs")
    await harness.settle()
    anna.press(anna.last(), "v1:vote:2")  # Anna votes for Bo's input
    await run_until(harness, clock, at(seed_event, "14:50"))  # the digest relays her highlight

    anna.send("/forget")
    await harness.settle()
    anna.press_button(anna.last(), "Ja, slet alt")
    await harness.settle()
    assert "slettet" in anna.last()["text"]

    traces = [
        (table, column, value)
        for table, column, value in every_value(harness.database_path)
        if value in {str(anna.id), "Annaleena Særpræg"}
        or "Annaleena" in value
        or "særlige mening" in value
        or f"m:{anna.id}:" in value
    ]
    assert traces == []
    assert harness.query("SELECT inputs, reason FROM erasures") == [(1, "request")]
    # Bo's input and everyone else's data are untouched.
    assert harness.query("SELECT text FROM inputs") == [("Bos svar",)]


async def test_purge_erases_a_past_event_after_its_retention(
    harness: BotHarness, seed_event: Event
) -> None:
    anna = harness.api.user(1540, "Anna", language_code="da")
    await check_in(harness, anna, "aalborg-t1")
    privacy = harness.services.privacy
    assert await privacy.purge_event(date(2018, 10, 3)) is None  # not before its own date
    assert await privacy.purge_event(date(2018, 10, 4)) == 1
    for table in ("participants", "consents", "checkins", "inputs", "outbox"):
        assert harness.query(f"SELECT COUNT(*) FROM {table}") == [(0,)], table  # noqa: S608


async def test_logs_hold_neither_the_token_nor_message_texts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.eventfile import SEED_EVENT
    from bot.sandbox.rehearsal import TOKEN, rehearse

    with caplog.at_level(logging.INFO):
        result = await rehearse(SEED_EVENT, participants=12, out=tmp_path / "r")
    assert result.summary["inputs"]
    with sqlite3.connect(tmp_path / "r" / "rehearsal.sqlite3") as conn:
        texts = [row[0] for row in conn.execute("SELECT text FROM inputs")]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert texts
    assert not [t for t in texts if t in logged]
    assert TOKEN not in logged
    assert TOKEN.split(":")[1] not in logged


async def test_forget_takes_a_facilitators_console_links_and_sessions_too(
    settings: Settings, seed_event: Event, clock: ManualClock
) -> None:
    api = FakeBotApi(TOKEN)
    public = settings.model_copy(update={"public_url": "https://samtidig.test"})
    async with BotHarness.running(public, api=api, event=seed_event, clock=clock) as harness:
        host = api.user(1540, "Vibeke Værtsdatter", language_code="da")
        await become_facilitator(harness, seed_event, host, "aalborg")
        links = []
        for _ in range(2):  # one link used to open a session, one left unused
            host.send("/console")
            await harness.settle()
            found = re.search(r"/console/login/([A-Za-z0-9_-]+)", host.last()["text"])
            assert found is not None
            links.append(found[1])
        assert isinstance(await harness.services.console.sign_in(links[0]), SignedIn)
        assert harness.query("SELECT COUNT(*) FROM console_sessions") == [(1,)]

        host.send("/forget")
        await harness.settle()
        host.press_button(host.last(), "Ja, slet alt")
        await harness.settle()

        traces = [
            (table, column, value)
            for table, column, value in every_value(harness.database_path)
            if value == str(host.id) or "Vibeke" in value
        ]
        assert traces == []
        assert harness.query("SELECT COUNT(*) FROM console_links") == [(0,)]
        assert harness.query("SELECT COUNT(*) FROM console_sessions") == [(0,)]
    api.assert_no_unexpected()
