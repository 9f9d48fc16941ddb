"""The bot's commands and who may use them: one list that drives /help and setMyCommands."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Role

_RANK = {Role.PARTICIPANT: 0, Role.FACILITATOR: 1, Role.ORGANISER: 2}


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    role: Role  # the least role that may use it

    @property
    def description_key(self) -> str:
        return f"commands.{self.name}"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", Role.PARTICIPANT),
    CommandSpec("checkin", Role.PARTICIPANT),
    CommandSpec("where", Role.PARTICIPANT),
    CommandSpec("switch", Role.PARTICIPANT),
    CommandSpec("language", Role.PARTICIPANT),
    CommandSpec("privacy", Role.PARTICIPANT),
    CommandSpec("mydata", Role.PARTICIPANT),
    CommandSpec("withdraw", Role.PARTICIPANT),
    CommandSpec("forget", Role.PARTICIPANT),
    CommandSpec("agenda", Role.PARTICIPANT),
    CommandSpec("anonymous", Role.PARTICIPANT),
    CommandSpec("mine", Role.PARTICIPANT),
    CommandSpec("undo", Role.PARTICIPANT),
    CommandSpec("inputs", Role.PARTICIPANT),
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
)


def commands_for(role: Role) -> list[CommandSpec]:
    return [c for c in COMMANDS if _RANK[c.role] <= _RANK[role]]
