"""Every sentence exists in Danish and English, with the same placeholders."""

from __future__ import annotations

import pytest

from bot.commands import COMMANDS
from bot.i18n import Catalogue, Markup, placeholders


@pytest.fixture(scope="module")
def texts() -> Catalogue:
    return Catalogue.load(default="da")


def test_danish_and_english_are_both_shipped_with_danish_first(texts: Catalogue) -> None:
    assert texts.languages == ("da", "en")


def test_every_key_exists_in_every_language(texts: Catalogue) -> None:
    da, en = texts.keys("da"), texts.keys("en")
    assert da - en == set(), f"missing in English: {sorted(da - en)}"
    assert en - da == set(), f"missing in Danish: {sorted(en - da)}"


def test_every_key_has_the_same_placeholders_in_every_language(texts: Catalogue) -> None:
    different = {
        key: (placeholders(texts.raw("da", key)), placeholders(texts.raw("en", key)))
        for key in texts.keys("da")
        if placeholders(texts.raw("da", key)) != placeholders(texts.raw("en", key))
    }
    assert different == {}


def test_the_consent_version_is_the_same_in_every_language(texts: Catalogue) -> None:
    assert texts.raw("da", "consent.version") == texts.raw("en", "consent.version")


def test_every_command_has_a_description_telegram_accepts(texts: Catalogue) -> None:
    for lang in texts.languages:
        for command in COMMANDS:
            description = texts.plain(lang, command.description_key)
            assert 3 <= len(description) <= 256, (lang, command.name)


def test_placeholders_are_escaped_for_html(texts: Catalogue) -> None:
    text = texts("en", "checkin.stayed", site="<script>alert(1)</script> & co")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text


def test_markup_values_are_not_escaped_twice(texts: Catalogue) -> None:
    text = texts("en", "checkin.stayed", site=Markup("<i>Aalborg</i>"))
    assert "<i>Aalborg</i>" in text


def test_an_unknown_language_falls_back_to_the_default(texts: Catalogue) -> None:
    assert texts("fr", "buttons.stale") == texts("da", "buttons.stale")
