"""A site's wall carries its check-in QR code; it is drawn once, not at every render."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
import segno

from bot.i18n import Catalogue
from web.pages import Pages


def test_a_check_in_qr_code_is_drawn_once_per_link_and_label(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[str] = []
    make = segno.make

    def counting(content: str, **kwargs: Any) -> segno.QRCode:
        drawn.append(content)
        return make(content, **kwargs)

    monkeypatch.setattr(segno, "make", counting)  # what web.pages calls
    wall = Pages(Catalogue.load(), ZoneInfo("Europe/Copenhagen"))
    first = wall.qr("https://samtidig.example/c/nord", "Tjek ind i Nord")
    again = wall.qr("https://samtidig.example/c/nord", "Tjek ind i Nord")
    english = wall.qr("https://samtidig.example/c/nord", "Check in at Nord")
    other = wall.qr("https://samtidig.example/c/syd", "Tjek ind i Syd")

    assert again == first
    assert 'role="img"' in first
    assert "<title>Tjek ind i Nord</title>" in first
    assert "<title>Check in at Nord</title>" in english
    assert other != first
    assert drawn == [
        "https://samtidig.example/c/nord",
        "https://samtidig.example/c/nord",
        "https://samtidig.example/c/syd",
    ]
