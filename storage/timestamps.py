"""Datetimes are stored as ISO 8601 text in UTC, so that they sort and compare as text."""

from __future__ import annotations

from datetime import UTC, datetime


def to_db(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored: pass an aware one")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(value: str) -> datetime:
    return datetime.fromisoformat(value)


def maybe_from_db(value: str | None) -> datetime | None:
    return None if value is None else from_db(value)
