"""`/export` and `/stats` through the real application: who may, which sites they get, and the
bot answering others while an export is being made."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

import bot.export.runner
from bot.clock import ManualClock
from bot.event import Event
from bot.sandbox import FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import ORGANISER_ID
from tests.handlers.helpers import at, become_facilitator, check_in, run_until
from tests.waiting import eventually

EVENT = "aabne-vaerksteder-2018"

# /export runs with block=False, as a task PTB awaits when a running application stops. The
# harness drives `process_update` without `Application.start()`, so PTB warns that it will not
# await the task; the tests wait for the export's last message themselves instead.
pytestmark = pytest.mark.filterwarnings("ignore:Tasks created via:UserWarning")


def documents(user: FakeUser) -> list[dict[str, Any]]:
    """The export files in the chat (a feed card may show a participant's document too)."""
    return [
        m["document"]
        for m in user.inbox()
        if "document" in m and m["document"].get("file_name", "").startswith(EVENT)
    ]


def export_done(user: FakeUser) -> Callable[[], bool]:
    return lambda: any("✅" in m.get("text", "") for m in user.inbox())


def csv_rows(harness: BotHarness, document: dict[str, Any]) -> list[dict[str, str]]:
    content = harness.api.files[document["file_id"]].content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(content)))


@pytest.fixture
async def day(harness: BotHarness, seed_event: Event, clock: ManualClock) -> BotHarness:
    """Anna in Aalborg and Bo in Copenhagen have answered the first group work."""
    anna = harness.api.user(701, "Anna Andersen", language_code="da")
    bo = harness.api.user(702, "Bo Berg", language_code="da")
    await check_in(harness, anna, "aalborg-t2")
    await check_in(harness, bo, "kobenhavn-t1", anonymous=True)
    await run_until(harness, clock, at(seed_event, "13:41"))
    anna.send("Politikerne skal sætte rammen for forsøget.")
    bo.send("Forvaltningen skal turde fejle i forsøget.")
    await harness.settle()
    return harness


async def test_a_participant_may_neither_export_nor_see_the_figures(day: BotHarness) -> None:
    anna = day.api.existing_user(701)
    anna.send("/export")
    await day.settle()
    await eventually(lambda: "facilitatorer" in anna.last()["text"], what="the refusal")
    anna.send("/stats")
    await day.settle()
    assert "facilitatorer og arrangører" in anna.last()["text"]
    assert documents(anna) == []


async def test_a_facilitator_exports_their_own_site_only(
    day: BotHarness, seed_event: Event
) -> None:
    host = day.api.user(790, "Vært", language_code="da")
    await become_facilitator(day, seed_event, host, "aalborg")
    host.send("/export kobenhavn")
    await day.settle()
    await eventually(lambda: "ikke facilitator" in host.last()["text"], what="the refusal")
    host.send("/export csv html")
    await day.deliver()
    await eventually(export_done(host))
    sent = documents(host)
    assert [d["file_name"] for d in sent] == [
        f"{EVENT}-aalborg.csv",
        f"{EVENT}-aalborg-report.html",
    ]
    rows = csv_rows(day, sent[0])
    assert [(r["site"], r["author"], r["text"]) for r in rows] == [
        ("aalborg", "Anna Andersen", "Politikerne skal sætte rammen for forsøget.")
    ]
    page = day.api.files[sent[1]["file_id"]].content.decode("utf-8")
    assert "Politikerne skal sætte rammen" in page
    assert "Forvaltningen skal turde fejle" not in page


async def test_an_organiser_exports_every_site_and_names_stay_as_chosen(day: BotHarness) -> None:
    organiser = day.api.user(ORGANISER_ID, "Org", language_code="en")
    organiser.send("/export")
    await day.deliver()
    await eventually(export_done(organiser))
    names = [d["file_name"] for d in documents(organiser)]
    assert names == [f"{EVENT}.csv", f"{EVENT}.xlsx", f"{EVENT}.json", f"{EVENT}-report.html"]
    rows = csv_rows(day, documents(organiser)[0])
    # Bo chose to be anonymous: not even the organisers' export names him.
    assert {(r["site"], r["author"]) for r in rows} == {
        ("aalborg", "Anna Andersen"),
        ("kobenhavn", ""),
    }
    assert "Export done" in organiser.last()["text"]


