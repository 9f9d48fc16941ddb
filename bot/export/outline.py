"""The order every export and /stats follows: the event's sites, then at each site its
prompts in programme order, the facilitators' ad-hoc questions, and what was written outside
any question."""

from __future__ import annotations

from dataclasses import dataclass

from bot.event import AgendaItem, AgendaKind, Event
from bot.export.records import AdhocQuestion, Participation, PromptFigures, PromptRef


@dataclass(frozen=True, slots=True)
class PromptEntry:
    site_key: str
    ref: PromptRef
    item: AgendaItem | None
    adhoc: AdhocQuestion | None
    figures: PromptFigures


def site_keys(event: Event, only: tuple[str, ...] | None) -> list[str]:
    """The event's site keys in file order, limited to `only` when given."""
    return [site.key for site in event.sites if only is None or site.key in only]


def prompts_of(event: Event, participation: Participation, site_key: str) -> list[PromptEntry]:
    entries: list[PromptEntry] = []
    seen: set[PromptRef] = set()

    def add(ref: PromptRef, item: AgendaItem | None, adhoc: AdhocQuestion | None) -> None:
        seen.add(ref)
        entries.append(
            PromptEntry(site_key, ref, item, adhoc, participation.prompt(site_key, ref))
        )

    for item in event.timeline(site_key):
        if item.kind is AgendaKind.PROMPT:
            add(PromptRef(item.key, None), item, None)
    for question in participation.adhoc.values():
        if question.site_key == site_key:
            add(PromptRef(None, question.id), None, question)
    # Inputs to anything else: an item that is not (or no longer) a prompt in the event file,
    # then the general inputs written while no question was open.
    rest = [
        p
        for p in participation.prompts
        if p.site_key == site_key and p.prompt not in seen and not p.prompt.general
    ]
    for figures in sorted(rest, key=lambda p: (p.prompt.item_key or "", p.prompt.adhoc_id or 0)):
        key = figures.prompt.item_key
        add(figures.prompt, event.item(key) if key else None, None)
    general = PromptRef(None, None)
    tally = participation.prompt(site_key, general).total
    if tally.inputs or tally.hidden:
        add(general, None, None)
    return entries
