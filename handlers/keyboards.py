"""Inline keyboards: labels from the catalogue, what each button says from `bot.buttons`."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.buttons import (
    Anonymity,
    BroadcastChoice,
    ButtonData,
    Buttons,
    Category,
    Consent,
    Forget,
    HelpMore,
    Language,
    Move,
    ResendUnknown,
    Table,
    WithdrawConsent,
    YesNo,
)
from bot.event import Event, Site
from bot.i18n import Catalogue


def markup(rows: Buttons) -> InlineKeyboardMarkup:
    """Rows of (label, action) as Telegram's keyboard, each action packed as callback data."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=pressed.pack()) for label, pressed in row]
            for row in rows
        ]
    )


def in_rows(buttons: Sequence[tuple[str, ButtonData]], width: int) -> Buttons:
    """Buttons `width` to a row: what stays readable on a narrow phone."""
    return tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))


def _yes_no(
    texts: Catalogue, lang: str, action: type[YesNo], yes: str, no: str, *, side_by_side: bool
) -> InlineKeyboardMarkup:
    pair = ((texts.plain(lang, yes), action(yes=True)), (texts.plain(lang, no), action(yes=False)))
    return markup((pair,) if side_by_side else tuple((button,) for button in pair))


def consent(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return _yes_no(
        texts, lang, Consent, "buttons.consent_yes", "buttons.consent_no", side_by_side=False
    )


def tables(site: Site, lang: str, default_lang: str, current: str | None) -> InlineKeyboardMarkup:
    buttons = []
    for group in site.groups:
        name = group.name.get(lang, default_lang)
        label = f"✅ {name}" if group.key == current else name
        buttons.append((label, Table(group.key)))
    return markup(in_rows(buttons, 2))


def move(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return _yes_no(texts, lang, Move, "buttons.move_yes", "buttons.move_no", side_by_side=True)


def languages(texts: Catalogue) -> InlineKeyboardMarkup:
    return markup(
        (tuple((texts.plain(lang, "language.name"), Language(lang)) for lang in texts.languages),)
    )


def help_more(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return markup((((texts.plain(lang, "help.more_button"), HelpMore()),),))


def forget(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return _yes_no(
        texts, lang, Forget, "buttons.forget_yes", "buttons.forget_no", side_by_side=False
    )


def broadcast(texts: Catalogue, lang: str, broadcast_id: int) -> InlineKeyboardMarkup:
    return markup(
        (
            (
                (texts.plain(lang, "buttons.broadcast_send"), BroadcastChoice(True, broadcast_id)),
                (
                    texts.plain(lang, "buttons.broadcast_cancel"),
                    BroadcastChoice(False, broadcast_id),
                ),
            ),
        )
    )


def resend_unknown(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return markup(((((texts.plain(lang, "delivery.resend_button"), ResendUnknown())),),))


def categories(event: Event, lang: str) -> InlineKeyboardMarkup:
    default = event.default_language
    buttons = [
        (role.name.get(lang, default), Category(role.key))
        for role in event.event.participant_roles
    ]
    return markup(in_rows(buttons, 2))


def anonymity(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return markup(
        (
            (
                (texts.plain(lang, "buttons.named"), Anonymity(anonymous=False)),
                (texts.plain(lang, "buttons.anonymous"), Anonymity(anonymous=True)),
            ),
        )
    )


def withdraw(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return _yes_no(
        texts,
        lang,
        WithdrawConsent,
        "buttons.withdraw_yes",
        "buttons.withdraw_no",
        side_by_side=False,
    )
