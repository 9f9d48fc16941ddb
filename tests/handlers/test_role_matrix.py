"""The role matrix: every command and every button of the bot, pressed or sent by every kind of
person, through the real application.

The rows are checked against what `handlers.register` actually registers and against the
command list of `bot.commands`, so a new command or button action without a row here fails
`test_every_command_and_button_has_a_row`. Button data is forged by the test (the real buttons
only ever reach the right people), and every refusal must be a polite answer in the person's
language that leaves every table of the database as it was.

The people, all acting on København:

| column | who |
|---|---|
| stranger | never wrote to the bot before |
| newcomer | scanned København's table code, has not answered the consent question yet |
| participant | checked in at København, table 1, consented, has written an input |
| host elsewhere | facilitator of Aalborg (by the facilitator code) |
| host | facilitator of København |
| organiser | in `ORGANIZER_IDS` |
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.commands import COMMANDS
from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.day import Who, World, running_day, say, sentence, snapshot
from tests.handlers.helpers import at, run_until
from tests.waiting import eventually

# /export runs as a task of its own (block=False); the harness does not start the application,
# so PTB warns that it will not await such tasks. The rows wait for the answers themselves.
pytestmark = pytest.mark.filterwarnings("ignore:Tasks created via:UserWarning")


EVERYONE = tuple(Who)
WITHOUT_ROLE = (Who.STRANGER, Who.NEWCOMER, Who.PARTICIPANT)


@dataclass(frozen=True, slots=True)
class Ok:
    """Allowed: the answer is the catalogue sentence `key`, and with `changes` the database
    must have changed (False: must not; None: either)."""

    key: str
    changes: bool | None = None


@dataclass(frozen=True, slots=True)
class No:
    """Refused: the answer is the catalogue sentence `key`, and the database is unchanged."""

    key: str


Expect = Ok | No


Step = Callable[[World], Awaitable[None]]
Data = Callable[[World], str]


@dataclass(frozen=True, slots=True)
class Row:
    """One command (text to send) or one button (callback data forged from its action and
    argument) and what each kind of person gets. `setup` runs once before anyone acts; `lang`
    overrides the language the answers are expected in; `wait` polls for the answer of a
    non-blocking handler."""

    name: str
    expect: Mapping[Who, Expect]
    send: str | None = None
    button: str | None = None  # the action: `v1:<button>:<argument>`
    argument: Data | None = None
    setup: Step | None = None
    lang: str | None = None
    wait: bool = False

    @property
    def command(self) -> str | None:
        return self.send.split()[0].removeprefix("/") if self.send else None

    def data(self, world: World) -> str:
        assert self.button is not None
        assert self.argument is not None
        return f"v1:{self.button}:{self.argument(world)}"

    def __str__(self) -> str:
        return self.name


def everyone(expect: Expect) -> dict[Who, Expect]:
    return dict.fromkeys(EVERYONE, expect)


def facilitators(ok: Expect, *, organiser: Expect | None = None) -> dict[Who, Expect]:
    """A command for the site's facilitators and organisers: the others are refused."""
    expect: dict[Who, Expect] = dict.fromkeys(WITHOUT_ROLE, No("facilitator.only"))
    expect[Who.HOST_ELSEWHERE] = No("facilitator.not_your_site")
    expect[Who.HOST] = ok
    expect[Who.ORGANISER] = organiser or ok
    return expect


def only(who: Who, ok: Expect, refusal: No) -> dict[Who, Expect]:
    expect: dict[Who, Expect] = dict.fromkeys(EVERYONE, refusal)
    expect[who] = ok
    return expect


HELP: dict[Who, Expect] = {
    Who.STRANGER: Ok("help.stranger", changes=False),
    Who.NEWCOMER: Ok("help.stranger", changes=False),
    Who.PARTICIPANT: Ok("help.participant", changes=False),
    Who.HOST_ELSEWHERE: Ok("help.facilitator", changes=False),
    Who.HOST: Ok("help.facilitator", changes=False),
    Who.ORGANISER: Ok("help.organiser", changes=False),
}


# -- set-ups that some rows need --------------------------------------------------------------


async def pending_move(world: World) -> None:
    """The participant scanned Aalborg's code: a move waits for confirmation."""
    await say(world, world.people[Who.PARTICIPANT], "/start aalborg-t3")


async def paused(world: World) -> None:
    await say(world, world.people[Who.HOST], "/pause")


