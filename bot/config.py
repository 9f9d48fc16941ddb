"""Settings: the only reader of the environment (and of `.env`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.eventfile import SEED_EVENT


class Settings(BaseSettings):
    """What an operator may set; names are a contract (see DESIGN.md and `.env.example`)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_file_url: str = "https://api.telegram.org/file/bot"
    database_path: Path = Path("data/samtidig.sqlite3")
    event_file: Path = Field(default_factory=lambda: Path(str(SEED_EVENT)))
    organizer_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    log_level: str = "INFO"
    # Telegram's secret_token for webhook mode; a random one per start when not set.
    webhook_secret: SecretStr | None = None
    # The public base URL of the web face (walls, short check-in links), as people reach it
    # through the reverse proxy; the base of every link the bot prints or sends. Empty: off.
    public_url: str | None = None

    @field_validator("telegram_bot_token", "event_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object, info: ValidationInfo) -> object:
        # `.env.example` leaves these empty; an empty line means "not set", not "".
        if isinstance(value, str) and not value.strip():
            return None if info.field_name == "telegram_bot_token" else Path(str(SEED_EVENT))
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _base_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("give the base URL, like https://samtidig.example.org")
        return url

    @field_validator("organizer_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        # A comma-separated list is what people type into a .env file; also accept spaces.
        if isinstance(value, str):
            parts = [p for p in value.replace(" ", ",").split(",") if p]
            return frozenset(int(p) for p in parts)
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError(f"unknown log level {value!r}")
        return level
