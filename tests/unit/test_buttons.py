"""Button data: one class per action, the wire format of earlier versions, Telegram's limit."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from telegram.ext import ApplicationBuilder, CallbackQueryHandler

import handlers
from bot import buttons
from bot.buttons import (
    ACTIONS,
    LIMIT,
    Anonymity,
    BroadcastChoice,
    ButtonData,
    Category,
    Consent,
    Forget,
    HelpMore,
    Language,
    Moderate,
    Moderation,
    Move,
    RelayReaction,
    ResendUnknown,
    Table,
    Vote,
    WithdrawConsent,
    WithdrawInput,
)

BIGGEST_ID = 10**18 - 1  # the largest id button data carries (18 digits)

# What messages already in people's chats carry, as the handlers spelled it by hand before.
WIRE: dict[str, ButtonData] = {
    "v1:consent:yes": Consent(yes=True),
    "v1:consent:no": Consent(yes=False),
    "v1:table:t1": Table("t1"),
    "v1:move:yes": Move(yes=True),
    "v1:move:no": Move(yes=False),
    "v1:cat:politician": Category("politician"),
    "v1:anon:anon": Anonymity(anonymous=True),
    "v1:anon:named": Anonymity(anonymous=False),
    "v1:lang:en": Language("en"),
    "v1:forget:yes": Forget(yes=True),
    "v1:withdraw:no": WithdrawConsent(yes=False),
    "v1:bcast:send-12": BroadcastChoice(send=True, broadcast_id=12),
    "v1:bcast:cancel-12": BroadcastChoice(send=False, broadcast_id=12),
    "v1:wd:3": WithdrawInput(3),
    "v1:vote:4": Vote(4),
    "v1:rv:5": RelayReaction(5),
    "v1:mod:star-6": Moderate(Moderation.STAR, 6),
    "v1:mod:hide-6": Moderate(Moderation.HIDE, 6),
    "v1:mod:show-6": Moderate(Moderation.SHOW, 6),
    "v1:resend:unknown": ResendUnknown(),
    "v1:help:all": HelpMore(),
}

# The longest value of every action.
LONGEST: tuple[ButtonData, ...] = (
    Consent(yes=False),
    Table("t" * 16),
    Move(yes=False),
    Category("c" * 16),
    Anonymity(anonymous=False),
    Language("x" * 8),
    Forget(yes=False),
    WithdrawConsent(yes=False),
    BroadcastChoice(send=False, broadcast_id=BIGGEST_ID),
    WithdrawInput(BIGGEST_ID),
    Vote(BIGGEST_ID),
    RelayReaction(BIGGEST_ID),
    Moderate(Moderation.STAR, BIGGEST_ID),
    ResendUnknown(),
    HelpMore(),
)


@pytest.mark.parametrize(("wire", "pressed"), WIRE.items(), ids=list(WIRE))
def test_every_action_packs_as_earlier_versions_spelled_it_and_parses_back(
    wire: str, pressed: ButtonData
) -> None:
    assert pressed.pack() == wire
    assert buttons.parse(wire) == pressed
    assert type(pressed).parse(wire) == pressed


def test_every_action_has_a_case_of_the_wire_format_and_of_the_longest_value() -> None:
    assert {type(p) for p in WIRE.values()} == set(ACTIONS)
    assert {type(p) for p in LONGEST} == set(ACTIONS)


@pytest.mark.parametrize("pressed", LONGEST, ids=lambda p: type(p).__name__)
def test_the_longest_value_of_every_action_fits_in_telegrams_64_bytes(
    pressed: ButtonData,
) -> None:
    assert len(pressed.pack().encode()) <= LIMIT
    assert buttons.parse(pressed.pack()) == pressed


def test_actions_have_one_short_name_each() -> None:
    names = [action.ACTION for action in ACTIONS]
    assert len(set(names)) == len(names)


def test_an_action_parses_only_its_own_data() -> None:
    assert Vote.parse("v1:wd:3") is None
    assert WithdrawInput.parse("v1:vote:3") is None
    assert Forget.parse("v1:consent:yes") is None


@pytest.mark.parametrize(
    "forged",
    [
        None,
        "",
        "nonsense",
        "v2:consent:yes",
        "v1:zzz:1",
        "v1:consent:maybe",
        "v1:move:yes'",
        "v1:vote:1\n",
        "v1:vote:1\nv1:vote:2",
        "v1:vote:1-1",
        "v1:vote:" + "9" * 19,  # would overflow SQLite's integers
        "v1:vote:" + "1" * 60,
        "v1:wd:-1",
        "v1:rv:2-2",
        "v1:mod:star-abc",
        "v1:mod:burn-1",
        "v1:mod:star-",
        "v1:bcast:send-",
        "v1:bcast:send-1-2",
        "v1:bcast:sendit-1",
        "v1:table:T1",
        "v1:table:" + "t" * 17,
        "v1:anon:maybe",
        "v1:lang:" + "da" * 40,
        "ø" * 65,
        "x" * 64,
        "'; DROP TABLE inputs; --",
    ],
)
def test_forged_oversized_and_unknown_data_parses_as_nothing(forged: str | None) -> None:
    assert buttons.parse(forged) is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: Table("Table 1"),
        lambda: Category(""),
        lambda: Vote(-1),
        lambda: Vote(BIGGEST_ID + 1),
        lambda: Language("english language"),
        lambda: BroadcastChoice(send=True, broadcast_id=-3),
    ],
)
def test_a_value_that_would_not_come_back_cannot_be_made(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="cannot be packed"):
        make()


def test_the_handler_list_listens_to_exactly_the_actions() -> None:
    app = ApplicationBuilder().token("123:TEST").build()
    handlers.register(app)
    patterns = {
        handler.pattern.pattern
        for group in app.handlers.values()
        for handler in group
        if isinstance(handler, CallbackQueryHandler) and isinstance(handler.pattern, re.Pattern)
    }
    assert patterns == {action.pattern().pattern for action in ACTIONS}
