"""Steps the agenda tests share: checking people in, running the clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.buttons import Anonymity, Category
from bot.clock import ManualClock
from bot.event import Event
from bot.sandbox import FakeUser
from bot.sandbox.harness import BotHarness

CONSENT = {"da": "✅ Ja, jeg deltager", "en": "✅ Yes, I take part"}


async def check_in(
    harness: BotHarness,
    user: FakeUser,
    code: str,
    *,
    role: str = "politician",
    anonymous: bool = False,
) -> None:
    user.send(f"/start {code}")
    await harness.deliver()
    user.press_button(user.last(), CONSENT[user.language_code or "da"])
    await harness.deliver()
    await answer_questions(harness, user, role=role, anonymous=anonymous)
    await harness.settle()


async def answer_questions(
    harness: BotHarness, user: FakeUser, *, role: str = "politician", anonymous: bool = False
) -> None:
    """Answer the check-in's role and anonymity questions, if they are asked."""
    for _ in range(3):
        data = [
            button["callback_data"]
            for row in user.last().get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
        ]
        if Category(role).pack() in data:
            user.press(user.last(), Category(role).pack())
        elif Anonymity(anonymous=False).pack() in data:
            user.press(user.last(), Anonymity(anonymous).pack())
        else:
            return
        await harness.deliver()


async def become_facilitator(
    harness: BotHarness, event: Event, user: FakeUser, site_key: str
) -> None:
    site = event.site(site_key)
    assert site is not None
    assert site.facilitator_code is not None
    user.send(f"/start {site.facilitator_code}")
    await harness.settle()


async def run_until(
    harness: BotHarness,
    clock: ManualClock,
    until: datetime,
    step: timedelta = timedelta(minutes=1),
) -> None:
    """Move the clock in steps, letting the bot act at each, as the JobQueue would."""
    while clock.now() < until:
        clock.advance(min(step, until - clock.now()))
        await harness.settle()


def at(event: Event, hhmm: str) -> datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime(2018, 10, 3, hours, minutes, tzinfo=event.tz)


def received(harness: BotHarness, event: Event, user_id: int) -> list[tuple[str, str, str]]:
    """(kind, agenda item, HH:MM sent in event time) of every outbox message that reached a
    person, in order. The item is "" for messages that are not about one item."""
    rows = harness.query(
        "SELECT key, kind, sent_at FROM outbox WHERE user_id = ? AND status = 'sent' ORDER BY id",
        (user_id,),
    )
    found = []
    for key, kind, sent_at in rows:
        parts = key.split(":")
        item = parts[3] if parts[0] in {"push", "reminder"} else ""
        local = datetime.fromisoformat(sent_at).astimezone(event.tz)
        found.append((kind, item, f"{local:%H:%M}"))
    return found
