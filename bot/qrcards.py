"""Printable check-in cards: one QR code per site and per table, the name printed under it."""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import segno
from PIL import Image, ImageDraw, ImageFont

from bot.event import Event
from bot.i18n import Catalogue


@dataclass(frozen=True, slots=True)
class Card:
    code: str
    title: str  # "Aalborg" or "Aalborg · Bord 2"
    link: str


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


def cards(event: Event, bot_username: str, lang: str) -> list[Card]:
    default = event.default_language
    found: list[Card] = []
    for site in event.sites:
        site_name = site.name.get(lang, default)
        found.append(Card(site.code, site_name, deep_link(bot_username, site.code)))
        for group in site.groups:
            title = f"{site_name} · {group.name.get(lang, default)}"
            found.append(Card(group.code, title, deep_link(bot_username, group.code)))
    return found


def _font(size: int) -> ImageFont.FreeTypeFont:
    # DejaVu Sans ships with matplotlib and covers æ, ø and å; found by path, so matplotlib
    # itself is not started.
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("matplotlib is not installed: run `make test` once to set up .venv")
    path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size=size)


def _png(card: Card, caption: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(card.link, error="m").save(buffer, kind="png", scale=12, border=4)
    buffer.seek(0)
    code = Image.open(buffer).convert("RGB")
    title_font = _font(34)
    small_font = _font(21)
    width = max(code.width, 640)
    card_img = Image.new("RGB", (width, code.height + 150), "white")
    card_img.paste(code, ((width - code.width) // 2, 0))
    draw = ImageDraw.Draw(card_img)
    for text, font, top in (
        (card.title, title_font, code.height + 10),
        (caption, small_font, code.height + 64),
        (card.code, small_font, code.height + 100),
    ):
        left = (width - draw.textlength(text, font=font)) / 2
        draw.text((left, top), text, fill="black", font=font)
    out = io.BytesIO()
    card_img.save(out, format="PNG")
    return out.getvalue()


def _svg(card: Card, caption: str) -> str:
    buffer = io.BytesIO()
    segno.make(card.link, error="m").save(buffer, kind="svg", scale=12, border=4, xmldecl=False)
    qr_svg = buffer.getvalue().decode("utf-8")
    size = segno.make(card.link, error="m").symbol_size(scale=12, border=4)[0]
    width = max(size, 640)
    x = (width - size) // 2
    middle = width // 2
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{size + 150}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<g transform="translate({x},0)">{qr_svg}</g>'
        f'<text x="{middle}" y="{size + 40}" font-family="sans-serif" font-size="36" '
        f'text-anchor="middle">{escape(card.title)}</text>'
        f'<text x="{middle}" y="{size + 84}" font-family="sans-serif" font-size="22" '
        f'text-anchor="middle">{escape(caption)}</text>'
        f'<text x="{middle}" y="{size + 120}" font-family="monospace" font-size="22" '
        f'text-anchor="middle">{escape(card.code)}</text>'
        "</svg>"
    )


def write_cards(
    event: Event, texts: Catalogue, bot_username: str, out_dir: Path, lang: str | None = None
) -> list[Path]:
    """Write `<code>.png` and `<code>.svg` for every site and table; returns the files."""
    lang = lang or event.default_language
    caption = texts.plain(lang, "qr.caption")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for card in cards(event, bot_username, lang):
        png = out_dir / f"{card.code}.png"
        png.write_bytes(_png(card, caption))
        svg = out_dir / f"{card.code}.svg"
        svg.write_text(_svg(card, caption), encoding="utf-8")
        written += [png, svg]
    return written
