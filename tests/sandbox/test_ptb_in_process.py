"""A real python-telegram-bot `Bot` against the fake, through `FakeRequest`.

These tests prove that PTB's own request, error-mapping and parsing code accepts what the fake
answers, so they assert on PTB objects and PTB exceptions, then on the recorded calls.
"""

import asyncio
import datetime as dt
import time

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.sandbox import FakeBotApi, FakeRequest, FakeUser, FaultKind, TelegramLimits
from tests.sandbox.conftest import FakeClock

KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Ja", callback_data="rsvp:yes")],
        [InlineKeyboardButton("Nej", callback_data="rsvp:no")],
    ]
)


async def test_get_me_describes_the_bot_from_its_token(api: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()

    assert me.id == 123456
    assert me.is_bot
    assert me.username == "samtidig_bot"
    assert [call.method for call in api.calls] == ["getMe", "getMe"]  # initialize() + ours


async def test_a_pressed_button_reaches_the_bot_and_its_answer_is_recorded(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    sent = await bot.send_message(ana.id, "Kommer du?", reply_markup=KEYBOARD)

    update = Update.de_json(ana.press_button(ana.last(), "Nej"), bot)
    assert update.callback_query is not None
    assert update.callback_query.data == "rsvp:no"
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == sent.message_id
    assert await update.callback_query.answer("Tak for svaret")

    assert api.callback_answers[update.callback_query.id] == {
        "show_alert": False,
        "text": "Tak for svaret",
    }
    assert sent.message_id == 2  # Ana's /start was message 1 in the same chat
    assert sent.reply_markup == KEYBOARD
    [call] = api.calls_to("sendMessage")
    assert call.params == {
        "chat_id": ana.id,
        "text": "Kommer du?",
        "reply_markup": KEYBOARD.to_dict(),
    }


async def test_a_callback_query_can_be_answered_only_once(bot: Bot, ana: FakeUser) -> None:
    await bot.send_message(ana.id, "Kommer du?", reply_markup=KEYBOARD)
    query_id = ana.press(ana.last(), "rsvp:yes")["callback_query"]["id"]
    await bot.answer_callback_query(query_id)

    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("4711")


async def test_long_poll_returns_as_soon_as_a_user_writes(
    api: FakeBotApi, bot: Bot, ana: FakeUser, long_poll_waiting: asyncio.Event
) -> None:
    [start] = await bot.get_updates()
    long_poll_waiting.clear()
    began = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(offset=start.update_id + 1, timeout=5))
    await asyncio.wait_for(long_poll_waiting.wait(), 5)
    ana.send("hej")

    updates = await poll

    assert time.monotonic() - began < 1
    assert [u.message.text for u in updates if u.message] == ["hej"]
    assert updates[0].update_id == start.update_id + 1
    assert [u["update_id"] for u in api.pending_updates()] == [start.update_id + 1]


async def test_long_poll_returns_nothing_when_the_timeout_expires(bot: Bot, ana: FakeUser) -> None:
    [start] = await bot.get_updates()
    began = time.monotonic()

    updates = await bot.get_updates(offset=start.update_id + 1, timeout=dt.timedelta(seconds=0.2))

    assert updates == ()
    assert 0.15 < time.monotonic() - began < 1


async def test_a_second_long_poll_ends_the_first_with_conflict(
    bot: Bot, long_poll_waiting: asyncio.Event
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.wait_for(long_poll_waiting.wait(), 5)

    assert await bot.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_a_message_over_4096_utf16_units_is_too_long(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    await bot.send_message(ana.id, "x" * 4096)
    # An emoji counts twice in UTF-16, so 2048 of them fill a message exactly.
    await bot.send_message(ana.id, "😀" * 2048)

    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ana.id, "😀" * 2048 + "x")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ana.id, "x" * 4097)
    assert len(ana.inbox()) == 2
    assert api.calls_to("sendMessage")[-1].description == "Bad Request: message is too long"


async def test_empty_text_is_refused_even_after_stripping(bot: Bot, ana: FakeUser) -> None:
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ana.id, " \n ")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ana.id, "<b> </b>", parse_mode="HTML")


