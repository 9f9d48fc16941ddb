"""Event files: the seed event, every validation rule (with its line and field), hostile files,
and the summary `python -m bot check` prints."""

from __future__ import annotations

import time as timer
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.event import MAX_SITES, AgendaKind, CodeTarget, Event, LocalText
from bot.event_summary import render_summary
from bot.eventfile import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    SEED_EVENT,
    EventFileError,
    Problem,
    load_event,
    load_event_text,
)

AALBORG_HOST = "demo-vaert-aalborg-7Fq3Lm"
KOBENHAVN_HOST = "demo-vaert-kobenhavn-R8n2Vw5c"
ORGANISER = "demo-arrangoer-Xk42pQ9t"

# A small valid event. Cases below change one thing in it and expect exactly the problems
# they name, each at the line of a given needle (its first occurrence in the changed text).
BASE = """\
event:
  key: demo
  title: {da: Demo, en: Demo}
  date: 2024-05-01
  timezone: Europe/Copenhagen
  languages: [da, en]
  question: {da: "Spørgsmål?", en: "Question?"}
sites:
  - key: north
    name: North
    venue: Hall A
    angle: {da: Vinkel, en: Angle}
    code: north
    groups:
      - key: t1
        name: {da: Bord 1, en: Table 1}
  - key: south
    name: South
    venue: Hall B
    angle: {da: Vinkel syd, en: Angle south}
    code: south
agenda:
  - key: hello
    at: 13:00
    kind: info
    title: {da: Hej, en: Hello}
    text: {da: Velkommen, en: Welcome}
  - key: ask
    at: 13:30
    kind: prompt
    title: {da: Spørg, en: Ask}
    text: {da: "Hvad?", en: "What?"}
  - key: bye
    at: "14:00"
    kind: close
    title: {da: Farvel, en: Bye}
"""

ASK_TEXT = '    text: {da: "Hvad?", en: "What?"}\n'
BEFORE_BYE = "  - key: bye\n"


def changed(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    assert needle in text, needle
    return text[: text.index(needle)].count("\n") + 1


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(EventFileError) as caught:
        load_event_text(text, "demo.yaml")
    return caught.value.problems


@pytest.fixture(scope="module")
def seed() -> Event:
    return load_event(SEED_EVENT)


# --- the seed event --------------------------------------------------------------------------


def test_the_seed_event_is_the_two_site_workshop_of_3_october_2018(seed: Event) -> None:
    assert seed.key == "aabne-vaerksteder-2018"
    assert seed.title.get("da", "da") == "Åbne værksteder"
    assert seed.title.get("en", "da") == "Open workshops"
    assert seed.languages == ["da", "en"]
    assert seed.default_language == "da"
    assert seed.tz == ZoneInfo("Europe/Copenhagen")
    assert [site.key for site in seed.sites] == ["aalborg", "kobenhavn"]
    assert seed.question.get("da", "da") == (
        "Hvordan styrker vi politikernes rolle i offentlig innovation?"
    )
    for site in seed.sites:
        assert [group.key for group in site.groups] == ["t1", "t2", "t3", "t4"]
        assert site.facilitators == []
        assert site.facilitator_code is not None
        assert len(site.facilitator_code) >= 12
    assert seed.event.organiser_code is not None
    assert seed.event.anonymity == "participant_choice"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("aalborg", CodeTarget("participant", "aalborg", None)),
        ("aalborg-t2", CodeTarget("participant", "aalborg", "t2")),
        ("kobenhavn", CodeTarget("participant", "kobenhavn", None)),
        ("kobenhavn-t3", CodeTarget("participant", "kobenhavn", "t3")),
        # As printed on a card, or typed with the caps lock on: the same codes.
        ("AALBORG", CodeTarget("participant", "aalborg", None)),
        ("Kobenhavn-T3", CodeTarget("participant", "kobenhavn", "t3")),
        (AALBORG_HOST, CodeTarget("facilitator", "aalborg", None)),
        (KOBENHAVN_HOST, CodeTarget("facilitator", "kobenhavn", None)),
        (ORGANISER, CodeTarget("organiser", None, None)),
    ],
)
def test_seed_codes_resolve_to_their_role_site_and_group(
    seed: Event, code: str, expected: CodeTarget
) -> None:
    assert seed.resolve_code(code) == expected


@pytest.mark.parametrize(
    "code",
    [
        "",
        "odense",
        "aalborg-t9",
        AALBORG_HOST[:-1],
        AALBORG_HOST.upper(),  # secret codes match exactly
        ORGANISER + "x",
        "æøå",
    ],
)
def test_unknown_and_near_miss_codes_resolve_to_nothing(seed: Event, code: str) -> None:
    assert seed.resolve_code(code) is None


def test_seed_timelines_are_sorted_and_end_with_one_close(seed: Event) -> None:
    expected = ["13:00", "13:15", "13:40", "14:25", "14:40", "14:55", "15:40", "16:00"]
    for site in seed.sites:
        timeline = seed.timeline(site.key)
        assert [item.at.strftime("%H:%M") for item in timeline] == expected
        assert [item.kind for item in timeline].count(AgendaKind.CLOSE) == 1
        assert timeline[-1].kind is AgendaKind.CLOSE
    kinds = [item.kind for item in seed.timeline("aalborg")]
    assert kinds == ["info", "info", "prompt", "break", "crosscheck", "prompt", "prompt", "close"]
    assert seed.timeline("odense") == []


def test_seed_prompts_remind_five_minutes_before_they_end(seed: Event) -> None:
    reminders = {item.key: item.remind_before for item in seed.agenda if item.remind_before}
    assert reminders == {"group_work_1": 5, "group_work_2": 5}


