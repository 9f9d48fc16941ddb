"""What the export read model hands the writers: Telegram-free, SQL-free, frozen.

Inputs arrive one at a time (the writers never hold a whole event in memory); the
participation figures are small aggregates, computed once per export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from bot.models import Input, InputKind, InputState


@dataclass(frozen=True, slots=True)
class PromptRef:
    """What an input answered: an agenda prompt, an ad-hoc question, or neither (general)."""

    item_key: str | None
    adhoc_id: int | None

    @property
    def general(self) -> bool:
        return self.item_key is None and self.adhoc_id is None


@dataclass(frozen=True, slots=True)
class Scope:
    """Which visible inputs to read. `None` means "any"; `table` and `prompt` are wrapped so
    that "the inputs without a table" (`TableRef(None)`) differs from "every table"."""

    site_key: str | None = None
    prompt: PromptRef | None = None
    table: TableRef | None = None
    highlights_only: bool = False
    # Within a prompt, inputs come by table: these tables first, in this order, then any
    # other by key, then those without a table. Empty: by key, those without a table first.
    table_order: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TableRef:
    group_key: str | None


class ExportedInput(NamedTuple):
    """A visible input with what the export adds to it, flat.

    A tuple rather than an `Input` inside a dataclass: an export reads 100,000 of them, and
    building two frozen dataclasses per row cost more than writing the row. `as_input` gives
    the `Input` for what takes one (how an author is shown).
    """

    id: int
    event_key: str
    user_id: int
    site_key: str
    group_key: str | None
    role: str
    category_key: str | None
    anonymous: bool | None  # the author's choice as it is now; None: never made
    item_key: str | None
    adhoc_id: int | None
    kind: InputKind
    text: str
    file_id: str | None
    file_name: str | None
    chat_id: int
    message_id: int
    created_at: datetime
    edited_at: datetime | None
    author_name: str
    stars: int
    votes: int
    adhoc_text: str | None  # the ad-hoc question it answered, if it answered one
    mime_type: str | None
    highlight: bool  # promoted (starred or voted) to be relayed to the other sites
    relayed_to: tuple[str, ...]  # the sites it was relayed to, in site-key order

    def as_input(self) -> Input:
        return Input(
            id=self.id,
            event_key=self.event_key,
            user_id=self.user_id,
            site_key=self.site_key,
            group_key=self.group_key,
            role=self.role,
            category_key=self.category_key,
            anonymous=self.anonymous,
            item_key=self.item_key,
            adhoc_id=self.adhoc_id,
            kind=self.kind,
            text=self.text,
            file_id=self.file_id,
            file_name=self.file_name,
            chat_id=self.chat_id,
            message_id=self.message_id,
            state=InputState.VISIBLE,
            created_at=self.created_at,
            edited_at=self.edited_at,
            author_name=self.author_name,
            stars=self.stars,
            votes=self.votes,
        )


@dataclass(frozen=True, slots=True)
class AdhocQuestion:
    id: int
    site_key: str
    group_key: str | None
    text: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class Tally:
    """Visible inputs, inputs a facilitator hid, and the number of distinct authors of the
    visible ones."""

    inputs: int = 0
    hidden: int = 0
    answered: int = 0


@dataclass(frozen=True, slots=True)
class PromptFigures:
    site_key: str
    prompt: PromptRef
    total: Tally
    by_table: dict[str | None, Tally] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SiteFigures:
    site_key: str
    checked_in: int  # checked in with consent, now
    unreachable: int  # of those, blocked the bot
    by_table: dict[str | None, int]  # checked in per table
    total: Tally  # over every prompt: `answered` is who wrote anything visible


@dataclass(frozen=True, slots=True)
class Participation:
    sites: dict[str, SiteFigures]
    prompts: list[PromptFigures]
    adhoc: dict[int, AdhocQuestion]

    def site(self, site_key: str) -> SiteFigures:
        """The site's figures; zeros for a site where nobody checked in."""
        found = self.sites.get(site_key)
        return found if found is not None else SiteFigures(site_key, 0, 0, {}, Tally())

    def prompt(self, site_key: str, ref: PromptRef) -> PromptFigures:
        """The prompt's figures at the site; zeros for a prompt nobody answered."""
        found = next((p for p in self.prompts if p.site_key == site_key and p.prompt == ref), None)
        return found if found is not None else PromptFigures(site_key, ref, Tally())


@dataclass(frozen=True, slots=True)
class ItemStart:
    """When an agenda item actually started at a site (after delays), as the engine pushed it."""

    item_key: str
    at: datetime