async def test_callback_data_over_64_bytes_is_refused(bot: Bot, ana: FakeUser) -> None:
    await bot.send_message(
        ana.id,
        "ok",
        reply_markup=InlineKeyboardMarkup.from_button(
            InlineKeyboardButton("ø", callback_data="ø" * 32)
        ),
    )
    too_long = InlineKeyboardMarkup.from_button(InlineKeyboardButton("x", callback_data="x" * 65))

    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(ana.id, "Vælg", reply_markup=too_long)
    assert len(ana.inbox()) == 1


async def test_html_is_parsed_into_entities_and_bad_html_is_refused(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    sent = await bot.send_message(
        ana.id, "<b>Hej</b> Ana &amp; 😀 <a href='https://example.org'>link</a>", parse_mode="HTML"
    )

    assert sent.text == "Hej Ana & 😀 link"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 3),
        ("text_link", 13, 4),  # the emoji before it takes two UTF-16 units
    ]
    assert sent.entities[1].url == "https://example.org"
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(ana.id, "Hej<br>", parse_mode="HTML")
    assert api.calls[-1].description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 3'
    )
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(ana.id, "<b><i>x</b></i>", parse_mode="HTML")
    assert api.calls[-1].description == (
        "Bad Request: can't parse entities: Unmatched end tag at byte offset 7, "
        'expected "</i>", found "</b>"'
    )
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(ana.id, "1 < 2", parse_mode="HTML")
    assert len(ana.inbox()) == 1


async def test_sending_to_a_chat_that_never_wrote_is_chat_not_found(
    api: FakeBotApi, bot: Bot
) -> None:
    silent = api.user(2002, "Bo")

    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(silent.id, "Hej")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "Hej")


async def test_a_user_who_blocked_the_bot_raises_forbidden_until_unblocking(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    block = Update.de_json(ana.block(), bot)
    assert block.my_chat_member is not None
    assert block.my_chat_member.new_chat_member.status == "kicked"

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ana.id, "Hej")

    ana.unblock()
    await bot.send_message(ana.id, "Velkommen tilbage")
    assert [m["text"] for m in ana.inbox()] == ["Velkommen tilbage"]
    assert [call.status for call in api.calls_to("sendMessage")] == [403, 200]


async def test_an_injected_429_raises_retry_after_with_its_delay(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    api.fail_next("sendmessage", error_code=429, retry_after=17)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ana.id, "Hej")
    assert caught.value.retry_after == dt.timedelta(seconds=17)

    await bot.send_message(ana.id, "Hej")  # the fault applied once only
    [failed, sent] = api.calls_to("sendMessage")
    assert failed.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 17",
        "parameters": {"retry_after": 17},
    }
    assert failed.fault is FaultKind.ERROR
    assert sent.ok


async def test_server_errors_raise_network_error(api: FakeBotApi, bot: Bot, ana: FakeUser) -> None:
    api.fail_next("sendMessage", error_code=500)
    api.fail_next("sendMessage", error_code=502)

    with pytest.raises(NetworkError, match="Internal Server Error") as first:
        await bot.send_message(ana.id, "Hej")
    with pytest.raises(NetworkError, match="Bad Gateway") as second:
        await bot.send_message(ana.id, "Hej")
    assert not isinstance(first.value, BadRequest)
    assert not isinstance(second.value, BadRequest)
    assert ana.inbox() == []


