"""Exports: what the day produced, as data files (CSV, XLSX, JSON) and a readable report (HTML,
Markdown). `bot.export.runner` writes them; this module only names the formats, so that
importing it (as the bot does at start-up) loads nothing heavy."""

from __future__ import annotations

from enum import StrEnum


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"
    HTML = "html"
    MD = "md"


ALL_FORMATS: tuple[Format, ...] = tuple(Format)
# In chat: every file stands on its own (the Markdown report needs its pictures beside it, so
# it is sent only when asked for, without them).
CHAT_FORMATS: tuple[Format, ...] = (Format.CSV, Format.XLSX, Format.JSON, Format.HTML)


def file_name(event_key: str, fmt: Format, only: tuple[str, ...] | None = None) -> str:
    base = event_key + ("-" + "-".join(only) if only else "")
    if fmt in {Format.HTML, Format.MD}:
        return f"{base}-report.{fmt.value}"
    return f"{base}.{fmt.value}"
