"""What an inline button says when it is pressed: one class per action, packed and parsed here.

The wire format is `v1:<action>:<argument>`, ASCII, never more than Telegram's 64 bytes. It
is the same as before these classes existed, so the buttons of messages already in people's
chats (and of cards already waiting in the outbox) keep working. The data only says what was
pressed; the services check it against the database before anything happens.

This is core, not Telegram: the services build feed cards and relays with buttons, so they
name actions as these classes, and the Telegram side packs them into `callback_data`.
Anything this version did not make (forged, old, oversized, unknown) parses as None, which the
handlers answer with the polite "this button is no longer valid".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Self

VERSION = "v1"
LIMIT = 64  # bytes of callback data Telegram accepts
_WIRE = re.compile(r"v1:([a-z]{1,12}):([A-Za-z0-9_-]{0,40})")
_ID = re.compile(r"[0-9]{1,18}")  # a database id small enough for SQLite's integers
_KEY = r"[a-z0-9_]{1,16}"  # a group or participant-role key, as event files allow them


class ButtonData:
    """The base of every action: `pack` for a button, `parse` for a press.

    A subclass names its `ACTION`, the form of its argument (`ARGUMENT`, a regular expression
    the whole argument must match), how its fields become the argument and back."""

    __slots__ = ()
    ACTION: ClassVar[str]
    ARGUMENT: ClassVar[re.Pattern[str]]

    def argument(self) -> str:
        raise NotImplementedError

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        """The action from an argument that matches `ARGUMENT`."""
        raise NotImplementedError

    def pack(self) -> str:
        return f"{VERSION}:{self.ACTION}:{self.argument()}"

    @classmethod
    def parse(cls, raw: str | None) -> Self | None:
        """This action from callback data; None for anything else."""
        pressed = parse(raw)
        return pressed if isinstance(pressed, cls) else None

    @classmethod
    def pattern(cls) -> re.Pattern[str]:
        """What a handler for this action listens to; the argument is checked by `parse`."""
        return re.compile(f"^{VERSION}:{re.escape(cls.ACTION)}:")

    def __post_init__(self) -> None:
        # Made by the code, never by a person: a value that would not parse back is a bug.
        packed = self.pack()
        if (
            len(packed.encode()) > LIMIT
            or not _WIRE.fullmatch(packed)
            or not self.ARGUMENT.fullmatch(self.argument())
        ):
            raise ValueError(f"{type(self).__name__} cannot be packed as button data")


@dataclass(frozen=True, slots=True)
class YesNo(ButtonData):
    """A question answered with one of two buttons."""

    ARGUMENT: ClassVar[re.Pattern[str]] = re.compile("yes|no")
    yes: bool

    def argument(self) -> str:
        return "yes" if self.yes else "no"

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        return cls(argument == "yes")


@dataclass(frozen=True, slots=True)
class _InputId(ButtonData):
    ARGUMENT: ClassVar[re.Pattern[str]] = _ID
    input_id: int

    def argument(self) -> str:
        return str(self.input_id)

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        return cls(int(argument))


@dataclass(frozen=True, slots=True)
class _Key(ButtonData):
    ARGUMENT: ClassVar[re.Pattern[str]] = re.compile(_KEY)
    key: str

    def argument(self) -> str:
        return self.key

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        return cls(argument)


# -- checking in ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Consent(YesNo):
    """Yes (I take part) or no, under the consent question."""

    ACTION: ClassVar[str] = "consent"


@dataclass(frozen=True, slots=True)
class Table(_Key):
    """A table (group) of the person's site, by its key."""

    ACTION: ClassVar[str] = "table"


@dataclass(frozen=True, slots=True)
class Move(YesNo):
    """Yes (move me to the other site) or no (stay)."""

    ACTION: ClassVar[str] = "move"


@dataclass(frozen=True, slots=True)
class Category(_Key):
    """The participant's role at the event (politician …), by its key."""

    ACTION: ClassVar[str] = "cat"


@dataclass(frozen=True, slots=True)
class Anonymity(ButtonData):
    """Inputs shown with the person's name, or anonymous."""

    ACTION: ClassVar[str] = "anon"
    ARGUMENT: ClassVar[re.Pattern[str]] = re.compile("anon|named")
    anonymous: bool

    def argument(self) -> str:
        return "anon" if self.anonymous else "named"

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        return cls(argument == "anon")


