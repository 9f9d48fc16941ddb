"""The message catalogue: every user-visible sentence, by key, in each language.

Sentences live in `prompts/messages/<lang>.yaml`. Placeholders use `str.format` syntax and are
HTML-escaped when filled (messages are sent with HTML parse mode), so user text can never
inject markup; pass `Markup(...)` for a value that is already safe HTML.

Numbers, clock times and plurals follow the language's CLDR rules through Babel, never rules
written by hand: an `int`, `float` or `Decimal` value is written with the language's digits and
separators ("0,1" in Danish), an aware `datetime` as the language's short clock time ("20.32"),
and a sentence with a count is a mapping with `plural: <placeholder>` and one sentence per
CLDR plural category the language has (`one`, `other` for Danish and English). Pass an
identifier or a year as `str` so it is not written as a number.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml
from babel import Locale
from babel.dates import format_datetime, format_time
from babel.numbers import format_decimal

# Telegram's limit for one message, counted on the text as shown (after HTML parsing).
MESSAGE_LIMIT = 4096
# … and for the caption of a photo, document or voice note.
CAPTION_LIMIT = 1024
_TAG = re.compile(r"<[^>]+>")
_MARKER = " […]"
# libyaml's safe loader where PyYAML was built with it: the catalogue is read at every start,
# and the pure-Python loader takes most of a test's start-up.
_SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: in UTF-16 code units, so an emoji counts two."""
    return len(text.encode("utf-16-le")) // 2


def visible_length(html_text: str) -> int:
    """Length of an HTML message as Telegram counts it: without tags, entities decoded."""
    return telegram_length(html.unescape(_TAG.sub("", html_text)))


def pick_language(
    chosen: str | None, telegram: str | None, available: Sequence[str], default: str
) -> str:
    """The person's choice, else their Telegram language if we speak it, else the event's."""
    if chosen in available:
        return chosen  # type: ignore[return-value]  # `in` has just checked it is a str
    code = (telegram or "").split("-")[0].lower()
    if code in available:
        return code
    return default if default in available else available[0]


class Markup(str):
    """A string that is already safe HTML and must not be escaped again."""

    __slots__ = ()


class CatalogueError(Exception):
    pass


# The CLDR locale whose conventions a catalogue language is written with. English readers at
# these events are in Europe: "English (Europe)" writes 20:32, where plain "en" (US) says 8:32 PM.
_FORMAT_LOCALE = {"en": "en_150"}


@cache
def locale_of(language: str) -> Locale:
    return Locale.parse(_FORMAT_LOCALE.get(language, language))


def plural_categories(language: str) -> frozenset[str]:
    """The CLDR plural categories a sentence with a count needs in `language`."""
    return frozenset(locale_of(language).plural_form.tags) | {"other"}


@dataclass(frozen=True, slots=True)
class Plural:
    """A sentence with a count: one form per CLDR plural category, chosen by `count`.

    A form may itself be a plural by a second count, for a sentence with two counted nouns
    ("1 participant, 3 inputs")."""

    count: str  # the placeholder whose value chooses the form
    forms: Mapping[str, str | Plural]

    def choose(self, language: str, params: Mapping[str, object]) -> str:
        value = params.get(self.count)
        if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
            raise CatalogueError(f"the count {self.count!r} must be a number, not {value!r}")
        category = locale_of(language).plural_form(value)
        form = self.forms.get(category, self.forms["other"])
        return form.choose(language, params) if isinstance(form, Plural) else form

    def texts(self) -> list[str]:
        """Every sentence this plural can give."""
        return [
            text
            for form in self.forms.values()
            for text in (form.texts() if isinstance(form, Plural) else [form])
        ]


def _plural(prefix: str, node: Mapping[Any, Any]) -> Plural:
    count = node["plural"]
    forms: dict[str, str | Plural] = {}
    if not isinstance(count, str) or "other" not in node:
        raise CatalogueError(f"{prefix}: a plural names its count and has an 'other' form")
    for category, form in node.items():
        if category == "plural":
            continue
        if isinstance(form, Mapping) and "plural" in form:
            forms[str(category)] = _plural(f"{prefix}.{category}", form)
        elif isinstance(form, str):
            forms[str(category)] = form.strip("\n")
        else:
            raise CatalogueError(f"{prefix}.{category}: expected text")
    for text in Plural(count, forms).texts():
        if count not in placeholders(text):
            raise CatalogueError(f"{prefix}: the count {{{count}}} is missing from {text!r}")
    return Plural(count, forms)


def _flatten(prefix: str, node: Any, out: dict[str, str | Plural]) -> None:
    if isinstance(node, Mapping) and "plural" in node:
        out[prefix] = _plural(prefix, node)
    elif isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    elif isinstance(node, str):
        out[prefix] = node.strip("\n") if node.endswith("\n") else node
    else:
        raise CatalogueError(f"{prefix}: expected text, found {type(node).__name__}")


