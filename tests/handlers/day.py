"""A day at the seed event, shared by the role matrix and the hostile-input corpus.

At 13:41 the first group work is open. Pia (the participant) and Bo have checked in at
København and answered, Cy at Aalborg; each site has a host (by its facilitator code); Nora
has scanned København's code and not yet answered the consent question; Sten has never
written; Olga is an organiser by the settings. The day is built once through the real
application and copied for every test, which then runs against a fresh fake Telegram.
"""

from __future__ import annotations

import enum
import html
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.event import Event
from bot.i18n import Catalogue, Plural
from bot.sandbox import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import ORGANISER_ID, TOKEN
from tests.handlers.helpers import at, become_facilitator, check_in, run_until


class Who(enum.Enum):
    STRANGER = "stranger"
    NEWCOMER = "newcomer"
    PARTICIPANT = "participant"
    HOST_ELSEWHERE = "host elsewhere"
    HOST = "host"
    ORGANISER = "organiser"


PEOPLE: dict[Who, tuple[int, str, str]] = {
    Who.STRANGER: (811, "Sten", "da"),
    Who.NEWCOMER: (812, "Nora", "en"),
    Who.PARTICIPANT: (813, "Pia", "da"),
    Who.HOST_ELSEWHERE: (814, "Finn", "en"),
    Who.HOST: (815, "Frida", "da"),
    Who.ORGANISER: (ORGANISER_ID, "Olga", "en"),
}
OTHERS: dict[str, tuple[int, str, str]] = {"bo": (820, "Bo", "da"), "cy": (821, "Cy", "da")}


@dataclass(slots=True)
class World:
    harness: BotHarness
    event: Event
    clock: ManualClock
    people: dict[Who, FakeUser]
    others: dict[str, FakeUser]
    ids: dict[str, int] = field(default_factory=dict)  # input ids: pia, bo, cy; and more

    @property
    def api(self) -> FakeBotApi:
        return self.harness.api

    @property
    def texts(self) -> Catalogue:
        return self.harness.services.texts


async def say(world: World, person: FakeUser, text: str) -> None:
    person.send(text)
    await world.harness.settle()


def _people(api: FakeBotApi) -> tuple[dict[Who, FakeUser], dict[str, FakeUser]]:
    people = {
        who: api.user(uid, name, language_code=lang) for who, (uid, name, lang) in PEOPLE.items()
    }
    others = {
        key: api.user(uid, name, language_code=lang) for key, (uid, name, lang) in OTHERS.items()
    }
    return people, others


_TEMPLATE: dict[str, Path] = {}


async def _template(settings: Settings, event: Event, factory: pytest.TempPathFactory) -> Path:
    if "db" in _TEMPLATE:
        return _TEMPLATE["db"]
    path = factory.mktemp("day") / "day.sqlite3"
    clock = ManualClock(at(event, "12:00"))
    api = FakeBotApi(TOKEN)
    day = settings.model_copy(update={"database_path": path})
    async with BotHarness.running(day, api=api, event=event, clock=clock) as harness:
        people, others = _people(api)
        await check_in(harness, people[Who.PARTICIPANT], "kobenhavn-t1")
        await check_in(harness, others["bo"], "kobenhavn-t2")
        await check_in(harness, others["cy"], "aalborg-t1")
        await become_facilitator(harness, event, people[Who.HOST_ELSEWHERE], "aalborg")
        await become_facilitator(harness, event, people[Who.HOST], "kobenhavn")
        people[Who.NEWCOMER].send("/start kobenhavn-t1")
        await run_until(harness, clock, at(event, "13:41"), timedelta(minutes=5))
        people[Who.PARTICIPANT].send("Pias svar")
        others["bo"].send("Bos svar")
        others["cy"].send("Cys svar")
        await harness.settle()
    _TEMPLATE["db"] = path
    return path


@asynccontextmanager
async def running_day(
    settings: Settings, event: Event, factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """The day, copied into `settings.database_path`, with the application running on it."""
    day = await _template(settings, event, factory)
    with (
        closing(sqlite3.connect(day)) as source,
        closing(sqlite3.connect(settings.database_path)) as copy,
    ):
        source.backup(copy)
        # The fake Telegram starts again at update and message id 1: the template's inputs
        # must not look like the same messages delivered again.
        copy.execute("UPDATE inputs SET update_id = NULL, message_id = message_id + 1000000000")
        # Nor are the template's feed cards in it: an update of a card (an edit, an /undo)
        # would be refused as a message that is not there.
        copy.execute("UPDATE outbox SET telegram_message_id = NULL WHERE kind = 'feed'")
        copy.commit()
    clock = ManualClock(at(event, "13:41"))
    api = FakeBotApi(TOKEN)
    async with BotHarness.running(settings, api=api, event=event, clock=clock) as harness:
        people, others = _people(api)
        world = World(harness, event, clock, people, others)
        # The fake Telegram is new: everyone but the stranger writes once, as they had before,
        # so that the bot may write to them.
        for person in [*people.values(), *others.values()]:
            if person is not people[Who.STRANGER]:
                person.send("/where")
        await harness.settle()
        for name, user in (("pia", people[Who.PARTICIPANT]), *others.items()):
            [(input_id,)] = harness.query("SELECT id FROM inputs WHERE user_id = ?", (user.id,))
            world.ids[name] = input_id
        yield world
    api.assert_no_unexpected()


# -- reading what happened ----------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def sentence(texts: Catalogue, lang: str, key: str) -> re.Pattern[str]:
    """The catalogue sentence as Telegram shows it (tags gone, entities decoded), placeholders
    matching anything and spaces flexible (an empty placeholder at the end is stripped); any
    of its forms if it is a plural."""
    entry = texts.entry(lang, key)
    forms = entry.texts() if isinstance(entry, Plural) else [entry]
    patterns = []
    for form in forms:
        parts = _PLACEHOLDER.split(form.strip())
        literal = [
            r"\s*".join(map(re.escape, html.unescape(_TAG.sub("", part)).split()))
            for part in parts
        ]
        patterns.append(r".*?".join(literal))
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.DOTALL)


def snapshot(harness: BotHarness) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the inbox (which records every update by design)."""
    with closing(sqlite3.connect(harness.database_path)) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name != 'inbox' ORDER BY name"
            )
        ]
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()  # noqa: S608
            for table in tables
        }