async def adhoc_open(world: World) -> None:
    await say(world, world.people[Who.HOST], "/prompt Hvad overraskede jer?")


async def drafted(world: World) -> None:
    await say(world, world.people[Who.HOST], "/broadcast Vi starter igen om fem minutter.")
    [(draft,)] = world.harness.query("SELECT MAX(id) FROM broadcasts")
    world.ids["broadcast"] = draft


async def relayed(world: World) -> None:
    """Aalborg's host stars Cy's input; at the cross-site check-in it reaches København."""
    host = world.people[Who.HOST_ELSEWHERE]
    host.press(host.last(), f"v1:mod:star-{world.ids['cy']}")
    await run_until(world.harness, world.clock, at(world.event, "14:41"), timedelta(minutes=5))
    assert world.harness.query(
        "SELECT COUNT(*) FROM highlight_relays WHERE input_id = ? AND to_site = 'kobenhavn'",
        (world.ids["cy"],),
    ) == [(1,)]


# -- the matrix -------------------------------------------------------------------------------


ROWS: tuple[Row, ...] = (
    # Check-in: open to anyone; each person acts on themselves.
    Row(
        "/start",
        send="/start",
        expect={
            **everyone(Ok("checkin.need_code")),
            Who.PARTICIPANT: Ok("checkin.already_table", changes=False),
            # A facilitator is told the role, not sent to scan a table's code.
            Who.HOST_ELSEWHERE: Ok("role.facilitator_already", changes=False),
            Who.HOST: Ok("role.facilitator_already", changes=False),
        },
    ),
    Row(
        "/checkin code",
        send="/checkin kobenhavn-t2",
        expect={
            **everyone(Ok("checkin.consent", changes=True)),
            Who.PARTICIPANT: Ok("checkin.done_table", changes=True),
        },
    ),
    Row(
        "/where",
        send="/where",
        expect={
            **everyone(Ok("where.nowhere", changes=False)),
            Who.NEWCOMER: Ok("where.no_consent", changes=False),
            Who.PARTICIPANT: Ok("where.at_table", changes=False),
        },
    ),
    Row(
        "/switch",
        send="/switch",
        expect=only(
            Who.PARTICIPANT,
            Ok("checkin.choose_table", changes=False),
            No("checkin.not_checked_in"),
        ),
    ),
    Row("/language", send="/language en", lang="en", expect=everyone(Ok("language.set"))),
    Row(
        "/agenda",
        send="/agenda kobenhavn",
        expect={
            **everyone(Ok("agenda.heading", changes=False)),
            Who.STRANGER: No("checkin.not_checked_in"),
            Who.NEWCOMER: No("checkin.not_checked_in"),
        },
    ),
    Row(
        "/anonymous",
        send="/anonymous",
        expect=only(
            Who.PARTICIPANT,
            Ok("anonymity.now_anonymous", changes=True),
            No("checkin.not_checked_in"),
        ),
    ),
    Row(
        "/mine",
        send="/mine",
        expect={
            **everyone(Ok("inputs.mine_empty", changes=False)),
            Who.PARTICIPANT: Ok("inputs.mine_heading", changes=False),
        },
    ),
    Row(
        "/undo",
        send="/undo",
        expect=only(
            Who.PARTICIPANT,
            Ok("inputs.withdrawn", changes=True),
            No("inputs.nothing_to_withdraw"),
        ),
    ),
    Row(
        "/inputs",
        send="/inputs kobenhavn",
        expect={
            **everyone(Ok("inputs.view_heading", changes=False)),
            Who.STRANGER: No("checkin.not_checked_in"),
            Who.NEWCOMER: No("checkin.not_checked_in"),
            Who.HOST_ELSEWHERE: No("facilitator.not_your_site"),
        },
    ),
    # Help fits the person's moment: a stranger (or a newcomer who has not said yes) is not
    # offered the commands of the checked in.
    Row("/help", send="/help", expect=HELP),
    Row("/help all", send="/help all", expect=HELP),
    # Facilitators of the site and organisers, naming the site.
    Row("/quiet", send="/quiet kobenhavn", expect=facilitators(Ok("inputs.quiet", changes=False))),
    Row("/now", send="/now kobenhavn", expect=facilitators(Ok("status.site", changes=False))),
    Row(
        "/next",
        send="/next kobenhavn",
        expect=facilitators(Ok("facilitator.advanced", changes=True)),
    ),
    Row(
        "/delay",
        send="/delay kobenhavn 5",
        expect=facilitators(Ok("facilitator.delayed", changes=True)),
    ),
    Row(
        "/pause",
        send="/pause kobenhavn",
        expect=facilitators(
            Ok("facilitator.paused", changes=True),
            organiser=Ok("facilitator.already_paused", changes=False),
        ),
    ),
    Row(
        "/resume",
        send="/resume kobenhavn",
        setup=paused,
        expect=facilitators(
            Ok("facilitator.resumed_next", changes=True),
            organiser=Ok("facilitator.not_paused", changes=False),
        ),
    ),
    Row(
        "/prompt",
        send="/prompt kobenhavn Hvad vil I tage med hjem?",
        expect=facilitators(Ok("facilitator.prompt_opened", changes=True)),
    ),
    Row(
        "/close",
        send="/close kobenhavn",
        setup=adhoc_open,
        expect=facilitators(
            Ok("facilitator.closed", changes=True),
            organiser=Ok("facilitator.nothing_to_close", changes=False),
        ),
    ),
    Row(
        "/broadcast",
        send="/broadcast kobenhavn Kaffen er klar.",
        expect=facilitators(Ok("facilitator.broadcast_preview", changes=True)),
    ),
    Row(
        "/broadcast all",
        send="/broadcast all Tak for i dag.",
        expect={
            **facilitators(No("facilitator.all_only_organisers")),
            Who.HOST_ELSEWHERE: No("facilitator.all_only_organisers"),
            Who.ORGANISER: Ok("facilitator.broadcast_preview", changes=True),
        },
    ),
    Row(
        "/relay",
        send="/relay kobenhavn Hilsen fra København!",
        expect=facilitators(Ok("facilitator.broadcast_preview", changes=True)),
    ),
    Row(
        "/wall",
        send="/wall",
        expect={
            **dict.fromkeys(WITHOUT_ROLE, No("wall.chat_not_allowed")),
            # This world has no PUBLIC_URL: a link would lead nowhere (tests/handlers/
            # test_walls.py has the links themselves).
            Who.HOST: Ok("wall.chat_no_url", changes=False),
            Who.HOST_ELSEWHERE: Ok("wall.chat_no_url", changes=False),
            Who.ORGANISER: Ok("wall.chat_no_url", changes=False),
        },
    ),
    Row(
        "/console",
        send="/console",
        expect={
            **dict.fromkeys(WITHOUT_ROLE, No("facilitator.only")),
            # No PUBLIC_URL here either (test_console_pages.py has the links themselves).
            Who.HOST: Ok("console.chat_no_url", changes=False),
            Who.HOST_ELSEWHERE: Ok("console.chat_no_url", changes=False),
            Who.ORGANISER: Ok("console.chat_no_url", changes=False),
        },
    ),
    Row(
        "/stats", send="/stats kobenhavn", expect=facilitators(Ok("stats.heading", changes=False))
    ),
    Row(
        "/export",
        send="/export kobenhavn csv",
        wait=True,
        expect={
            **facilitators(Ok("export.done", changes=False)),
            Who.STRANGER: No("export.only"),
            Who.NEWCOMER: No("export.only"),
            Who.PARTICIPANT: No("export.only"),
        },
    ),
    Row(
        "/health",
        send="/health",
        expect=only(
            Who.ORGANISER, Ok("health.report", changes=False), No("health.only_organisers")
        ),
    ),
    Row(
        "/roles",
        send="/roles",
        expect=only(Who.ORGANISER, Ok("roles.list", changes=False), No("roles.only_organisers")),
    ),
    Row(
        "/revoke",
        send="/revoke",
        expect=only(Who.ORGANISER, Ok("roles.usage", changes=False), No("roles.only_organisers")),
    ),
    # Privacy: anyone, about themselves.
    Row("/privacy", send="/privacy", expect=everyone(Ok("privacy.text", changes=False))),
    Row("/mydata", send="/mydata", expect=everyone(Ok("mydata.caption", changes=False))),
    Row("/withdraw", send="/withdraw", expect=everyone(Ok("withdraw.confirm", changes=False))),
    Row("/forget", send="/forget", expect=everyone(Ok("forget.confirm", changes=False))),
    # Buttons, with forged data.
    Row(
        "consent yes",
        button="consent",
        argument=lambda w: "yes",
        expect={
            **everyone(No("checkin.need_code")),
            Who.NEWCOMER: Ok("checkin.choose_role", changes=True),
            Who.PARTICIPANT: No("buttons.stale"),
        },
    ),
    Row(
        "table t2",
        button="table",
        argument=lambda w: "t2",
        expect=only(
            Who.PARTICIPANT, Ok("checkin.done_table", changes=True), No("checkin.not_checked_in")
        ),
    ),
    Row(
        "move yes",
        button="move",
        argument=lambda w: "yes",
        setup=pending_move,
        expect=only(Who.PARTICIPANT, Ok("checkin.moved_table", changes=True), No("buttons.stale")),
    ),
    Row(
        "cat researcher",
        button="cat",
        argument=lambda w: "researcher",
        expect=only(
            Who.PARTICIPANT, Ok("checkin.done_table", changes=True), No("checkin.not_checked_in")
        ),
    ),
    Row(
        "anon anonymous",
        button="anon",
        argument=lambda w: "anon",
        expect=only(
            Who.PARTICIPANT, Ok("checkin.done_table", changes=True), No("checkin.not_checked_in")
        ),
    ),
    Row(
        "lang en",
        button="lang",
        argument=lambda w: "en",
        lang="en",
        expect=everyone(Ok("language.set", changes=True)),
    ),
    Row(
        "withdraw yes",
        button="withdraw",
        argument=lambda w: "yes",
        expect=only(Who.PARTICIPANT, Ok("withdraw.done", changes=True), No("withdraw.nothing")),
    ),
    Row(
        "forget yes",
        button="forget",
        argument=lambda w: "yes",
        # Each erases themselves; the stranger and the organiser had nothing stored.
        expect={
            **everyone(Ok("forget.done", changes=True)),
            Who.STRANGER: Ok("forget.done"),
            Who.ORGANISER: Ok("forget.done"),
        },
    ),
    Row(
        "bcast send",
        button="bcast",
        argument=lambda w: f"send-{w.ids['broadcast']}",
        setup=drafted,
        expect={
            **everyone(No("facilitator.only")),
            # Only the author's Send sends it: the others' rights are in order, the draft is
            # not theirs.
            Who.HOST_ELSEWHERE: No("buttons.stale"),
            Who.ORGANISER: No("buttons.stale"),
            Who.HOST: Ok("facilitator.broadcast_sent", changes=True),
        },
    ),
    # "More" under /help: the commands of the presser's moment, looked up at the press.
    Row("help more", button="help", argument=lambda w: "all", expect=HELP),
    Row(
        "resend unknown copies",
        button="resend",
        argument=lambda w: "unknown",
        # Rights are checked at the press: a forged press by anyone else is refused.
        expect=only(
            Who.ORGANISER,
            Ok("delivery.nothing_to_resend", changes=False),
            No("health.only_organisers"),
        ),
    ),
    Row(
        "wd participant's input",
        button="wd",
        argument=lambda w: str(w.ids["pia"]),
        expect=only(
            Who.PARTICIPANT, Ok("inputs.withdrawn", changes=True), No("inputs.nothing_to_withdraw")
        ),
    ),
    Row(
        "vote Bo's input",
        button="vote",
        argument=lambda w: str(w.ids["bo"]),
        expect=only(
            Who.PARTICIPANT, Ok("inputs.view_heading", changes=True), No("inputs.cannot_vote")
        ),
    ),
    Row(
        "rv Aalborg's highlight",
        button="rv",
        argument=lambda w: str(w.ids["cy"]),
        setup=relayed,
        expect=only(Who.PARTICIPANT, Ok("relay.reacted", changes=True), No("buttons.stale")),
    ),
    Row(
        "mod star Bo's input",
        button="mod",
        argument=lambda w: f"star-{w.ids['bo']}",
        expect={
            **dict.fromkeys(EVERYONE, No("facilitator.not_your_site")),
            Who.HOST: Ok("feed.card", changes=True),
            Who.ORGANISER: Ok("feed.card", changes=True),
        },
    ),
)