async def test_a_fault_can_target_one_chat(api: FakeBotApi, bot: Bot, ana: FakeUser) -> None:
    bo = api.user(1002, "Bo")
    bo.send("/start")
    api.fail_next("sendMessage", error_code=403, chat_id=bo.id, times=2)

    await bot.send_message(ana.id, "Hej Ana")
    for _ in range(2):
        with pytest.raises(Forbidden):
            await bot.send_message(bo.id, "Hej Bo")
    await bot.send_message(bo.id, "Hej Bo")
    assert len(bo.inbox()) == 1


async def test_a_wrong_token_raises_invalid_token(api: FakeBotApi) -> None:
    wrong = Bot(
        "123456:WRONG-token", request=FakeRequest(api), get_updates_request=FakeRequest(api)
    )

    with pytest.raises(InvalidToken):
        await wrong.initialize()
    with pytest.raises(InvalidToken):
        await Bot("not-a-token", request=FakeRequest(api)).initialize()
    assert [call.status for call in api.calls] == [401, 404]
    assert api.unexpected == []


async def test_an_unknown_method_is_recorded_as_unexpected(api: FakeBotApi, bot: Bot) -> None:
    api.assert_no_unexpected()

    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendHologram", api_kwargs={"chat_id": 1})

    assert [call.method for call in api.unexpected] == ["sendHologram"]
    with pytest.raises(AssertionError, match="sendHologram"):
        api.assert_no_unexpected()


async def test_unknown_methods_are_not_unexpected_when_lenient() -> None:
    api = FakeBotApi(strict=False)
    async with Bot(api.token, request=FakeRequest(api)) as lenient:
        with pytest.raises(EndPointNotFound):
            await lenient.do_api_request("sendHologram", api_kwargs={"chat_id": 1})
    assert api.calls_to("sendhologram")[0].status == 404
    api.assert_no_unexpected()


async def test_rate_limits_answer_429_above_30_messages_a_second(
    api: FakeBotApi, bot: Bot, clock: FakeClock
) -> None:
    api.limits = TelegramLimits()
    people = [api.user(3000 + n, f"P{n}") for n in range(31)]
    for person in people:
        person.send("/start")

    for person in people[:30]:
        await bot.send_message(person.id, "Godmorgen")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(people[30].id, "Godmorgen")

    assert caught.value.retry_after == dt.timedelta(seconds=1)
    assert api.rate_limited == 1
    clock.advance(1.0)
    await bot.send_message(people[30].id, "Godmorgen")
    assert api.rate_limited == 1


async def test_rate_limits_allow_one_message_a_second_per_chat(
    api: FakeBotApi, bot: Bot, ana: FakeUser, clock: FakeClock
) -> None:
    api.limits = TelegramLimits()
    await bot.send_message(ana.id, "1")

    with pytest.raises(RetryAfter):
        await bot.send_message(ana.id, "2")
    clock.advance(0.5)
    with pytest.raises(RetryAfter):
        await bot.send_message(ana.id, "2")
    clock.advance(0.5)
    await bot.send_message(ana.id, "2")

    assert [m["text"] for m in ana.inbox()] == ["1", "2"]
    assert api.rate_limited == 2


async def test_rate_limits_allow_20_messages_a_minute_per_group(
    api: FakeBotApi, bot: Bot, clock: FakeClock
) -> None:
    api.limits = TelegramLimits()
    group = api.group(-1001234567890, "Facilitatorer")
    for _ in range(20):
        await bot.send_message(group.id, "Status")
        clock.advance(1.0)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group.id, "Status")
    assert caught.value.retry_after == dt.timedelta(
        seconds=40
    )  # the first of the 20 leaves the window then
    clock.advance(40)
    await bot.send_message(group.id, "Status")
    assert len(group.inbox()) == 21


