"""From what the database holds to what a reader sees: names, titles, prompt texts, local
times and authors, in one language (the event's default), and the flat record of one input
that the data files share.

Authors are shown exactly as `bot.services.authors.author_label` shows them to anyone else:
organisers' exports follow the event's anonymity too. An anonymous author is left empty in
the data files; with `anonymity: anonymous` the participant's role is left out as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.event import AgendaKind, Anonymity, Event
from bot.export.records import AdhocQuestion, ExportedInput, PromptRef
from bot.i18n import Catalogue
from bot.services.authors import author_label

Value = str | int | bool | None | list[str]

# A stand-in author name: where `author_label` gives it back, the author is shown by name.
_SOMEONE = "\x00someone\x00"

# The data files' columns, in order. They are identifiers, the same in every language and in
# the JSON schema (`prompts/export-v1.schema.json`), so that others can script against them.
COLUMNS: tuple[str, ...] = (
    "id",
    "event",
    "site",
    "site_name",
    "table",
    "table_name",
    "item",
    "item_title",
    "adhoc_id",
    "prompt",
    "created_at",
    "edited_at",
    "author",
    "category",
    "category_name",
    "kind",
    "text",
    "file_id",
    "file_name",
    "mime_type",
    "stars",
    "votes",
    "highlight",
    "relayed_to",
)


class RowParts(NamedTuple):
    """A row of `COLUMNS` as the CSV and JSON writers build their lines from it: the fields
    that repeat together (`where`: event to prompt; `who`: category, its name, kind) kept
    whole, so that each writer quotes or encodes them once per combination."""

    input_id: Value
    where: tuple[Value, ...]
    created_at: Value
    edited_at: Value
    author: Value
    who: tuple[Value, ...]
    text: Value
    file_id: Value
    file_name: Value
    mime_type: Value
    stars: Value
    votes: Value
    highlight: Value
    relayed_to: Value

    @classmethod
    def of(cls, values: tuple[Value, ...]) -> RowParts:
        v = values
        # tuple.__new__ skips the argument parsing of cls(...): a third less, once per row.
        return tuple.__new__(cls, (v[0], v[1:10], v[10], v[11], v[12], v[13:16], *v[16:24]))


assert COLUMNS[10:13] == ("created_at", "edited_at", "author")  # noqa: S101 - RowParts.of
assert COLUMNS[16:] == (  # noqa: S101
    "text",
    "file_id",
    "file_name",
    "mime_type",
    "stars",
    "votes",
    "highlight",
    "relayed_to",
)


@dataclass(frozen=True)
class Presenter:
    event: Event
    texts: Catalogue
    lang: str
    # Names, titles and prompt texts repeat on every row: looked up once per key.
    _where: dict[tuple[object, ...], tuple[str, str | None, str, str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # So do authors: one label per site, role and choice, `_SOMEONE` where it is the name.
    _labels: dict[tuple[object, ...], str] = field(default_factory=dict, compare=False, repr=False)
    # (author, category key, category name) for the data files, per the same three fields.
    _who: dict[tuple[object, ...], tuple[str | None, str | None, str | None]] = field(
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
    def for_event(cls, event: Event, texts: Catalogue) -> Presenter:
        return cls(event, texts, event.default_language)

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
        return f"{self.local(moment):%H:%M}"

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

    def _names(
        self,
        site_key: str,
        group_key: str | None,
        item_key: str | None,
        adhoc_id: int | None,
        adhoc_text: str | None,
    ) -> tuple[str, str | None, str, str]:
        """(site name, table name, item title, prompt text), cached per combination."""
        key = (site_key, group_key, item_key, adhoc_id)
        found = self._where.get(key)
        if found is None:
            ref = PromptRef(item_key, adhoc_id)
            found = (
                self.site_name(site_key),
                None if group_key is None else self.table_name(site_key, group_key),
                self.item_title(ref),
                self.prompt_text(site_key, group_key, ref, adhoc_text),
            )
            self._where[key] = found
        return found

    def _who_of(self, item: ExportedInput) -> tuple[str | None, str | None, str | None]:
        """(author or `_SOMEONE` for "the author's name", category key, category name) for the
        input's site, role and choice."""
        label = self._labels.get((item.site_key, item.category_key, item.anonymous))
        if label is None:
            label = self._label_of(item)
        author = label if label is _SOMEONE else (None if label == self._anonymous else label)
        found = self._who[(item.site_key, item.category_key, item.anonymous)] = (
            author,
            *self.category(item),
        )
        return found

    def values(self, item: ExportedInput) -> tuple[Value, ...]:
        """The row's values in the order of `COLUMNS`; what repeats is looked up in caches,
        since this runs once per input and format."""
        (
            input_id,
            event_key,
            _,
            site_key,
            group_key,
            _,
            category_key,
            anonymous,
            item_key,
            adhoc_id,
            kind,
            text,
            file_id,
            file_name,
            _,
            _,
            created_at,
            edited_at,
            author_name,
            stars,
            votes,
            adhoc_text,
            mime_type,
            highlight,
            relayed_to,
        ) = item
        where = self._where.get((site_key, group_key, item_key, adhoc_id))
        if where is None:
            where = self._names(site_key, group_key, item_key, adhoc_id, adhoc_text)
        who = self._who.get((site_key, category_key, anonymous))
        if who is None:
            who = self._who_of(item)
        author = who[0]
        if author is _SOMEONE:
            # What `author` gives for a name: the name, unless blank or the anonymous label.
            author = (
                author_name if author_name.strip() and author_name != self._anonymous else None
            )
        tz = self._tz
        return (
            input_id,
            event_key,
            site_key,
            where[0],
            group_key,
            where[1],
            item_key,
            where[2],
            adhoc_id,
            where[3],
            created_at.astimezone(tz).isoformat(timespec="seconds"),
            None if edited_at is None else edited_at.astimezone(tz).isoformat(timespec="seconds"),
            author,
            who[1],
            who[2],
            kind.value,
            text,
            file_id,
            file_name,
            mime_type,
            stars,
            votes,
            highlight,
            list(relayed_to),
        )

    def record(self, row: ExportedInput) -> dict[str, Value]:
        return dict(zip(COLUMNS, self.values(row), strict=True))


def percent(part: int, whole: int) -> int | None:
    """A rounded percentage, None when there is nobody to count."""
    return round(100 * part / whole) if whole else None
