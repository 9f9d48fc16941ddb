"""Fetching participants' photos, documents and voice notes for `python -m bot export --media`.

Telegram keeps the files; the bot holds only their ids. `getFile` gives a path under the file
URL (`TELEGRAM_API_FILE_URL`), valid for an hour, for files up to 20 MB; each file is saved as
`<input id><extension>` in a folder beside the export. A file Telegram no longer gives (too
big, or the id unknown to this bot) is counted and skipped: the export goes on without it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from telegram import Bot
from telegram.error import BadRequest, TelegramError

log = logging.getLogger(__name__)


@dataclass
class Fetched:
    files: dict[int, Path] = field(default_factory=dict)  # input id → the file written
    missing: list[int] = field(default_factory=list)  # input ids Telegram did not give


async def fetch_media(bot: Bot, wanted: Sequence[tuple[int, str]], folder: Path) -> Fetched:
    """Download each (input id, file id) into the existing `folder`, one after the other
    (getFile is one request per file; an export fetches a few dozen, not thousands)."""
    fetched = Fetched()
    for input_id, file_id in wanted:
        try:
            remote = await bot.get_file(file_id)
            suffix = PurePosixPath(remote.file_path or "").suffix
            target = folder / f"{input_id}{suffix}"
            await remote.download_to_drive(target)
        except BadRequest as error:
            log.warning("input %d: Telegram gave no file (%s)", input_id, error.message)
            fetched.missing.append(input_id)
            continue
        except TelegramError as error:
            log.warning("input %d: the file could not be fetched (%s)", input_id, error)
            fetched.missing.append(input_id)
            continue
        fetched.files[input_id] = target
    return fetched