def test_start_of_is_the_event_date_and_time_in_the_event_timezone(seed: Event) -> None:
    welcome = seed.item("welcome")
    assert welcome is not None
    start = seed.start_of(welcome)
    assert start == datetime(2018, 10, 3, 13, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
    assert start.utcoffset() == timedelta(hours=2)  # summer time in October 2018
    close = seed.item("close")
    assert close is not None
    assert seed.start_of(close) - start == timedelta(hours=3)
    assert seed.item("nothing") is None


def test_seed_times_are_written_without_quotes_and_still_read_as_clock_times(
    seed: Event,
) -> None:
    assert "    at: 13:00\n" in SEED_EVENT.read_text(encoding="utf-8")
    assert [item.at for item in seed.agenda][:2] == [time(13, 0), time(13, 15)]


def test_the_aalborg_group_variant_is_used_only_by_that_group(seed: Event) -> None:
    item = seed.item("group_work_1")
    assert item is not None
    table_1 = item.text_for("da", "da", "aalborg", "t1")
    table_2 = item.text_for("da", "da", "aalborg", "t2")
    aalborg = item.text_for("da", "da", "aalborg")
    copenhagen_table_1 = item.text_for("da", "da", "kobenhavn", "t1")
    general = item.text_for("da", "da")
    assert table_1.startswith("Bord 1 ser på risikoen")
    assert table_2 == aalborg
    assert "policy case" in aalborg
    assert "modeller for politisk lederskab" in copenhagen_table_1
    assert len({table_1, aalborg, copenhagen_table_1, general}) == 4
    assert item.text_for("en", "da", "aalborg", "t1").startswith("Table 1 looks at risk")


def test_case_presentations_differ_per_site(seed: Event) -> None:
    item = seed.item("cases")
    assert item is not None
    assert "business case" in item.text_for("da", "da", "aalborg", "t3")
    assert "To kommuner" in item.text_for("da", "da", "kobenhavn", None)


def test_an_item_without_text_or_variant_gives_an_empty_text() -> None:
    event = load_event_text(BASE)
    bye = event.item("bye")
    assert bye is not None
    assert bye.text_for("da", "da", "north", "t1") == ""


def test_a_text_falls_back_to_the_default_language() -> None:
    assert LocalText({"da": "Hej"}).get("en", "da") == "Hej"
    assert LocalText({"da": "Hej", "en": "Hi"}).get("en", "da") == "Hi"
    assert LocalText("Aalborg").get("en", "da") == "Aalborg"


def test_facilitators_are_found_by_id_or_by_username_in_any_case() -> None:
    text = changed(
        "    code: north\n",
        '    code: north\n    facilitators: [123456789, "@Some_User"]\n',
    )
    event = load_event_text(text)
    north = event.site("north")
    assert north is not None
    assert north.facilitator_ids == frozenset({123456789})
    assert north.facilitator_usernames == frozenset({"some_user"})
    assert event.site_of_facilitator(123456789, None) == [north]
    assert event.site_of_facilitator(5, "some_USER") == [north]
    assert event.site_of_facilitator(5, "@some_user") == [north]
    assert event.site_of_facilitator(5, "someone_else") == []
    assert event.site_of_facilitator(5, None) == []


def test_group_codes_default_to_site_code_dash_group_key() -> None:
    event = load_event_text(BASE)
    north = event.site("north")
    assert north is not None
    group = north.group("t1")
    assert group is not None
    assert group.code == "north-t1"
    assert north.group("t2") is None
    assert event.resolve_code("north-t1") == CodeTarget("participant", "north", "t1")


def test_an_item_without_key_is_named_after_its_start_time() -> None:
    event = load_event_text(changed("  - key: ask\n    at: 13:30\n", "  - at: 13:30\n"))
    assert event.item("1330") is not None


def test_defaults_apply_when_optional_fields_are_left_out() -> None:
    info = load_event_text(BASE).event
    assert info.anonymity == "participant_choice"
    assert info.outside_prompt == "keep"
    assert info.relay.mode == "digest"
    assert info.relay.vote_threshold is None
    assert info.grace_minutes == 10
    assert info.retention_days is None
    assert info.organiser_code is None


def test_event_models_are_frozen() -> None:
    event = load_event_text(BASE)
    with pytest.raises(ValidationError):
        event.sites[0].code = "other"  # type: ignore[misc]  # the point: mypy refuses it too


def test_the_model_checks_consistency_when_built_directly() -> None:
    event = load_event_text(BASE)
    data = event.model_dump()
    data["agenda"][1]["at"] = "12:00"
    with pytest.raises(ValidationError, match="time order"):
        Event.model_validate(data)


# --- every rule: a small broken file, the exact line and field ---------------------------------


@dataclass(frozen=True)
class Case:
    old: str
    new: str
    expected: list[tuple[str, str, str]]  # (needle for the line, field, part of the message)
    also: tuple[str, str] | None = None  # a second change, made first


NORTH = "  - key: north\n"
SOUTH_CODE = "    code: south\n"
LATE_ITEM = "  - key: late\n    at: 14:30\n    kind: info\n    title: {da: Sent, en: Late}\n"

CASES = {
    "required field missing": Case(
        "    venue: Hall A\n",
        "",
        [("- key: north", "sites[0](north).venue", "required field is missing")],
    ),
    "required event field missing": Case(
        "  date: 2024-05-01\n", "", [("event:", "event.date", "required field is missing")]
    ),
    "unknown key": Case(
        "    venue: Hall A\n",
        "    venue: Hall A\n    colour: red\n",
        [("colour: red", "sites[0](north).colour", "unknown field 'colour'")],
    ),
    "misspelt key, with a suggestion": Case(
        "  timezone: Europe/Copenhagen\n",
        "  time_zone: Europe/Copenhagen\n",
        [
            ("event:", "event.timezone", "required field is missing"),
            ("time_zone:", "event.time_zone", "did you mean 'timezone'?"),
        ],
    ),
    "unknown top-level key": Case(
        "sites:\n", "extras: 1\nsites:\n", [("extras:", "extras", "unknown field 'extras'")]
    ),
    "text where a list belongs": Case(
        "  languages: [da, en]\n",
        "  languages: da\n",
        [("languages: da", "event.languages", "expected a list, found the text 'da'")],
    ),
    "list where text belongs": Case(
        "    code: north\n",
        "    code: [north]\n",
        [("code: [north]", "sites[0](north).code", "expected text, found a list")],
    ),
    "text where a number belongs": Case(
        "  key: demo\n",
        "  key: demo\n  retention_days: soon\n",
        [("retention_days", "event.retention_days", "expected a whole number")],
    ),
    "true where a number belongs": Case(
        "  key: demo\n",
        "  key: demo\n  grace_minutes: true\n",
        [("grace_minutes", "event.grace_minutes", "expected a whole number, not true")],
    ),
    "negative grace": Case(
        "  key: demo\n",
        "  key: demo\n  grace_minutes: -1\n",
        [("grace_minutes", "event.grace_minutes", "must not be negative")],
    ),
    "zero retention": Case(
        "  key: demo\n",
        "  key: demo\n  retention_days: 0\n",
        [("retention_days", "event.retention_days", "positive whole number")],
    ),
    "mapping where a list item belongs": Case(
        "  - key: hello\n    at: 13:00\n    kind: info\n",
        "  - hello\n  - at: 13:00\n    kind: info\n",
        [("- hello", "agenda[0]", "expected a mapping (name: value lines), found the text")],
    ),
    "unknown enum value": Case(
        "    kind: info\n",
        "    kind: Info\n",
        [("kind: Info", "agenda[0](hello).kind", "use 'info', 'prompt', 'break'")],
    ),
    "unknown anonymity": Case(
        "  key: demo\n",
        "  key: demo\n  anonymity: secret\n",
        [("anonymity", "event.anonymity", "'named', 'role_only', 'anonymous'")],
    ),
    "unknown relay mode": Case(
        "  key: demo\n",
        "  key: demo\n  relay: {mode: instant}\n",
        [("relay:", "event.relay.mode", "'live' or 'digest'")],
    ),
    "unknown wall inputs": Case(
        "  key: demo\n",
        "  key: demo\n  wall:\n    inputs: some\n",
        [("inputs: some", "event.wall.inputs", "'all', 'starred' or 'none'")],
    ),
    "relay threshold not positive": Case(
        "  key: demo\n",
        "  key: demo\n  relay:\n    vote_threshold: 0\n",
        [("vote_threshold", "event.relay.vote_threshold", "positive whole number")],
    ),
    "missing translation": Case(
        "    title: {da: Hej, en: Hello}\n",
        "    title: {da: Hej}\n",
        [("title: {da: Hej}", "agenda[0](hello).title.en", "missing the en translation")],
    ),
    "missing translation in a block mapping points at its key": Case(
        '  question: {da: "Spørgsmål?", en: "Question?"}\n',
        "  question:\n    en: Question?\n",
        [("question:", "event.question.da", "missing the da translation")],
    ),
    "missing translations are each reported": Case(
        "    angle: {da: Vinkel syd, en: Angle south}\n",
        "    angle: {}\n",
        [
            ("angle: {}", "sites[1](south).angle.da", "missing the da translation"),
            ("angle: {}", "sites[1](south).angle.en", "missing the en translation"),
        ],
    ),
    "missing translation in a variant": Case(
        ASK_TEXT,
        ASK_TEXT + "    variants:\n      - site: north\n        text: {en: Hm}\n",
        [("text: {en: Hm}", "agenda[1](ask).variants[0].text.da", "missing the da")],
    ),
    "missing translation in a group name": Case(
        "        name: {da: Bord 1, en: Table 1}\n",
        "        name: {da: Bord 1}\n",
        [("name: {da: Bord 1}", "sites[0](north).groups[0].name.en", "missing the en")],
    ),
    "a language the event does not have": Case(
        "    title: {da: Hej, en: Hello}\n",
        "    title: {da: Hej, en: Hello, fr: Salut}\n",
        [
            (
                "title: {da: Hej, en: Hello, fr",
                "agenda[0](hello).title.fr",
                "'fr' is not one of the event's languages",
            )
        ],
    ),
    "one string where a translation per language is needed": Case(
        "    title: {da: Hej, en: Hello}\n",
        "    title: Hello\n",
        [("title: Hello", "agenda[0](hello).title", "needs one text per language (da, en)")],
    ),
    "an empty text": Case(
        "    title: {da: Hej, en: Hello}\n",
        '    title: {da: Hej, en: "  "}\n',
        [('title: {da: Hej, en: "  "}', "agenda[0](hello).title.en", "must not be empty")],
    ),
    "a translation that is not text": Case(
        "    title: {da: Hej, en: Hello}\n",
        "    title: {da: [Hej], en: Hello}\n",
        [("title: {da: [Hej]", "agenda[0](hello).title.da", "expected text, found a list")],
    ),
    "a text that is neither text nor translations": Case(
        "    title: {da: Hej, en: Hello}\n",
        "    title: [Hej]\n",
        [("title: [Hej]", "agenda[0](hello).title", "expected a text, or one text per language")],
    ),
    "unsorted times": Case(
        "    at: 13:30\n",
        "    at: 12:30\n",
        [("at: 12:30", "agenda[1](ask).at", "'ask' starts at 12:30, not after 'hello' at 13:00")],
    ),
    "equal times": Case(
        "    at: 13:30\n",
        '    at: "13:00"\n',
        [('at: "13:00"', "agenda[1](ask).at", "'ask' starts at 13:00, not after 'hello'")],
    ),
    "unsorted at one site only": Case(
        BEFORE_BYE,
        "  - key: mid\n    at: 13:20\n    kind: break\n    title: {da: P, en: B}\n"
        "    sites: [south]\n" + BEFORE_BYE,
        [("at: 13:20", "agenda[2](mid).at", "not after 'ask' at 13:30 (agenda[1])")],
    ),
    "no close": Case(
        "    kind: close\n",
        "    kind: break\n",
        [("agenda:", "agenda", "no item of kind close; the agenda must end with one (sites")],
    ),
    "no close for one site": Case(
        "    kind: close\n",
        "    kind: close\n    sites: [north]\n",
        [
            (
                "agenda:",
                "agenda",
                "no item of kind close; the agenda must end with one (site south)",
            )
        ],
    ),
    "two closes": Case(
        "    title: {da: Farvel, en: Bye}\n",
        "    title: {da: Farvel, en: Bye}\n"
        "  - key: bye2\n    at: 14:30\n    kind: close\n    title: {da: F, en: B}\n",
        [("kind: close\n    title: {da: F, en: B}", "agenda[3](bye2).kind", "a second close")],
    ),
    "close not last": Case(
        "    title: {da: Farvel, en: Bye}\n",
        "    title: {da: Farvel, en: Bye}\n" + LATE_ITEM + "    text: {da: x, en: y}\n",
        [("- key: late", "agenda[3](late)", "comes after the close item 'bye' at 14:00")],
    ),
    "unknown site in sites": Case(
        ASK_TEXT,
        ASK_TEXT + "    sites: [west]\n",
        [("sites: [west]", "agenda[1](ask).sites[0]", "unknown site 'west' (sites: north,")],
    ),
    "no site in sites": Case(
        ASK_TEXT,
        ASK_TEXT + "    sites: []\n",
        [("sites: []", "agenda[1](ask).sites", "lists no site")],
    ),
    "unknown site in a variant": Case(
        ASK_TEXT,
        ASK_TEXT + "    variants:\n      - site: west\n        text: {da: x, en: y}\n",
        [("site: west", "agenda[1](ask).variants[0].site", "unknown site 'west'")],
    ),
    "unknown group in a variant": Case(
        ASK_TEXT,
        ASK_TEXT
        + "    variants:\n      - site: north\n        group: t9\n        text: {da: x, en: y}\n",
        [("group: t9", "agenda[1](ask).variants[0].group", "site 'north' has no group 't9'")],
    ),
    "a variant's group of another site": Case(
        ASK_TEXT,
        ASK_TEXT
        + "    variants:\n      - site: south\n        group: t1\n        text: {da: x, en: y}\n",
        [("group: t1", "agenda[1](ask).variants[0].group", "site 'south' has no group 't1'")],
    ),
    "a variant for a site the item does not apply to": Case(
        ASK_TEXT,
        ASK_TEXT + "    sites: [north]\n    variants:\n      - site: south\n"
        "        text: {da: x, en: y}\n",
        [("site: south", "agenda[1](ask).variants[0].site", "does not apply to site 'south'")],
    ),
    "the same variant twice": Case(
        ASK_TEXT,
        ASK_TEXT + "    variants:\n      - {site: north, text: {da: x, en: y}}\n"
        "      - {site: north, text: {da: z, en: w}}\n",
        [("- {site: north, text: {da: z", "agenda[1](ask).variants[1]", "repeats the variant")],
    ),
    "a reminder on an item that is not a prompt": Case(
        "    kind: info\n",
        "    kind: info\n    remind_before: 5\n",
        [("remind_before", "agenda[0](hello).remind_before", "only prompts")],
    ),
    "a reminder as long as the prompt": Case(
        ASK_TEXT,
        ASK_TEXT + "    remind_before: 30\n",
        [("remind_before", "agenda[1](ask).remind_before", "lasts 30 minutes, until 'bye'")],
    ),
    "a reminder too long at one site only": Case(
        ASK_TEXT + BEFORE_BYE,
        ASK_TEXT
        + "    remind_before: 15\n"
        + "  - key: south_break\n    at: 13:40\n    kind: break\n    title: {da: P, en: B}\n"
        + "    sites: [south]\n"
        + BEFORE_BYE,
        [("remind_before", "agenda[1](ask).remind_before", "lasts 10 minutes")],
    ),
    "a reminder that is not positive": Case(
        ASK_TEXT,
        ASK_TEXT + "    remind_before: 0\n",
        [("remind_before", "agenda[1](ask).remind_before", "positive whole number")],
    ),
    "a prompt without text": Case(
        ASK_TEXT, "", [("- key: ask", "agenda[1](ask).text", "a prompt item needs a text")]
    ),
    "duplicate site codes": Case(
        SOUTH_CODE,
        "    code: north\n",
        [("code: north\nagenda:", "sites[1](south).code", "'north' is already the check-in code")],
    ),
    "a site code equal to a default group code": Case(
        SOUTH_CODE,
        "    code: north-t1\n",
        [("code: north-t1", "sites[1](south).code", "already the code of group t1 of site")],
    ),
    "an explicit group code equal to a site code": Case(
        "        name: {da: Bord 1, en: Table 1}\n",
        "        name: {da: Bord 1, en: Table 1}\n        code: south\n",
        [("code: south\nagenda:", "sites[1](south).code", "'south' is already the code of group")],
    ),
    "a default group code taken by a later explicit one": Case(
        SOUTH_CODE,
        SOUTH_CODE + "    groups:\n      - {key: t2, name: X, code: north-t1}\n",
        [("code: north-t1", "sites[1](south).groups[0].code", "already the code of group t1")],
    ),
    "a facilitator code equal to the organiser code": Case(
        SOUTH_CODE,
        SOUTH_CODE + "    facilitator_code: same-secret-code\n",
        [
            (
                "facilitator_code",
                "sites[1](south).facilitator_code",
                "this code is already the organiser code (event.organiser_code)",
            )
        ],
        also=("  key: demo\n", "  key: demo\n  organiser_code: same-secret-code\n"),
    ),
    "a code with a letter Telegram links cannot carry": Case(
        "    code: north\n",
        "    code: nørth\n",
        [("code: nørth", "sites[0](north).code", "'nørth' is not a valid code")],
    ),
    "a code longer than 64 characters": Case(
        SOUTH_CODE,
        f"    code: {'s' * 65}\n",
        [("code: sss", "sites[1](south).code", "is not a valid code")],
    ),
    "a default group code longer than 64 characters": Case(
        "    code: north\n",
        f"    code: {'n' * 62}\n",
        [("- key: t1", "sites[0](north).groups[0].code", "give this group a code")],
    ),
    "a short facilitator code": Case(
        SOUTH_CODE,
        SOUTH_CODE + "    facilitator_code: short-code\n",
        [("facilitator_code", "sites[1](south).facilitator_code", "at least 12 characters")],
    ),
    "a short organiser code": Case(
        "  key: demo\n",
        "  key: demo\n  organiser_code: abc\n",
        [("organiser_code", "event.organiser_code", "at least 12 characters")],
    ),
    "a facilitator username too short": Case(
        SOUTH_CODE,
        SOUTH_CODE + '    facilitators: ["@abc"]\n',
        [("facilitators", "sites[1](south).facilitators[0]", "'@abc' is neither")],
    ),
    "a facilitator username without @": Case(
        SOUTH_CODE,
        SOUTH_CODE + "    facilitators: [someone]\n",
        [("facilitators", "sites[1](south).facilitators[0]", "'someone' is neither")],
    ),
    "a facilitator id that is not positive": Case(
        SOUTH_CODE,
        SOUTH_CODE + "    facilitators:\n      - 12345\n      - -5\n",
        [("- -5", "sites[1](south).facilitators[1]", "-5 is not a Telegram user id")],
    ),
    "a facilitator given as true": Case(
        SOUTH_CODE,
        SOUTH_CODE + "    facilitators: [true]\n",
        [("facilitators", "sites[1](south).facilitators[0]", "true is neither")],
    ),
    "a positive facilitator chat": Case(
        SOUTH_CODE,
        SOUTH_CODE + "    facilitator_chat: 1234\n",
        [("facilitator_chat", "sites[1](south).facilitator_chat", "chat id is negative")],
    ),
    "an unknown time zone": Case(
        "  timezone: Europe/Copenhagen\n",
        "  timezone: Europe/Kopenhagen\n",
        [("timezone", "event.timezone", "did you mean Europe/Copenhagen?")],
    ),
    "a language listed twice": Case(
        "  languages: [da, en]\n",
        "  languages: [da, en, da]\n",
        [("languages", "event.languages", "da listed more than once")],
    ),
    "a language code of three letters": Case(
        "  languages: [da, en]\n",
        "  languages:\n    - da\n    - dan\n",
        [("- dan", "event.languages[1]", "'dan' is not a valid language code")],
    ),
    "too many languages": Case(
        "  languages: [da, en]\n",
        "  languages: [da, en, de, fr, it, es, pt, nl, sv, no, fi]\n",
        [("languages", "event.languages", "at most 10 entries are allowed here, found 11")],
    ),
    "a text too long for one Telegram message": Case(
        "    text: {da: Velkommen, en: Welcome}\n",
        f"    text: {{da: Velkommen, en: {'w' * 4097}}}\n",
        [("text: {da: Velkommen", "agenda[0](hello).text.en", "at most 4096")],
    ),
    "no language": Case(
        "  languages: [da, en]\n",
        "  languages: []\n",
        [("languages", "event.languages", "list at least one language")],
    ),
    "an impossible date": Case(
        "  date: 2024-05-01\n",
        "  date: 2024-13-01\n",
        [("date:", "event.date", "'2024-13-01' is not a date; write it as YYYY-MM-DD")],
    ),
    "an impossible time": Case(
        "    at: 13:30\n",
        "    at: 25:00\n",
        [("at: 25:00", "agenda[1](ask).at", "'25:00' is not a clock time")],
    ),
    "a time without colon": Case(
        "    at: 13:30\n",
        "    at: 1330\n",
        [("at: 1330", "agenda[1](ask).at", "'1330' is not a clock time")],
    ),
    "two items without key at the same time": Case(
        "  - key: ask\n    at: 13:30\n",
        "  - at: 13:30\n    sites: [north]\n    kind: info\n    title: {da: N, en: N}\n"
        "    text: {da: N, en: N}\n  - at: 13:30\n    sites: [south]\n",
        [("  - at: 13:30\n    sites: [south]", "agenda[2](1330).key", "give each item its own")],
    ),
    "duplicate item keys": Case(
        "  - key: ask\n",
        "  - key: hello\n",
        [("- key: hello\n    at: 13:30", "agenda[1](hello).key", "already used by agenda[0]")],
    ),
    "an invalid item key": Case(
        "  - key: ask\n",
        "  - key: Ask Me\n",
        [("key: Ask Me", "agenda[1](Ask Me).key", "'Ask Me' is not a valid item key")],
    ),
    "duplicate site keys": Case(
        "  - key: south\n",
        "  - key: north\n",
        [("- key: north\n    name: South", "sites[1](north).key", "already used by sites[0]")],
    ),
    "an invalid site key": Case(
        NORTH,
        "  - key: North\n",
        [("- key: North", "sites[0](North).key", "'North' is not a valid site key")],
    ),
    "duplicate group keys": Case(
        "        name: {da: Bord 1, en: Table 1}\n",
        "        name: {da: Bord 1, en: Table 1}\n      - {key: t1, name: Again, code: n-again}\n",
        [("- {key: t1, name: Again", "sites[0](north).groups[1].key", "already used by")],
    ),
    "an invalid group key": Case(
        "      - key: t1\n",
        "      - key: table-one\n",
        [("key: table-one", "sites[0](north).groups[0].key", "not a valid group key")],
    ),
    "an unknown site excluded from the relay": Case(
        "  key: demo\n",
        "  key: demo\n  relay: {exclude_sites: [east]}\n",
        [("relay:", "event.relay.exclude_sites[0]", "unknown site 'east'")],
    ),
    "no site at all": Case(
        "sites:\n" + BASE.split("sites:\n")[1].split("agenda:\n", maxsplit=1)[0],
        "sites: []\n",
        [("sites: []", "sites", "list at least one site")],
    ),
    "an invalid event key": Case(
        "  key: demo\n",
        "  key: Demo_2024\n",
        [("key: Demo_2024", "event.key", "'Demo_2024' is not a valid event key")],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_rule_reports_its_line_field_and_reason(case: Case) -> None:
    text = changed(*case.also) if case.also else BASE
    text = changed(case.old, case.new, text)
    problems = problems_of(text)
    got = [(problem.line, problem.field) for problem in problems]
    assert got == [(line_of(text, needle), field) for needle, field, _ in case.expected], problems
    for problem, (_, _, message) in zip(problems, case.expected, strict=True):
        assert message in problem.message
        assert problem.path == "demo.yaml"


def test_too_many_sites_are_refused_without_checking_each() -> None:
    many = "".join(
        f"  - {{key: s{n}, name: S, venue: V, angle: {{da: a, en: b}}, code: c{n}}}\n"
        for n in range(MAX_SITES + 1)
    )
    text = changed("sites:\n", "sites:\n" + many + "  - {}\n")
    problem = only_problem(text)
    assert (problem.line, problem.field) == (line_of(text, "sites:"), "sites")
    assert (
        problem.message == f"at most {MAX_SITES} entries are allowed here, found {MAX_SITES + 4}"
    )


def test_a_secret_code_is_not_repeated_in_the_error() -> None:
    text = changed("  key: demo\n", "  key: demo\n  organiser_code: same-secret-code\n")
    text = changed(SOUTH_CODE, SOUTH_CODE + "    facilitator_code: same-secret-code\n", text)
    (problem,) = problems_of(text)
    assert "same-secret-code" not in problem.message


def test_two_codes_that_differ_only_in_case_are_one_code_twice() -> None:
    (problem,) = problems_of(changed(SOUTH_CODE, "    code: NORTH\n"))
    assert problem.field == "sites[1](south).code"
    assert "must be different (in any case)" in problem.message


def test_all_problems_are_reported_together_in_file_order() -> None:
    text = changed("    code: north\n", "    code: [north]\n")  # a wrong type in one site
    text = changed("    title: {da: Hej, en: Hello}\n", "    title: {da: Hej}\n", text)
    text = changed("    at: 13:30\n", "    at: 12:30\n", text)  # out of order
    text = changed("sites:\n", "colour: blue\nsites:\n", text)
    text = changed(SOUTH_CODE, "    code: 4711\n    facilitator_code: short\n", text)
    text = changed("    kind: close\n", "    kind: close\n    remind_before: 5\n", text)
    problems = problems_of(text)
    assert [problem.field for problem in problems] == [
        "colour",
        "sites[0](north).code",
        "sites[1](south).facilitator_code",
        "agenda[0](hello).title.en",
        "agenda[1](ask).at",
        "agenda[2](bye).remind_before",
    ]
    assert "(sites north, south)" in problems[4].message
    assert [problem.line for problem in problems] == sorted(p.line or 0 for p in problems)


def test_a_broken_item_does_not_hide_the_problems_of_the_others() -> None:
    text = changed("    kind: info\n", "    kind: news\n")
    text = changed("    title: {da: Farvel, en: Bye}\n", "    title: {da: Farvel}\n", text)
    fields = [problem.field for problem in problems_of(text)]
    assert fields == ["agenda[0](hello).kind", "agenda[2](bye).title.en"]


def test_a_plain_string_serves_every_language_for_names_and_venues() -> None:
    event = load_event_text(BASE)
    north = event.site("north")
    assert north is not None
    assert north.name.get("en", "da") == north.name.get("da", "da") == "North"
    assert north.venue.get("en", "da") == "Hall A"


@pytest.mark.parametrize("written", ["13:05", '"13:05"', "'13:05'", "13:05:00", '"13:05:00"'])
def test_times_work_with_and_without_quotes(written: str) -> None:
    event = load_event_text(changed("    at: 13:30\n", f"    at: {written}\n"))
    ask = event.item("ask")
    assert ask is not None
    assert ask.at == time(13, 5)


def test_a_time_with_seconds_and_a_single_digit_hour() -> None:
    text = changed("    at: 13:00\n", "    at: 9:05:30\n")
    event = load_event_text(text)
    assert event.agenda[0].at == time(9, 5, 30)


def test_yaml_1_1_booleans_stay_text() -> None:
    # Norwegian is `no`, which YAML 1.1 reads as false; `yes` and `on` are no better.
    text = BASE.replace("en:", "no:").replace("[da, en]", "[da, no]")
    text = changed("    name: North\n", "    name: yes\n", text)
    text = changed("    venue: Hall A\n", "    venue: on\n", text)
    event = load_event_text(text)
    assert event.languages == ["da", "no"]
    assert event.title.get("no", "da") == "Demo"
    north = event.site("north")
    assert north is not None
    assert north.name.get("no", "da") == "yes"
    assert north.venue.get("no", "da") == "on"


def test_numbers_written_without_quotes_serve_as_keys_and_codes() -> None:
    text = changed("      - key: t1\n", "      - key: 1\n")
    text = changed(SOUTH_CODE, "    code: 4711\n", text)
    event = load_event_text(text)
    assert event.resolve_code("north-1") == CodeTarget("participant", "north", "1")
    assert event.resolve_code("4711") == CodeTarget("participant", "south", None)


# --- hostile and broken files ----------------------------------------------------------------


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_a_yaml_syntax_error_names_its_line() -> None:
    text = changed("    angle: {da: Vinkel, en: Angle}\n", "    angle: {da: Vinkel, en: Angle\n")
    problem = only_problem(text)
    assert problem.line == line_of(text, "    code: north")
    assert problem.message.startswith("invalid YAML: while parsing a flow mapping from line 12")
    assert problem.field == ""


def test_a_question_mark_inside_braces_gets_a_hint() -> None:
    text = changed('{da: "Hvad?", en: "What?"}', "{da: Hvad?, en: What?}")
    problem = only_problem(text)
    assert problem.line == line_of(text, "{da: Hvad?")
    assert "put texts containing ? : , [ ] { } # in quotes" in problem.message


def test_an_unquoted_username_gets_a_hint() -> None:
    text = changed(SOUTH_CODE, SOUTH_CODE + "    facilitators: [@someone]\n")
    problem = only_problem(text)
    assert problem.line == line_of(text, "facilitators")
    assert 'put @usernames in quotes: "@name"' in problem.message


def test_a_tab_in_the_indentation_gets_a_hint() -> None:
    text = changed("    venue: Hall A\n", "\tvenue: Hall A\n")
    problem = only_problem(text)
    assert problem.line == line_of(text, "\tvenue")
    assert "indent with spaces, not tabs" in problem.message


def test_a_duplicate_key_is_an_error_not_last_wins() -> None:
    text = changed("  key: demo\n", "  key: demo\n  key: other\n")
    problem = only_problem(text)
    assert (problem.line, problem.field) == (line_of(text, "key: other"), "event.key")
    assert problem.message.startswith("duplicate key 'key' (first at line 2)")


def test_a_duplicate_language_in_a_text_is_an_error() -> None:
    text = changed(
        "    title: {da: Hej, en: Hello}\n", "    title: {da: Hej, da: Hallo, en: Hi}\n"
    )
    problem = only_problem(text)
    assert (problem.line, problem.field) == (
        line_of(text, "da: Hallo"),
        "agenda[0](hello).title.da",
    )


def test_a_file_over_one_mebibyte_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(BASE.encode() + b"#" * MAX_FILE_BYTES)
    with pytest.raises(EventFileError) as caught:
        load_event(path)
    message = "the file is larger than 1 MiB; an event file is a few kilobytes"
    assert caught.value.problems == [Problem(str(path), None, "", message)]
    with pytest.raises(EventFileError, match="larger than 1 MiB"):
        load_event_text("#" * (MAX_FILE_BYTES + 1))


def test_the_size_limit_counts_bytes_and_admits_a_file_of_exactly_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A smaller limit keeps the test fast; the code reads the limit at call time.
    size = len(BASE.encode())
    monkeypatch.setattr("bot.eventfile.MAX_FILE_BYTES", size)
    path = tmp_path / "exact.yaml"
    path.write_bytes(BASE.encode())
    assert load_event(path).key == "demo"
    assert load_event_text(BASE).key == "demo"
    path.write_bytes(BASE.encode() + b"\n")
    with pytest.raises(EventFileError, match="larger than"):
        load_event(path)
    with pytest.raises(EventFileError, match="larger than"):
        load_event_text(BASE + "\n")
    with pytest.raises(EventFileError, match="larger than"):
        load_event_text(BASE.replace("Hall B", "Hall Ø"))  # one letter, two bytes


def nested(depth: int) -> str:
    # The top-level mapping is the first level.
    return "a: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    problem = only_problem("\n" + nested(MAX_DEPTH + 1))
    assert (problem.line, problem.message) == (2, f"nested deeper than {MAX_DEPTH} levels")


def test_nesting_up_to_the_limit_is_only_a_schema_matter() -> None:
    problems = problems_of(nested(MAX_DEPTH))
    assert problems
    assert not any("nested" in problem.message for problem in problems)


def test_extreme_nesting_fails_fast_without_recursion_error() -> None:
    started = timer.perf_counter()
    problem = only_problem("a: " + "[" * 200_000 + "]" * 200_000)
    assert problem.message == f"nested deeper than {MAX_DEPTH} levels"
    assert timer.perf_counter() - started < 5


def test_a_billion_laughs_is_refused_at_the_first_alias() -> None:
    lines = ['lol0: &lol0 ["lol"]']
    lines += [f"lol{n}: &lol{n} [{', '.join([f'*lol{n - 1}'] * 9)}]" for n in range(1, 10)]
    problem = only_problem("\n".join(lines) + "\n")
    assert problem.line == 2
    assert problem.message.startswith("aliases (*lol0) are not allowed in an event file")


def test_a_merge_key_needs_an_alias_and_is_refused() -> None:
    text = "base: &base {key: x}\nsite:\n  <<: *base\n"
    problem = only_problem(text)
    assert problem.line == 3
    assert "aliases (*base) are not allowed" in problem.message


def test_python_tags_are_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "created"
    text = changed(
        "  key: demo\n", f"  key: demo\n  x: !!python/object/apply:os.mkdir [{str(marker)!r}]\n"
    )
    problems = problems_of(text)
    assert (problems[0].line, problems[0].field) == (line_of(text, "  x: "), "event.x")
    assert problems[0].message.startswith("the tag !!python/object/apply:os.mkdir is not")
    assert not marker.exists()


def test_non_utf8_bytes_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BASE.encode().replace(b"Hall B", b"Hal\xf8"))
    with pytest.raises(EventFileError) as caught:
        load_event(path)
    (problem,) = caught.value.problems
    assert problem.line == line_of(BASE, "Hall B")
    assert "not UTF-8 text (byte 0xf8); save it as UTF-8" in problem.message


def test_a_utf16_file_is_reported_as_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "utf16.yaml"
    path.write_bytes(BASE.encode("utf-16"))
    with pytest.raises(EventFileError, match="not UTF-8"):
        load_event(path)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_event(path).key == "demo"


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# only a comment\n", "---\n"])
def test_an_empty_file_is_reported(text: str) -> None:
    problem = only_problem(text)
    assert problem.line is None
    assert problem.message.startswith("the file is empty")


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a\n- b\n", "a list"), ("just words\n", "the value 'just words'"), ("42\n", "'42'")],
)
def test_a_top_level_that_is_not_a_mapping_is_reported(text: str, found: str) -> None:
    problem = only_problem(text)
    assert problem.line == 1
    assert problem.message.startswith("the top level must be a mapping with event:")
    assert found in problem.message


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(EventFileError) as caught:
        load_event(path)
    assert caught.value.problems == [Problem(str(path), None, "", "no such file")]
    assert str(caught.value) == f"{path}: no such file"


def test_a_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(EventFileError, match="a folder, not an event file"):
        load_event(tmp_path)


def test_two_documents_are_reported() -> None:
    problem = only_problem(BASE + "---\nmore: 1\n")
    assert problem.line == line_of(BASE + "---\n", "---\n")
    assert "expected a single document" in problem.message


def test_a_control_character_is_reported_with_its_line() -> None:
    text = changed("    venue: Hall A\n", "    venue: Hall\x07A\n")
    problem = only_problem(text)
    assert problem.line == line_of(text, "venue: Hall")
    assert "control character (#x0007)" in problem.message


def test_a_collection_as_key_is_reported() -> None:
    text = changed("  key: demo\n", "  key: demo\n  ? [a, b]\n  : c\n")
    problem = only_problem(text)
    assert (problem.line, problem.field) == (line_of(text, "? [a, b]"), "event")
    assert "a key must be a plain name" in problem.message


def test_a_huge_number_is_reported_not_crashed_on() -> None:
    text = changed("  key: demo\n", "  key: demo\n  retention_days: " + "9" * 5000 + "\n")
    problem = only_problem(text)
    assert problem.field == "event.retention_days"
    assert "whole number" in problem.message


def test_a_missing_section_is_reported_at_the_top() -> None:
    text = BASE.split("agenda:\n", maxsplit=1)[0]
    problem = only_problem(text)
    assert (problem.line, problem.field, problem.message) == (
        1,
        "agenda",
        "required field is missing",
    )


def test_problems_render_as_path_line_field_message() -> None:
    assert str(Problem("e.yaml", 3, "agenda[0].title.en", "missing")) == (
        "e.yaml:3: agenda[0].title.en: missing"
    )
    assert str(Problem("e.yaml", None, "", "no such file")) == "e.yaml: no such file"
    text = changed("    title: {da: Hej, en: Hello}\n", "    title: {da: Hej}\n")
    text = changed("    at: 13:30\n", "    at: 12:30\n", text)
    with pytest.raises(EventFileError) as caught:
        load_event_text(text, "x.yaml")
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]
    assert str(caught.value).splitlines()[0] == (
        "x.yaml:26: agenda[0](hello).title.en: missing the en translation (languages: da, en)"
    )