# -- what the bot registers -------------------------------------------------------------------


def registered(harness: BotHarness) -> tuple[set[str], set[str]]:
    """The commands and the button actions (`v1:<action>:`) the application handles."""
    commands: set[str] = set()
    actions: set[str] = set()
    for group in harness.app.handlers.values():
        for handler in group:
            if isinstance(handler, CommandHandler):
                commands |= set(handler.commands)
            elif isinstance(handler, CallbackQueryHandler) and isinstance(
                handler.pattern, re.Pattern
            ):
                match = re.match(r"\^v1:(\w+):", handler.pattern.pattern)
                assert match, f"button pattern outside the v1 scheme: {handler.pattern.pattern}"
                actions.add(match.group(1))
    return commands, actions


async def test_every_command_and_button_has_a_row(harness: BotHarness) -> None:
    commands, actions = registered(harness)
    menu = {spec.name for spec in COMMANDS}
    assert commands == menu, "a registered command is missing from bot.commands, or the reverse"
    rows_commands = {row.command for row in ROWS if row.command}
    rows_actions = {row.button for row in ROWS if row.button}
    assert commands - rows_commands == set(), "commands without a row in the role matrix"
    assert actions - rows_actions == set(), "button actions without a row in the role matrix"
    assert rows_commands - commands == set(), "rows for commands the bot does not have"
    assert rows_actions - actions == set(), "rows for button actions the bot does not have"
    for row in ROWS:
        assert set(row.expect) == set(EVERYONE), f"{row}: every kind of person needs a column"


