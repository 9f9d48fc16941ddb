"""An in-memory Telegram Bot API server: state and rules, no transport.

`FakeBotApi.call` is the single entry point; `bot.sandbox.request.FakeRequest` (in-process) and
`bot.sandbox.http.FakeBotApiServer` (loopback HTTP) both feed it what a real server would receive
on the wire and send back what it answers. Simulated people (`FakeUser`, `FakeGroup`) produce
updates the bot fetches with getUpdates or that a test feeds to `Application.process_update`.

Everything here runs on one event loop and is never touched from another thread, so no locks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import enum
import json
import logging
import math
import mimetypes
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from telegram.constants import ReactionEmoji

__all__ = [
    "ApiCall",
    "FakeBotApi",
    "FakeGroup",
    "FakeUser",
    "Fault",
    "FaultKind",
    "StoredFile",
    "TelegramLimits",
    "TransportFault",
]

_LOGGER = logging.getLogger(__name__)

JsonDict = dict[str, Any]
UploadedFile = tuple[str, bytes, str]
"""A multipart upload as (file name, content, MIME type)."""

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024
# Telegram refuses to delete messages older than this for everyone.
DELETE_WINDOW_SECONDS: Final = 48 * 3600

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
POLL_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)

_DEFAULT_DESCRIPTIONS: Final[Mapping[int, str]] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: POLL_CONFLICT,
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Without an explicit allowed_updates Telegram withholds these three kinds.
_DEFAULT_EXCLUDED_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_REACTION_EMOJI: Final = frozenset(emoji.value for emoji in ReactionEmoji)
_TOKEN_RE: Final = re.compile(r"\d+:[A-Za-z0-9_-]+")
_COMMAND_RE: Final = re.compile(
    r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])"
)
_BOT_COMMAND_RE: Final = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE_CODE_RE: Final = re.compile(r"[a-z]{2}")
_SEND_METHODS: Final = frozenset(
    {"sendmessage", "sendphoto", "senddocument", "copymessage", "forwardmessage"}
)
_MESSAGE_CONTENT_KEYS: Final = (
    "text",
    "entities",
    "photo",
    "document",
    "voice",
    "sticker",
    "location",
    "contact",
    "poll",
    "caption",
    "caption_entities",
)
# Parameters that are free text or identifiers on the wire; everything else a form-encoded
# request carries is JSON-encoded by clients (PTB included), so it is decoded like Telegram does.
_TEXT_PARAMS: Final = frozenset(
    {
        "action",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "certificate",
        "description",
        "document",
        "emoji",
        "file_id",
        "first_name",
        "inline_message_id",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "parse_mode",
        "phone_number",
        "photo",
        "query",
        "question",
        "secret_token",
        "short_description",
        "sticker",
        "text",
        "thumbnail",
        "title",
        "url",
        "video",
        "voice",
    }
)
_JSON_START: Final = frozenset('{["-0123456789tfn')


# --------------------------------------------------------------------------------------------
# Public value types


@dataclass(frozen=True, slots=True)
class TelegramLimits:
    """Telegram's documented flood limits; sends above them are answered with 429."""

    per_second_overall: int = 30
    per_second_per_chat: int = 1
    per_minute_per_group: int = 20


class FaultKind(enum.Enum):
    """What goes wrong with a call. Only ERROR kinds produce an HTTP answer."""

    ERROR = "error"
    """Telegram answers with an error and the call has no effect."""
    ERROR_AFTER_ACCEPT = "error_after_accept"
    """Telegram performs the call but answers with an error (a 502 after the fact)."""
    RESET_BEFORE = "reset_before"
    """The connection drops before Telegram saw the request."""
    RESET_AFTER = "reset_after"
    """Telegram performs the call, then the connection drops before the answer arrives."""
    TIMEOUT_AFTER = "timeout_after"
    """Telegram performs the call, but the answer never arrives and the client times out."""


@dataclass(frozen=True, slots=True)
class Fault:
    """An injected failure for the next `times` calls of `method` ("*" = any method)."""

    method: str
    kind: FaultKind = FaultKind.ERROR
    error_code: int = 500
    description: str | None = None
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    chat_id: int | None = None
    times: int = 1

    def matches(self, method: str, chat_id: object) -> bool:
        if self.method != "*" and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or chat_id == self.chat_id

    def error_body(self) -> JsonDict:
        parameters: JsonDict = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        description = self.description or _default_description(self.error_code, self.retry_after)
        return _error_body(self.error_code, description, parameters)


_TRANSPORT_FAULTS: Final = frozenset(
    {FaultKind.RESET_BEFORE, FaultKind.RESET_AFTER, FaultKind.TIMEOUT_AFTER}
)


