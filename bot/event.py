"""The event an organiser defines in a file under `prompts/events/`: sites, groups and agenda.

The models are frozen and reject unknown fields. Everything here is Telegram-free and SQL-free;
`bot.eventfile` turns a YAML file into the plain data validated here and maps every `Issue`
back to a file line.

Validation runs in two layers. Pydantic checks each field; `validate_event` then checks what
spans fields (translations against the event's languages, time order per site, unique codes,
references between sites, groups and agenda items). It validates the event info, each site and
each agenda item separately, so one broken site does not hide the problems of the others, and
it reports every problem it finds instead of stopping at the first.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import re
import types
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

Language = str
Loc = tuple[str | int, ...]
"""A position in the event data: keys and list indices, as in pydantic's error `loc`."""

SECRET_CODE_MIN_LENGTH = 12
TEXT_MAX_LENGTH = 4096  # Telegram's limit for one message
# Far above any real workshop, and low enough that checking a hostile file stays quick: the
# time-order checks look at every item for every site.
MAX_LANGUAGES = 10
MAX_SITES = 50
MAX_GROUPS = 100
MAX_FACILITATORS = 100
MAX_ITEMS = 200
MAX_VARIANTS = 200

_SITE_KEY = r"[a-z0-9_]{1,32}"
_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_USERNAME_RE = re.compile(r"@[A-Za-z0-9_]{5,32}")
_CLOCK_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class AgendaKind(StrEnum):
    INFO = "info"
    PROMPT = "prompt"
    BREAK = "break"
    CROSSCHECK = "crosscheck"
    CLOSE = "close"


class Anonymity(StrEnum):
    NAMED = "named"
    ROLE_ONLY = "role_only"
    ANONYMOUS = "anonymous"
    PARTICIPANT_CHOICE = "participant_choice"


class OutsidePrompt(StrEnum):
    """What happens to a participant's message while no prompt is open at their site."""

    KEEP = "keep"
    REDIRECT = "redirect"


class RelayMode(StrEnum):
    LIVE = "live"
    DIGEST = "digest"


class WallInputs(StrEnum):
    """Which of a site's inputs its wall shows (hidden and withdrawn ones never)."""

    ALL = "all"
    STARRED = "starred"
    NONE = "none"


# --- field types -----------------------------------------------------------------------------


def _number_as_text(value: object) -> object:
    # A number written without quotes (a table called 2018, a code 4711) is still meant as text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > TEXT_MAX_LENGTH:
        raise ValueError(
            f"is {len(value)} characters long; a Telegram message holds at most {TEXT_MAX_LENGTH}"
        )
    return value


def _matching(pattern: str, what: str) -> AfterValidator:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{_quote(value)} is not a valid {what}")
        return value

    return AfterValidator(check)


def _whole_number(value: object) -> object:
    # Lax pydantic would read `true` as 1; in an event file that is always a slip.
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, not {str(value).lower()}")  # noqa: TRY004
    return value


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _not_negative(value: int) -> int:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _chat_id(value: int) -> int:
    if value >= 0:
        raise ValueError(
            "a group chat id is negative (like -1001234567890); positive ids are people"
        )
    return value


def _secret(value: str) -> str:
    if len(value) < SECRET_CODE_MIN_LENGTH:
        raise ValueError(
            f"a secret code needs at least {SECRET_CODE_MIN_LENGTH} characters"
            f" so that it cannot be guessed (this one has {len(value)})"
        )
    return value


def _clock(value: object) -> object:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and (match := _CLOCK_RE.fullmatch(value.strip())):
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour < 24 and minute < 60 and second < 60:
            return time(hour, minute, second)
    raise ValueError(f"{_quote(value)} is not a clock time; write it as HH:MM, e.g. 13:00")


