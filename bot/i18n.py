"""The message catalogue: every user-visible sentence, by key, in each language.

Sentences live in `prompts/messages/<lang>.yaml`. Placeholders use `str.format` syntax and are
HTML-escaped when filled (messages are sent with HTML parse mode), so user text can never
inject markup; pass `Markup(...)` for a value that is already safe HTML.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import yaml

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


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    elif isinstance(node, str):
        out[prefix] = node.strip("\n") if node.endswith("\n") else node
    else:
        raise CatalogueError(f"{prefix}: expected text, found {type(node).__name__}")


def placeholders(text: str) -> frozenset[str]:
    return frozenset(
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(text)
        if name
    )


class Catalogue:
    def __init__(self, messages: Mapping[str, Mapping[str, str]], default: str) -> None:
        if default not in messages:
            raise CatalogueError(f"no messages for the default language {default!r}")
        self._messages = messages
        self.default = default

    @classmethod
    def load(cls, default: str = "da") -> Catalogue:
        folder = resources.files("prompts") / "messages"
        messages: dict[str, dict[str, str]] = {}
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                flat: dict[str, str] = {}
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

    def raw(self, language: str, key: str) -> str:
        table = self._messages.get(language) or self._messages[self.default]
        try:
            return table[key]
        except KeyError:
            return self._messages[self.default][key]

    def __call__(self, language: str, key: str, /, **params: object) -> str:
        """The sentence `key` in `language`, placeholders filled and escaped for HTML."""
        safe = {
            name: value if isinstance(value, Markup) else html.escape(str(value), quote=False)
            for name, value in params.items()
        }
        # Stripped: an optional placeholder left empty (a break without text) leaves no gap.
        return self.raw(language, key).format_map(safe).strip()

    def plain(self, language: str, key: str, /, **params: object) -> str:
        """For places Telegram does not parse as HTML: button labels, command descriptions."""
        return self.raw(language, key).format_map({k: str(v) for k, v in params.items()})

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
