"""The cross-site digest without Telegram: sections per site, and the cut into messages that
each fit Telegram's limit as it counts (UTF-16 units, after the HTML is parsed)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.clock import ManualClock
from bot.eventfile import load_event
from bot.i18n import MESSAGE_LIMIT, Catalogue, visible_length
from bot.models import Input, InputKind, InputState
from bot.services.relay import DigestSection, RelayService
from storage.unit_of_work import SqliteUnitOfWork

THREE_SITES = Path(__file__).parent.parent / "data" / "three_sites.yaml"
EVENT = load_event(THREE_SITES)


def highlight(input_id: int, site_key: str, text: str) -> Input:
    return Input(
        id=input_id,
        event_key=EVENT.key,
        user_id=700,
        site_key=site_key,
        group_key="t1",
        role="politician",
        category_key=None,
        anonymous=False,
        item_key="gw1",
        adhoc_id=None,
        kind=InputKind.TEXT,
        text=text,
        file_id=None,
        file_name=None,
        chat_id=700,
        message_id=input_id,
        state=InputState.VISIBLE,
        created_at=datetime(2018, 10, 3, 11, 20, tzinfo=EVENT.tz),
        stars=1,
    )


def section(site_key: str, texts: list[str], first: int) -> DigestSection:
    site = EVENT.site(site_key)
    assert site is not None
    items = [highlight(first + n, site_key, text) for n, text in enumerate(texts)]
    return DigestSection(site, 3, len(texts), tuple(enumerate(items, first)))


def relay(uow: SqliteUnitOfWork, clock: ManualClock) -> RelayService:
    return RelayService(EVENT, uow, clock, Catalogue.load(default="da"))


def numbers(part: list[DigestSection]) -> list[int]:
    return [n for s in part for n, _ in s.highlights]


async def test_short_sections_travel_together_in_one_message(
    uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = relay(uow, clock)
    sections = [section("nord", ["Kort"] * 5, 1), section("syd", [], 6)]
    [part] = service.pack_digest(["da", "en"], sections)
    assert [s.source.key for s in part] == ["nord", "syd"]
    text = service.render_digest("en", part)
    assert text.startswith(
        "📡 <b>News from the other sites</b>\n\n📍 <b>Nord</b> – 3 participants"
    )
    assert "No highlights since last time" in text
    assert "(1/" not in text  # a single message says nothing about parts


async def test_a_site_too_long_for_one_message_is_cut_between_highlights_counting_utf16(
    uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = relay(uow, clock)
    # 500 emoji each (the preview's length in characters) are 1,000 UTF-16 units: five of
    # them are more than one message holds, though only 2,500 characters.
    sections = [section("nord", ["🙂" * 600] * 5, 1), section("syd", ["Kort"], 6)]
    parts = service.pack_digest(["da", "en"], sections)
    assert len(parts) == 2
    assert [numbers(p) for p in parts] == [[1, 2, 3], [4, 5, 6]]
    # Nord's heading again where its highlights continue; Syd joins the second message.
    assert [[s.source.key for s in p] for p in parts] == [["nord"], ["nord", "syd"]]
    for lang in ("da", "en"):
        texts = [service.render_digest(lang, p, n, len(parts)) for n, p in enumerate(parts, 1)]
        assert all(visible_length(t) <= MESSAGE_LIMIT for t in texts)
        # A fourth highlight would not have fitted into the first message.
        assert visible_length(texts[0]) + 1_000 > MESSAGE_LIMIT
    assert service.render_digest("da", parts[1], 2, 2).startswith(
        "📡 <i>Nyt fra de andre steder, fortsat (2/2)</i>"
    )


async def test_what_was_shared_live_is_said_once_even_when_its_site_is_cut(
    uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = relay(uow, clock)
    cut = section("nord", ["🙂" * 600] * 5, 1)
    shared = DigestSection(
        cut.source, 3, 5, cut.highlights, (highlight(90, "nord", "Allerede set live"),)
    )
    parts = service.pack_digest(["da"], [shared])
    assert len(parts) > 1
    rendered = [service.render_digest("da", part, n, len(parts)) for n, part in enumerate(parts)]
    assert [text.count("»Allerede set live«") for text in rendered] == [1] + [0] * (len(parts) - 1)