@dataclass(frozen=True, slots=True)
class Language(ButtonData):
    """The language to be spoken to in, by its code; whether it is offered is checked later."""

    ACTION: ClassVar[str] = "lang"
    ARGUMENT: ClassVar[re.Pattern[str]] = re.compile("[a-z]{2,8}")
    code: str

    def argument(self) -> str:
        return self.code

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        return cls(argument)


@dataclass(frozen=True, slots=True)
class HelpMore(ButtonData):
    """Every command the presser may use, under the short /help; the presser's role and
    check-in are looked up at the press, not taken from the message."""

    ACTION: ClassVar[str] = "help"
    ARGUMENT: ClassVar[re.Pattern[str]] = re.compile("all")

    def argument(self) -> str:
        return "all"

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        return cls()


# -- privacy -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Forget(YesNo):
    """Yes (erase everything about me) or no."""

    ACTION: ClassVar[str] = "forget"


@dataclass(frozen=True, slots=True)
class WithdrawConsent(YesNo):
    """Yes (withdraw my consent) or no."""

    ACTION: ClassVar[str] = "withdraw"


# -- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WithdrawInput(_InputId):
    """One of the person's own inputs, under /mine."""

    ACTION: ClassVar[str] = "wd"


@dataclass(frozen=True, slots=True)
class Vote(_InputId):
    """👍 on an input of the voter's site, under /inputs."""

    ACTION: ClassVar[str] = "vote"


@dataclass(frozen=True, slots=True)
class RelayReaction(_InputId):
    """👍 on a highlight relayed from another site."""

    ACTION: ClassVar[str] = "rv"


class Moderation(StrEnum):
    """What a facilitator can do to an input from its card in the feed."""

    STAR = "star"
    HIDE = "hide"
    SHOW = "show"
    APPROVE = "approve"  # ⭐ again under a highlight edited after it was approved


@dataclass(frozen=True, slots=True)
class Moderate(ButtonData):
    """⭐, 🙈 or ↩ under a feed card."""

    ACTION: ClassVar[str] = "mod"
    ARGUMENT: ClassVar[re.Pattern[str]] = re.compile(f"({'|'.join(Moderation)})-{_ID.pattern}")
    what: Moderation
    input_id: int

    def argument(self) -> str:
        return f"{self.what.value}-{self.input_id}"

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        what, _, raw_id = argument.partition("-")
        return cls(Moderation(what), int(raw_id))


# -- facilitators --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BroadcastChoice(ButtonData):
    """Send or cancel a drafted broadcast (or greeting), under its preview."""

    ACTION: ClassVar[str] = "bcast"
    ARGUMENT: ClassVar[re.Pattern[str]] = re.compile(f"(send|cancel)-{_ID.pattern}")
    send: bool
    broadcast_id: int

    def argument(self) -> str:
        return f"{'send' if self.send else 'cancel'}-{self.broadcast_id}"

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        choice, _, raw_id = argument.partition("-")
        return cls(choice == "send", int(raw_id))


# -- organisers ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResendUnknown(ButtonData):
    """Send again every copy whose outcome is unknown (it may arrive twice), under /health."""

    ACTION: ClassVar[str] = "resend"
    ARGUMENT: ClassVar[re.Pattern[str]] = re.compile("unknown")

    def argument(self) -> str:
        return "unknown"

    @classmethod
    def from_valid(cls, argument: str) -> Self:
        return cls()


ACTIONS: tuple[type[ButtonData], ...] = (
    Consent,
    Table,
    Move,
    Category,
    Anonymity,
    Language,
    HelpMore,
    Forget,
    WithdrawConsent,
    BroadcastChoice,
    WithdrawInput,
    Vote,
    RelayReaction,
    Moderate,
    ResendUnknown,
)
_BY_ACTION: dict[str, type[ButtonData]] = {action.ACTION: action for action in ACTIONS}


def parse(raw: str | None) -> ButtonData | None:
    """The action a press names; None for anything this version did not make."""
    if raw is None or len(raw) > LIMIT:
        return None
    match = _WIRE.fullmatch(raw)
    action = _BY_ACTION.get(match.group(1)) if match else None
    if match is None or action is None or not action.ARGUMENT.fullmatch(match.group(2)):
        return None
    return action.from_valid(match.group(2))


Buttons = tuple[tuple[tuple[str, ButtonData], ...], ...]
"""Inline buttons as rows of (label, what pressing it says)."""
