"""The inbox stores updates as Telegram sent them, not as PTB's objects serialised back."""

from __future__ import annotations

import json

from telegram import Bot, Update

from bot.sandbox import FakeBotApi, FakeRequest, FakeUser
from bot.telegram.polling import RawUpdatesRequest, as_row


async def test_the_inbox_row_holds_the_update_exactly_as_telegram_sent_it(
    api: FakeBotApi, ana: FakeUser
) -> None:
    raw = RawUpdatesRequest(FakeRequest(api))
    bot = Bot(api.token, request=FakeRequest(api), get_updates_request=raw)
    async with bot:
        opened = await bot.get_updates(timeout=0)  # her /start
        sent = [ana.send("Mere *tillid* <b>"), ana.send("/mine"), ana.send("æøå 🙂")]
        updates = await bot.get_updates(timeout=0, offset=opened[-1].update_id + 1)
        assert raw.last_result == sent
        rows = [as_row(u, d) for u, d in zip(updates, raw.last_result, strict=True)]
        assert [json.loads(payload) for _, _, payload in rows] == sent
        assert [key for _, key, _ in rows] == [
            f"m:{ana.id}:{u['message']['message_id']}" for u in sent
        ]
        # What is stored makes the same update again when the bot resumes after a crash.
        again = [Update.de_json(json.loads(payload), bot) for _, _, payload in rows]
        assert again == list(updates)

        # Without the raw answer (or with one that does not match) PTB's object is used.
        fallback = as_row(updates[0], {"update_id": -1})
        assert json.loads(fallback[2]) == updates[0].to_dict()
        # Each answer replaces the last.
        await bot.get_updates(timeout=0, offset=updates[-1].update_id + 1)
        assert raw.last_result == []