def _calendar_date(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{_quote(value)} is not a date; write it as YYYY-MM-DD, e.g. 2018-10-03")


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = difflib.get_close_matches(value, zoneinfo.available_timezones(), n=1)
        also = f"; did you mean {hint[0]}?" if hint else " (e.g. Europe/Copenhagen)"
        raise ValueError(f"unknown time zone {_quote(value)}{also}") from None
    return value


def _facilitator(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"{value} is not a Telegram user id; user ids are positive")
        return value
    if isinstance(value, str) and _USERNAME_RE.fullmatch(value):
        return value
    shown = str(value).lower() if isinstance(value, bool) else _quote(value)
    raise ValueError(
        f"{shown} is neither a Telegram user id (a positive number, no quotes)"
        ' nor a username ("@" and 5–32 letters, digits or _, in quotes)'
    )


Text = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_not_blank)]
Name = Annotated[str, BeforeValidator(_number_as_text)]
EventKey = Annotated[Name, _matching(r"[a-z0-9-]{1,40}", "event key (1–40 of a–z, 0–9, -)")]
SiteKey = Annotated[Name, _matching(_SITE_KEY, "site key (1–32 of a–z, 0–9, _)")]
GroupKey = Annotated[Name, _matching(r"[a-z0-9_]{1,16}", "group key (1–16 of a–z, 0–9, _)")]
ItemKey = Annotated[Name, _matching(r"[a-z0-9_-]{1,32}", "item key (1–32 of a–z, 0–9, _, -)")]
LanguageCode = Annotated[str, _matching(r"[a-z]{2}", "language code (two letters, e.g. da)")]
Code = Annotated[
    Name,
    _matching(
        r"[A-Za-z0-9_-]{1,64}",
        "code: codes travel in t.me links, so use 1–64 letters, digits, _ or -",
    ),
]
SecretCode = Annotated[Code, AfterValidator(_secret)]
Count = Annotated[int, BeforeValidator(_whole_number), AfterValidator(_not_negative)]
PositiveCount = Annotated[int, BeforeValidator(_whole_number), AfterValidator(_positive)]
ChatId = Annotated[int, BeforeValidator(_whole_number), AfterValidator(_chat_id)]
Clock = Annotated[time, BeforeValidator(_clock)]
EventDate = Annotated[date, BeforeValidator(_calendar_date)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
Facilitator = Annotated[int | str, BeforeValidator(_facilitator)]


def _local_text_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "translations"
    if isinstance(value, str | int) and not isinstance(value, bool):
        return "single"
    return None


class LocalText(
    RootModel[
        Annotated[
            Annotated[dict[Language, Text], Tag("translations")] | Annotated[Text, Tag("single")],
            Discriminator(
                _local_text_kind,
                custom_error_type="local_text",
                custom_error_message="expected a text, or one text per language (da: …, en: …)",
            ),
        ]
    ]
):
    """A text per language, or one string for every language (allowed for names and venues)."""

    model_config = ConfigDict(frozen=True)

    def get(self, lang: Language, default_lang: Language) -> str:
        if isinstance(self.root, str):
            return self.root
        text = self.root.get(lang) or self.root.get(default_lang)
        if text is not None:
            return text
        return next(iter(self.root.values()), "")

    @property
    def is_single(self) -> bool:
        return isinstance(self.root, str)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the models ------------------------------------------------------------------------------


class Group(_Frozen):
    key: GroupKey
    name: LocalText
    # Filled by Site from the site's code when the file gives none, so it is set after
    # validation; an empty code survives only in a site that fails validation.
    code: Code = ""


class Site(_Frozen):
    key: SiteKey
    name: LocalText
    venue: LocalText
    angle: LocalText
    code: Code
    groups: list[Group] = Field(default_factory=list, max_length=MAX_GROUPS)
    facilitators: list[Facilitator] = Field(default_factory=list, max_length=MAX_FACILITATORS)
    facilitator_chat: ChatId | None = None
    facilitator_code: SecretCode | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_group_codes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        site_code, groups = _number_as_text(data.get("code")), data.get("groups")
        if not isinstance(site_code, str) or not isinstance(groups, list):
            return data
        filled: list[Any] = []
        for group in groups:
            key = _number_as_text(group.get("key")) if isinstance(group, dict) else None
            derived = f"{site_code}-{key}" if isinstance(key, str) else ""
            # An underivable code (site code too long, say) is left empty for the cross-checks
            # to report against the group, with the reason, instead of as a pattern error.
            if isinstance(group, dict) and "code" not in group and _CODE_RE.fullmatch(derived):
                filled.append({**group, "code": derived})
            else:
                filled.append(group)
        return {**data, "groups": filled}

    def group(self, key: str) -> Group | None:
        return next((group for group in self.groups if group.key == key), None)

    @property
    def facilitator_ids(self) -> frozenset[int]:
        return frozenset(entry for entry in self.facilitators if isinstance(entry, int))

    @property
    def facilitator_usernames(self) -> frozenset[str]:
        return frozenset(
            entry[1:].lower() for entry in self.facilitators if isinstance(entry, str)
        )


class Variant(_Frozen):
    """Text for one site, or one group of a site, instead of the item's general text."""

    site: Name
    group: Name | None = None
    text: LocalText


class AgendaItem(_Frozen):
    # Filled from `at` ("1340") when the file gives none; see _default_key.
    key: ItemKey = ""
    at: Clock
    kind: AgendaKind
    title: LocalText
    text: LocalText | None = None
    sites: list[Name] | None = Field(default=None, max_length=MAX_SITES)
    remind_before: PositiveCount | None = None
    variants: list[Variant] = Field(default_factory=list, max_length=MAX_VARIANTS)

    @model_validator(mode="before")
    @classmethod
    def _default_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "key" not in data:
            try:
                at = _clock(data.get("at"))
            except ValueError:
                return data
            if isinstance(at, time):
                return {**data, "key": at.strftime("%H%M")}
        return data

    def applies_to(self, site_key: str) -> bool:
        return self.sites is None or site_key in self.sites

    def text_for(
        self,
        lang: Language,
        default_lang: Language,
        site_key: str | None = None,
        group_key: str | None = None,
    ) -> str:
        """The most specific text: the site+group variant, the site variant, the general text."""
        if site_key is not None:
            wanted = [(site_key, group_key)] if group_key is not None else []
            for site, group in [*wanted, (site_key, None)]:
                for variant in self.variants:
                    if variant.site == site and variant.group == group:
                        return variant.text.get(lang, default_lang)
        return self.text.get(lang, default_lang) if self.text is not None else ""

    def variant_sites(self) -> frozenset[str]:
        return frozenset(v.site for v in self.variants if v.group is None)

    def variant_groups(self, site_key: str) -> list[str]:
        return [v.group for v in self.variants if v.site == site_key and v.group is not None]


class RelayConfig(_Frozen):
    mode: RelayMode = RelayMode.DIGEST
    vote_threshold: PositiveCount | None = None
    exclude_sites: list[Name] = Field(default_factory=list, max_length=MAX_SITES)


class WallConfig(_Frozen):
    # Starred by default: a projector shows what a facilitator chose, not whatever arrives.
    inputs: WallInputs = WallInputs.STARRED


class ParticipantRole(_Frozen):
    """What kind of participant someone is (a politician, a civil servant…): asked at check-in
    when the event lists any, stored with each input, and shown instead of a name when the
    event's anonymity is `role_only`."""

    key: GroupKey
    name: LocalText


class EventInfo(_Frozen):
    key: EventKey
    title: LocalText
    date: EventDate
    timezone: TimeZoneName
    languages: list[LanguageCode] = Field(max_length=MAX_LANGUAGES)
    question: LocalText
    organiser_code: SecretCode | None = None
    anonymity: Anonymity = Anonymity.PARTICIPANT_CHOICE
    outside_prompt: OutsidePrompt = OutsidePrompt.KEEP
    relay: RelayConfig = Field(default_factory=RelayConfig)
    wall: WallConfig = Field(default_factory=WallConfig)
    retention_days: PositiveCount | None = None
    grace_minutes: Count = 10
    participant_roles: list[ParticipantRole] = Field(default_factory=list, max_length=20)

    @field_validator("participant_roles")
    @classmethod
    def _distinct_roles(cls, value: list[ParticipantRole]) -> list[ParticipantRole]:
        twice = sorted(key for key, n in Counter(r.key for r in value).items() if n > 1)
        if twice:
            raise ValueError(f"role {', '.join(twice)} listed more than once")
        return value

    def participant_role(self, key: str | None) -> ParticipantRole | None:
        return next((r for r in self.participant_roles if r.key == key), None)

    @field_validator("languages")
    @classmethod
    def _some_distinct_languages(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one language; the first is the default")
        twice = sorted(lang for lang, count in Counter(value).items() if count > 1)
        if twice:
            raise ValueError(f"{', '.join(twice)} listed more than once")
        return value


@dataclass(frozen=True)
class CodeTarget:
    """What a check-in code (a deep-link payload) grants."""

    role: Literal["participant", "facilitator", "organiser"]
    site_key: str | None = None
    group_key: str | None = None


class Event(_Frozen):
    """A whole event file: the event itself, its sites and its agenda."""

    event: EventInfo
    sites: list[Site] = Field(max_length=MAX_SITES)
    agenda: list[AgendaItem] = Field(max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        issues = _cross_check(
            self.event, dict(enumerate(self.sites)), dict(enumerate(self.agenda))
        )
        if issues:
            raise ValueError("; ".join(f"{_loc_text(i.loc)}: {i.message}" for i in issues))
        return self

    @property
    def key(self) -> str:
        return self.event.key

    @property
    def title(self) -> LocalText:
        return self.event.title

    @property
    def question(self) -> LocalText:
        return self.event.question

    @property
    def languages(self) -> list[Language]:
        return self.event.languages

    @property
    def default_language(self) -> Language:
        return self.event.languages[0]

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.event.timezone)

    def site(self, key: str) -> Site | None:
        return next((site for site in self.sites if site.key == key), None)

    @property
    def example_code(self) -> str:
        """A check-in code of this event for the examples in hints (a table's, as on the cards),
        so that no hint quotes another event's codes."""
        site = self.sites[0]
        return site.groups[-1].code if site.groups and site.groups[-1].code else site.code

    @property
    def example_site(self) -> str:
        """A site's key, as people type it after a command, for the examples in hints."""
        return self.sites[0].key

    def item(self, key: str) -> AgendaItem | None:
        return next((item for item in self.agenda if item.key == key), None)

    def timeline(self, site_key: str) -> list[AgendaItem]:
        """The items for one site in time order; none for a site the event does not have."""
        if self.site(site_key) is None:
            return []
        return sorted(
            (item for item in self.agenda if item.applies_to(site_key)), key=lambda i: i.at
        )

    def start_of(self, item: AgendaItem) -> datetime:
        return datetime.combine(self.event.date, item.at, tzinfo=self.tz)

    def resolve_code(self, code: str) -> CodeTarget | None:
        """What a code grants. A site's or table's code matches in any case (`Odense` as
        printed on a card, `odense` in the file); the secret codes of roles match exactly."""
        found: CodeTarget | None = None
        folded = code.casefold()
        for site in self.sites:
            if folded == site.code.casefold():
                found = CodeTarget("participant", site.key)
            for group in site.groups:
                if folded == group.code.casefold():
                    found = CodeTarget("participant", site.key, group.key)
        # Secret codes are compared in constant time and all of them every time, so the time
        # taken does not tell a guesser how close a guess came or which code it matched.
        given = code.encode("utf-8", "surrogatepass")
        for site in self.sites:
            if site.facilitator_code is not None and hmac.compare_digest(
                given, site.facilitator_code.encode()
            ):
                found = CodeTarget("facilitator", site.key)
        organiser_code = self.event.organiser_code
        if organiser_code is not None and hmac.compare_digest(given, organiser_code.encode()):
            found = CodeTarget("organiser")
        return found

    def code_source(self, role: str, site_key: str | None) -> str | None:
        """What a role granted by the current code of `role` (at `site_key`) records as its
        source: `code:` and a hash of the code, never the code; None if there is no such code."""
        code: str | None
        if role == "organiser":
            code = self.event.organiser_code
        else:
            site = self.site(site_key or "")
            code = site.facilitator_code if site is not None else None
        if code is None:
            return None
        digest = hashlib.sha256(f"{self.key}\0{code}".encode()).hexdigest()[:16]
        return f"code:{digest}"

    def site_of_facilitator(self, user_id: int, username: str | None) -> list[Site]:
        name = username.removeprefix("@").lower() if username else None
        return [
            site
            for site in self.sites
            if user_id in site.facilitator_ids
            or (name is not None and name in site.facilitator_usernames)
        ]


# --- whole-event validation ------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """One problem with the event data.

    `absent` says the last element of `loc` may name something the data does not contain
    (a missing field or translation, a default filled in), so a file position has to point
    at its parent.
    """

    loc: Loc
    message: str
    absent: bool = False


class EventInvalidError(ValueError):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(f"{_loc_text(i.loc)}: {i.message}" for i in issues))
        self.issues = issues


_M = TypeVar("_M", bound=BaseModel)
_TOP_LEVEL = ("event", "sites", "agenda")


def validate_event(data: object) -> Event:
    """Validate plain data (as from a YAML or JSON file); raise EventInvalidError with all issues.

    The event info, each site and each agenda item are validated on their own, and the
    cross-checks run on every part that passed, as far as they stay meaningful with parts
    missing; so an organiser sees all the problems in one go.
    """
    if not isinstance(data, Mapping):
        raise EventInvalidError(
            [Issue((), "the top level must be a mapping with event:, sites: and agenda:")]
        )
    issues: list[Issue] = [
        Issue((key,), _unknown_field(key, _TOP_LEVEL)) for key in data if key not in _TOP_LEVEL
    ]
    issues += [
        Issue((key,), "required field is missing", absent=True)
        for key in _TOP_LEVEL
        if key not in data
    ]
    info = (
        _validate_part(EventInfo, data["event"], ("event",), issues) if "event" in data else None
    )
    sites, all_sites = _validate_list(Site, data, "sites", issues)
    items, all_items = _validate_list(AgendaItem, data, "agenda", issues)
    if info is not None:
        # The time-order checks need only a site's key, so they also cover a site that is
        # otherwise broken, as long as its key can be read.
        keys = (
            [site.key for site in sites.values()] if all_sites else _site_keys(data.get("sites"))
        )
        issues += _cross_check(
            info, sites, items, all_sites=all_sites, all_items=all_items, site_keys=keys
        )
    if issues or info is None:
        raise EventInvalidError(issues)
    return Event(event=info, sites=list(sites.values()), agenda=list(items.values()))


def _site_keys(values: object) -> list[str]:
    if not isinstance(values, list):
        return []
    keys = [value.get("key") for value in values if isinstance(value, dict)]
    return [key for key in keys if isinstance(key, str) and re.fullmatch(_SITE_KEY, key)]


def _validate_part(model: type[_M], value: object, loc: Loc, issues: list[Issue]) -> _M | None:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        issues += _issues_from(exc, loc, model)
        return None


def _validate_list(
    model: type[_M], data: Mapping[Any, Any], key: str, issues: list[Issue]
) -> tuple[dict[int, _M], bool]:
    """Validate each element of list `key`; report whether every element passed."""
    if key not in data:
        return {}, False
    values = data[key]
    if not isinstance(values, list):
        issues.append(Issue((key,), f"expected a list, found {_describe_value(values)}"))
        return {}, False
    if len(values) > _LIST_LIMITS[key]:
        issues.append(Issue((key,), _too_many(_LIST_LIMITS[key], len(values))))
        return {}, False
    parts = {
        index: _validate_part(model, value, (key, index), issues)
        for index, value in enumerate(values)
    }
    valid = {index: part for index, part in parts.items() if part is not None}
    return valid, len(valid) == len(parts)


_LIST_LIMITS = {"sites": MAX_SITES, "agenda": MAX_ITEMS}


def _too_many(limit: int, found: int) -> str:
    return f"at most {limit} entries are allowed here, found {found}"


def _issues_from(exc: ValidationError, prefix: Loc, model: type[BaseModel]) -> list[Issue]:
    """Pydantic's errors as issues, with messages an organiser can act on."""
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        issues.append(
            Issue(prefix + loc, _error_message(error, model, loc), error["type"] == "missing")
        )
    return issues


_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing_size": "a whole number of sensible size",
    "list_type": "a list",
    "dict_type": "a mapping (name: value lines)",
    "model_type": "a mapping (name: value lines)",
    "model_attributes_type": "a mapping (name: value lines)",
    "time_type": "a clock time (HH:MM)",
    "date_type": "a date (YYYY-MM-DD)",
}


def _error_message(error: Any, model: type[BaseModel], loc: Loc) -> str:
    kind: str = error["type"]
    context: dict[str, Any] = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden" and loc:
        return _unknown_field(str(loc[-1]), _fields_at(model, loc[:-1]))
    if kind in {"value_error", "assertion_error"} and "error" in context:
        return str(context["error"])
    if kind == "too_long" and "max_length" in context:
        return _too_many(context["max_length"], context.get("actual_length", 0))
    if kind == "enum":
        return f"{_quote(error['input'])} is not allowed here; use {context['expected']}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, found {_describe_value(error['input'])}"
    return str(error["msg"])


def _unknown_field(key: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = f" (known fields: {', '.join(allowed)})" if allowed else ""
    return f"unknown field {_quote(key)}{hint}{known}"


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names of the model found at `loc` below `model`, for "did you mean"."""
    annotation: Any = model
    for element in loc:
        annotation = _without_none(annotation)
        if isinstance(element, int):
            args = get_args(annotation)
            annotation = args[0] if args else None
        elif _is_model(annotation) and element in annotation.model_fields:
            annotation = annotation.model_fields[element].annotation
        else:
            return []
    annotation = _without_none(annotation)
    if _is_model(annotation) and not issubclass(annotation, RootModel):
        return list(annotation.model_fields)
    return []


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in {Union, types.UnionType}:
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _describe_value(value: object) -> str:
    """A short description of a value, for messages."""
    if isinstance(value, str):
        return f"the text {_quote(value)}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"the number {value}"
    names = {list: "a list", dict: "a mapping", bool: str(value).lower(), type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _loc_text(loc: Loc) -> str:
    """`agenda[3].title.en` for ("agenda", 3, "title", "en")."""
    text = ""
    for element in loc:
        text += f"[{element}]" if isinstance(element, int) else f".{element}"
    return text.removeprefix(".") or "(top level)"


def _quote(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _clock_text(at: time) -> str:
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


# --- cross-checks ----------------------------------------------------------------------------


def _cross_check(
    info: EventInfo,
    sites: Mapping[int, Site],
    items: Mapping[int, AgendaItem],
    *,
    all_sites: bool = True,
    all_items: bool = True,
    site_keys: list[str] | None = None,
) -> list[Issue]:
    """Problems spanning fields. With a site or item invalid (not in the mappings), the checks
    that would then report false problems (unknown references, a missing close) are skipped."""
    issues = _translation_issues(info, sites, items)
    issues += _site_issues(sites, all_sites=all_sites)
    issues += _code_issues(info, sites)
    issues += _item_issues(sites, items, all_sites=all_sites)
    if site_keys is None:
        site_keys = [site.key for site in sites.values()]
    issues += _timeline_issues(list(dict.fromkeys(site_keys)), items, all_items=all_items)
    if all_sites:
        known = {site.key for site in sites.values()}
        issues += [
            Issue(("event", "relay", "exclude_sites", index), _unknown_site(key, known))
            for index, key in enumerate(info.relay.exclude_sites)
            if key not in known
        ]
    return issues


def _translation_issues(
    info: EventInfo, sites: Mapping[int, Site], items: Mapping[int, AgendaItem]
) -> list[Issue]:
    texts: list[tuple[LocalText | None, Loc, bool]] = [
        (info.title, ("event", "title"), False),
        (info.question, ("event", "question"), False),
    ]
    for index, site in sites.items():
        loc: Loc = ("sites", index)
        texts += [(site.name, (*loc, "name"), True), (site.venue, (*loc, "venue"), True)]
        texts.append((site.angle, (*loc, "angle"), False))
        texts += [
            (group.name, (*loc, "groups", number, "name"), True)
            for number, group in enumerate(site.groups)
        ]
    for index, item in items.items():
        texts += [(item.title, ("agenda", index, "title"), False)]
        texts += [(item.text, ("agenda", index, "text"), False)]
        texts += [
            (variant.text, ("agenda", index, "variants", number, "text"), False)
            for number, variant in enumerate(item.variants)
        ]
    languages = info.languages
    listed = ", ".join(languages)
    issues = []
    for text, loc, single_ok in texts:
        if text is None or (single_ok and text.is_single):
            continue
        if isinstance(text.root, str):
            example = ", ".join(f"{lang}: …" for lang in languages)
            issues.append(Issue(loc, f"needs one text per language ({listed}): {{{example}}}"))
            continue
        issues += [
            Issue((*loc, lang), f"missing the {lang} translation (languages: {listed})", True)
            for lang in languages
            if lang not in text.root
        ]
        issues += [
            Issue((*loc, lang), f"{lang!r} is not one of the event's languages ({listed})")
            for lang in text.root
            if lang not in languages
        ]
    return issues


def _site_issues(sites: Mapping[int, Site], *, all_sites: bool) -> list[Issue]:
    issues = []
    if all_sites and not sites:
        issues.append(Issue(("sites",), "list at least one site"))
    first_site: dict[str, int] = {}
    for index, site in sites.items():
        if site.key in first_site:
            issues.append(
                Issue(
                    ("sites", index, "key"),
                    f"site key {site.key!r} is already used by sites[{first_site[site.key]}]",
                )
            )
        first_site.setdefault(site.key, index)
        first_group: dict[str, int] = {}
        for number, group in enumerate(site.groups):
            if group.key in first_group:
                issues.append(
                    Issue(
                        ("sites", index, "groups", number, "key"),
                        f"group key {group.key!r} is already used by"
                        f" groups[{first_group[group.key]}] of this site",
                    )
                )
            first_group.setdefault(group.key, number)
    return issues


@dataclass(frozen=True)
class _CodeUse:
    code: str
    loc: Loc
    what: str
    secret: bool = False
    derived: bool = False


def _code_uses(info: EventInfo, sites: Mapping[int, Site]) -> list[_CodeUse]:
    uses = []
    if info.organiser_code is not None:
        uses.append(
            _CodeUse(info.organiser_code, ("event", "organiser_code"), "the organiser code", True)
        )
    for index, site in sites.items():
        loc: Loc = ("sites", index)
        uses.append(_CodeUse(site.code, (*loc, "code"), f"the check-in code of site {site.key}"))
        for number, group in enumerate(site.groups):
            uses.append(
                _CodeUse(
                    group.code,
                    (*loc, "groups", number, "code"),
                    f"the code of group {group.key} of site {site.key}",
                    derived=group.code == f"{site.code}-{group.key}",
                )
            )
        if site.facilitator_code is not None:
            uses.append(
                _CodeUse(
                    site.facilitator_code,
                    (*loc, "facilitator_code"),
                    f"the facilitator code of site {site.key}",
                    secret=True,
                )
            )
    return uses


def _code_issues(info: EventInfo, sites: Mapping[int, Site]) -> list[Issue]:
    issues = []
    for index, site in sites.items():
        issues += [
            Issue(
                ("sites", index, "groups", number, "code"),
                f"the default code {site.code}-{group.key} (site code, '-', group key) is not"
                " a valid code (1–64 letters, digits, _ or -); give this group a code",
                absent=True,
            )
            for number, group in enumerate(site.groups)
            if not group.code
        ]
    first: dict[str, _CodeUse] = {}
    for use in _code_uses(info, sites):
        if not use.code:
            continue
        # Site and table codes match in any case, so no two codes may differ only by case.
        earlier = first.setdefault(use.code.casefold(), use)
        if earlier is use:
            continue
        shown = "this code" if use.secret or earlier.secret else f"code {use.code!r}"
        default = " (by default, site code + '-' + group key)" if use.derived else ""
        issues.append(
            Issue(
                use.loc,
                f"{shown}{default} is already {earlier.what} ({_loc_text(earlier.loc)});"
                " every code in an event must be different (in any case)",
                absent=use.derived,
            )
        )
    return issues


def _unknown_site(key: str, known: Iterable[str]) -> str:
    names = list(known)
    shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
    return f"unknown site {key!r} (sites: {shown})"


def _item_issues(
    sites: Mapping[int, Site], items: Mapping[int, AgendaItem], *, all_sites: bool
) -> list[Issue]:
    by_key = {site.key: site for site in sites.values()}
    issues = []
    first_key: dict[str, int] = {}
    for index, item in items.items():
        loc: Loc = ("agenda", index)
        if item.key in first_key:
            derived = item.key == item.at.strftime("%H%M")
            why = " (an item without a key is named after its start time)" if derived else ""
            issues.append(
                Issue(
                    (*loc, "key"),
                    f"key {item.key!r} is already used by agenda[{first_key[item.key]}]{why};"
                    " give each item its own `key:`",
                    absent=True,
                )
            )
        first_key.setdefault(item.key, index)
        if item.text is None and item.kind not in {AgendaKind.BREAK, AgendaKind.CLOSE}:
            issues.append(Issue((*loc, "text"), f"a {item.kind} item needs a text", True))
        if item.remind_before is not None and item.kind is not AgendaKind.PROMPT:
            issues.append(
                Issue((*loc, "remind_before"), "only prompts have a reminder before they end")
            )
        issues += _item_site_issues(item, loc, by_key if all_sites else None)
    return issues


def _item_site_issues(item: AgendaItem, loc: Loc, sites: dict[str, Site] | None) -> list[Issue]:
    """Problems with an item's `sites` and `variants`; references are checked if `sites`."""
    issues = []
    if item.sites is not None:
        if not item.sites:
            issues.append(
                Issue((*loc, "sites"), "lists no site; leave `sites` out to mean every site")
            )
        listed: set[str] = set()
        for number, key in enumerate(item.sites):
            if sites is not None and key not in sites:
                issues.append(Issue((*loc, "sites", number), _unknown_site(key, sites)))
            elif key in listed:
                issues.append(Issue((*loc, "sites", number), f"site {key!r} is listed twice"))
            listed.add(key)
    seen: dict[tuple[str, str | None], int] = {}
    for number, variant in enumerate(item.variants):
        here: Loc = (*loc, "variants", number)
        pair = (variant.site, variant.group)
        if pair in seen:
            issues.append(Issue(here, f"repeats the variant variants[{seen[pair]}]"))
        seen.setdefault(pair, number)
        if sites is None:
            continue
        site = sites.get(variant.site)
        if site is None:
            issues.append(Issue((*here, "site"), _unknown_site(variant.site, sites)))
        elif not item.applies_to(site.key):
            issues.append(
                Issue(
                    (*here, "site"),
                    f"this item does not apply to site {site.key!r} (see its `sites:`)",
                )
            )
        elif variant.group is not None and site.group(variant.group) is None:
            groups = ", ".join(group.key for group in site.groups) or "none"
            issues.append(
                Issue(
                    (*here, "group"),
                    f"site {site.key!r} has no group {variant.group!r} (its groups: {groups})",
                )
            )
    return issues


def _timeline_issues(
    site_keys: list[str], items: Mapping[int, AgendaItem], *, all_items: bool
) -> list[Issue]:
    """Per site: time order, exactly one close at the end, reminders that fit.

    One problem often holds at several sites (an item for every site out of order); such
    problems are reported once, naming the sites.
    """
    found: dict[tuple[Loc, str], list[str]] = {}

    def note(loc: Loc, message: str, site: str) -> None:
        found.setdefault((loc, message), []).append(site)

    def name(index: int, item: AgendaItem) -> str:
        return f"{item.key!r} at {_clock_text(item.at)} (agenda[{index}])"

    in_order = sorted(items.items())
    for site in site_keys:
        mine = [(index, item) for index, item in in_order if item.applies_to(site)]
        for (before_at, before), (index, item) in pairwise(mine):
            if item.at <= before.at:
                note(
                    ("agenda", index, "at"),
                    f"{item.key!r} starts at {_clock_text(item.at)}, not after"
                    f" {name(before_at, before)}; the agenda must run in time order",
                    site,
                )
            elif before.remind_before is not None and all_items:
                minutes = _minutes_between(before.at, item.at)
                if before.remind_before >= minutes:
                    note(
                        ("agenda", before_at, "remind_before"),
                        f"a reminder {before.remind_before} minutes before the end does not fit"
                        f" in an item that lasts {minutes:g} minutes, until {name(index, item)}",
                        site,
                    )
        closes = [(index, item) for index, item in mine if item.kind is AgendaKind.CLOSE]
        if not closes and all_items:
            note(("agenda",), "no item of kind close; the agenda must end with one", site)
        if closes:
            first_close, close = closes[0]
            for index, _item in closes[1:]:
                note(
                    ("agenda", index, "kind"),
                    f"a second close item, after {name(first_close, close)}; only one is allowed",
                    site,
                )
            for index, item in mine:
                if index > first_close and item.kind is not AgendaKind.CLOSE:
                    note(
                        ("agenda", index),
                        f"comes after the close item {name(first_close, close)};"
                        " close must be the last item",
                        site,
                    )
    issues = []
    for (loc, message), at_sites in found.items():
        where = "site" if len(at_sites) == 1 else "sites"
        issues.append(Issue(loc, f"{message} ({where} {', '.join(at_sites)})"))
    return issues


def _minutes_between(start: time, end: time) -> float:
    seconds = (end.hour - start.hour) * 3600 + (end.minute - start.minute) * 60
    return (seconds + end.second - start.second) / 60


# --- what a valid event may still hold: public demo codes, roles given by username -----------

PUBLISHED_DEMO_CODES = frozenset(
    {"demo-arrangoer-Xk42pQ9t", "demo-vaert-aalborg-7Fq3Lm", "demo-vaert-kobenhavn-R8n2Vw5c"}
)
"""The secret codes of the seed event. They are published with the repository, so anyone can
become an organiser or facilitator with them: fine for a rehearsal, never for a live event.
The list outlives the seed: a code once published stays known even if the seed changes."""


def published_demo_codes(event: Event) -> list[Issue]:
    """The organiser and facilitator codes of `event` that are published demo codes.

    Check-in codes of sites and groups are not among them: they are printed on every table
    and grant only taking part, so a code the seed also uses (`aalborg`) gives away nothing.
    """
    refusal = (
        "this is a published demo code (the seed event's, in the repository), so anyone can"
        f" use it; choose your own secret code of {SECRET_CODE_MIN_LENGTH} or more characters."
        " Demo codes are fine for `rehearse`; `run` refuses them"
    )
    issues = []
    if event.event.organiser_code in PUBLISHED_DEMO_CODES:
        issues.append(Issue(("event", "organiser_code"), refusal))
    for index, site in enumerate(event.sites):
        if site.facilitator_code in PUBLISHED_DEMO_CODES:
            issues.append(Issue(("sites", index, "facilitator_code"), refusal))
    return issues


def username_facilitators(event: Event) -> list[Issue]:
    """A warning for each facilitator listed by @username. The message names no one: `run`
    logs it."""
    warning = (
        "listed by @username: whoever holds that username when they first write to the bot"
        " becomes facilitator of this site; a numeric Telegram user id is safer (it never"
        " passes to someone else)"
    )
    return [
        Issue(("sites", index, "facilitators", number), warning)
        for index, site in enumerate(event.sites)
        for number, entry in enumerate(site.facilitators)
        if isinstance(entry, str)
    ]