# --- the summary -----------------------------------------------------------------------------


def test_the_summary_lists_both_sites_timelines(seed: Event) -> None:
    summary = render_summary(seed)
    lines = summary.splitlines()
    aalborg = lines.index("Timeline for Aalborg [aalborg]")
    kobenhavn = lines.index("Timeline for København [kobenhavn]")
    assert aalborg < kobenhavn
    for start in (aalborg, kobenhavn):
        block = lines[start + 1 : start + 10]
        assert [line.split()[0] for line in block[:8]] == [
            "13:00", "13:15", "13:40", "14:25", "14:40", "14:55", "15:40", "16:00",
        ]  # fmt: skip
        assert block[7].split()[1] == "close"
        assert block[8] == "  Closes at 16:00: 3 h 00 min after the start at 13:00"
        # Titles line up in one column.
        assert len({line.index(line.split()[2]) for line in block[:8]}) == 1


def test_the_summary_marks_variants_and_reminders_per_site(seed: Event) -> None:
    lines = render_summary(seed).splitlines()
    aalborg = lines.index("Timeline for Aalborg [aalborg]")
    kobenhavn = lines.index("Timeline for København [kobenhavn]")
    work_1 = [line for line in lines if "Gruppearbejde 1" in line]
    assert lines.index(work_1[0]) < kobenhavn < lines.index(work_1[1])
    assert aalborg < lines.index(work_1[0])
    assert "site variant; group variant: t1; reminder 5 min before the end (14:20)" in work_1[0]
    assert "group variant" not in work_1[1]
    assert "site variant" in work_1[1]


def test_the_summary_shows_sites_and_codes_but_masks_secrets(seed: Event) -> None:
    summary = render_summary(seed)
    for text in (
        "Åbne værksteder",
        "2018-10-03",
        "Europe/Copenhagen",
        "Hvordan styrker vi politikernes rolle i offentlig innovation?",
        "Videnscenter for Velfærdsteknologi Vest",
        "Innovationshuset, Københavns Kommune",
        "aalborg-t2",
        "kobenhavn-t3",
        "dem… (secret)",
    ):
        assert text in summary
    for secret in (AALBORG_HOST, KOBENHAVN_HOST, ORGANISER):
        assert secret not in summary


def test_the_summary_speaks_the_chosen_language(seed: Event) -> None:
    summary = render_summary(seed, "en")
    assert summary.startswith("Open workshops\n")
    assert "Timeline for Copenhagen [kobenhavn]" in summary
    assert "Group work 1" in summary
    fallback = render_summary(seed, "xx")
    assert fallback.startswith("(language 'xx' is not one of da, en;")
    assert "Åbne værksteder" in fallback