# -- running one row --------------------------------------------------------------------------


def chat_state(person: FakeUser) -> dict[int, tuple[Any, ...]]:
    return {
        m["message_id"]: (m.get("text") or m.get("caption"), m.get("edit_date"), "document" in m)
        for m in person.inbox()
    }


def answers(
    world: World, person: FakeUser, before: dict[int, tuple[Any, ...]], query: str | None
) -> list[str]:
    """What the person saw since `before`: new or edited messages, and the button's pop-up."""
    shown = [
        str(state[0] or "")
        for message_id, state in chat_state(person).items()
        if before.get(message_id) != state
    ]
    if query is not None:
        popup = world.harness.api.callback_answers.get(query, {}).get("text")
        if popup:
            shown.append(popup)
    return shown


@pytest.fixture
async def world(
    settings: Settings, seed_event: Event, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    async with running_day(settings, seed_event, tmp_path_factory) as day:
        yield day


def language(world: World, row: Row, person: FakeUser) -> str:
    return row.lang or person.language_code or world.event.default_language


async def act(world: World, row: Row, who: Who) -> tuple[list[str], bool]:
    """One person sends the row's command or presses its button: what they saw, and whether
    the database changed."""
    harness, person = world.harness, world.people[who]
    query: str | None = None
    if row.button is not None:
        # A message of the bot's to press under, as a modified client would.
        await say(world, person, "/help")
    before_db, before_chat = snapshot(harness), chat_state(person)
    if row.send is not None:
        person.send(row.send)
    else:
        query = person.press(person.last(), row.data(world))["callback_query"]["id"]
    await harness.settle()
    expect = row.expect[who]
    if row.wait:
        pattern = sentence(world.texts, language(world, row, person), expect.key)
        await eventually(
            lambda: any(pattern.match(t) for t in answers(world, person, before_chat, query)),
            what=f"{row} to answer the {who.value}",
        )
    return answers(world, person, before_chat, query), snapshot(harness) != before_db


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_the_role_matrix(world: World, row: Row, caplog: pytest.LogCaptureFixture) -> None:
    if row.setup is not None:
        await row.setup(world)
    caplog.set_level(logging.WARNING)
    # The refused first: then nothing anyone allowed did can hide a change they made.
    order = sorted(EVERYONE, key=lambda who: isinstance(row.expect[who], Ok))
    for who in order:
        expect = row.expect[who]
        shown, changed = await act(world, row, who)
        person = world.people[who]
        where = f"{row} by the {who.value}"
        pattern = sentence(world.texts, language(world, row, person), expect.key)
        assert any(pattern.match(text) for text in shown), f"{where}: {shown}"
        if isinstance(expect, No):
            assert not changed, f"{where}: refused, yet the database changed"
        elif expect.changes is not None:
            assert changed == expect.changes, f"{where}: database changed: {changed}"
        apologies = [world.texts(lang, "errors.generic") for lang in world.texts.languages]
        assert not set(shown) & set(apologies), f"{where}: the error handler answered"
    broken = [
        call.description
        for call in world.harness.api.calls
        if not call.ok and "parse entities" in (call.description or "")
    ]
    assert broken == []
    assert world.harness.query("SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == [(0,)]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