def clock(language: str, moment: datetime, *, seconds: bool = False) -> str:
    """A clock time as the language writes it ("20.32" in Danish), in the moment's own zone."""
    width = "medium" if seconds else "short"
    return format_time(moment, width, tzinfo=moment.tzinfo, locale=locale_of(language))


def date_and_time(language: str, moment: datetime) -> str:
    """A date with a clock time, short, as the language writes it ("05.12.2026 20.32")."""
    return format_datetime(moment, "short", tzinfo=moment.tzinfo, locale=locale_of(language))


def format_value(language: str, value: object) -> str:
    """A value as the language writes it: numbers and clock times by CLDR, the rest as str."""
    if isinstance(value, bool | Markup):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return format_decimal(value, locale=locale_of(language))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return clock(language, value)
    return str(value)


def placeholders(text: str) -> frozenset[str]:
    return frozenset(
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(text)
        if name
    )


class Catalogue:
    def __init__(self, messages: Mapping[str, Mapping[str, str | Plural]], default: str) -> None:
        if default not in messages:
            raise CatalogueError(f"no messages for the default language {default!r}")
        self._messages = messages
        self.default = default

    @classmethod
    def load(cls, default: str = "da") -> Catalogue:
        folder = resources.files("prompts") / "messages"
        messages: dict[str, dict[str, str | Plural]] = {}
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                flat: dict[str, str | Plural] = {}
                text = entry.read_text(encoding="utf-8")
                _flatten("", yaml.load(text, Loader=_SAFE_LOADER), flat)  # noqa: S506 - safe
                messages[entry.name.removesuffix(".yaml")] = flat
        return cls(messages, default)

    @property
    def languages(self) -> tuple[str, ...]:
        # The default first: it is the one offered first in /language.
        rest = sorted(lang for lang in self._messages if lang != self.default)
        return (self.default, *rest)

    def keys(self, language: str) -> frozenset[str]:
        return frozenset(self._messages[language])

    def entry(self, language: str, key: str) -> str | Plural:
        """The sentence, or the plural forms, as written in the catalogue."""
        table = self._messages.get(language) or self._messages[self.default]
        try:
            return table[key]
        except KeyError:
            return self._messages[self.default][key]

    def raw(self, language: str, key: str) -> str:
        entry = self.entry(language, key)
        if isinstance(entry, Plural):
            raise CatalogueError(f"{key} is a plural: fill it with a count")
        return entry

    def placeholders(self, language: str, key: str) -> frozenset[str]:
        entry = self.entry(language, key)
        if isinstance(entry, Plural):
            return frozenset().union(*(placeholders(text) for text in entry.texts()))
        return placeholders(entry)

    def _text(self, language: str, key: str, params: Mapping[str, object]) -> str:
        entry = self.entry(language, key)
        if isinstance(entry, Plural):
            lang = language if language in self._messages else self.default
            return entry.choose(lang, params)
        return entry

    def __call__(self, language: str, key: str, /, **params: object) -> str:
        """The sentence `key` in `language`, placeholders filled and escaped for HTML."""
        lang = language if language in self._messages else self.default
        safe = {
            name: value
            if isinstance(value, Markup)
            else html.escape(format_value(lang, value), quote=False)
            for name, value in params.items()
        }
        # Stripped: an optional placeholder left empty (a break without text) leaves no gap.
        return self._text(language, key, params).format_map(safe).strip()

    def plain(self, language: str, key: str, /, **params: object) -> str:
        """For places Telegram does not parse as HTML: button labels, command descriptions."""
        lang = language if language in self._messages else self.default
        values = {k: format_value(lang, v) for k, v in params.items()}
        return self._text(language, key, params).format_map(values)

    def fit(
        self,
        language: str,
        key: str,
        /,
        *,
        budget: str = "text",
        limit: int = MESSAGE_LIMIT,
        **params: object,
    ) -> str:
        """Like calling the catalogue, but a message over Telegram's limit is shortened by
        cutting the `budget` placeholder (a long text from an event file or a participant),
        with a visible marker, instead of being rejected by Telegram."""
        text = self(language, key, **params)
        excess = visible_length(text) - limit
        if excess <= 0:
            return text
        value = str(params.get(budget, ""))
        # Cut by Telegram's count (UTF-16 units); never split a surrogate pair.
        units = value.encode("utf-16-le")
        keep = max(0, len(units) // 2 - excess - len(_MARKER))
        head = units[: keep * 2].decode("utf-16-le", errors="ignore")
        shortened = {**params, budget: head.rstrip() + _MARKER}
        return self(language, key, **shortened)
