"""A failing handler: the person gets an apology, the organisers an alert (at most one a
minute) that names the kind of error and the handler, never what was written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.models import IncomingMessage, UserRef
from bot.sandbox import FakeUser
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import ORGANISER_ID, TOKEN

OTHER_ORGANISER = 901
SECRET = "Mit hemmelige forslag om borgerbudgetter"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The tests' settings with a second organiser."""
    return settings.model_copy(
        update={"organizer_ids": frozenset({ORGANISER_ID, OTHER_ORGANISER})}
    )


@pytest.fixture
def broken_intake(harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Storing an input fails with an exception whose message quotes the input."""

    async def receive(user: UserRef, message: IncomingMessage) -> None:
        raise ValueError(f"{user.display_name} wrote {message.text!r}")

    monkeypatch.setattr(harness.services.inputs, "receive", receive)


@pytest.fixture
async def organisers(harness: BotHarness) -> list[FakeUser]:
    people = [
        harness.api.user(ORGANISER_ID, "Olga", language_code="en"),
        harness.api.user(OTHER_ORGANISER, "Ole", language_code="da"),
    ]
    for person in people:
        person.send("/help")  # a chat the bot can write to
    await harness.settle()
    return people


def alerts(person: FakeUser) -> list[str]:
    return [m["text"] for m in person.inbox() if m.get("text", "").startswith("⚠️")]


@pytest.mark.usefixtures("broken_intake")
async def test_a_failing_handler_alerts_each_organiser_once_without_what_was_written(
    harness: BotHarness, organisers: list[FakeUser]
) -> None:
    anna = harness.api.user(401, "Anna Andersen", language_code="en")
    anna.send(SECRET)
    await harness.settle()

    assert anna.last()["text"].startswith("Sorry, something went wrong")
    for organiser in organisers:
        [alert] = alerts(organiser)
        assert alert.startswith("⚠️ Fejl i botten kl. 12.00.00: ValueError i ")
        assert "handlers.inputs.message_input (message)" in alert
        for private in (SECRET, "hemmelige", "Anna", TOKEN, "401"):
            assert private not in alert


@pytest.mark.usefixtures("broken_intake")
async def test_a_second_failure_within_a_minute_sends_no_alert_and_is_counted_in_the_next(
    harness: BotHarness, organisers: list[FakeUser], clock: ManualClock
) -> None:
    anna = harness.api.user(402, "Anna", language_code="da")
    anna.send("Første")
    await harness.settle()
    assert [len(alerts(o)) for o in organisers] == [1, 1]

    clock.advance(timedelta(seconds=59))
    anna.send("Anden")
    await harness.settle()
    assert [len(alerts(o)) for o in organisers] == [1, 1]
    assert anna.last()["text"].startswith("Beklager")  # the apology does not wait

    clock.advance(timedelta(seconds=1))
    anna.send("Tredje")
    await harness.settle()
    assert [len(alerts(o)) for o in organisers] == [2, 2]
    latest = alerts(organisers[0])[-1]
    assert "kl. 12.01.00" in latest
    assert latest.endswith("Siden den forrige advarsel er der sket 1 fejl mere.")
    rows = harness.query("SELECT chat_id, kind, status FROM outbox WHERE key LIKE 'alert:%'")
    assert sorted(rows) == sorted(
        [(ORGANISER_ID, "notice", "sent")] * 2 + [(901, "notice", "sent")] * 2
    )


async def test_a_refusal_is_no_failure_and_alerts_no_one(
    harness: BotHarness, organisers: list[FakeUser]
) -> None:
    anna = harness.api.user(403, "Anna", language_code="en")
    anna.send("/next")
    await harness.settle()
    assert "for facilitators and organisers" in anna.last()["text"]
    assert [alerts(o) for o in organisers] == [[], []]
