"""The fake's own rules: updates, simulated people, parameter decoding, HTML and faults."""

from typing import Any

import pytest
from telegram import Bot, Message, Update
from telegram.error import ChatMigrated, Forbidden

from bot.sandbox import FakeBotApi, FakeUser, FaultKind, TransportFault
from bot.sandbox.fake_api import parse_html


async def call(api: FakeBotApi, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await api.call(api.token, method, params)


async def test_update_ids_grow_and_an_offset_confirms_earlier_updates(
    api: FakeBotApi, ana: FakeUser
) -> None:
    ana.send("a")
    ana.send("b")
    ana.send("c")

    _, first = await call(api, "getUpdates", limit="2")
    ids = [u["update_id"] for u in first["result"]]
    _, rest = await call(api, "getUpdates", offset=str(ids[-1] + 1))

    assert ids == [1, 2]
    assert [u["message"]["text"] for u in rest["result"]] == ["b", "c"]
    assert [u["update_id"] for u in api.pending_updates()] == [3, 4]
    await call(api, "getUpdates", offset="-1")
    assert [u["update_id"] for u in api.pending_updates()] == [4]
    with pytest.raises(ValueError, match="update_id must exceed 4"):
        api.push_update({"update_id": 4, "message": {}})
    assert api.push_update({"update_id": 10, "poll": {}})["update_id"] == 10
    assert ana.send("d")["update_id"] == 11


async def test_allowed_updates_persist_and_reactions_are_withheld_by_default(
    api: FakeBotApi, ana: FakeUser
) -> None:
    api.push_update({"message_reaction": {"chat": {"id": ana.id}}})
    _, default = await call(api, "getUpdates")
    assert [next(iter(u.keys() - {"update_id"})) for u in default["result"]] == ["message"]

    ana.send("hej")
    ana.block()
    _, only_members = await call(api, "getUpdates", allowed_updates='["my_chat_member"]')
    _, still = await call(api, "getUpdates")
    assert [list(u)[1] for u in only_members["result"]] == ["my_chat_member"]
    assert [list(u)[1] for u in still["result"]] == ["my_chat_member"]


def test_every_kind_of_user_message_parses_as_a_ptb_update(api: FakeBotApi, ana: FakeUser) -> None:
    bot = Bot(api.token)

    def message(update: dict[str, Any]) -> Message:
        parsed = Update.de_json(update, bot).message
        assert parsed is not None
        assert parsed.api_kwargs == {}  # every field is one PTB knows
        return parsed

    photo = message(ana.send_photo(caption="Tavlen"))
    document = message(ana.send_document("plan.pdf"))
    voice = message(ana.send_voice())
    sticker = message(ana.send_sticker())
    location = message(ana.send_location())
    contact = message(ana.send_contact())
    poll = message(ana.send_poll())

    assert photo.caption == "Tavlen"
    assert photo.photo[-1].file_id in api.files
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "plan.pdf",
        "application/pdf",
    )
    assert voice.voice is not None
    assert sticker.sticker is not None
    assert sticker.sticker.emoji == "👍"
    assert location.location is not None
    assert contact.contact is not None
    assert contact.contact.user_id == ana.id
    assert poll.poll is not None
    assert [o.text for o in poll.poll.options] == ["Ja", "Nej"]
    ids = [m.message_id for m in (photo, document, voice, sticker, location, contact, poll)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_commands_get_bot_command_entities_measured_in_utf16(
    api: FakeBotApi, ana: FakeUser
) -> None:
    plain = ana.send("/start@samtidig_bot site-aarhus")["message"]
    later = ana.send("😀 /hjaelp nu")["message"]
    none = ana.send("a/b and http://x/y")["message"]

    assert plain["entities"] == [{"type": "bot_command", "offset": 0, "length": 19}]
    assert later["entities"] == [{"type": "bot_command", "offset": 3, "length": 7}]
    assert "entities" not in none


def test_a_user_edit_becomes_an_edited_message_update(api: FakeBotApi, ana: FakeUser) -> None:
    original = ana.send("Jeg kommer")["message"]

    edited = ana.edit(original, "Jeg kommer ikke")["edited_message"]

    assert (edited["message_id"], edited["text"]) == (original["message_id"], "Jeg kommer ikke")
    assert "edit_date" in edited
    assert api.message(ana.id, original["message_id"])["text"] == "Jeg kommer ikke"


async def test_groups_carry_their_members_messages_and_can_remove_the_bot(
    api: FakeBotApi, bot: Bot, ana: FakeUser
) -> None:
    group = api.group(-1001234, "Aarhus")
    update = Update.de_json(group.send(ana, "/status@samtidig_bot"), bot)
    assert update.effective_chat is not None
    assert (update.effective_chat.type, update.effective_chat.title) == ("supergroup", "Aarhus")
    assert update.effective_user is not None
    assert update.effective_user.id == ana.id

    await bot.send_message(group.id, "Status: alle er her")
    removed = Update.de_json(group.remove_bot(by=ana), bot)
    assert removed.my_chat_member is not None
    assert removed.my_chat_member.new_chat_member.status == "left"
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "Hallo?")
    assert [m["text"] for m in group.inbox()] == ["Status: alle er her"]


async def test_wire_strings_and_json_values_decode_alike(api: FakeBotApi, ana: FakeUser) -> None:
    markup = '{"inline_keyboard": [[{"text": "Ja", "callback_data": "1"}]]}'
    status_form, from_form = await call(
        api, "sendMessage", chat_id=str(ana.id), text="123", reply_markup=markup
    )
    status_json, from_json = await call(
        api,
        "SendMessage",
        chat_id=ana.id,
        text="123",
        reply_markup={"inline_keyboard": [[{"text": "Ja", "callback_data": "1"}]]},
    )

    assert (status_form, status_json) == (200, 200)
    assert from_form["result"]["text"] == from_json["result"]["text"] == "123"
    assert api.calls[-2].params == api.calls[-1].params
    assert api.calls[-1].method == "sendMessage"
    status, broken = await call(api, "sendMessage", chat_id=ana.id, text="x", reply_markup="{")
    assert (status, broken["description"]) == (
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    )