async def test_editing_text_without_markup_removes_the_keyboard(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    sent = await bot.send_message(ana.id, "Kommer du?", reply_markup=KEYBOARD)

    edited = await bot.edit_message_text("Tak!", ana.id, sent.message_id)

    assert isinstance(edited, Message)
    assert edited.text == "Tak!"
    assert edited.reply_markup is None
    assert ana.last()["text"] == "Tak!"
    assert "reply_markup" not in ana.last()
    with pytest.raises(LookupError, match="no callback button"):
        ana.press_button(ana.last(), "Ja")
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Tak!", ana.id, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("Tak!", ana.id, 999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("Tak!", ana.id, 1)  # Ana's own /start


async def test_reply_markup_can_be_edited_and_messages_deleted(bot: Bot, ana: FakeUser) -> None:
    sent = await bot.send_message(ana.id, "Kommer du?", reply_markup=KEYBOARD)
    only_yes = InlineKeyboardMarkup.from_button(InlineKeyboardButton("Ja", callback_data="y"))

    edited = await bot.edit_message_reply_markup(ana.id, sent.message_id, reply_markup=only_yes)
    assert isinstance(edited, Message)
    assert edited.reply_markup == only_yes
    assert ana.press_button(ana.last(), "Ja")["callback_query"]["data"] == "y"

    assert await bot.delete_message(ana.id, sent.message_id)
    assert ana.inbox() == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(ana.id, sent.message_id)


async def test_old_messages_cannot_be_deleted(bot: Bot, ana: FakeUser, clock: FakeClock) -> None:
    sent = await bot.send_message(ana.id, "Gammel")
    clock.advance(48 * 3600 + 1)

    with pytest.raises(BadRequest, match="Message can't be deleted for everyone"):
        await bot.delete_message(ana.id, sent.message_id)


async def test_replies_refer_to_the_message_they_answer(bot: Bot, ana: FakeUser) -> None:
    question = Update.de_json(ana.send("Hvor er frokosten?"), bot).message
    assert question is not None

    answer = await bot.send_message(
        ana.id, "I kantinen", reply_parameters=ReplyParameters(question.message_id)
    )

    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "Hvor er frokosten?"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(ana.id, "?", reply_parameters=ReplyParameters(999))
    tolerant = ReplyParameters(999, allow_sending_without_reply=True)
    assert (
        await bot.send_message(ana.id, "!", reply_parameters=tolerant)
    ).reply_to_message is None


async def test_commands_are_kept_per_scope_and_language(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    danish = [BotCommand("start", "Start"), BotCommand("program", "Dagens program")]
    english = [BotCommand("start", "Start"), BotCommand("program", "Today's programme")]
    await bot.set_my_commands(danish)
    await bot.set_my_commands(english, language_code="en")
    await bot.set_my_commands(
        [BotCommand("facilitate", "Facilitér")], scope=BotCommandScopeChat(ana.id)
    )

    assert await bot.get_my_commands() == tuple(danish)
    assert await bot.get_my_commands(language_code="en") == tuple(english)
    assert api.commands[("default", "en")][1]["description"] == "Today's programme"
    assert [c["command"] for c in ana.visible_commands()] == ["facilitate"]

    await bot.delete_my_commands(scope=BotCommandScopeChat(ana.id))
    assert [c["description"] for c in ana.visible_commands()] == ["Start", "Dagens program"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start!", "Nope")])


async def test_reactions_chat_actions_and_chat_info(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    assert await bot.set_message_reaction(ana.id, 1, ReactionTypeEmoji("👍"))
    assert api.reactions[(ana.id, 1)] == [{"type": "emoji", "emoji": "👍"}]
    with pytest.raises(BadRequest, match="Reaction_invalid"):
        await bot.set_message_reaction(ana.id, 1, ReactionTypeEmoji("🦖"))

    assert await bot.send_chat_action(ana.id, "typing")
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(ana.id, "dancing")

    chat = await bot.get_chat(ana.id)
    assert (chat.id, chat.type, chat.first_name, chat.username) == (
        ana.id,
        "private",
        "Ana",
        "ana_k",
    )


async def test_documents_upload_and_download_back_in_process(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    sent = await bot.send_document(
        ana.id, b"navn;site\nAna;Aarhus\n", filename="deltagere.csv", caption="Eksport"
    )

    assert sent.document is not None
    assert sent.document.file_name == "deltagere.csv"
    assert sent.caption == "Eksport"
    assert api.files[sent.document.file_id].content == b"navn;site\nAna;Aarhus\n"
    assert api.calls_to("sendDocument")[0].files == {"document": "deltagere.csv"}
    telegram_file = await bot.get_file(sent.document.file_id)
    assert bytes(await telegram_file.download_as_bytearray()) == b"navn;site\nAna;Aarhus\n"

    resent = await bot.send_document(ana.id, sent.document.file_id)
    assert resent.document is not None
    assert resent.document.file_unique_id == sent.document.file_unique_id
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(ana.id, "no-such-file-id")


async def test_files_users_send_can_be_fetched_by_the_bot(bot: Bot, ana: FakeUser) -> None:
    update = Update.de_json(ana.send_document("noter.txt", content=b"mine noter"), bot)
    assert update.message is not None
    assert update.message.document is not None

    telegram_file = await update.message.document.get_file()

    assert bytes(await telegram_file.download_as_bytearray()) == b"mine noter"
    assert update.message.document.mime_type == "text/plain"


async def test_photos_are_sent_in_several_sizes(api: FakeBotApi, bot: Bot, ana: FakeUser) -> None:
    sent = await bot.send_photo(
        ana.id, b"\xff\xd8\xff\xe0fake-jpeg", caption="<i>QR</i>", parse_mode="HTML"
    )

    assert len(sent.photo) == 2
    assert sent.photo[-1].width > sent.photo[0].width
    assert sent.caption == "QR"
    assert [e.type for e in sent.caption_entities] == ["italic"]
    assert api.files[sent.photo[-1].file_id].content == b"\xff\xd8\xff\xe0fake-jpeg"


async def test_a_voice_note_is_sent_again_by_its_file_id_with_a_caption_of_at_most_1024(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    received = Update.de_json(ana.send_voice(9), bot)
    assert received.message is not None
    assert received.message.voice is not None
    file_id = received.message.voice.file_id

    sent = await bot.send_voice(ana.id, file_id, caption="<b>Fra Nord</b>", parse_mode="HTML")

    assert sent.voice is not None
    assert sent.voice.file_id == file_id  # nothing uploaded: Telegram's own file
    assert sent.voice.duration == dt.timedelta(seconds=9)
    assert sent.caption == "Fra Nord"
    assert api.calls_to("sendVoice")[0].params["voice"] == file_id
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_voice(ana.id, file_id, caption="x" * 1025)
    text = await bot.send_message(ana.id, "tekst")
    with pytest.raises(BadRequest, match="no caption in the message"):
        await bot.edit_message_caption(chat_id=ana.id, message_id=text.message_id, caption="y")


async def test_a_dropped_answer_after_acceptance_still_delivers_the_message(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    api.drop_next("sendMessage", after_accept=True)
    api.drop_next("sendMessage", after_accept=False)
    api.time_out_next("sendMessage")

    with pytest.raises(NetworkError, match="Server disconnected"):
        await bot.send_message(ana.id, "1")
    with pytest.raises(NetworkError, match="Server disconnected"):
        await bot.send_message(ana.id, "2")
    with pytest.raises(TimedOut):
        await bot.send_message(ana.id, "3")

    assert [m["text"] for m in ana.inbox()] == ["1", "3"]
    assert [call.fault for call in api.calls_to("sendMessage")] == [
        FaultKind.RESET_AFTER,
        FaultKind.RESET_BEFORE,
        FaultKind.TIMEOUT_AFTER,
    ]


async def test_an_error_after_acceptance_still_delivers_the_message(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    api.fail_next("sendMessage", error_code=502, after_accept=True)

    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(ana.id, "Hej")
    assert [m["text"] for m in ana.inbox()] == ["Hej"]


async def test_latency_delays_every_answer(api: FakeBotApi, ana: FakeUser) -> None:
    async with Bot(api.token, request=FakeRequest(api, latency=0.05)) as slow:
        began = time.monotonic()
        await slow.send_message(ana.id, "Hej")
        assert time.monotonic() - began >= 0.05


async def test_a_read_timeout_shorter_than_the_answer_raises_timed_out(
    api: FakeBotApi, ana: FakeUser
) -> None:
    request = FakeRequest(api, latency=0.5, read_timeout=0.05)
    with pytest.raises(TimedOut):
        await Bot(api.token, request=request).initialize()


async def test_a_webhook_blocks_get_updates_until_deleted(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)an https url must be provided"):
        await bot.set_webhook("http://example.org/hook")
    await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"

    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()

    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    assert (await bot.get_webhook_info()).url == ""


async def test_an_application_answers_through_process_update(api: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Velkommen! Kommer du?", reply_markup=KEYBOARD)

    async def rsvp_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Noteret")
        await query.edit_message_text(f"Svar: {query.data}")

    application = (
        Application.builder()
        .token(api.token)
        .request(FakeRequest(api))
        .get_updates_request(FakeRequest(api))
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(rsvp_button, pattern="^rsvp:"))
    ana = api.user(1001, "Ana")

    async with application:
        await application.process_update(
            Update.de_json(ana.send("/start@samtidig_bot"), application.bot)
        )
        await application.process_update(
            Update.de_json(ana.press_button(ana.last(), "Ja"), application.bot)
        )

    assert [m["text"] for m in ana.inbox()] == ["Svar: rsvp:yes"]
    assert list(api.callback_answers.values()) == [{"show_alert": False, "text": "Noteret"}]
    assert [c.method for c in api.calls if c.method != "getMe"] == [
        "sendMessage",
        "answerCallbackQuery",
        "editMessageText",
    ]
    api.assert_no_unexpected()


async def test_an_application_polls_the_fake_and_confirms_what_it_handled(api: FakeBotApi) -> None:
    replied = asyncio.Event()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Velkommen!")
        replied.set()

    application = (
        Application.builder()
        .token(api.token)
        .request(FakeRequest(api))
        .get_updates_request(FakeRequest(api))
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    ana = api.user(1001, "Ana")

    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=dt.timedelta(seconds=1))
        ana.send("/start")
        await asyncio.wait_for(replied.wait(), timeout=5)
        await application.updater.stop()
        await application.stop()

    assert [m["text"] for m in ana.inbox()] == ["Velkommen!"]
    assert api.pending_updates() == []  # the updater confirmed the update on its way out
    assert api.calls_to("deleteWebhook")  # polling starts by making sure no webhook is set
    api.assert_no_unexpected()


async def test_a_base_url_with_a_token_placeholder_is_understood(
    api: FakeBotApi, ana: FakeUser
) -> None:
    async with Bot(
        api.token,
        base_url="http://sandbox.invalid/api/{token}/v1",
        base_file_url="http://sandbox.invalid/files/{token}/raw",
        request=FakeRequest(api),
    ) as placeholder_bot:
        sent = await placeholder_bot.send_document(ana.id, b"abc", filename="a.txt")
        assert sent.document is not None
        telegram_file = await placeholder_bot.get_file(sent.document.file_id)
        assert bytes(await telegram_file.download_as_bytearray()) == b"abc"

    assert [c.method for c in api.calls] == ["getMe", "sendDocument", "getFile"]


async def test_writing_to_a_blocked_bot_unblocks_it_first(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    ana.block()
    ana.send("/start")

    kinds = [next(iter(u.keys() - {"update_id"})) for u in api.pending_updates()]
    assert kinds[-3:] == ["my_chat_member", "my_chat_member", "message"]
    assert not ana.blocked_bot
    await bot.send_message(ana.id, "Velkommen tilbage")
