"""The offline rehearsal: the whole event, accelerated, against the fake Bot API.

The real handlers, services and storage run on a simulated clock. Simulated participants
spread over the sites and tables check in (some late, some in English), answer the prompts
they receive with sample texts from `prompts/answers/`, and one facilitator per site delays
the programme once and broadcasts once. What the bot sent, when (in event time) and to how
many is then read back from the database and printed per site.

Served (`serve`), it also puts the walls and the console on the web while it runs and
announces their links: a console link per site's simulated facilitator and one for a
simulated organiser, each opening once, valid until the rehearsal ends (ten minutes of its
clock pass in seconds). Whoever opens one acts on the rehearsal through the same services as
in a live event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from bot import buttons
from bot.app import web_face
from bot.clock import ManualClock
from bot.config import Settings
from bot.event import AgendaKind, Event, Site
from bot.eventfile import load_event
from bot.models import UserRef
from bot.sandbox.fake_api import FakeBotApi, FakeUser
from bot.sandbox.harness import BotHarness
from bot.services.plan import Plan
from storage import reports
from storage.db import Database
from web.server import Listen

TOKEN = "424242:REHEARSAL-sandbox"  # noqa: S105 - the sandbox's own token, reaches nothing
STEP = timedelta(seconds=30)
BEFORE_START = timedelta(minutes=30)
AFTER_CLOSE = timedelta(minutes=5)
FACILITATOR_IDS = 90_000
ORGANISER_ID = 95_000
PARTICIPANT_IDS = 10_000


@dataclass
class Person:
    user: FakeUser
    site_key: str
    group_key: str | None
    language: str
    checks_in_at: datetime
    by_table_card: bool
    late: bool
    anonymous: bool
    rng: random.Random


@dataclass
class Result:
    text: str
    summary: dict[str, object]
    out: Path
    wall_seconds: float


@dataclass
class _Plan:
    """What the simulation will do, and when (event time)."""

    actions: list[tuple[datetime, int, Callable[[], Awaitable[None]]]] = field(
        default_factory=list
    )
    counter: int = 0

    def at(self, when: datetime, action: Callable[[], Awaitable[None]]) -> None:
        self.counter += 1  # keeps actions at the same instant in the order they were planned
        self.actions.append((when, self.counter, action))

    def due(self, now: datetime) -> list[Callable[[], Awaitable[None]]]:
        ready = sorted((a for a in self.actions if a[0] <= now), key=lambda a: (a[0], a[1]))
        self.actions = [a for a in self.actions if a[0] > now]
        return [action for _, _, action in ready]


@dataclass
class _SentSince:
    """The prompts and feed cards the bot has sent since the last look. Read past a watermark:
    reading every sent row (and every facilitator's whole chat) at every step made the
    rehearsal quadratic in its participants."""

    after: int = 0  # every push and feed row up to this id was sent (or failed) and read
    seen: set[int] = field(default_factory=set)  # read rows above `after`

    def read(self, harness: BotHarness) -> list[tuple[str, str, int | None, int, int | None]]:
        """(kind, key, user id, chat id, Telegram message id) of each row sent since."""
        fresh = []
        settled = True
        for row_id, status, *row in harness.query(
            "SELECT id, status, kind, key, user_id, chat_id, telegram_message_id FROM outbox"
            " WHERE id > ? AND kind IN ('push', 'feed') ORDER BY id",
            (self.after,),
        ):
            if status == "sent" and row_id not in self.seen:
                self.seen.add(row_id)
                fresh.append((row[0], row[1], row[2], row[3], row[4]))
            settled = settled and status not in {"pending", "sending"}
            if settled:
                self.after = row_id
        self.seen = {i for i in self.seen if i > self.after}
        return fresh


class _LastMessage:
    """The bot's latest message in a private chat, as it looks now: what `FakeUser.last()`
    gives, without copying every message the bot has sent to anyone (which made the
    check-ins quadratic in the participants). Message ids count up per chat and the bot
    deletes none, so each look reads on from where the last one stopped."""

    def __init__(self, api: FakeBotApi) -> None:
        self._api = api
        self._next: dict[int, int] = {}  # chat → the first message id not yet looked at
        self._latest: dict[int, int] = {}  # chat → the bot's latest message id there

    def __call__(self, chat_id: int) -> dict[str, Any]:
        number = self._next.get(chat_id, 1)
        while True:
            try:
                message = self._api.message(chat_id, number)
            except LookupError:
                break
            if message.get("from", {}).get("id") == self._api.bot_id:
                self._latest[chat_id] = number
            number += 1
        self._next[chat_id] = number
        if chat_id not in self._latest:
            raise LookupError(f"the bot has sent nothing to chat {chat_id}")
        return self._api.message(chat_id, self._latest[chat_id])


async def _settle(harness: BotHarness, patience: float = 60.0) -> None:
    """`harness.settle`, waiting as long as the outbox keeps moving: at a cross-site check-in
    with thousands of people, thousands of messages fall due at once and the delivery worker
    sends them at its own pace. An outbox that sends nothing for `patience` seconds is
    still an error, as before."""
    waiting: int | None = None  # what was still waiting when the last wait ran out
    while True:
        try:
            await harness.settle(timeout=patience)
        except TimeoutError:
            now_waiting = _waiting(harness)
            if waiting is not None and now_waiting >= waiting:
                raise
            waiting = now_waiting
        else:
            return


def _waiting(harness: BotHarness) -> int:
    [(count,)] = harness.query(
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
    )
    return int(count)


def _sample_texts(language: str) -> dict[str, list[str]]:
    path = resources.files("prompts") / "answers" / f"{language}.yaml"
    if not path.is_file():
        path = resources.files("prompts") / "answers" / "da.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {key: [str(v) for v in values] for key, values in data.items()}


async def rehearse(
    event_file: Path,
    *,
    participants: int = 75,
    speed: float = 0.0,
    out: Path = Path("rehearsal-output"),
    seed: int = 2018,
    serve: Listen | None = None,
    announce: Callable[[str], None] = lambda line: None,
) -> Result:
    """Run the event; `speed` 0 runs as fast as possible, N runs N event seconds a second.
    With `serve`, the walls are served there while it runs; `announce` is told their URLs."""
    started = time.perf_counter()
    event = load_event(event_file)

    first = min(event.start_of(item) for item in event.agenda)
    last = max(event.start_of(item) for item in event.agenda)
    clock = ManualClock(first - BEFORE_START)
    api = FakeBotApi(TOKEN, clock=lambda: clock.now().timestamp())
    settings = _settings(event, event_file, _fresh_database(out), served=serve is not None)
    rng = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
    samples = {lang: _sample_texts(lang) for lang in ("da", "en")}
    answers: Counter[tuple[str, str]] = Counter()  # (site, item) → messages written
    answerers: defaultdict[tuple[str, str], set[int]] = defaultdict(set)

    end = last + AFTER_CLOSE
    running = BotHarness.running(settings, api=api, event=event, clock=clock)
    async with running as harness, _served(harness, serve) as base:
        plan = _Plan()
        people = _people(event, participants, rng, first, api)
        latest = _LastMessage(api)
        for person in people:
            plan.at(person.checks_in_at, _check_in(harness, person, latest))
        _facilitators(event, plan, harness, api, first, rng, samples, latest)
        await _announce(harness, plan, base, end, announce)

        sent = _SentSince()
        by_id = {p.user.id: p for p in people}
        hosts = {FACILITATOR_IDS + index for index in range(len(event.sites))}
        while clock.now() < end:
            tick_started = time.perf_counter()
            clock.advance(STEP)
            for action in plan.due(clock.now()):
                await action()
            await _settle(harness)
            pushes, cards = [], []
            for kind, key, user_id, chat_id, message_id in sent.read(harness):
                if kind == "push" and user_id in by_id:
                    pushes.append((by_id[user_id], key))
                elif kind == "feed" and chat_id in hosts and message_id is not None:
                    cards.append((chat_id, message_id))
            # Participants answer the prompts that reached them. The agenda is read once
            # per site and step, not once per person.
            agendas: dict[str, Plan] = {}
            for person, key in pushes:
                if person.site_key not in agendas:
                    agendas[person.site_key] = await harness.services.agenda.plan(person.site_key)
                _plan_answers(
                    event,
                    plan,
                    person,
                    agendas[person.site_key],
                    key,
                    clock.now(),
                    rng,
                    samples,
                    answers,
                    answerers,
                )
            await _star_some(harness, api, rng, cards)
            if speed > 0:
                pause = STEP.total_seconds() / speed - (time.perf_counter() - tick_started)
                if pause > 0:
                    await asyncio.sleep(pause)

        text, summary = await _report(
            event, harness, people, answers, answerers, first - BEFORE_START, end
        )
    wall = time.perf_counter() - started
    text += (
        f"\n  wall time: {wall:.1f} s for {_duration(end - first + BEFORE_START)} of event time\n"
    )
    summary["wall_seconds"] = round(wall, 2)
    (out / "timeline.txt").write_text(text, encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    await _write_exports(event, settings.database_path, out, clock.now())
    return Result(text, summary, out, wall)


@contextlib.asynccontextmanager
async def _served(harness: BotHarness, serve: Listen | None) -> AsyncIterator[str | None]:
    """The walls and the console, served while the rehearsal runs (if asked); yields the base
    of their links: PUBLIC_URL if set, else the address it listens on."""
    if serve is None:
        yield None
        return
    async with web_face(harness.services, serve) as port:
        host = f"[{serve.host}]" if ":" in serve.host else serve.host
        yield harness.services.console.public_url or f"http://{host}:{port}"


def _settings(event: Event, event_file: Path, database: Path, *, served: bool) -> Settings:
    # Served, a simulated organiser signs in to the console: by the event's organiser code
    # as a live organiser would, or, for an event without one, as an organiser of the settings.
    organisers = {ORGANISER_ID} if served and event.event.organiser_code is None else set()
    return Settings(
        _env_file=None,
        telegram_bot_token=SecretStr(TOKEN),
        database_path=database,
        event_file=event_file,
        organizer_ids=frozenset(organisers),
    )


async def _announce(
    harness: BotHarness,
    plan: _Plan,
    base: str | None,
    end: datetime,
    announce: Callable[[str], None],
) -> None:
    """The walls' URLs, and a console link for each site's simulated facilitator and for the
    simulated organiser, valid until the rehearsal ends (served only: `base`)."""
    if base is None:
        return
    services = harness.services
    event = services.event
    lang = event.default_language
    now = services.clock.now()
    if event.event.organiser_code is not None:
        organiser = harness.api.user(ORGANISER_ID, "Arrangør", language_code=lang)
        plan.at(now, _say(harness, organiser, f"/start {event.event.organiser_code}"))
    # The facilitators and the organiser take their roles before their links are shown.
    for action in plan.due(now):
        await action()
    await _settle(harness)
    announce("The walls:")
    for wall in await services.walls.links():
        announce(f"  {wall.name}: {base}/wall/{wall.token}")
    announce("The console, each link opens once (a browser keeps its session):")
    people = [
        (f"{site.name.get(lang, lang)}, facilitator", FACILITATOR_IDS + index)
        for index, site in enumerate(event.sites)
        if site.facilitator_code is not None
    ]
    for name, user_id in [*people, ("Organiser, every site", ORGANISER_ID)]:
        user = UserRef(user_id, user_id, name)
        link = await services.console.issue_link(user, valid_until=end, base=base)
        announce(f"  {name}: {link.url}")


def _fresh_database(out: Path) -> Path:
    """A new database every time: a rehearsal starts from nothing."""
    out.mkdir(parents=True, exist_ok=True)
    database = out / "rehearsal.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    return database


def _people(
    event: Event, count: int, rng: random.Random, first: datetime, api: FakeBotApi
) -> list[Person]:
    people: list[Person] = []
    english = "en" in event.languages
    for i in range(count):
        site = event.sites[i % len(event.sites)]
        group = rng.choice(site.groups) if site.groups else None
        late = rng.random() < 0.15
        offset = (
            timedelta(minutes=rng.uniform(10, 75))
            if late
            else timedelta(minutes=rng.uniform(-25, 4))
        )
        language = "en" if english and rng.random() < 0.15 else event.default_language
        user = api.user(PARTICIPANT_IDS + i, f"Deltager {i + 1}", language_code=language)
        people.append(
            Person(
                user=user,
                site_key=site.key,
                group_key=group.key if group else None,
                language=language,
                checks_in_at=first + offset,
                by_table_card=group is not None and rng.random() < 0.75,
                late=late,
                anonymous=rng.random() < 0.3,
                rng=rng,
            )
        )
    return people


def _check_in(
    harness: BotHarness, person: Person, last: _LastMessage
) -> Callable[[], Awaitable[None]]:
    async def act() -> None:
        event = harness.services.event
        site = event.site(person.site_key)
        assert site is not None  # noqa: S101 - people are placed at the event's sites
        group = site.group(person.group_key) if person.group_key else None
        code = group.code if group and person.by_table_card else site.code
        person.user.send(f"/start {code}")
        await harness.deliver()
        await _press_first(harness, person.user, last)  # consent: "yes" is the first button
        if group is not None and not person.by_table_card:
            label = group.name.get(person.language, event.default_language)
            person.user.press_button(last(person.user.id), label)
            await harness.deliver()
        await _answer_questions(harness, person, last)

    return act


async def _answer_questions(harness: BotHarness, person: Person, last: _LastMessage) -> None:
    """The check-in's role and anonymity questions, answered as the person would."""
    for _ in range(3):
        message = last(person.user.id)
        data = [
            button["callback_data"]
            for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
        ]
        pressed = [buttons.parse(d) for d in data]
        roles = [p.pack() for p in pressed if isinstance(p, buttons.Category)]
        if roles:
            person.user.press(message, person.rng.choice(roles))
        elif any(isinstance(p, buttons.Anonymity) for p in pressed):
            person.user.press(message, buttons.Anonymity(person.anonymous).pack())
        else:
            return
        await harness.deliver()


async def _press_first(harness: BotHarness, user: FakeUser, last: _LastMessage) -> None:
    message = last(user.id)
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    if rows:
        user.press(message, rows[0][0]["callback_data"])
        await harness.deliver()


def _facilitators(
    event: Event,
    plan: _Plan,
    harness: BotHarness,
    api: FakeBotApi,
    first: datetime,
    rng: random.Random,
    samples: dict[str, dict[str, list[str]]],
    last: _LastMessage,
) -> None:
    for index, site in enumerate(event.sites):
        if site.facilitator_code is None:
            continue
        host = api.user(FACILITATOR_IDS + index, f"Vært {site.key}", language_code="da")
        code = site.facilitator_code

        async def join(host: FakeUser = host, code: str = code) -> None:
            host.send(f"/start {code}")
            await harness.deliver()

        plan.at(first - BEFORE_START, join)  # before any participant: their roles at the start
        timeline = event.timeline(site.key)
        prompts = [i for i in timeline if i.kind is AgendaKind.PROMPT]
        breaks = [i for i in timeline if i.kind is AgendaKind.BREAK]
        if prompts:
            # The room runs late during the first group work: five more minutes.
            when = event.start_of(prompts[0]) + timedelta(minutes=10 + 5 * index)
            plan.at(when, _say(harness, host, "/delay 5"))
        moment = event.start_of(breaks[0]) if breaks else first + timedelta(hours=1)
        text = rng.choice(samples["da"].get("broadcasts", ["…"]))
        plan.at(moment + timedelta(minutes=2 + index), _broadcast(harness, host, text, last))


async def _star_some(
    harness: BotHarness, api: FakeBotApi, rng: random.Random, cards: list[tuple[int, int]]
) -> None:
    """Each site's facilitator stars about one input card in four as they arrive."""
    for chat_id, message_id in cards:
        card = api.message(chat_id, message_id)  # as it looks now
        stars = [
            pressed.pack()
            for row in card.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row
            if isinstance(pressed := buttons.parse(b.get("callback_data")), buttons.Moderate)
            and pressed.what is buttons.Moderation.STAR
        ]
        if stars and rng.random() < 0.25:
            api.existing_user(chat_id).press(card, stars[0])
            await harness.deliver()


def _say(harness: BotHarness, user: FakeUser, text: str) -> Callable[[], Awaitable[None]]:
    async def act() -> None:
        user.send(text)
        await harness.deliver()

    return act


def _broadcast(
    harness: BotHarness, host: FakeUser, text: str, last: _LastMessage
) -> Callable[[], Awaitable[None]]:
    async def act() -> None:
        host.send(f"/broadcast {text}")
        await harness.deliver()
        await _press_first(harness, host, last)  # "Send" is the first button under the preview

    return act


def _plan_answers(
    event: Event,
    plan: _Plan,
    person: Person,
    agenda: Plan,
    key: str,
    now: datetime,
    rng: random.Random,
    samples: dict[str, dict[str, list[str]]],
    answers: Counter[tuple[str, str]],
    answerers: defaultdict[tuple[str, str], set[int]],
) -> None:
    parts = key.split(":")
    if parts[0] != "push" or len(parts) < 5:
        return
    item = event.item(parts[3])
    if item is None or item.kind is not AgendaKind.PROMPT or rng.random() > 0.85:
        return
    slot = agenda.slot(item.key)
    closes = slot.end if slot and slot.end else now + timedelta(minutes=20)
    room = max(1.0, (closes - now).total_seconds() / 60 - 1)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        when = now + timedelta(minutes=rng.uniform(1, room))
        text = rng.choice(samples[person.language]["answers"])

        async def write(
            text: str = text,
            site: str = person.site_key,
            item_key: str = item.key,
            user: FakeUser = person.user,
        ) -> None:
            user.send(text)
            answers[(site, item_key)] += 1
            answerers[(site, item_key)].add(user.id)

        plan.at(when, write)


def _input_lines(
    event: Event,
    site: Site,
    tallies: list[reports.PromptTally],
    answers: Counter[tuple[str, str]],
    lines: list[str],
) -> list[dict[str, object]]:
    """Append a line per prompt (and for inputs outside them) to `lines`; return the figures."""
    lang = event.default_language
    per_prompt: list[dict[str, object]] = []
    for item in [None, *event.timeline(site.key)]:
        if item is not None and item.kind is not AgendaKind.PROMPT:
            continue
        item_key = item.key if item else None
        rows = [t for t in tallies if t.site_key == site.key and t.item_key == item_key]
        if item is None and not rows:
            continue
        n = sum(t.inputs for t in rows)
        starred = sum(t.starred for t in rows)
        tables = ", ".join(f"{_group_name(site, t.group_key, lang)} {t.inputs}" for t in rows)
        title = item.title.get(lang, lang) if item else "outside the prompts"
        written = answers[(site.key, item_key)] if item_key else 0
        per_prompt.append(
            {"item": item_key, "inputs": n, "starred": starred, "messages_written": written}
        )
        lines.append(
            f"  inputs     {title}: {n} stored, {starred} starred"
            + (f" ({tables})" if tables else "")
        )
    return per_prompt


def _group_name(site: Site, group_key: str | None, lang: str) -> str:
    group = site.group(group_key) if group_key else None
    return group.name.get(lang, lang) if group else "-"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


async def _report(
    event: Event,
    harness: BotHarness,
    people: list[Person],
    answers: Counter[tuple[str, str]],
    answerers: defaultdict[tuple[str, str], set[int]],
    opened: datetime,
    end: datetime,
) -> tuple[str, dict[str, object]]:
    tz, lang = event.tz, event.default_language
    db = await Database.open(harness.database_path)
    try:
        groups = [g async for g in reports.sent_by_site(db.conn, event.key)]
        moments = [m async for m in reports.check_in_moments(db.conn, event.key)]
        totals = await reports.delivery_totals(db.conn, event.key)
        tallies = await reports.inputs_by_prompt(db.conn, event.key)
        relayed = await reports.relayed_highlights(db.conn, event.key)
        changes = await reports.shifts(db.conn, event.key)
    finally:
        await db.close()

    def hhmm(moment: datetime | None) -> str:
        return f"{moment.astimezone(tz):%H:%M}" if moment else "--:--"

    title = event.title.get(lang, lang)
    lines = [
        f"Rehearsal of {title} ({event.key}), {event.event.date:%Y-%m-%d}, times in "
        f"{event.event.timezone}",
        "",
    ]
    summary_sites: dict[str, dict[str, object]] = {}
    for site in event.sites:
        site_people = [p for p in people if p.site_key == site.key]
        arrived = [m for m in moments if m.site_key == site.key]
        start = event.start_of(event.timeline(site.key)[0])
        on_time = sum(1 for m in arrived if m.checked_in_at <= start)
        late = [hhmm(m.checked_in_at) for m in arrived if m.checked_in_at > start]
        lines.append(f"== {site.name.get(lang, lang)} — {site.venue.get(lang, lang)} ==")
        lines.append(
            f"  {hhmm(arrived[0].checked_in_at if arrived else None)}  check-in   "
            f"{len(arrived)} of {len(site_people)} simulated participants checked in; "
            f"{on_time} before the start" + (f", late: {', '.join(late)}" if late else "")
        )
        # (when, order at the same minute, line): a change comes before the notice about it.
        events: list[tuple[datetime, int, str]] = []
        for group in (g for g in groups if g.site_key == site.key):
            events.append((group.first_sent or end, 1, _describe(event, group, hhmm, relayed)))
        for site_key, reason, seconds, when in changes:
            if site_key == site.key:
                sign = "+" if seconds >= 0 else "-"
                events.append(
                    (
                        when,
                        0,
                        f"{hhmm(when)}  {reason:<10} programme moved "
                        f"{sign}{abs(seconds) // 60} min by the facilitator",
                    )
                )
        events.sort(key=lambda e: (e[0], e[1]))
        lines += [f"  {text}" for _, _, text in events]
        per_prompt = _input_lines(event, site, tallies, answers, lines)
        lines.append("")
        summary_sites[site.key] = {
            "simulated": len(site_people),
            "checked_in": len(arrived),
            "late": len(late),
            "answers": per_prompt,
        }
    sent = totals.get("sent", 0)
    lines.append("Summary")
    lines.append(
        f"  participants: {len(people)} simulated, {len(moments)} checked in ("
        + ", ".join(f"{k} {v['checked_in']}" for k, v in summary_sites.items())
        + ")"
    )
    lines.append(
        "  deliveries: "
        + ", ".join(
            f"{totals.get(s, 0)} {s}"
            for s in ("sent", "pending", "failed", "unreachable", "unknown")
        )
    )
    stored = sum(t.inputs for t in tallies)
    lines.append(
        f"  inputs: {stored} stored of {sum(answers.values())} written, "
        f"{sum(t.starred for t in tallies)} starred by facilitators"
    )
    lines.append(f"  event time: {hhmm(opened)}–{hhmm(end)}")
    summary: dict[str, object] = {
        "event": event.key,
        "participants": len(people),
        "checked_in": len(moments),
        "deliveries": totals,
        "sent": sent,
        "answers": sum(answers.values()),
        "inputs": stored,
        "sites": summary_sites,
    }
    return "\n".join(lines), summary


def _describe(
    event: Event,
    group: reports.SentGroup,
    hhmm: Callable[[datetime | None], str],
    relayed: dict[str, list[str]],
) -> str:
    lang = event.default_language
    parts = group.decision.split(":")
    label = group.decision
    if parts[0] in {"push", "reminder"} and len(parts) >= 4:
        item = event.item(parts[3])
        label = item.title.get(lang, lang) if item else parts[3]
        if parts[0] == "reminder":
            label = f"{item.remind_before if item else '?'} minutes left: {label}"
    elif parts[0] == "broadcast":
        label = (
            "greeting from another site"
            if group.kind == "relay"
            else ("message from the facilitator")
        )
    elif parts[0] == "digest" and len(parts) >= 5:
        # One digest per participant with a section per other site; a second part only
        # where the first would pass Telegram's length limit.
        n = len(relayed.get(group.decision, []))
        others = [s for s in event.sites if s.key != group.site_key]
        if parts[4] != "1":
            label = f"digest, continued ({parts[4]}): {n} highlights"
        elif len(others) == 1:
            label = f"digest from {others[0].name.get(lang, lang)}: {n} highlights"
        else:
            label = f"digest from {len(others)} other sites: {n} highlights"
    elif parts[0] == "relay":
        sources = sorted(set(relayed.get(group.decision, [])))
        names = ", ".join(
            (site.name.get(lang, lang) if (site := event.site(s)) else s) for s in sources
        )
        label = f"{len(relayed.get(group.decision, []))} highlights from {names}"
    elif parts[0] == "shift":
        label = "new times after the change"
    elif parts[0] == "adhoc":
        label = "ad-hoc question from the facilitator"
    reach = f"→ {group.sent}" + (f" ({group.not_sent} not delivered)" if group.not_sent else "")
    return f"{hhmm(group.first_sent)}  {group.kind:<10} {label:<46} {reach}"


async def _write_exports(event: Event, database: Path, out: Path, now: datetime) -> None:
    """Every export, as `python -m bot export` writes them, from the rehearsed database."""
    # Deferred: the writers bring in matplotlib and XlsxWriter.
    from bot.export.runner import export_off_loop
    from bot.i18n import Catalogue
    from storage.exports import open_export_source

    texts = Catalogue.load(default=event.default_language)
    await export_off_loop(
        event, texts, lambda: open_export_source(database), out, generated_at=now
    )
