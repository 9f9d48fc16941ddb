"""From what the database holds to what a reader sees: names, titles, prompt texts, local
times and authors, in one language (the event's default), and the row of one input that the
data files share.

Authors are shown exactly as `bot.services.authors.author_label` shows them to anyone else:
organisers' exports follow the event's anonymity too. An anonymous author is left empty in
the data files; with `anonymity: anonymous` the participant's role is left out as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.event import AgendaKind, Anonymity, Event
from bot.export.records import AdhocQuestion, ExportedInput, PromptRef
from bot.i18n import Catalogue, clock
from bot.services.authors import author_label

# A stand-in author name: where `author_label` gives it back, the author is shown by name.
_SOMEONE = "\x00someone\x00"


class Place(NamedTuple):
    """Where an input was written and what it answered, as the data files show it: the same
    for every input written at one site and table to one prompt, and most of a row's length,
    so the writers write it once per place."""

    event: str
    site: str
    site_name: str
    table: str | None
    table_name: str | None
    item: str | None
    item_title: str
    adhoc_id: int | None
    prompt: str


class ExportRow(NamedTuple):
    """One visible input as the data files show it, each value as it is (a time, a yes or no,
    a list of sites), for each writer to write in its format."""

    id: int
    place: Place
    created_at: datetime  # in the event's time zone
    edited_at: datetime | None
    author: str | None  # as shown to the other participants; None when anonymous
    category: str | None
    category_name: str | None
    kind: str
    text: str
    file_id: str | None
    file_name: str | None
    mime_type: str | None
    stars: int
    votes: int
    highlight: bool
    relayed_to: tuple[str, ...]
    # The photo, document or voice note itself, fetched by `export --media`: its path
    # relative to the data file; None when not fetched (or a text).
    media_file: str | None = None


# The data files' columns, in order: a row's fields, the place's own in its stead. They are
# identifiers, the same in every language and in the JSON schema
# (`prompts/export-v1.schema.json`), so that others can script against them.
COLUMNS: tuple[str, ...] = tuple(
    column
    for name in ExportRow._fields
    for column in (Place._fields if name == "place" else (name,))
)


def iso(moment: datetime | None) -> str | None:
    """A time as the CSV and JSON write it: ISO 8601 to the second, with its UTC offset."""
    return None if moment is None else moment.isoformat(timespec="seconds")


class _Author(NamedTuple):
    """How the data files show the authors of one site, role and choice of anonymity."""

    author: str | None  # `_SOMEONE`: each author by name
    category: str | None
    category_name: str | None


@dataclass(frozen=True)
class Presenter:
    event: Event
    texts: Catalogue
    lang: str
    # Input id → the fetched file's path relative to the data files (`export --media`).
    media_files: Mapping[int, str] = field(default_factory=dict, compare=False, repr=False)
    # Names, titles and prompt texts repeat on every row: one place per site, table and prompt.
    _places: dict[tuple[object, ...], Place] = field(
        default_factory=dict, compare=False, repr=False
    )
    # So do authors: one label per site, role and choice, `_SOMEONE` where it is the name.
    _labels: dict[tuple[object, ...], str] = field(default_factory=dict, compare=False, repr=False)
    # The data files' author and category, per the same three fields.
    _authors: dict[tuple[object, ...], _Author] = field(
        default_factory=dict, compare=False, repr=False
    )
    _categories: dict[str | None, tuple[str | None, str | None]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _tz: ZoneInfo = field(init=False, compare=False, repr=False)
    _anonymous: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tz", self.event.tz)
        object.__setattr__(self, "_anonymous", self.texts.plain(self.lang, "authors.anonymous"))

    @classmethod
    def for_event(
        cls, event: Event, texts: Catalogue, media_files: Mapping[int, str] | None = None
    ) -> Presenter:
        return cls(event, texts, event.default_language, media_files or {})

    @property
    def default(self) -> str:
        return self.event.default_language

    def say(self, key: str, /, **params: object) -> str:
        """A catalogue sentence as plain text (the writers escape for their own format)."""
        return self.texts.plain(self.lang, key, **params)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.event.tz)

    def iso(self, moment: datetime | None) -> str | None:
        return None if moment is None else self.local(moment).isoformat(timespec="seconds")

    def hhmm(self, moment: datetime) -> str:
        """A clock time as the export's language writes it ("20.32" in Danish)."""
        return clock(self.lang, self.local(moment))

    def site_name(self, site_key: str) -> str:
        site = self.event.site(site_key)
        return site.name.get(self.lang, self.default) if site else site_key

    def table_name(self, site_key: str, group_key: str | None) -> str:
        if group_key is None:
            return self.say("report.no_table")
        site = self.event.site(site_key)
        group = site.group(group_key) if site else None
        return group.name.get(self.lang, self.default) if group else group_key

    def item_title(self, ref: PromptRef, adhoc: AdhocQuestion | None = None) -> str:
        if ref.item_key is not None:
            item = self.event.item(ref.item_key)
            return item.title.get(self.lang, self.default) if item else ref.item_key
        if ref.adhoc_id is not None:
            if adhoc is not None:
                return self.say("report.adhoc_at", time=self.hhmm(adhoc.opened_at))
            return self.say("report.adhoc")
        return self.say("report.general")

    def prompt_text(
        self, site_key: str, group_key: str | None, ref: PromptRef, adhoc_text: str | None
    ) -> str:
        """What the participant was asked: their site's (or table's) text of the item."""
        if ref.item_key is not None:
            item = self.event.item(ref.item_key)
            if item is None:
                return ""
            return item.text_for(self.lang, self.default, site_key, group_key)
        return adhoc_text or ""

    def is_prompt(self, item_key: str) -> bool:
        item = self.event.item(item_key)
        return item is not None and item.kind is AgendaKind.PROMPT

    def category(self, item: ExportedInput) -> tuple[str | None, str | None]:
        """(key, name) of the author's kind of participant, unless the event is anonymous."""
        found = self._categories.get(item.category_key)
        if found is None:
            if self.event.event.anonymity is Anonymity.ANONYMOUS or item.category_key is None:
                found = None, None
            else:
                role = self.event.event.participant_role(item.category_key)
                name = role.name.get(self.lang, self.default) if role else None
                found = item.category_key, name
            self._categories[item.category_key] = found
        return found

    def author_label(self, item: ExportedInput) -> str:
        """A name, "politiker, Aalborg" or "anonym": what anyone else is shown."""
        found = self._labels.get((item.site_key, item.category_key, item.anonymous))
        if found is None:
            found = self._label_of(item)
        if found is _SOMEONE:
            # As `author_label` does with a name: shown unless blank.
            return item.author_name if item.author_name.strip() else self._anonymous
        return found

    def _label_of(self, item: ExportedInput) -> str:
        """The label for the input's site, role and choice, asked once with a stand-in name:
        `author_label` reads the name only to show it (or hide it when blank), so where it
        gives the stand-in back, every author of that combination is shown by name. One call
        per combination rather than per author: an event has thousands of authors."""
        key = (item.site_key, item.category_key, item.anonymous)
        found = author_label(
            self.event, self.texts, self.lang, item._replace(author_name=_SOMEONE).as_input()
        )
        found = self._labels[key] = _SOMEONE if found == _SOMEONE else found
        return found

    def author(self, item: ExportedInput) -> str | None:
        """The author for the data files: as shown to others, but empty when anonymous."""
        label = self.author_label(item)
        return None if label == self._anonymous else label

    def kind_name(self, item: ExportedInput) -> str:
        return self.say(f"report.kind.{item.kind.value}")

    def _place_of(self, item: ExportedInput) -> Place:
        ref = PromptRef(item.item_key, item.adhoc_id)
        site_key, group_key = item.site_key, item.group_key
        found = self._places[(site_key, group_key, item.item_key, item.adhoc_id)] = Place(
            event=item.event_key,
            site=site_key,
            site_name=self.site_name(site_key),
            table=group_key,
            table_name=None if group_key is None else self.table_name(site_key, group_key),
            item=item.item_key,
            item_title=self.item_title(ref),
            adhoc_id=item.adhoc_id,
            prompt=self.prompt_text(site_key, group_key, ref, item.adhoc_text),
        )
        return found

    def _author_of(self, item: ExportedInput) -> _Author:
        key = (item.site_key, item.category_key, item.anonymous)
        label = self._labels.get(key)
        if label is None:
            label = self._label_of(item)
        category, category_name = self.category(item)
        found = self._authors[key] = _Author(
            author=label if label is _SOMEONE or label != self._anonymous else None,
            category=category,
            category_name=category_name,
        )
        return found

    def row(self, item: ExportedInput) -> ExportRow:
        """The input as the data files show it. This runs once per input and format, so what
        repeats from row to row is looked up in caches."""
        place = self._places.get((item.site_key, item.group_key, item.item_key, item.adhoc_id))
        if place is None:
            place = self._place_of(item)
        shown = self._authors.get((item.site_key, item.category_key, item.anonymous))
        if shown is None:
            shown = self._author_of(item)
        author = shown.author
        if author is _SOMEONE:
            # What `author` gives for a name: the name, unless blank or the anonymous label.
            name = item.author_name
            author = name if name.strip() and name != self._anonymous else None
        edited_at = item.edited_at
        return ExportRow(
            id=item.id,
            place=place,
            created_at=item.created_at.astimezone(self._tz),
            edited_at=None if edited_at is None else edited_at.astimezone(self._tz),
            author=author,
            category=shown.category,
            category_name=shown.category_name,
            kind=item.kind.value,
            text=item.text,
            file_id=item.file_id,
            file_name=item.file_name,
            mime_type=item.mime_type,
            stars=item.stars,
            votes=item.votes,
            highlight=item.highlight,
            relayed_to=item.relayed_to,
            media_file=self.media_files.get(item.id),
        )


def percent(part: int, whole: int) -> int | None:
    """A rounded percentage, None when there is nobody to count."""
    return round(100 * part / whole) if whole else None
