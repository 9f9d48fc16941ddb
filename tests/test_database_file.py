"""The database file under `python -m bot run`: deleted while the bot runs, nothing is
acknowledged any more and the log says why; read-only at start, one sentence, no traceback."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from bot.sandbox import FakeBotApi, FakeBotApiServer
from storage.db import Database
from tests.test_run_over_http import TOKEN, _run_bot, new_message
from tests.waiting import eventually


async def test_a_deleted_database_file_stops_the_bot_acknowledging(tmp_path: Path) -> None:
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        process = await _run_bot(tmp_path, server)
        try:
            await eventually(lambda: api.calls_to("deleteWebhook"), what="polling to start")
            (tmp_path / "run.sqlite3").unlink()
            await asyncio.sleep(1.1)  # the bot looks at the file once a second
            anna = api.user(8, "Anna", language_code="da")
            anna.send("/start aalborg-t2")
            answer = await eventually(new_message(anna, 0), what="an answer")
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    log = (stdout + stderr).decode()
    assert "kunne ikke gemme" in answer["text"], answer["text"]
    assert "deleted or replaced" in log


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr for a read-only file")
async def test_a_read_only_database_at_start_is_one_sentence(tmp_path: Path) -> None:
    db = tmp_path / "run.sqlite3"
    await (await Database.open(db)).close()  # migrated: start-up itself needs no write
    frozen = subprocess.run(["chattr", "+i", str(db)], check=False)  # noqa: ASYNC221, S603, S607
    if frozen.returncode != 0:
        pytest.skip("chattr +i is not allowed here")
    try:
        async with FakeBotApiServer(FakeBotApi(TOKEN)) as server:
            process = await _run_bot(tmp_path, server)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)  # noqa: ASYNC221, S603, S607
    said = stderr.decode().strip()
    assert process.returncode != 0
    assert "Traceback" not in said, said
    assert said.splitlines()[-1].startswith("Database problem:"), said