async def test_the_bot_answers_others_while_an_export_is_being_made(
    day: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    real = bot.export.runner.export_off_loop

    async def held(*args: Any, **kwargs: Any) -> Any:
        await asyncio.to_thread(gate.wait, 30)
        return await real(*args, **kwargs)

    monkeypatch.setattr(bot.export.runner, "export_off_loop", held)
    organiser = day.api.user(ORGANISER_ID, "Org", language_code="da")
    try:
        organiser.send("/export json")
        await day.deliver()
        await eventually(lambda: any("⏳" in m.get("text", "") for m in organiser.inbox()))
        anna = day.api.existing_user(701)
        anna.send("/where")
        organiser.send("/export csv")
        await day.deliver()
        assert "tjekket ind" in anna.last()["text"]
        await eventually(lambda: "allerede en eksport" in organiser.last()["text"])
        assert documents(organiser) == []
    finally:
        gate.set()
    await eventually(export_done(organiser))
    assert [d["file_name"] for d in documents(organiser)] == [f"{EVENT}.json"]


async def test_stats_show_a_facilitator_their_site_and_an_organiser_every_site(
    day: BotHarness, seed_event: Event
) -> None:
    host = day.api.user(791, "Vært", language_code="da")
    await become_facilitator(day, seed_event, host, "kobenhavn")
    # Bo has blocked the bot since.
    day.query(
        "UPDATE participants SET unreachable_at = '2018-10-03T11:45:00+00:00' WHERE user_id = 702"
    )
    host.send("/stats")
    await day.settle()
    text = host.last()["text"]
    assert "København: 1 tjekket ind, 1 af dem har skrevet noget (100 %)" in text
    assert "Bord 1: 1, Bord 2: 0" in text
    assert "⚠️ 1 kan ikke nås" in text
    assert "• Gruppearbejde 1: 1 input fra 1 deltager (100 %)" in text
    assert "• Gruppearbejde 2: 0 input fra 0 deltagere (0 %)" in text
    assert "Aalborg" not in text
    organiser = day.api.user(ORGANISER_ID, "Org", language_code="en")
    before = len(organiser.inbox())
    organiser.send("/stats")
    await day.settle()
    replies = [m["text"] for m in organiser.inbox()[before:]]
    assert len(replies) == 2  # one message per site
    assert replies[0].startswith("📊")
    assert "Aalborg: 1 checked in" in replies[0]
    assert "Copenhagen: 1 checked in" in replies[1]


async def test_media_and_ad_hoc_answers_are_exported_with_their_question_and_file_id(
    day: BotHarness, seed_event: Event
) -> None:
    host = day.api.user(792, "Vært", language_code="da")
    await become_facilitator(day, seed_event, host, "aalborg")
    host.send("/prompt Hvad tager I med hjem?")
    await day.settle()
    anna = day.api.existing_user(701)
    anna.send_photo("Vores flipover")
    anna.send_document("noter.pdf", "Referat", mime_type="application/pdf")
    await day.settle()
    host.send("/export json")
    await day.deliver()
    await eventually(export_done(host))
    [document] = documents(host)
    data = json.loads(day.api.files[document["file_id"]].content)
    by_kind = {item["kind"]: item for item in data["inputs"]}
    assert set(by_kind) == {"text", "photo", "document"}
    photo, pdf = by_kind["photo"], by_kind["document"]
    stored = dict(day.query("SELECT kind, file_id FROM inputs WHERE kind != 'text'"))
    assert (photo["file_id"], photo["text"]) == (stored["photo"], "Vores flipover")
    assert (pdf["file_name"], pdf["mime_type"]) == ("noter.pdf", "application/pdf")
    assert photo["item"] is None
    assert photo["adhoc_id"] == pdf["adhoc_id"] is not None
    assert photo["prompt"] == "Hvad tager I med hjem?"
    assert photo["item_title"] == "Spørgsmål fra facilitator"
    [site] = data["sites"]
    assert [p["title"] for p in site["prompts"]][-1] == "Spørgsmål fra facilitator kl. 13.41"