def test_html_entities_cover_telegrams_tags() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>citat</blockquote>"
        '<span class="tg-spoiler">skjult</span>&lt;&#128512;&gt;'
    )

    assert text == "x = 1citatskjult<😀>"
    assert entities == [
        {"type": "pre", "offset": 0, "language": "python", "length": 5},
        {"type": "expandable_blockquote", "offset": 5, "length": 5},
        {"type": "spoiler", "offset": 10, "length": 6},
    ]


async def test_html_errors_use_telegrams_wording(api: FakeBotApi, ana: FakeUser) -> None:
    async def error(text: str) -> str:
        status, body = await call(api, "sendMessage", chat_id=ana.id, text=text, parse_mode="HTML")
        assert status == 400
        return str(body["description"]).removeprefix("Bad Request: can't parse entities: ")

    assert await error("<b>x") == 'Can\'t find end tag corresponding to start tag "b"'
    assert await error("x</b>") == "Unexpected end tag at byte offset 1"
    assert (
        await error("<span>x</span>") == 'Tag "span" must have class "tg-spoiler" at byte offset 0'
    )
    assert await error('æ<a href="x>y</a>') == "Unclosed start tag at byte offset 2"


async def test_whitespace_is_stripped_and_entities_follow(api: FakeBotApi, ana: FakeUser) -> None:
    _, body = await call(
        api, "sendMessage", chat_id=ana.id, text="  <b> fed</b> tekst \n", parse_mode="html"
    )

    assert body["result"]["text"] == "fed tekst"
    assert body["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 3}]


async def test_copy_and_forward_relay_a_users_message(api: FakeBotApi, ana: FakeUser) -> None:
    facilitator = api.user(2001, "Fie")
    facilitator.send("/start")
    photo = ana.send_photo(caption="Vores plakat")["message"]

    status, copied = await call(
        api,
        "copyMessage",
        chat_id=facilitator.id,
        from_chat_id=ana.id,
        message_id=photo["message_id"],
    )
    _, forwarded = await call(
        api,
        "forwardMessage",
        chat_id=facilitator.id,
        from_chat_id=ana.id,
        message_id=photo["message_id"],
    )

    assert status == 200
    [copy, forward] = facilitator.inbox()
    assert copied["result"] == {"message_id": copy["message_id"]}
    assert (copy["caption"], copy["photo"]) == ("Vores plakat", photo["photo"])
    assert "forward_origin" not in copy
    assert forwarded["result"]["forward_origin"]["sender_user"]["id"] == ana.id
    assert forward["caption"] == "Vores plakat"


async def test_a_reply_keyboard_is_remembered_until_removed(
    api: FakeBotApi, ana: FakeUser
) -> None:
    keyboard = '{"keyboard": [["Dansk", {"text": "English"}]], "one_time_keyboard": true}'
    await call(api, "sendMessage", chat_id=ana.id, text="Sprog?", reply_markup=keyboard)
    assert ana.reply_keyboard() == [["Dansk", "English"]]
    assert "reply_markup" not in ana.last()

    await call(
        api, "sendMessage", chat_id=ana.id, text="Tak", reply_markup='{"remove_keyboard": true}'
    )
    assert ana.reply_keyboard() is None


async def test_a_migrated_group_raises_chat_migrated(api: FakeBotApi, bot: Bot) -> None:
    group = api.group(-4242, "Gammel gruppe")
    api.fail_next(
        "sendMessage",
        error_code=400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-1004242,
    )

    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(group.id, "Hej")
    assert caught.value.new_chat_id == -1004242


async def test_transport_faults_reach_the_caller_and_are_recorded(
    api: FakeBotApi, ana: FakeUser
) -> None:
    api.drop_next("*", after_accept=True, chat_id=ana.id)

    with pytest.raises(TransportFault) as caught:
        await call(api, "sendMessage", chat_id=ana.id, text="Hej")

    assert caught.value.kind is FaultKind.RESET_AFTER
    assert api.calls[-1].status == 200
    assert api.calls[-1].fault is FaultKind.RESET_AFTER
    assert [m["text"] for m in ana.inbox()] == ["Hej"]


def test_fault_arguments_are_checked(api: FakeBotApi) -> None:
    with pytest.raises(ValueError, match="429"):
        api.fail_next("sendMessage", error_code=500, retry_after=3)
    with pytest.raises(ValueError, match="at least once"):
        api.fail_next("sendMessage", error_code=500, times=0)


async def test_a_default_429_names_its_delay(api: FakeBotApi, ana: FakeUser) -> None:
    api.fail_next("sendMessage", error_code=429)

    status, body = await call(api, "sendMessage", chat_id=ana.id, text="Hej")

    assert status == 429
    assert body["description"] == "Too Many Requests: retry after 5"
    assert body["parameters"] == {"retry_after": 5}


def test_people_and_groups_are_validated(api: FakeBotApi) -> None:
    with pytest.raises(ValueError, match="positive"):
        api.user(-5, "Nobody")
    with pytest.raises(ValueError, match="negative"):
        api.group(5, "Not a group")
    with pytest.raises(ValueError, match="not a Telegram bot token"):
        FakeBotApi("secret")
    assert api.user(5, "Bo") is api.user(5, "Bo B.")
    assert api.existing_user(5).first_name == "Bo B."
