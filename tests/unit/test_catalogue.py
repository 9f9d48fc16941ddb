"""Every sentence exists in Danish and English, with the same placeholders."""

from __future__ import annotations

import pytest

from bot.commands import COMMANDS
from bot.i18n import Catalogue, Markup, Plural, plural_categories


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
        key: (texts.placeholders("da", key), texts.placeholders("en", key))
        for key in texts.keys("da")
        if texts.placeholders("da", key) != texts.placeholders("en", key)
    }
    assert different == {}


def test_every_plural_has_the_forms_its_language_needs_and_the_same_count(
    texts: Catalogue,
) -> None:
    wrong: dict[tuple[str, str], list[str]] = {}
    counts: dict[str, set[str]] = {}

    def check(lang: str, key: str, plural: Plural) -> None:
        if set(plural.forms) != plural_categories(lang):
            wrong[(lang, key)] = sorted(plural.forms)
        for form in plural.forms.values():
            if isinstance(form, Plural):
                check(lang, key, form)

    for lang in texts.languages:
        for key in texts.keys(lang):
            entry = texts.entry(lang, key)
            if isinstance(entry, Plural):
                counts.setdefault(key, set()).add(entry.count)
                check(lang, key, entry)
    assert wrong == {}
    assert {key: names for key, names in counts.items() if len(names) != 1} == {}
    assert counts, "no sentence with a count is written as a plural"


def test_a_count_chooses_the_plural_form_by_the_languages_rule(texts: Catalogue) -> None:
    assert "1 minut tilbage" in texts("da", "push.reminder", minutes=1, title="T")
    assert "2 minutter tilbage" in texts("da", "push.reminder", minutes=2, title="T")
    assert "1 minute left" in texts("en", "push.reminder", minutes=1, title="T")
    assert "0 minutes left" in texts("en", "push.reminder", minutes=0, title="T")


def test_numbers_are_written_with_the_languages_separators(texts: Catalogue) -> None:
    assert "0,4 s" in texts("da", "export.done", count=4, seconds=0.4)
    assert "0.4 s" in texts("en", "export.done", count=4, seconds=0.4)
    assert "1.200 deltagere" in texts("da", "facilitator.broadcast_sent", count=1200)


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
