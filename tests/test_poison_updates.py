"""Updates this PTB version cannot parse, or the database cannot store, against
`python -m bot run`: set aside in quarantine, polling goes on within 2 s, a restart never
fetches them again, and no log line carries their texts or names."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from bot.sandbox import FakeBotApi, FakeBotApiServer
from tests.test_run_over_http import TOKEN, _run_bot, new_message
from tests.waiting import eventually

SECRET = "Hemmelig-Tekst"  # in every poison update: must reach no log line
SENDER = {"id": 77, "is_bot": False, "first_name": "Poisonname"}
CHAT = {"id": 77, "type": "private", "first_name": "Poisonname"}


def _message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 5, "date": int(time.time()), "chat": CHAT, "from": SENDER, **fields}


POISON: list[object] = [
    {"message": {}},
    {"poll_answer": {"poll_id": SECRET}},  # no user, no option_ids
    {"message": _message(text=SECRET + "\ud800")},
    {
        "callback_query": {
            "id": "cb1",
            "from": SENDER,
            "chat_instance": "1",
            "data": SECRET + "\udfff",
        }
    },
    {
        "message": _message(
            caption=SECRET, voice={"file_id": "v", "file_unique_id": "u", "duration": 10**16}
        )
    },
    {"business_future_thing": {"text": SECRET, "from": SENDER}},  # a newer Bot API
    [SECRET, "not an object"],
]


def _quarantine(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT update_id, error, keys FROM quarantine ORDER BY id").fetchall()


async def test_seven_poison_updates_are_set_aside_and_polling_goes_on(tmp_path: Path) -> None:
    api = FakeBotApi(TOKEN)
    db = tmp_path / "run.sqlite3"
    async with FakeBotApiServer(api) as server:
        process = await _run_bot(tmp_path, server)
        try:
            await eventually(lambda: api.calls_to("deleteWebhook"), what="polling to start")
            for entry in POISON:
                api.push_raw(entry)
            anna = api.user(8, "Anna", language_code="da")
            started = time.monotonic()
            anna.send("/start aalborg-t2")
            await eventually(new_message(anna, 0), what="an answer after the poison", timeout=2)
            answered = time.monotonic() - started
            await eventually(lambda: len(_quarantine(db)) == len(POISON), what="7 set aside")
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        log = (stdout + stderr).decode()
        assert process.returncode == 0, log
        assert answered < 2
        errors = [error for _, error, _ in _quarantine(db)]
        assert "UnknownUpdateType" in errors
        assert _quarantine(db)[-1][0] is None  # the non-object entry had no update id
        assert SECRET not in log
        assert "Poisonname" not in log
        assert "CRITICAL" not in log
        # Asked only for what the handlers use.
        asked = api.calls_to("getUpdates")[-1].params["allowed_updates"]
        assert sorted(asked) == ["callback_query", "edited_message", "message", "my_chat_member"]

        # A restart fetches none of them again and still answers.
        process = await _run_bot(tmp_path, server)
        try:
            await eventually(lambda: len(api.calls_to("deleteWebhook")) == 2, what="restart")
            before = len(anna.inbox())
            anna.send("/help")
            await eventually(new_message(anna, before), what="an answer after the restart")
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0, (stdout + stderr).decode()
        assert len(_quarantine(db)) == len(POISON)