class TransportFault(Exception):  # noqa: N818 - it is a signal to the transport, not an error
    """Raised by `FakeBotApi.call` when the network, not Telegram, decides the outcome.

    Transports turn it into what a real client would see: a dropped connection or a timeout.
    """

    def __init__(self, kind: FaultKind, method: str) -> None:
        super().__init__(f"{kind.value} on {method}")
        self.kind = kind
        self.method = method


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One call as the fake received and answered it.

    `params` are decoded the way Telegram decodes them (numbers are ints, markup is a dict);
    uploaded files appear in `files` as field name -> file name. `fault` is the injected fault
    that shaped this call, if any; for network faults `response` is what the client never got
    (status 0 and an empty response when the request never reached Telegram).
    """

    method: str
    params: JsonDict
    at: float
    status: int
    response: JsonDict
    files: dict[str, str] = field(default_factory=dict)
    fault: FaultKind | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        value = self.response.get("description")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file the fake server holds, whether the bot uploaded it or a user sent it."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.content)


# --------------------------------------------------------------------------------------------
# Internal state


class _ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters or {}

    def body(self) -> JsonDict:
        return _error_body(self.code, self.description, self.parameters)


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


@dataclass(slots=True)
class _Chat:
    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    # Telegram only lets a bot address chats that have talked to it (or that it was added to).
    known: bool = False
    # Private chat: the user blocked the bot. Group: the bot was removed.
    bot_excluded: bool = False
    last_message_id: int = 0
    reply_keyboard: JsonDict | None = None

    def as_dict(self) -> JsonDict:
        data: JsonDict = {"id": self.id}
        if self.type == "private":
            data["first_name"] = self.first_name
            if self.last_name:
                data["last_name"] = self.last_name
            if self.username:
                data["username"] = self.username
        else:
            data["title"] = self.title
        data["type"] = self.type
        return data

    def excluded_description(self) -> str:
        if self.type == "private":
            return "Forbidden: bot was blocked by the user"
        return f"Forbidden: bot was kicked from the {self.type} chat"


@dataclass(slots=True)
class _ArmedFault:
    fault: Fault
    remaining: int


@dataclass(slots=True)
class _Webhook:
    url: str
    max_connections: int
    allowed_updates: list[str] | None


@dataclass(slots=True)
class _Outcome:
    """What a call produced, before the network gets its say."""

    status: int
    response: JsonDict
    fault: FaultKind | None = None


def _error_body(code: int, description: str, parameters: Mapping[str, Any]) -> JsonDict:
    body: JsonDict = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = dict(parameters)
    return body


def _default_description(code: int, retry_after: int | None) -> str:
    if code == 429:
        return f"Too Many Requests: retry after {retry_after or 5}"
    return _DEFAULT_DESCRIPTIONS.get(code, f"Error {code}")


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _normalise(raw: Mapping[str, Any]) -> JsonDict:
    decoded: JsonDict = {}
    for key, value in raw.items():
        if isinstance(value, str) and key not in _TEXT_PARAMS and value[:1] in _JSON_START:
            with contextlib.suppress(ValueError):
                decoded[key] = json.loads(value)
                continue
        decoded[key] = value
    return decoded


class _Params:
    """Typed access to one request's parameters with Telegram's coercions and error texts."""

    _MISSING: Final[Mapping[str, str]] = {
        "chat_id": "Bad Request: chat_id is empty",
        "text": "Bad Request: message text is empty",
        "message_id": "Bad Request: message identifier is not specified",
        "callback_query_id": QUERY_TOO_OLD,
        "from_chat_id": "Bad Request: chat_id is empty",
    }

    def __init__(self, values: JsonDict, files: Mapping[str, UploadedFile]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def missing(self, name: str) -> _ApiError:
        return _ApiError(400, self._MISSING.get(name, f"Bad Request: {name} is empty"))

    def opt_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise _bad_request(f'field "{name}" must be of type String')

    def req_str(self, name: str) -> str:
        value = self.opt_str(name)
        if value is None:
            raise self.missing(name)
        return value

    def opt_int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise _bad_request(f"invalid {name} specified")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value.strip())
        raise _bad_request(f"invalid {name} specified")

    def req_int(self, name: str) -> int:
        value = self.opt_int(name)
        if value is None:
            raise self.missing(name)
        return value

    def opt_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return float(value)
        raise _bad_request(f"invalid {name} specified")

    def opt_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        return isinstance(value, str) and value.strip().lower() in {"true", "1", "yes"}

    def opt_json(self, name: str, *, error: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _ApiError(
                    400, error or f"Bad Request: can't parse {name} JSON object"
                ) from None
        return value


# --------------------------------------------------------------------------------------------
# HTML parse mode


_HTML_TAG_TYPES: Final[Mapping[str, str]] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_HTML_NAMED_ENTITIES: Final[Mapping[str, str]] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE: Final = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_HTML_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]*")
_HTML_SPACE: Final = " \t\r\n"
_HTML_SPECIAL_RE: Final = re.compile(r"[<&]")


def _html_entity_at(source: str, index: int) -> tuple[str, int]:
    """Decode the HTML entity starting at `index`; an unknown one is a literal ampersand."""
    match = _HTML_ENTITY_RE.match(source, index)
    if match is None:
        return "&", 1
    body = match.group(1)
    if body[0] != "#":
        named = _HTML_NAMED_ENTITIES.get(body)
        return (named, match.end() - index) if named else ("&", 1)
    code_point = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
    if 0 < code_point <= 0x10FFFF and not 0xD800 <= code_point <= 0xDFFF:
        return chr(code_point), match.end() - index
    return "&", 1


def _html_unescape(value: str) -> str:
    parts: list[str] = []
    index = 0
    while index < len(value):
        if value[index] == "&":
            decoded, consumed = _html_entity_at(value, index)
            parts.append(decoded)
            index += consumed
        else:
            parts.append(value[index])
            index += 1
    return "".join(parts)


@dataclass(slots=True)
class _OpenTag:
    name: str
    offset: int
    attrs: dict[str, str]


class _HtmlParser:
    """Telegram's HTML dialect turned into plain text plus entities, with its error texts."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.index = 0
        self.parts: list[str] = []
        self.length = 0  # of the output so far, in UTF-16 code units
        self.stack: list[_OpenTag] = []
        self.entities: list[JsonDict] = []

    def parse(self) -> tuple[str, list[JsonDict]]:
        source = self.source
        while self.index < len(source):
            char = source[self.index]
            if char == "<":
                if source.startswith("</", self.index):
                    self._end_tag()
                else:
                    self._start_tag()
            elif char == "&":
                decoded, consumed = _html_entity_at(source, self.index)
                self._emit(decoded)
                self.index += consumed
            else:
                special = _HTML_SPECIAL_RE.search(source, self.index)
                stop = special.start() if special else len(source)
                self._emit(source[self.index : stop])
                self.index = stop
        if self.stack:
            raise self._error(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.parts), self.entities

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_length(text)

    def _byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    @staticmethod
    def _error(detail: str) -> _ApiError:
        return _bad_request(f"can't parse entities: {detail}")

    def _skip_space(self) -> None:
        while self.index < len(self.source) and self.source[self.index] in _HTML_SPACE:
            self.index += 1

    def _name(self) -> str:
        match = _HTML_NAME_RE.match(self.source, self.index)
        name = match.group(0) if match else ""
        self.index += len(name)
        return name.lower()

    def _start_tag(self) -> None:
        begin = self.index
        self.index += 1
        name = self._name()
        if name not in _HTML_TAG_TYPES:
            raise self._error(
                f'Unsupported start tag "{name}" at byte offset {self._byte_offset(begin)}'
            )
        attrs: dict[str, str] = {}
        while True:
            self._skip_space()
            if self.index >= len(self.source):
                raise self._error(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
            if self.source[self.index] == ">":
                self.index += 1
                break
            attr_at = self.index
            attr = self._name()
            if not attr:
                raise self._error(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{self._byte_offset(attr_at)}"
                )
            attrs[attr] = self._attribute_value(begin)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise self._error(
                'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{self._byte_offset(begin)}"
            )
        self.stack.append(_OpenTag(name, self.length, attrs))

    def _attribute_value(self, tag_begin: int) -> str:
        self._skip_space()
        source = self.source
        if self.index >= len(source) or source[self.index] != "=":
            return ""  # a bare attribute such as <blockquote expandable>
        self.index += 1
        self._skip_space()
        if self.index >= len(source):
            raise self._error(f"Unclosed start tag at byte offset {self._byte_offset(tag_begin)}")
        quote = source[self.index]
        if quote in "\"'":
            end = source.find(quote, self.index + 1)
            if end < 0:
                raise self._error(
                    f"Unclosed start tag at byte offset {self._byte_offset(tag_begin)}"
                )
            value = source[self.index + 1 : end]
            self.index = end + 1
        else:
            start = self.index
            while self.index < len(source) and source[self.index] not in _HTML_SPACE + ">":
                self.index += 1
            value = source[start : self.index]
        return _html_unescape(value)

    def _end_tag(self) -> None:
        begin = self.index
        self.index += 2
        name = self._name()
        self._skip_space()
        if self.index >= len(self.source) or self.source[self.index] != ">":
            raise self._error(f"Unclosed end tag at byte offset {self._byte_offset(begin)}")
        self.index += 1
        if not self.stack:
            raise self._error(f"Unexpected end tag at byte offset {self._byte_offset(begin)}")
        tag = self.stack.pop()
        if tag.name != name:
            raise self._error(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, "
                f'expected "</{tag.name}>", found "</{name}>"'
            )
        self._close(tag)

    def _close(self, tag: _OpenTag) -> None:
        length = self.length - tag.offset
        entity: JsonDict = {"type": _HTML_TAG_TYPES[tag.name], "offset": tag.offset}
        if tag.name == "code" and self.stack and self.stack[-1].name == "pre":
            # <pre><code class="language-x"> is how Telegram spells a pre block's language.
            language = tag.attrs.get("class", "").removeprefix("language-")
            if language and tag.attrs.get("class", "").startswith("language-"):
                self.stack[-1].attrs["language"] = language
                return
        if tag.name == "a":
            href = tag.attrs.get("href", "")
            if not href:
                return
            entity["url"] = href
        elif tag.name == "pre" and tag.attrs.get("language"):
            entity["language"] = tag.attrs["language"]
        elif tag.name == "blockquote" and "expandable" in tag.attrs:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attrs.get("emoji-id", "")
        elif tag.name == "tg-time":
            with contextlib.suppress(ValueError):
                entity["unix_time"] = int(tag.attrs.get("unix", ""))
            if tag.attrs.get("format"):
                entity["date_time_format"] = tag.attrs["format"]
        if length > 0:
            entity["length"] = length
            self.entities.append(entity)


def parse_html(source: str) -> tuple[str, list[JsonDict]]:
    """Parse Telegram-flavoured HTML into plain text and MessageEntity dicts."""
    return _HtmlParser(source).parse()


def _strip_text(text: str, entities: list[JsonDict]) -> tuple[str, list[JsonDict]]:
    """Trim surrounding whitespace as Telegram does and move the entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_length(text[: len(text) - len(text.lstrip())])
    total = utf16_length(stripped)
    moved: list[JsonDict] = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(total, entity["offset"] + entity["length"] - shift)
        if end > start:
            moved.append({**entity, "offset": start, "length": end - start})
    return stripped, moved


def _command_entities(text: str) -> list[JsonDict]:
    return [
        {
            "type": "bot_command",
            "offset": utf16_length(text[: match.start()]),
            "length": utf16_length(match.group(0)),
        }
        for match in _COMMAND_RE.finditer(text)
    ]


# --------------------------------------------------------------------------------------------
# Simulated people


class FakeUser:
    """A Telegram user talking to the bot in a private chat (and in groups)."""

    def __init__(
        self,
        api: FakeBotApi,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None,
        username: str | None,
        last_name: str | None = None,
    ) -> None:
        self._api = api
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.language_code = language_code
        self.username = username

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def blocked_bot(self) -> bool:
        return self._api._chat(self.id).bot_excluded

    def as_dict(self) -> JsonDict:
        """The Telegram User object for this person."""
        data: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    # -- things a person does; each returns the Update it produced --------------------------

    def send(self, text: str, *, reply_to: Mapping[str, Any] | None = None) -> JsonDict:
        """Write `text` to the bot. A leading /command gets its bot_command entity."""
        content: JsonDict = {"text": text}
        if entities := _command_entities(text):
            content["entities"] = entities
        return self._api._incoming(self, self.id, content, reply_to=reply_to)

    def press(self, message: Mapping[str, Any], callback_data: str) -> JsonDict:
        """Press an inline button carrying `callback_data` under a bot message.

        Any data is accepted, like a modified client could send; `press_button` presses a
        button that really is there.
        """
        return self._api._press(self, message, callback_data)

    def press_button(self, message: Mapping[str, Any], text: str) -> JsonDict:
        """Press the callback button labelled `text` on the message as it looks now."""
        current = self._api.message(message["chat"]["id"], message["message_id"])
        rows = current.get("reply_markup", {}).get("inline_keyboard", [])
        for row in rows:
            for button in row:
                if button.get("text") == text and "callback_data" in button:
                    return self.press(current, button["callback_data"])
        labels = [button.get("text") for row in rows for button in row]
        raise LookupError(f"no callback button {text!r} on message; buttons: {labels}")

    def edit(self, message: Mapping[str, Any], new_text: str) -> JsonDict:
        """Edit one of this user's own text messages, or the caption of their media."""
        return self._api._user_edit(self, message, new_text)

    def send_photo(self, caption: str | None = None, *, content: bytes = b"") -> JsonDict:
        stored = self._api._store_file(
            content or b"\xff\xd8\xff\xe0sandbox-photo", "photos", ".jpg", None, "image/jpeg"
        )
        thumb = self._api._alias_file(stored, "photos", ".jpg")
        photo = [
            {**_file_fields(thumb), "width": 90, "height": 68},
            {**_file_fields(stored), "width": 1280, "height": 960},
        ]
        return self._send_media({"photo": photo}, caption)

    def send_document(
        self,
        file_name: str,
        caption: str | None = None,
        *,
        content: bytes = b"sandbox document\n",
        mime_type: str | None = None,
    ) -> JsonDict:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        suffix = "." + file_name.rsplit(".", 1)[1] if "." in file_name else ""
        stored = self._api._store_file(content, "documents", suffix, file_name, mime)
        document = {"file_name": file_name, "mime_type": mime, **_file_fields(stored)}
        return self._send_media({"document": document}, caption)

    def send_voice(self, duration: int = 3, caption: str | None = None) -> JsonDict:
        stored = self._api._store_file(
            b"OggS\x00sandbox-voice", "voice", ".oga", None, "audio/ogg"
        )
        self._api._voice_seconds[stored.file_id] = duration
        voice = {"duration": duration, "mime_type": "audio/ogg", **_file_fields(stored)}
        return self._send_media({"voice": voice}, caption)

    def send_sticker(self, emoji: str = "👍") -> JsonDict:
        stored = self._api._store_file(
            b"RIFF\x00\x00WEBP", "stickers", ".webp", None, "image/webp"
        )
        sticker = {
            "width": 512,
            "height": 512,
            "emoji": emoji,
            "set_name": "SandboxStickers",
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            **_file_fields(stored),
        }
        return self._send_media({"sticker": sticker}, None)

    def send_location(self, latitude: float = 55.676098, longitude: float = 12.568337) -> JsonDict:
        location = {"latitude": latitude, "longitude": longitude}
        return self._api._incoming(self, self.id, {"location": location})

    def send_contact(self, phone_number: str = "+4512345678") -> JsonDict:
        contact = {"phone_number": phone_number, "first_name": self.first_name, "user_id": self.id}
        return self._api._incoming(self, self.id, {"contact": contact})

    def send_poll(
        self, question: str = "Frokost?", options: Iterable[str] = ("Ja", "Nej")
    ) -> JsonDict:
        poll = {
            "id": self._api._next_poll_id(),
            "question": question,
            "options": [
                {"text": option, "voter_count": 0, "persistent_id": str(number)}
                for number, option in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": True,
            "members_only": False,
        }
        return self._api._incoming(self, self.id, {"poll": poll})

    def block(self) -> JsonDict:
        """Block the bot: Telegram sends my_chat_member, and later sends fail with 403."""
        return self._api._set_excluded(self, self.id, excluded=True)

    def unblock(self) -> JsonDict:
        return self._api._set_excluded(self, self.id, excluded=False)

    # -- what the person sees ---------------------------------------------------------------

    def inbox(self) -> list[JsonDict]:
        """The bot's messages in this user's private chat, as the chat shows them now."""
        return self._api.sent_messages(self.id)

    def last(self) -> JsonDict:
        messages = self.inbox()
        if not messages:
            raise LookupError(f"the bot has sent nothing to {self!r}")
        return messages[-1]

    def reply_keyboard(self) -> list[list[str]] | None:
        """Labels of the reply keyboard the bot currently shows this user, if any."""
        markup = self._api._chat(self.id).reply_keyboard
        if markup is None:
            return None
        return [
            [button if isinstance(button, str) else str(button.get("text")) for button in row]
            for row in markup["keyboard"]
        ]

    def visible_commands(self) -> list[JsonDict]:
        """The command menu this user sees, resolved through scopes as Telegram does."""
        return self._api._visible_commands(self.id, self.language_code or "")

    def _send_media(self, content: JsonDict, caption: str | None) -> JsonDict:
        if caption:
            content["caption"] = caption
        return self._api._incoming(self, self.id, content)


class FakeGroup:
    """A group the bot is a member of; the bot may post to it without having been addressed."""

    def __init__(self, api: FakeBotApi, chat_id: int, title: str) -> None:
        self._api = api
        self.id = chat_id
        self.title = title

    def __repr__(self) -> str:
        return f"FakeGroup(id={self.id}, title={self.title!r})"

    @property
    def chat_id(self) -> int:
        return self.id

    def send(
        self, user: FakeUser, text: str, *, reply_to: Mapping[str, Any] | None = None
    ) -> JsonDict:
        content: JsonDict = {"text": text}
        if entities := _command_entities(text):
            content["entities"] = entities
        return self._api._incoming(user, self.id, content, reply_to=reply_to)

    def remove_bot(self, by: FakeUser) -> JsonDict:
        """An admin removes the bot; later sends fail with 403."""
        return self._api._set_excluded(by, self.id, excluded=True)

    def add_bot(self, by: FakeUser) -> JsonDict:
        return self._api._set_excluded(by, self.id, excluded=False)

    def inbox(self) -> list[JsonDict]:
        return self._api.sent_messages(self.id)

    def last(self) -> JsonDict:
        messages = self.inbox()
        if not messages:
            raise LookupError(f"the bot has sent nothing to {self!r}")
        return messages[-1]


def _file_fields(stored: StoredFile) -> JsonDict:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.file_size,
    }


# --------------------------------------------------------------------------------------------
# The server

_Handler = Callable[[_Params], Awaitable[Any]]


class FakeBotApi:
    """State and rules of a Telegram Bot API server for one bot.

    Long polls wait in real (event loop) time; message dates, rate windows and the 48-hour
    delete window use the injected `clock`.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",  # noqa: S107 - the sandbox's own token, not a secret
        *,
        bot_username: str = "samtidig_bot",
        bot_name: str = "Samtidig",
        clock: Callable[[], float] = time.time,
        strict: bool = True,
    ) -> None:
        if not _TOKEN_RE.fullmatch(token):
            raise ValueError(f"not a Telegram bot token: {token!r}")
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.strict = strict
        self._clock = clock

        self.calls: list[ApiCall] = []
        self.unexpected: list[ApiCall] = []
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.callback_answers: dict[str, JsonDict] = {}
        self.reactions: dict[tuple[int, int], list[JsonDict]] = {}
        self.downloads: list[str] = []
        self.limits: TelegramLimits | None = None
        self.rate_limited = 0

        self._users: dict[int, FakeUser] = {}
        self._groups: dict[int, FakeGroup] = {}
        self._chats: dict[int, _Chat] = {}
        self._messages: dict[tuple[int, int], JsonDict] = {}
        self._bot_messages: list[tuple[int, int]] = []
        self._updates: list[JsonDict] = []
        self._last_update_id = 0
        self._raw_entries: list[object] = []  # `push_raw`: handed out once, as they are
        self._allowed_updates: frozenset[str] | None = None
        self._update_arrived = asyncio.Event()
        self._poll_generation = 0
        self._webhook: _Webhook | None = None
        self._open_queries: dict[str, tuple[int, int]] = {}
        self._query_seq = 0
        self._poll_seq = 0
        self._file_seq = 0
        self._faults: list[_ArmedFault] = []
        self._sends: deque[float] = deque()
        self._chat_sends: dict[int, deque[float]] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._voice_seconds: dict[str, int] = {}  # file id → duration of a voice note

        handlers: dict[str, _Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "logOut": self._log_out,
            "close": self._close,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendVoice": self._send_voice,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMessageReaction": self._set_message_reaction,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }
        self._methods: dict[str, tuple[str, _Handler]] = {
            name.lower(): (name, handler) for name, handler in handlers.items()
        }

    # -- the entry point --------------------------------------------------------------------

    async def call(
        self,
        token: str,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, UploadedFile] | None = None,
    ) -> tuple[int, JsonDict]:
        """Answer one Bot API request: (HTTP status, JSON body).

        `params` may hold wire strings (form fields; non-strings JSON-encoded) or JSON values.
        Raises `TransportFault` when an injected network fault swallows the answer.
        """
        at = self._clock()
        known = self._methods.get(method.lower())
        name = known[0] if known else method
        request = _Params(_normalise(params), files or {})
        outcome = await self._answer(token, name, known[1] if known else None, request)
        record = ApiCall(
            method=name,
            params=copy.deepcopy(request.values),
            at=at,
            status=outcome.status,
            response=copy.deepcopy(outcome.response),
            files={field_name: upload[0] for field_name, upload in (files or {}).items()},
            fault=outcome.fault,
        )
        self.calls.append(record)
        if known is None and self.strict and outcome.status == 404:
            self.unexpected.append(record)
        _LOGGER.debug("%s -> %s %s", name, outcome.status, outcome.response)
        if outcome.fault is not None and outcome.fault in _TRANSPORT_FAULTS:
            raise TransportFault(outcome.fault, name)
        return outcome.status, outcome.response

    async def _answer(
        self, token: str, name: str, handler: _Handler | None, request: _Params
    ) -> _Outcome:
        if token != self.token or handler is None:
            # Telegram answers a wrong token with 401, a malformed one or a bad method with 404.
            if token != self.token and _TOKEN_RE.fullmatch(token):
                return _Outcome(401, _error_body(401, "Unauthorized", {}))
            return _Outcome(404, _error_body(404, "Not Found", {}))
        fault = self._take_fault(name, request)
        if fault is not None and fault.kind is FaultKind.ERROR:
            return _Outcome(fault.error_code, fault.error_body(), fault.kind)
        if fault is not None and fault.kind is FaultKind.RESET_BEFORE:
            return _Outcome(0, {}, fault.kind)
        try:
            outcome = _Outcome(200, {"ok": True, "result": await handler(request)})
        except _ApiError as error:
            outcome = _Outcome(error.code, error.body())
        if fault is not None and fault.kind is FaultKind.ERROR_AFTER_ACCEPT:
            outcome = _Outcome(fault.error_code, fault.error_body())
        if fault is not None:
            outcome.fault = fault.kind
        return outcome

    # -- assertions and inspection for tests ------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def assert_no_unexpected(self) -> None:
        if self.unexpected:
            names = ", ".join(sorted({call.method for call in self.unexpected}))
            raise AssertionError(f"the bot called Bot API methods the sandbox lacks: {names}")

    def sent_messages(self, chat_id: int | None = None) -> list[JsonDict]:
        """The bot's messages in send order, as chats show them now (edited, not deleted)."""
        return [
            copy.deepcopy(self._messages[key])
            for key in self._bot_messages
            if key in self._messages and (chat_id is None or key[0] == chat_id)
        ]

    def message(self, chat_id: int, message_id: int) -> JsonDict:
        """The current state of any message the fake knows (the bot's or a person's)."""
        try:
            return copy.deepcopy(self._messages[(chat_id, message_id)])
        except KeyError:
            raise LookupError(f"no message {message_id} in chat {chat_id}") from None

    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by a getUpdates offset."""
        return copy.deepcopy(self._updates)

    def bot_user(self) -> JsonDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # -- people and raw updates -------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = "da",
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        """The person with this id; asking again returns the same person with updated details."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        person = self._users.get(user_id)
        if person is None:
            person = FakeUser(
                self,
                user_id,
                first_name,
                language_code=language_code,
                username=username,
                last_name=last_name,
            )
            self._users[user_id] = person
            self._chats[user_id] = _Chat(user_id, "private")
        else:
            person.first_name = first_name
            person.language_code = language_code
            person.username = username
            person.last_name = last_name
        chat = self._chats[user_id]
        chat.first_name, chat.last_name, chat.username = first_name, last_name, username
        return person

    def existing_user(self, user_id: int) -> FakeUser:
        try:
            return self._users[user_id]
        except KeyError:
            raise LookupError(f"no user {user_id} in the sandbox") from None

    def group(self, chat_id: int, title: str) -> FakeGroup:
        """A group with the bot in it; ids below -1000000000000 are supergroups, like Telegram."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        group = self._groups.get(chat_id)
        if group is None:
            group = FakeGroup(self, chat_id, title)
            self._groups[chat_id] = group
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            self._chats[chat_id] = _Chat(chat_id, kind, title=title, known=True)
        group.title = title
        self._chats[chat_id].title = title
        return group

    def push_update(self, update: Mapping[str, Any]) -> JsonDict:
        """Queue a raw update; an update_id is assigned unless one (larger) is given."""
        data = copy.deepcopy(dict(update))
        update_id = data.pop("update_id", None)
        if update_id is None:
            update_id = self._last_update_id + 1
        elif not isinstance(update_id, int) or update_id <= self._last_update_id:
            raise ValueError(f"update_id must exceed {self._last_update_id}")
        self._last_update_id = update_id
        queued = {"update_id": update_id, **data}
        self._updates.append(queued)
        self._wake_pollers()
        return copy.deepcopy(queued)

    def push_raw(self, entry: object) -> None:
        """Hand out `entry` exactly as given (not even an object, perhaps) with the next
        `getUpdates` answer, once: an update this Bot API is not supposed to send."""
        entry = copy.deepcopy(entry)
        if isinstance(entry, dict) and "update_id" not in entry:
            self._last_update_id += 1
            entry = {"update_id": self._last_update_id, **entry}
        self._raw_entries.append(entry)
        self._wake_pollers()

    # -- faults ---------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        if fault.times < 1:
            raise ValueError("a fault must apply at least once")
        self._faults.append(_ArmedFault(fault, fault.times))

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
        after_accept: bool = False,
    ) -> None:
        """Answer the next `times` calls of `method` (to `chat_id`, if given) with an error.

        With `after_accept` the call takes effect first, like a 502 from an overloaded front
        end after the message went out.
        """
        if retry_after is not None and error_code != 429:
            raise ValueError("retry_after belongs to 429 answers only")
        if error_code == 429 and retry_after is None:
            retry_after = 5
        self.add_fault(
            Fault(
                method,
                FaultKind.ERROR_AFTER_ACCEPT if after_accept else FaultKind.ERROR,
                error_code=error_code,
                description=description,
                retry_after=retry_after,
                migrate_to_chat_id=migrate_to_chat_id,
                chat_id=chat_id,
                times=times,
            )
        )

    def drop_next(
        self, method: str, *, after_accept: bool, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Drop the connection of the next calls, before or after Telegram performed them."""
        kind = FaultKind.RESET_AFTER if after_accept else FaultKind.RESET_BEFORE
        self.add_fault(Fault(method, kind, chat_id=chat_id, times=times))

    def time_out_next(self, method: str, *, times: int = 1, chat_id: int | None = None) -> None:
        """Perform the next calls but let the client time out waiting for the answer."""
        self.add_fault(Fault(method, FaultKind.TIMEOUT_AFTER, chat_id=chat_id, times=times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, method: str, request: _Params) -> Fault | None:
        chat_id = request.values.get("chat_id")
        for armed in self._faults:
            if armed.fault.matches(method, chat_id):
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._faults.remove(armed)
                return armed.fault
        return None

    # -- files ----------------------------------------------------------------------------

    def download(self, token: str, file_path: str) -> tuple[int, bytes]:
        """Serve a file as https://api.telegram.org/file/bot<token>/<file_path> does."""
        stored = self._files_by_path.get(file_path)
        if token != self.token or stored is None:
            return 404, json.dumps(_error_body(404, "Not Found", {})).encode()
        self.downloads.append(file_path)
        return 200, stored.content

    def _store_file(
        self, content: bytes, folder: str, suffix: str, file_name: str | None, mime: str | None
    ) -> StoredFile:
        self._file_seq += 1
        number = self._file_seq
        stored = StoredFile(
            file_id=_opaque_id("BQACAgQAAxkBAA", folder, self.bot_id, number),
            file_unique_id=_opaque_id("AgAD", number),
            file_path=f"{folder}/file_{number}{suffix}",
            content=content,
            file_name=file_name,
            mime_type=mime,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _alias_file(self, stored: StoredFile, folder: str, suffix: str) -> StoredFile:
        """Another size of the same photo: Telegram gives each size its own file id."""
        return self._store_file(stored.content, folder, suffix, None, stored.mime_type)

    def _input_file(self, request: _Params, field_name: str, folder: str) -> StoredFile:
        upload = request.files.get(field_name)
        reference = request.values.get(field_name)
        if upload is None and isinstance(reference, str) and reference.startswith("attach://"):
            upload = request.files.get(reference.removeprefix("attach://"))
            if upload is None:
                raise _bad_request(f"wrong HTTP URL specified for {field_name}")
        if upload is not None:
            file_name, content, mime = upload
            if not content:
                raise _bad_request("file must be non-empty")
            if len(content) > MAX_UPLOAD_BYTES:
                raise _ApiError(413, "Request Entity Too Large")
            suffix = "." + file_name.rsplit(".", 1)[1] if "." in file_name else ""
            if folder == "photos":
                suffix = ".jpg"
            if not mime or mime == "application/octet-stream":
                # Telegram works the type out itself when the client did not know it.
                mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
            return self._store_file(content, folder, suffix, file_name, mime)
        if reference is None:
            raise _bad_request(f"there is no {field_name} in the request")
        if not isinstance(reference, str):
            raise _bad_request(f"wrong file identifier/HTTP URL specified for {field_name}")
        if reference.startswith(("http://", "https://")):
            # The sandbox never goes online, so it cannot fetch the URL Telegram would fetch.
            raise _bad_request("failed to get HTTP URL content")
        stored = self.files.get(reference)
        if stored is None:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        return stored

    # -- internals shared by people ---------------------------------------------------------

    def _chat(self, chat_id: int) -> _Chat:
        return self._chats[chat_id]

    def _now(self) -> int:
        return int(self._clock())

    def _wake_pollers(self) -> None:
        self._update_arrived.set()
        self._update_arrived = asyncio.Event()

    def _new_message(
        self,
        chat: _Chat,
        sender: JsonDict,
        content: JsonDict,
        reply_to: JsonDict | None = None,
    ) -> JsonDict:
        chat.last_message_id += 1
        message: JsonDict = {
            "message_id": chat.last_message_id,
            "from": sender,
            "chat": chat.as_dict(),
            "date": self._now(),
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                key: value for key, value in reply_to.items() if key != "reply_to_message"
            }
        message.update(content)
        self._messages[(chat.id, message["message_id"])] = message
        return message

    def _stored(self, message: Mapping[str, Any]) -> JsonDict:
        key = (message["chat"]["id"], message["message_id"])
        stored = self._messages.get(key)
        if stored is None:
            raise LookupError(f"message {key[1]} in chat {key[0]} does not exist (any more)")
        return stored

    def _incoming(
        self,
        person: FakeUser,
        chat_id: int,
        content: JsonDict,
        *,
        reply_to: Mapping[str, Any] | None = None,
    ) -> JsonDict:
        chat = self._chats[chat_id]
        if chat.type == "private" and chat.bot_excluded:
            # A client restarts a blocked bot before it lets the person write again.
            self._set_excluded(person, chat_id, excluded=False)
        if chat.type != "private" and chat.bot_excluded:
            raise ValueError(f"the bot is not in {chat_id}, so it cannot see messages there")
        chat.known = True
        target = self._stored(reply_to) if reply_to is not None else None
        message = self._new_message(chat, person.as_dict(), content, target)
        return self.push_update({"message": message})

    def _press(self, person: FakeUser, message: Mapping[str, Any], data: str) -> JsonDict:
        stored = self._stored(message)
        chat = self._chats[stored["chat"]["id"]]
        if stored["from"]["id"] != self.bot_id:
            raise ValueError("only the bot's messages carry inline buttons")
        if chat.type == "private" and chat.id != person.id:
            raise ValueError(f"{person!r} cannot see a message in someone else's private chat")
        self._query_seq += 1
        query_id = str(self.bot_id * 10**9 + self._query_seq)
        self._open_queries[query_id] = (chat.id, person.id)
        query = {
            "id": query_id,
            "from": person.as_dict(),
            "message": copy.deepcopy(stored),
            "chat_instance": str(abs(chat.id) * 2654435761 % 2**63),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def _user_edit(self, person: FakeUser, message: Mapping[str, Any], new_text: str) -> JsonDict:
        stored = self._stored(message)
        media = any(key in stored for key in ("photo", "document", "voice"))
        if stored["from"]["id"] != person.id or ("text" not in stored and not media):
            raise ValueError(f"{person!r} can only edit their own text messages and captions")
        if media:
            # A photo, document or voice note: its caption is what an edit changes.
            stored["caption"] = new_text
            stored["edit_date"] = self._now()
            return self.push_update({"edited_message": stored})
        stored["text"] = new_text
        entities = _command_entities(new_text)
        if entities:
            stored["entities"] = entities
        else:
            stored.pop("entities", None)
        stored["edit_date"] = self._now()
        return self.push_update({"edited_message": stored})

    def _set_excluded(self, person: FakeUser, chat_id: int, *, excluded: bool) -> JsonDict:
        chat = self._chats[chat_id]
        if chat.bot_excluded == excluded:
            state = "already" if excluded else "not"
            raise ValueError(f"the bot is {state} blocked/removed in chat {chat_id}")
        chat.bot_excluded = excluded
        chat.known = True
        gone = "kicked" if chat.type == "private" else "left"
        old, new = ("member", gone) if excluded else (gone, "member")
        member_update = {
            "chat": chat.as_dict(),
            "from": person.as_dict(),
            "date": self._now(),
            "old_chat_member": self._bot_member(old),
            "new_chat_member": self._bot_member(new),
        }
        return self.push_update({"my_chat_member": member_update})

    def _bot_member(self, status: str) -> JsonDict:
        member: JsonDict = {"user": self.bot_user(), "status": status}
        if status == "kicked":
            member["until_date"] = 0
        return member

    def _next_poll_id(self) -> str:
        self._poll_seq += 1
        return str(5_000_000_000_000_000_000 + self._poll_seq)

    # -- shared rules for methods -----------------------------------------------------------

    def _resolve_chat(self, request: _Params, name: str = "chat_id") -> _Chat:
        if not request.has(name):
            raise request.missing(name)
        try:
            chat_id = request.opt_int(name)
        except _ApiError:
            chat_id = None  # "@username": private chats and our groups have none
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None or not chat.known:
            raise _bad_request("chat not found")
        return chat

    def _writable_chat(self, request: _Params, name: str = "chat_id") -> _Chat:
        chat = self._resolve_chat(request, name)
        if chat.bot_excluded:
            raise _ApiError(403, chat.excluded_description())
        return chat

    def _formatted(
        self, request: _Params, text_field: str, entities_field: str
    ) -> tuple[str, list[JsonDict]] | None:
        raw = request.opt_str(text_field)
        if raw is None:
            return None
        parse_mode = (request.opt_str("parse_mode") or "").lower()
        if parse_mode == "html":
            text, entities = parse_html(raw)
        elif parse_mode in {"markdown", "markdownv2"}:
            text, entities = raw, []  # markdown is passed through unparsed; the bot uses HTML
        elif parse_mode:
            raise _bad_request("unsupported parse_mode")
        else:
            text, entities = raw, self._explicit_entities(request, entities_field)
        return _strip_text(text, entities)

    def _explicit_entities(self, request: _Params, name: str) -> list[JsonDict]:
        value = request.opt_json(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise _bad_request(f'can\'t parse entities: field "{name}" must be an Array')
        return [dict(item) for item in value if {"type", "offset", "length"} <= item.keys()]

    def _message_text(self, request: _Params) -> tuple[str, list[JsonDict]]:
        formatted = self._formatted(request, "text", "entities")
        if formatted is None or not formatted[0]:
            raise _bad_request("message text is empty")
        return formatted

    def _caption(self, request: _Params) -> JsonDict:
        formatted = self._formatted(request, "caption", "caption_entities")
        if formatted is None or not formatted[0]:
            return {}
        caption, entities = formatted
        if utf16_length(caption) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        content: JsonDict = {"caption": caption}
        if entities:
            content["caption_entities"] = entities
        return content

    def _reply_markup(self, request: _Params) -> JsonDict | None:
        markup = request.opt_json(
            "reply_markup", error="Bad Request: can't parse reply keyboard markup JSON object"
        )
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            _check_inline_keyboard(markup["inline_keyboard"])
        elif "keyboard" in markup:
            _check_rows(markup["keyboard"], "keyboard", "ReplyKeyboardMarkup")
        elif not markup.get("remove_keyboard") and not markup.get("force_reply"):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        return markup

    def _reply_target(self, request: _Params, chat: _Chat) -> JsonDict | None:
        parameters = request.opt_json("reply_parameters")
        if isinstance(parameters, dict):
            message_id = parameters.get("message_id")
            target_chat = parameters.get("chat_id", chat.id)
            tolerant = bool(parameters.get("allow_sending_without_reply"))
        else:
            message_id = request.opt_int("reply_to_message_id")
            target_chat = chat.id
            tolerant = request.opt_bool("allow_sending_without_reply")
        if message_id is None:
            return None
        target_chat_id, target_id = _as_int(target_chat), _as_int(message_id)
        target = None
        if target_chat_id is not None and target_id is not None:
            target = self._messages.get((target_chat_id, target_id))
        if target is None and not tolerant:
            raise _bad_request("message to be replied not found")
        return target

    def _admit_send(self, chat: _Chat) -> None:
        """Enforce `limits` like Telegram's flood control, counting only admitted sends."""
        limits = self.limits
        now = self._clock()
        chat_sends = self._chat_sends.setdefault(chat.id, deque())
        if limits is not None:
            waits = [
                _window_wait(self._sends, now, 1.0, limits.per_second_overall),
                _window_wait(chat_sends, now, 1.0, limits.per_second_per_chat),
            ]
            if chat.type != "private":
                waits.append(_window_wait(chat_sends, now, 60.0, limits.per_minute_per_group))
            wait = max(waits)
            if wait > 0:
                self.rate_limited += 1
                retry_after = max(1, math.ceil(wait))
                raise _ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
        self._sends.append(now)
        chat_sends.append(now)
        while self._sends and self._sends[0] <= now - 1.0:
            self._sends.popleft()
        while chat_sends and chat_sends[0] <= now - 60.0:
            chat_sends.popleft()

    def _post(
        self,
        chat: _Chat,
        content: JsonDict,
        markup: JsonDict | None,
        reply_to: JsonDict | None,
    ) -> JsonDict:
        if markup is not None and "inline_keyboard" in markup:
            content["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        elif markup is not None and "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup is not None and markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        message = self._new_message(chat, self.bot_user(), content, reply_to)
        self._bot_messages.append((chat.id, message["message_id"]))
        return copy.deepcopy(message)

    def _bot_message(self, request: _Params, chat: _Chat, *, action: str) -> JsonDict:
        if request.has("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        message_id = request.req_int("message_id")
        message = self._messages.get((chat.id, message_id))
        if message is None:
            raise _bad_request(f"message to {action} not found")
        if message["from"]["id"] != self.bot_id:
            raise _bad_request(f"message can't be {action}ed")
        return message

    def _edit(self, message: JsonDict, content: JsonDict, markup: JsonDict | None) -> JsonDict:
        new_markup = (
            {"inline_keyboard": markup["inline_keyboard"]}
            if markup and "inline_keyboard" in markup
            else None
        )
        unchanged = all(message.get(key) == value for key, value in content.items())
        if unchanged and message.get("reply_markup") == new_markup:
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        for key, value in content.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        # Editing without reply_markup removes the keyboard, exactly as on Telegram.
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = self._now()
        return copy.deepcopy(message)

    # -- methods: bot and updates -----------------------------------------------------------

    async def _get_me(self, request: _Params) -> JsonDict:
        return self.bot_user()

    async def _log_out(self, request: _Params) -> bool:
        return True  # the sandbox keeps no cloud session to end; the call is recorded

    async def _close(self, request: _Params) -> bool:
        return True

    async def _get_updates(self, request: _Params) -> list[Any]:
        if self._webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = request.opt_int("offset") or 0
        limit = min(max(request.opt_int("limit") or 100, 1), 100)
        timeout = max(request.opt_float("timeout") or 0.0, 0.0)
        allowed = request.opt_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(kind) for kind in allowed) or None
        self._confirm(offset)
        # A newer long poll ends the one in progress, like a second bot instance would.
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch: list[Any] = self._deliverable(limit)
            if self._raw_entries:
                batch += self._raw_entries
                self._raw_entries = []
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                return batch
            arrived = self._update_arrived
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await arrived.wait()
            if generation != self._poll_generation:
                raise _ApiError(409, POLL_CONFLICT)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _deliverable(self, limit: int) -> list[JsonDict]:
        kept: list[JsonDict] = []
        batch: list[JsonDict] = []
        for update in self._updates:
            if not self._is_allowed(update):
                continue  # Telegram drops updates of kinds the bot does not want
            kept.append(update)
            if len(batch) < limit:
                batch.append(copy.deepcopy(update))
        self._updates = kept
        return batch

    def _is_allowed(self, update: JsonDict) -> bool:
        kind = next((key for key in update if key != "update_id"), "")
        if self._allowed_updates is None:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    async def _set_webhook(self, request: _Params) -> bool:
        url = request.opt_str("url") or ""
        if request.opt_bool("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self._webhook = None
            return True
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if parts.port not in {None, 80, 88, 443, 8443}:
            raise _bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        allowed = request.opt_json("allowed_updates")
        # The sandbox records the webhook but delivers nothing to it: it never goes online.
        self._webhook = _Webhook(
            url,
            request.opt_int("max_connections") or 40,
            [str(kind) for kind in allowed] if isinstance(allowed, list) else None,
        )
        return True

    async def _delete_webhook(self, request: _Params) -> bool:
        self._webhook = None
        if request.opt_bool("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, request: _Params) -> JsonDict:
        info: JsonDict = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._webhook.allowed_updates is not None:
                info["allowed_updates"] = list(self._webhook.allowed_updates)
        return info

    # -- methods: sending -------------------------------------------------------------------

    async def _send_message(self, request: _Params) -> JsonDict:
        text, entities = self._message_text(request)
        markup = self._reply_markup(request)
        chat = self._writable_chat(request)
        if utf16_length(text) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        reply_to = self._reply_target(request, chat)
        self._admit_send(chat)
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._post(chat, content, markup, reply_to)

    async def _send_photo(self, request: _Params) -> JsonDict:
        caption = self._caption(request)
        markup = self._reply_markup(request)
        chat = self._writable_chat(request)
        stored = self._input_file(request, "photo", "photos")
        reply_to = self._reply_target(request, chat)
        self._admit_send(chat)
        thumb = self._alias_file(stored, "photos", ".jpg")
        photo = [
            {**_file_fields(thumb), "width": 90, "height": 68},
            {**_file_fields(stored), "width": 1280, "height": 960},
        ]
        return self._post(chat, {"photo": photo, **caption}, markup, reply_to)

    async def _send_document(self, request: _Params) -> JsonDict:
        caption = self._caption(request)
        markup = self._reply_markup(request)
        chat = self._writable_chat(request)
        stored = self._input_file(request, "document", "documents")
        reply_to = self._reply_target(request, chat)
        self._admit_send(chat)
        document: JsonDict = {}
        if stored.file_name:
            document["file_name"] = stored.file_name
        document["mime_type"] = stored.mime_type or "application/octet-stream"
        document.update(_file_fields(stored))
        return self._post(chat, {"document": document, **caption}, markup, reply_to)

    async def _send_voice(self, request: _Params) -> JsonDict:
        caption = self._caption(request)
        markup = self._reply_markup(request)
        chat = self._writable_chat(request)
        stored = self._input_file(request, "voice", "voice")
        reply_to = self._reply_target(request, chat)
        self._admit_send(chat)
        # Telegram knows the length of a voice note it holds; an upload says it or counts 0.
        duration = request.opt_int("duration") or self._voice_seconds.get(stored.file_id, 0)
        voice: JsonDict = {
            "duration": duration,
            "mime_type": stored.mime_type or "audio/ogg",
            **_file_fields(stored),
        }
        return self._post(chat, {"voice": voice, **caption}, markup, reply_to)

    def _source_message(self, request: _Params, action: str) -> JsonDict:
        source_chat = self._resolve_chat(request, "from_chat_id")
        source = self._messages.get((source_chat.id, request.req_int("message_id")))
        if source is None:
            raise _bad_request(f"message to {action} not found")
        return source

    async def _copy_message(self, request: _Params) -> JsonDict:
        source = self._source_message(request, "copy")
        caption = self._caption(request) if request.has("caption") else {}
        markup = self._reply_markup(request)
        chat = self._writable_chat(request)
        reply_to = self._reply_target(request, chat)
        self._admit_send(chat)
        content: JsonDict = {
            key: copy.deepcopy(source[key]) for key in _MESSAGE_CONTENT_KEYS if key in source
        }
        if caption and "text" not in content:
            content.pop("caption_entities", None)
            content.update(caption)
        posted = self._post(chat, content, markup, reply_to)
        return {"message_id": posted["message_id"]}

    async def _forward_message(self, request: _Params) -> JsonDict:
        source = self._source_message(request, "forward")
        chat = self._writable_chat(request)
        self._admit_send(chat)
        content: JsonDict = {
            "forward_origin": {
                "type": "user",
                "sender_user": copy.deepcopy(source["from"]),
                "date": source["date"],
            }
        }
        content.update(
            {key: copy.deepcopy(source[key]) for key in _MESSAGE_CONTENT_KEYS if key in source}
        )
        return self._post(chat, content, None, None)

    # -- methods: changing messages ---------------------------------------------------------

    async def _edit_message_text(self, request: _Params) -> JsonDict:
        text, entities = self._message_text(request)
        markup = self._reply_markup(request)
        chat = self._writable_chat(request)
        message = self._bot_message(request, chat, action="edit")
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        if utf16_length(text) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        return self._edit(message, {"text": text, "entities": entities or None}, markup)

    async def _edit_message_caption(self, request: _Params) -> JsonDict:
        caption = self._caption(request)
        markup = self._reply_markup(request)
        chat = self._writable_chat(request)
        message = self._bot_message(request, chat, action="edit")
        if "text" in message:
            raise _bad_request("there is no caption in the message to edit")
        content = {
            "caption": caption.get("caption"),
            "caption_entities": caption.get("caption_entities"),
        }
        return self._edit(message, content, markup)

    async def _edit_message_reply_markup(self, request: _Params) -> JsonDict:
        markup = self._reply_markup(request)
        chat = self._writable_chat(request)
        message = self._bot_message(request, chat, action="edit")
        return self._edit(message, {}, markup)

    async def _delete_message(self, request: _Params) -> bool:
        chat = self._resolve_chat(request)
        key = (chat.id, request.req_int("message_id"))
        message = self._messages.get(key)
        if message is None:
            raise _bad_request("message to delete not found")
        if self._clock() - message["date"] > DELETE_WINDOW_SECONDS:
            raise _bad_request("message can't be deleted for everyone")
        del self._messages[key]
        return True

    async def _set_message_reaction(self, request: _Params) -> bool:
        chat = self._writable_chat(request)
        key = (chat.id, request.req_int("message_id"))
        if key not in self._messages:
            raise _bad_request("MESSAGE_ID_INVALID")
        reaction = request.opt_json("reaction") or []
        if not isinstance(reaction, list):
            raise _bad_request('field "reaction" must be an Array')
        if len(reaction) > 1:
            raise _bad_request("REACTIONS_TOO_MANY")
        for item in reaction:
            if not isinstance(item, dict):
                raise _bad_request("REACTION_INVALID")
            if item.get("type") == "emoji" and item.get("emoji") not in _REACTION_EMOJI:
                raise _bad_request("REACTION_INVALID")
        if reaction:
            self.reactions[key] = reaction
        else:
            self.reactions.pop(key, None)
        return True

    # -- methods: callback queries, commands, chats, files -----------------------------------

    async def _answer_callback_query(self, request: _Params) -> bool:
        query_id = request.req_str("callback_query_id")
        text = request.opt_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        if query_id not in self._open_queries:
            raise _ApiError(400, QUERY_TOO_OLD)
        del self._open_queries[query_id]
        answer: JsonDict = {"show_alert": request.opt_bool("show_alert")}
        if text is not None:
            answer["text"] = text
        if request.has("url"):
            answer["url"] = request.opt_str("url")
        self.callback_answers[query_id] = answer
        return True

    def _command_key(self, request: _Params) -> tuple[str, str]:
        language = request.opt_str("language_code") or ""
        if language and not _LANGUAGE_CODE_RE.fullmatch(language):
            raise _bad_request("invalid language code specified")
        scope = request.opt_json("scope") or {"type": "default"}
        if not isinstance(scope, dict):
            raise _bad_request("can't parse BotCommandScope JSON object")
        kind = scope.get("type")
        if kind in {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}:
            return str(kind), language
        if kind in {"chat", "chat_administrators", "chat_member"}:
            chat = self._chats.get(_as_int(scope.get("chat_id")) or 0)
            if chat is None or not chat.known:
                raise _bad_request("chat not found")
            if kind != "chat_member":
                return f"{kind}:{chat.id}", language
            return f"chat_member:{chat.id}:{_as_int(scope.get('user_id'))}", language
        raise _bad_request("unsupported bot command scope type")

    async def _set_my_commands(self, request: _Params) -> bool:
        commands = request.opt_json("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad_request("too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            if not _BOT_COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise _bad_request("command description must be non-empty")
        key = self._command_key(request)
        if commands:
            self.commands[key] = [
                {"command": str(c["command"]), "description": str(c["description"])}
                for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, request: _Params) -> list[JsonDict]:
        return copy.deepcopy(self.commands.get(self._command_key(request), []))

    async def _delete_my_commands(self, request: _Params) -> bool:
        self.commands.pop(self._command_key(request), None)
        return True

    def _visible_commands(self, chat_id: int, language: str) -> list[JsonDict]:
        for scope in (f"chat:{chat_id}", "all_private_chats", "default"):
            for lang in dict.fromkeys((language, "")):
                found = self.commands.get((scope, lang))
                if found:
                    return copy.deepcopy(found)
        return []

    async def _send_chat_action(self, request: _Params) -> bool:
        self._writable_chat(request)
        if request.opt_str("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _get_chat(self, request: _Params) -> JsonDict:
        chat = self._resolve_chat(request)
        info = chat.as_dict()
        info.update(
            {
                "accent_color_id": chat.id % 7,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    async def _get_file(self, request: _Params) -> JsonDict:
        stored = self.files.get(request.req_str("file_id"))
        if stored is None:
            raise _bad_request("wrong file_id or the file is temporarily unavailable")
        if stored.file_size > MAX_DOWNLOAD_BYTES:
            raise _bad_request("file is too big")
        return {**_file_fields(stored), "file_path": stored.file_path}


def _check_rows(rows: object, field_name: str, markup_type: str) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request(f'field "{field_name}" of the {markup_type} must be an Array of Arrays')
    return rows


_INLINE_ACTIONS: Final = frozenset(
    {
        "callback_data",
        "url",
        "login_url",
        "web_app",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)


def _check_inline_keyboard(rows: object) -> None:
    for row in _check_rows(rows, "inline_keyboard", "InlineKeyboardMarkup"):
        for button in row:
            if not isinstance(button, dict):
                raise _bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            if not isinstance(button.get("text"), str):
                raise _bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            data = button.get("callback_data")
            if data is not None and (
                not isinstance(data, str)
                or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise _bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
                raise _bad_request(
                    f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                )
            if not _INLINE_ACTIONS & button.keys():
                raise _bad_request("text buttons are unallowed in the inline keyboard")


def _window_wait(sends: deque[float], now: float, window: float, limit: int) -> float:
    """Seconds until one more send fits into `limit` per `window`; 0 if it fits now."""
    recent = [at for at in sends if at > now - window]
    if len(recent) < limit:
        return 0.0
    return recent[len(recent) - limit] + window - now


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _opaque_id(prefix: str, *parts: object) -> str:
    """A stable id that looks like Telegram's opaque base64 file ids."""
    raw = ":".join(str(part) for part in parts).encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")
