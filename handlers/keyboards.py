"""Inline keyboards and their callback data.

Callback data is short and versioned (`v1:<action>:<argument>`), always well inside Telegram's
64-byte limit. It only says what the person pressed; the services check it against the
database before anything happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.event import Event, Site
from bot.i18n import Catalogue

VERSION = "v1"
_DATA = re.compile(r"^v1:([a-z]{1,12}):([A-Za-z0-9_-]{0,40})$")


@dataclass(frozen=True, slots=True)
class ButtonData:
    action: str
    argument: str


def data(action: str, argument: str = "") -> str:
    return f"{VERSION}:{action}:{argument}"


def parse(raw: str | None) -> ButtonData | None:
    """None for anything this version did not make: old, forged or oversized data."""
    if raw is None or len(raw) > 64:
        return None
    match = _DATA.match(raw)
    return ButtonData(match.group(1), match.group(2)) if match else None


def parse_id(raw: str) -> int | None:
    """A database id from button data: digits only and small enough for SQLite's integers
    (forged data with thirty digits would otherwise overflow)."""
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


def consent(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.consent_yes"), callback_data=data("consent", "yes")
                )
            ],
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.consent_no"), callback_data=data("consent", "no")
                )
            ],
        ]
    )


def tables(site: Site, lang: str, default_lang: str, current: str | None) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    for group in site.groups:
        name = group.name.get(lang, default_lang)
        label = f"✅ {name}" if group.key == current else name
        row.append(InlineKeyboardButton(label, callback_data=data("table", group.key)))
        if len(row) == 2:  # two per row stay readable on a narrow phone
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(rows)


def move(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.move_yes"), callback_data=data("move", "yes")
                ),
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.move_no"), callback_data=data("move", "no")
                ),
            ]
        ]
    )


def languages(texts: Catalogue) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain(lang, "language.name"), callback_data=data("lang", lang)
                )
                for lang in texts.languages
            ]
        ]
    )


def forget(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.forget_yes"), callback_data=data("forget", "yes")
                )
            ],
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.forget_no"), callback_data=data("forget", "no")
                )
            ],
        ]
    )


def broadcast(texts: Catalogue, lang: str, broadcast_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.broadcast_send"),
                    callback_data=data("bcast", f"send-{broadcast_id}"),
                ),
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.broadcast_cancel"),
                    callback_data=data("bcast", f"cancel-{broadcast_id}"),
                ),
            ]
        ]
    )


def categories(event: Event, lang: str) -> InlineKeyboardMarkup:
    default = event.default_language
    buttons = [
        InlineKeyboardButton(role.name.get(lang, default), callback_data=data("cat", role.key))
        for role in event.event.participant_roles
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def anonymity(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.named"), callback_data=data("anon", "named")
                ),
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.anonymous"), callback_data=data("anon", "anon")
                ),
            ]
        ]
    )


def withdraw(texts: Catalogue, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.withdraw_yes"),
                    callback_data=data("withdraw", "yes"),
                )
            ],
            [
                InlineKeyboardButton(
                    texts.plain(lang, "buttons.withdraw_no"), callback_data=data("withdraw", "no")
                )
            ],
        ]
    )
