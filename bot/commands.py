"""The bot's commands and who may use them: one list that drives /help and setMyCommands.

/help fits a phone: it shows the few commands of the person's moment (a stranger who has not
checked in, a checked-in participant, a facilitator, an organiser) and keeps the rest behind a
"more" button or `/help all`. The command menu is the same short lists, for strangers and
participants (Telegram shows one menu to every private chat)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.models import Role

_RANK = {Role.PARTICIPANT: 0, Role.FACILITATOR: 1, Role.ORGANISER: 2}


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    role: Role  # the least role that may use it
    needs_checkin: bool = False  # of no use to a participant before checking in

    @property
    def description_key(self) -> str:
        return f"commands.{self.name}"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", Role.PARTICIPANT),
    CommandSpec("checkin", Role.PARTICIPANT),
    CommandSpec("where", Role.PARTICIPANT),
    CommandSpec("switch", Role.PARTICIPANT, needs_checkin=True),
    CommandSpec("language", Role.PARTICIPANT),
    CommandSpec("privacy", Role.PARTICIPANT),
    CommandSpec("mydata", Role.PARTICIPANT),
    CommandSpec("withdraw", Role.PARTICIPANT, needs_checkin=True),
    CommandSpec("forget", Role.PARTICIPANT),
    CommandSpec("agenda", Role.PARTICIPANT, needs_checkin=True),
    CommandSpec("anonymous", Role.PARTICIPANT, needs_checkin=True),
    CommandSpec("mine", Role.PARTICIPANT, needs_checkin=True),
    CommandSpec("undo", Role.PARTICIPANT, needs_checkin=True),
    CommandSpec("inputs", Role.PARTICIPANT, needs_checkin=True),
    CommandSpec("help", Role.PARTICIPANT),
    CommandSpec("now", Role.FACILITATOR),
    CommandSpec("quiet", Role.FACILITATOR),
    CommandSpec("next", Role.FACILITATOR),
    CommandSpec("delay", Role.FACILITATOR),
    CommandSpec("pause", Role.FACILITATOR),
    CommandSpec("resume", Role.FACILITATOR),
    CommandSpec("prompt", Role.FACILITATOR),
    CommandSpec("close", Role.FACILITATOR),
    CommandSpec("broadcast", Role.FACILITATOR),
    CommandSpec("relay", Role.FACILITATOR),
    CommandSpec("health", Role.ORGANISER),
    CommandSpec("roles", Role.ORGANISER),
    CommandSpec("revoke", Role.ORGANISER),
    CommandSpec("stats", Role.FACILITATOR),
    CommandSpec("export", Role.FACILITATOR),
    CommandSpec("wall", Role.FACILITATOR),
    CommandSpec("console", Role.FACILITATOR),
)


def commands_for(role: Role, *, checked_in: bool = True) -> list[CommandSpec]:
    """Every command the role may use (for a participant not checked in: those of use yet)."""
    return [
        c
        for c in COMMANDS
        if _RANK[c.role] <= _RANK[role]
        and (checked_in or c.needs_checkin is False or role is not Role.PARTICIPANT)
    ]


class Moment(StrEnum):
    """Who is asking for help, and where they are in the day."""

    STRANGER = "stranger"  # no role, not checked in (or consent withdrawn)
    PARTICIPANT = "participant"  # checked in
    FACILITATOR = "facilitator"
    ORGANISER = "organiser"

    @classmethod
    def of(cls, role: Role, *, checked_in: bool) -> Moment:
        if role is Role.PARTICIPANT:
            return cls.PARTICIPANT if checked_in else cls.STRANGER
        return cls(role.value)

    @property
    def role(self) -> Role:
        return Role.PARTICIPANT if self is Moment.STRANGER else Role(self.value)


# The few commands each moment needs first, most used first; /help shows these.
ESSENTIAL: dict[Moment, tuple[str, ...]] = {
    Moment.STRANGER: ("checkin", "language", "privacy"),
    Moment.PARTICIPANT: ("agenda", "mine", "undo", "privacy"),
    Moment.FACILITATOR: ("now", "next", "delay", "prompt", "broadcast"),
    Moment.ORGANISER: ("now", "stats", "export", "broadcast", "health"),
}
_BY_NAME = {c.name: c for c in COMMANDS}


def essentials(moment: Moment) -> list[CommandSpec]:
    return [_BY_NAME[name] for name in ESSENTIAL[moment]]


def all_for(moment: Moment) -> list[CommandSpec]:
    """Everything the moment may use, the essentials first."""
    first = essentials(moment)
    every = commands_for(moment.role, checked_in=moment is not Moment.STRANGER)
    return first + [c for c in every if c not in first]


def menu() -> list[CommandSpec]:
    """The command menu Telegram shows in every private chat: the stranger's commands, then
    the checked-in participant's, then /help for the rest."""
    names = dict.fromkeys((*ESSENTIAL[Moment.STRANGER], *ESSENTIAL[Moment.PARTICIPANT], "help"))
    return [_BY_NAME[name] for name in names]
