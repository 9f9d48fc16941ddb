"""Hostile and odd input, each kind driven through the real application.

Every case ends with the same checks (`test_hostile_input`): nothing reached the error
handler (no apology, nothing logged at ERROR), the fake Telegram never had to refuse a
message for broken HTML or length (it parses HTML as strictly as Telegram does), no outbox
row failed, and the bot called no method the fake lacks. Each case itself checks that the
bot answered politely in the person's language, or stayed silent where that is right, and
that the database holds what it should: no input where none belongs, nothing changed by a
refusal.

The day is the one of `tests.handlers.day`: at 13:41 the first group work is open; Pia
(Danish) is checked in at København, table 1, and Frida is København's host.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.config import Settings
from bot.event import Event
from bot.sandbox import FakeUser
from tests.handlers.day import Who, World, running_day, say, sentence, snapshot
from tests.handlers.helpers import at, check_in, run_until
from tests.waiting import eventually

# /export runs as a task of its own (block=False); see tests/handlers/test_exports.py.
pytestmark = pytest.mark.filterwarnings("ignore:Tasks created via:UserWarning")

Case = Callable[[World], Awaitable[None]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(run: Case) -> Case:
        assert name not in CASES, name
        CASES[name] = run
        return run

    return register


# -- helpers ----------------------------------------------------------------------------------


def pia(world: World) -> FakeUser:
    return world.people[Who.PARTICIPANT]


def host(world: World) -> FakeUser:
    return world.people[Who.HOST]


def text_of(message: dict[str, Any]) -> str:
    return str(message.get("text") or message.get("caption") or "")


def answered(world: World, person: FakeUser, key: str, *, lang: str | None = None) -> None:
    """The person's latest message is the catalogue sentence `key`, in their language."""
    language = lang or person.language_code or world.event.default_language
    shown = text_of(person.last())
    assert sentence(world.texts, language, key).match(shown), (key, language, shown)


def popped_up(world: World, person: FakeUser, update: dict[str, Any], key: str) -> None:
    answer = world.api.callback_answers.get(update["callback_query"]["id"], {})
    language = person.language_code or world.event.default_language
    assert answer.get("show_alert"), answer
    assert sentence(world.texts, language, key).match(answer.get("text", "")), answer


def inputs(world: World) -> list[tuple[Any, ...]]:
    return world.harness.query("SELECT user_id, kind, text, state FROM inputs ORDER BY id")


def acknowledged(world: World, update: dict[str, Any]) -> bool:
    """A 👍 on the message, or (where a reaction cannot be set) the short reply that says so;
    the fake cannot react to a message pushed raw, as it never saw it being sent."""
    message = update["message"]
    chat, message_id = message["chat"]["id"], message["message_id"]
    if (chat, message_id) in world.api.reactions:
        return True
    saved = sentence(world.texts, "da", "inputs.saved")
    return bool(saved.match(text_of(world.api.sent_messages(chat)[-1])))


def card_for(world: World, needle: str) -> str:
    """The host's feed card showing `needle`."""
    cards = [text_of(m) for m in host(world).inbox() if needle in text_of(m)]
    assert cards, f"no feed card with {needle!r}"
    return cards[-1]


_MESSAGE_IDS = itertools.count(1_000_000)


def raw_message(
    chat: dict[str, Any], content: dict[str, Any], sender: FakeUser | None = None
) -> dict[str, Any]:
    """A message as Telegram would send it, with what the fake's people cannot send."""
    message: dict[str, Any] = {
        "message_id": next(_MESSAGE_IDS),
        "date": int(time.time()),
        "chat": chat,
        **content,
    }
    if sender is not None:
        message["from"] = sender.as_dict()
    return message


def private_chat(person: FakeUser) -> dict[str, Any]:
    return {"id": person.id, "type": "private", "first_name": person.first_name}


async def push(world: World, **update: Any) -> dict[str, Any]:
    pushed = world.api.push_update(update)
    await world.harness.settle()
    return pushed


async def silent(world: World, action: Callable[[], Awaitable[object]]) -> None:
    """The action makes the bot send nothing and change nothing."""
    before_calls = len(world.api.calls)
    before = snapshot(world.harness)
    await action()
    await world.harness.settle()
    said = [
        (c.method, c.params.get("text"))
        for c in world.api.calls[before_calls:]
        if c.method != "getUpdates"
        # Stopping a button's spinner says nothing.
        and not (c.method == "answerCallbackQuery" and c.params.get("text") is None)
    ]
    assert said == [], said
    assert snapshot(world.harness) == before


LONG = 10_000


# -- long texts, markup, odd characters: stored as written, shown back escaped ------------------


async def stored_and_shown(world: World, text: str) -> None:
    """Pia's `text` is stored exactly and acknowledged; the host's card shows it as typed."""
    sent = pia(world).send(text)
    await world.harness.settle()
    assert inputs(world)[-1] == (pia(world).id, "text", text, "visible")
    assert acknowledged(world, sent)
    assert text.strip() in card_for(world, text.strip())


@case("a message of 4096 characters")
async def _(world: World) -> None:
    text = ("Politikerne & <embedsfolk> skal samarbejde. " * 100)[:4096]
    sent = pia(world).send(text)
    await world.harness.settle()
    assert inputs(world)[-1][2] == text
    assert acknowledged(world, sent)
    card = card_for(world, "Politikerne & <embedsfolk>")
    assert "[…]" in card
    assert len(card.encode("utf-16-le")) // 2 <= 4096


@case("4096 UTF-16 units of emoji")
async def _(world: World) -> None:
    text = "😀" * 2048  # two UTF-16 units each: exactly Telegram's limit
    sent = pia(world).send(text)
    await world.harness.settle()
    assert inputs(world)[-1][2] == text
    assert acknowledged(world, sent)
    card = card_for(world, "😀😀😀")
    assert "[…]" in card
    assert "\ufffd" not in card  # no surrogate pair was cut in half


@case("a caption of 1024 characters")
async def _(world: World) -> None:
    caption = ("Vores flipover <3 & mere. " * 50)[:1024]
    sent = pia(world).send_photo(caption)
    await world.harness.settle()
    assert inputs(world)[-1] == (pia(world).id, "photo", caption, "visible")
    assert acknowledged(world, sent)
    assert caption[:40] in card_for(world, caption[:40])


@case("an over-long caption pushed raw")
async def _(world: World) -> None:
    caption = "Referat & <noter>. " * 300  # 5700 characters: beyond a caption and a message
    photo = {"file_id": "AgAD-raw-photo", "file_unique_id": "raw-photo", "width": 9, "height": 9}
    update = await push(
        world,
        message=raw_message(
            private_chat(pia(world)), {"photo": [photo], "caption": caption}, pia(world)
        ),
    )
    assert inputs(world)[-1] == (pia(world).id, "photo", caption, "visible")
    assert acknowledged(world, update)
    assert "[…]" in card_for(world, "Referat & <noter>.")


@case("HTML control characters")
async def _(world: World) -> None:
    await stored_and_shown(world, "<b>fed</b> & <i>kursiv 1 < 2 > 0 \"citat\" 'enkelt'")


@case("Markdown control characters")
async def _(world: World) -> None:
    await stored_and_shown(world, "*fed* _kursiv_ `kode` ```blok``` [link](tg://x) ~x~ ||s|| \\")


@case("a script tag")
async def _(world: World) -> None:
    await stored_and_shown(world, "<script>alert('hej')</script><img src=x onerror=alert(1)>")


@case("fake HTML entities")
async def _(world: World) -> None:
    await stored_and_shown(world, "&amp;lt; &lt;b&gt; &#60;i&#62; &#x1F600; &bogus; &#0; &")


@case("a closing tag alone")
async def _(world: World) -> None:
    await stored_and_shown(world, "</b>")


@case("an unclosed tag and a link")
async def _(world: World) -> None:
    await stored_and_shown(world, '<a href="javascript:alert(1)">klik <b>her')


@case("right-to-left marks and zero-width characters")
async def _(world: World) -> None:
    await stored_and_shown(
        world, "\u202eabc\u202c \u200bnul\u200cbredde\u200d \u2066x\u2069 שלום مرحبا"
    )


@case("emoji sequences: ZWJ families, flags, skin tones")
async def _(world: World) -> None:
    await stored_and_shown(world, "👨‍👩‍👧‍👦 🇩🇰🇬🇧 👍🏽 🏳️‍🌈 👩🏿‍🔬 1️⃣")


@case("NUL bytes")
async def _(world: World) -> None:
    await stored_and_shown(world, "før\x00efter \x00\x01\x1f")


@case("a lone slash and a command-like text")
async def _(world: World) -> None:
    await stored_and_shown(world, "/ er ikke en kommando, og det er /ikke_denne heller")
    pia(world).send("/")
    await world.harness.settle()
    assert inputs(world)[-1][2] == "/"


# -- commands with missing, extra or huge arguments ---------------------------------------------


@case("/start payloads that are invalid")
async def _(world: World) -> None:
    sten = world.people[Who.STRANGER]
    for payload in ("<b>aalborg</b>", "../../etc/passwd", "kø-benhavn", "a b", "'; DROP TABLE"):
        await say(world, sten, f"/start {payload}")
        answered(world, sten, "checkin.malformed_code")
    assert world.harness.query("SELECT COUNT(*) FROM checkins WHERE user_id = ?", (sten.id,)) == [
        (0,)
    ]


@case("/start payloads too long: 65 and 10,000 characters")
async def _(world: World) -> None:
    nora = world.people[Who.NEWCOMER]
    before = snapshot(world.harness)
    for payload in ("k" * 65, "kobenhavn-t1" * (LONG // 12)):
        await say(world, nora, f"/start {payload}")
        answered(world, nora, "checkin.malformed_code")
    assert snapshot(world.harness) == before


@case("another site's facilitator code guessed: near misses")
async def _(world: World) -> None:
    site = world.event.site("kobenhavn")
    assert site is not None
    assert site.facilitator_code is not None
    code = site.facilitator_code
    finn = world.people[Who.HOST_ELSEWHERE]  # Aalborg's host, guessing København's code
    guesses = {
        code[:-1],
        code + "x",
        code.upper(),
        code[:-1] + chr(ord(code[-1]) + 1),
        "x" + code[1:],
        code.replace("kobenhavn", "aalborg"),
        code.replace("-", "_"),
    }
    for tries, guess in enumerate(sorted(guesses - {code}), start=1):
        await say(world, finn, f"/start {guess}")
        # The fifth wrong code in ten minutes locks the guesser out of codes for a while.
        answered(world, finn, "checkin.unknown_code" if tries < 5 else "checkin.locked_out")
    rights = world.harness.query(
        "SELECT site_key FROM roles WHERE user_id = ? ORDER BY site_key", (finn.id,)
    )
    assert rights == [("aalborg",)]


@case("/checkin without a code, and with extra words")
async def _(world: World) -> None:
    sten = world.people[Who.STRANGER]
    await say(world, sten, "/checkin")
    answered(world, sten, "checkin.usage")
    await say(world, sten, "/checkin kobenhavn-t1 og lidt mere")
    answered(world, sten, "checkin.malformed_code")
    assert world.harness.query("SELECT COUNT(*) FROM checkins WHERE user_id = ?", (sten.id,)) == [
        (0,)
    ]


@case("facilitator commands without their argument")
async def _(world: World) -> None:
    before = snapshot(world.harness)
    for command, key in (
        ("/delay", "facilitator.delay_usage"),
        ("/prompt", "facilitator.prompt_usage"),
        ("/prompt kobenhavn t2", "facilitator.prompt_usage"),
        ("/broadcast", "facilitator.broadcast_usage"),
        ("/broadcast kobenhavn", "facilitator.broadcast_usage"),
        ("/relay", "facilitator.relay_usage"),
    ):
        await say(world, host(world), command)
        answered(world, host(world), key)
    assert snapshot(world.harness) == before


@case("facilitator commands with extra or wild arguments")
async def _(world: World) -> None:
    before = snapshot(world.harness)
    for command in (
        "/delay 5 10",
        "/delay soon",
        "/delay 9" + "9" * LONG,
        "/delay -0",
        "/delay 1e3",
    ):
        await say(world, host(world), command)
        answered(world, host(world), "facilitator.delay_usage")
    await say(world, host(world), "/now " + "x" * LONG)  # not a site: its own site's status
    answered(world, host(world), "status.site")
    assert snapshot(world.harness) == before


@case("huge texts for broadcasts, prompts and greetings")
async def _(world: World) -> None:
    before = snapshot(world.harness)
    for command in ("/broadcast ", "/prompt ", "/relay ", "/broadcast kobenhavn "):
        await say(world, host(world), command + "Å" * LONG)
        answered(world, host(world), "facilitator.too_long")
    assert snapshot(world.harness) == before


@case("participant commands with huge arguments")
async def _(world: World) -> None:
    before = snapshot(world.harness)
    for command, key in (
        ("/language " + "x" * LONG, "language.choose"),
        ("/inputs " + "x" * LONG, "inputs.view_heading"),
        ("/agenda " + "x" * LONG, "agenda.heading"),
        ("/where " + "x" * LONG, "where.at_table"),
        ("/help " + "x" * LONG, "help.participant"),
        ("/mine " + "x" * LONG, "inputs.mine_heading"),
    ):
        await say(world, pia(world), command)
        answered(world, pia(world), key)
    assert snapshot(world.harness) == before


@case("/export with unknown formats")
async def _(world: World) -> None:
    host(world).send("/export " + "pdf" * (LONG // 3))
    await world.harness.settle()
    pattern = sentence(world.texts, "da", "export.usage")
    await eventually(lambda: bool(pattern.match(text_of(host(world).last()))))


@case("unknown commands and commands for another bot")
async def _(world: World) -> None:
    before = inputs(world)
    for command in ("/frobnicate", "/help@another_bot", "/" + "a" * 64, "/start_now"):
        await say(world, pia(world), command)
        answered(world, pia(world), "fallback.unknown_command")
    await say(world, pia(world), "/help@samtidig_bot")
    answered(world, pia(world), "help.participant")
    assert inputs(world) == before


# -- buttons: forged, stale, oversized, replayed, without a message -------------------------


FORGED: dict[str, str] = {
    # data → the sentence the presser sees (a pop-up, or the message they pressed under)
    "v1:zzz:1": "buttons.stale",
    "v2:vote:1": "buttons.stale",
    "v1:vote:" + "9" * 30: "buttons.stale",
    "v1:vote:99999": "inputs.cannot_vote",
    "v1:vote:1-1": "buttons.stale",
    "v1:rv:2-2": "buttons.stale",
    "v1:wd:5-3": "buttons.stale",
    "v1:wd:-1": "buttons.stale",
    "v1:mod:star-abc": "buttons.stale",
    "v1:mod:burn-1": "buttons.stale",
    "v1:mod:star-1": "facilitator.not_your_site",
    "v1:bcast:send-": "buttons.stale",
    "v1:bcast:send-1-2": "buttons.stale",
    "v1:table:t9": "buttons.stale",
    "v1:cat:king": "buttons.stale",
    "v1:lang:xx": "buttons.stale",
    "v1:anon:maybe": "buttons.stale",
    "'; DROP TABLE inputs; --": "buttons.stale",
    "v1:vote:1\nv1:vote:2": "buttons.stale",
    "": "buttons.stale",
}


@case("forged callback data")
async def _(world: World) -> None:
    await say(world, pia(world), "/help")
    before = snapshot(world.harness)
    for data, key in FORGED.items():
        update = pia(world).press(pia(world).last(), data)
        await world.harness.settle()
        popup = world.api.callback_answers.get(update["callback_query"]["id"], {}).get("text")
        pattern = sentence(world.texts, "da", key)
        assert pattern.match(popup or text_of(pia(world).last())), (data, popup)
    assert snapshot(world.harness) == before


@case("oversized callback data (65+ bytes)")
async def _(world: World) -> None:
    # As a modified client would send it: Telegram's buttons never carry more than 64 bytes.
    await say(world, pia(world), "/help")
    before = snapshot(world.harness)
    for data in ("v1:vote:" + "1" * 60, "v1:lang:" + "da" * 40, "ø" * 65):
        update = pia(world).press(pia(world).last(), data)
        await world.harness.settle()
        popped_up(world, pia(world), update, "buttons.stale")
    assert snapshot(world.harness) == before


@case("a stale button: consent pressed again after consenting")
async def _(world: World) -> None:
    await say(world, pia(world), "/help")
    before = snapshot(world.harness)
    update = pia(world).press(pia(world).last(), "v1:consent:yes")
    await world.harness.settle()
    popped_up(world, pia(world), update, "buttons.stale")
    assert snapshot(world.harness) == before


@case("a replayed button: Send pressed twice, and the same press delivered again")
async def _(world: World) -> None:
    await say(world, host(world), "/broadcast Kaffen er klar.")
    preview = host(world).last()
    first = host(world).press(preview, f"v1:bcast:send-{last_broadcast(world)}")
    await world.harness.settle()
    answered(world, host(world), "facilitator.broadcast_sent")
    sent = world.harness.query("SELECT COUNT(*) FROM outbox WHERE kind = 'broadcast'")
    again = host(world).press(preview, f"v1:bcast:send-{last_broadcast(world)}")
    await world.harness.settle()
    popped_up(world, host(world), again, "buttons.stale")
    # The very same update once more (a redelivery): its query is too old to answer now.
    replay = {key: value for key, value in first.items() if key != "update_id"}
    await push(world, **replay)
    assert world.harness.query("SELECT COUNT(*) FROM outbox WHERE kind = 'broadcast'") == sent
    assert sum("Kaffen er klar" in text_of(m) for m in pia(world).inbox()) == 1


def last_broadcast(world: World) -> int:
    [(draft,)] = world.harness.query("SELECT MAX(id) FROM broadcasts")
    return int(draft)


@case("a callback query without a message (inline)")
async def _(world: World) -> None:
    query = {
        "id": "inline-1",
        "from": pia(world).as_dict(),
        "inline_message_id": "AAEAAAE",
        "chat_instance": "-1",
        "data": "v1:lang:en",
    }
    await silent(world, lambda: push(world, callback_query=query))


# -- messages that are not inputs -----------------------------------------------------------------


async def not_an_input(world: World, content: dict[str, Any]) -> None:
    """Pia sends something that is not an input: asked to write it as text, nothing stored."""
    before = snapshot(world.harness)
    await push(world, message=raw_message(private_chat(pia(world)), content, pia(world)))
    answered(world, pia(world), "inputs.as_text")
    assert snapshot(world.harness) == before


FILE = {"file_id": "BAADAgAD-raw", "file_unique_id": "raw-file", "file_size": 9}


@case("a sticker")
async def _(world: World) -> None:
    before = snapshot(world.harness)
    pia(world).send_sticker("🤡")
    await world.harness.settle()
    answered(world, pia(world), "inputs.as_text")
    assert snapshot(world.harness) == before


@case("a GIF (animation), which Telegram also sends as a document")
async def _(world: World) -> None:
    animation = {**FILE, "width": 1, "height": 1, "duration": 1, "mime_type": "video/mp4"}
    document = {**FILE, "file_name": "giphy.mp4", "mime_type": "video/mp4"}
    await not_an_input(world, {"animation": animation, "document": document})


@case("a location")
async def _(world: World) -> None:
    await not_an_input(world, {"location": {"latitude": 55.6761, "longitude": 12.5683}})


@case("a venue")
async def _(world: World) -> None:
    location = {"latitude": 55.6761, "longitude": 12.5683}
    venue = {"location": location, "title": "<b>Rådhuset</b>", "address": "Rådhuspladsen 1"}
    await not_an_input(world, {"venue": venue, "location": location})


@case("a contact")
async def _(world: World) -> None:
    phone = "+4512345678"
    await not_an_input(world, {"contact": {"phone_number": phone, "first_name": "Mor"}})
    assert phone not in repr(snapshot(world.harness))


@case("a poll")
async def _(world: World) -> None:
    before = snapshot(world.harness)
    pia(world).send_poll("<b>Frokost?</b>", ["Ja", "Nej & måske"])
    await world.harness.settle()
    answered(world, pia(world), "inputs.as_text")
    assert snapshot(world.harness) == before


@case("a dice")
async def _(world: World) -> None:
    await not_an_input(world, {"dice": {"emoji": "🎲", "value": 6}})


@case("a video note")
async def _(world: World) -> None:
    await not_an_input(world, {"video_note": {**FILE, "length": 240, "duration": 3}})


@case("a video")
async def _(world: World) -> None:
    video = {**FILE, "width": 640, "height": 480, "duration": 3, "mime_type": "video/mp4"}
    await not_an_input(world, {"video": video, "caption": "Se <her>"})


@case("an audio file")
async def _(world: World) -> None:
    audio = {**FILE, "duration": 3, "title": "<i>Sang</i>", "mime_type": "audio/mpeg"}
    await not_an_input(world, {"audio": audio})


@case("a voice message is an input")
async def _(world: World) -> None:
    sent = pia(world).send_voice(duration=4)
    await world.harness.settle()
    assert inputs(world)[-1] == (pia(world).id, "voice", "", "visible")
    assert acknowledged(world, sent)


@case("a document with HTML in its name and caption")
async def _(world: World) -> None:
    sent = pia(world).send_document(
        "<b>noter</b>&.pdf", "Se <i>bilag", mime_type="application/pdf"
    )
    await world.harness.settle()
    assert inputs(world)[-1] == (pia(world).id, "document", "Se <i>bilag", "visible")
    assert acknowledged(world, sent)
    assert "Se <i>bilag" in card_for(world, "Se <i>bilag")


# -- groups and channels --------------------------------------------------------------------------


@case("messages in a group the bot was added to without being configured")
async def _(world: World) -> None:
    group = world.api.group(-1001234567890, "<b>Tilfældig</b> gruppe")

    async def chatter() -> None:
        group.send(pia(world), "Hej bot")
        group.send(pia(world), "/start kobenhavn-t1")
        group.send(pia(world), "/help@samtidig_bot")
        group.send(world.people[Who.ORGANISER], "/export")
        await world.harness.settle()

    await silent(world, chatter)


@case("the bot added to and removed from a group")
async def _(world: World) -> None:
    group = world.api.group(-1001234567891, "Arbejdsgruppe")

    async def membership() -> None:
        group.remove_bot(by=host(world))
        await world.harness.settle()
        group.add_bot(by=host(world))
        await world.harness.settle()

    await silent(world, membership)


@case("a group message from a chat, without from (sender_chat only)")
async def _(world: World) -> None:
    group = world.api.group(-1001234567892, "Kanalens gruppe")
    channel = {"id": -1009876543210, "type": "channel", "title": "Kanal"}
    chat = {"id": group.id, "type": "supergroup", "title": group.title}
    message = raw_message(chat, {"text": "/start kobenhavn-t1", "sender_chat": channel})
    await silent(world, lambda: push(world, message=message))


@case("channel posts and their edits")
async def _(world: World) -> None:
    channel = {"id": -1009876543211, "type": "channel", "title": "<b>Nyheder</b>"}
    post = raw_message(channel, {"text": "/start kobenhavn-t1 <b>", "sender_chat": channel})
    edited = {**post, "text": "rettet", "edit_date": int(time.time())}

    async def posts() -> None:
        await push(world, channel_post=post)
        await push(world, edited_channel_post=edited)

    await silent(world, posts)


@case("a private message without from")
async def _(world: World) -> None:
    message = raw_message(private_chat(pia(world)), {"text": "Hvem er jeg?"})
    await silent(world, lambda: push(world, message=message))


@case("a message from another bot")
async def _(world: World) -> None:
    robot = {"id": 5550001, "is_bot": True, "first_name": "Robot", "username": "robot_bot"}
    chat = {"id": 5550001, "type": "private", "first_name": "Robot"}
    message = {**raw_message(chat, {"text": "/start kobenhavn-t1"}), "from": robot}
    await silent(world, lambda: push(world, message=message))


@case("update kinds the bot does not use")
async def _(world: World) -> None:
    user = pia(world).as_dict()

    async def others() -> None:
        await push(world, inline_query={"id": "iq1", "from": user, "query": "<b>", "offset": ""})
        answer = {"poll_id": "1", "user": user, "option_ids": [0], "option_persistent_ids": ["0"]}
        await push(world, poll_answer=answer)
        await push(
            world,
            message_reaction={
                "chat": private_chat(pia(world)),
                "message_id": 1,
                "user": user,
                "date": int(time.time()),
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
            },
        )

    await silent(world, others)


# -- edits ----------------------------------------------------------------------------------------


@case("edited messages of unknown inputs")
async def _(world: World) -> None:
    command = pia(world).send("/help")
    await world.harness.settle()
    sten = world.people[Who.STRANGER]
    stray = sten.send("/where")
    await world.harness.settle()

    async def edits() -> None:
        pia(world).edit(command["message"], "Nu er det et svar <b>")
        sten.edit(stray["message"], "Og mit også")
        await world.harness.settle()

    await silent(world, edits)


@case("an edit of a withdrawn input, and an edit without text")
async def _(world: World) -> None:
    sent = pia(world).send("Det trækker jeg tilbage")
    await world.harness.settle()
    await say(world, pia(world), "/undo")
    sticker = {**FILE, "width": 1, "height": 1, "type": "regular"}
    sticker |= {"is_animated": False, "is_video": False}
    message = raw_message(private_chat(pia(world)), {"sticker": sticker}, pia(world))
    stale_edit = {**message, "edit_date": int(time.time())}

    async def edits() -> None:
        pia(world).edit(sent["message"], "Ændret efter tilbagetrækning")
        await push(world, edited_message=stale_edit)

    await silent(world, edits)
    assert inputs(world)[-1][2:] == ("Det trækker jeg tilbage", "withdrawn")


# -- people: blocking, flooding, languages, names ------------------------------------------------


@case("a participant blocks and unblocks the bot")
async def _(world: World) -> None:
    person = pia(world)
    unreachable = "SELECT unreachable_at IS NOT NULL FROM participants WHERE user_id = ?"
    pushes = "SELECT key, status FROM outbox WHERE user_id = ? AND key LIKE 'push:%' ORDER BY id"
    before = world.harness.query(pushes, (person.id,))
    calls = len(world.api.calls)
    person.block()
    await world.harness.settle()
    assert [c.method for c in world.api.calls[calls:] if c.method != "getUpdates"] == []
    assert world.harness.query(unreachable, (person.id,)) == [(1,)]
    await say(world, host(world), "/next")  # the next item is not even tried
    assert world.harness.query(pushes, (person.id,)) == before
    person.unblock()
    await world.harness.settle()
    assert world.harness.query(unreachable, (person.id,)) == [(0,)]
    await say(world, host(world), "/next")
    # Back, she receives the item that is on (the one she missed), then the next as usual.
    after = world.harness.query(pushes, (person.id,))[len(before) :]
    assert [(key.split(":")[3], status) for key, status in after] == [
        ("break", "sent"),
        ("check_in", "sent"),
    ]


@case("a flood from one participant")
async def _(world: World) -> None:
    before = len(inputs(world))
    sent = [pia(world).send(f"Besked {n}") for n in range(30)]
    await world.harness.settle()
    stored = inputs(world)[before:]
    assert len(stored) == 20
    assert sum(acknowledged(world, update) for update in sent) == 20
    slow_down = sentence(world.texts, "da", "inputs.slow_down")
    warnings = [m for m in pia(world).inbox() if slow_down.match(text_of(m))]
    assert len(warnings) == 1


@case("a user with no language code")
async def _(world: World) -> None:
    ulla = world.api.user(830, "Ulla", language_code=None)
    await say(world, ulla, "/start")
    answered(world, ulla, "checkin.need_code", lang=world.event.default_language)
    await say(world, ulla, "/nonsense")
    answered(world, ulla, "fallback.unknown_command", lang=world.event.default_language)


@case("a user with an unsupported language code")
async def _(world: World) -> None:
    xena = world.api.user(831, "Xena", language_code="xx")
    await say(world, xena, "/help")
    answered(world, xena, "help.stranger", lang=world.event.default_language)
    ellen = world.api.user(832, "Ellen", language_code="en-GB")
    await say(world, ellen, "/help")
    answered(world, ellen, "help.stranger", lang="en")


@case("a display name with HTML, shown back escaped everywhere")
async def _(world: World) -> None:
    bob = world.api.user(833, "<b>Bob</b>", last_name="& <i>Co", language_code="da")
    name = "<b>Bob</b> & <i>Co"
    await check_in(world.harness, bob, "kobenhavn-t3")
    sent = bob.send("Bobs <u>svar</u>")
    await world.harness.settle()
    assert acknowledged(world, sent)
    card = card_for(world, "Bobs <u>svar</u>")
    assert name in card
    await say(world, pia(world), "/inputs")
    assert f"{name}: Bobs <u>svar</u>" in text_of(pia(world).last())
    # Starred, it reaches Aalborg at the cross-site check-in with its author's name as typed.
    [(input_id,)] = world.harness.query("SELECT id FROM inputs WHERE user_id = ?", (bob.id,))
    cards = [m for m in host(world).inbox() if "Bobs <u>svar</u>" in text_of(m)]
    host(world).press(cards[-1], f"v1:mod:star-{input_id}")
    await run_until(world.harness, world.clock, at(world.event, "14:41"), timedelta(minutes=5))
    relays = [text_of(m) for m in world.others["cy"].inbox() if "Bobs <u>svar</u>" in text_of(m)]
    assert relays
    assert name in relays[-1], relays[-1][:600]


@case("a broadcast, an ad-hoc question and a greeting with HTML in them")
async def _(world: World) -> None:
    text = "<b>Kaffe</b> & kage </i> <script>"
    await say(world, host(world), f"/broadcast {text}")
    assert text in text_of(host(world).last())
    host(world).press(host(world).last(), f"v1:bcast:send-{last_broadcast(world)}")
    await world.harness.settle()
    assert text in text_of(pia(world).last())
    await say(world, host(world), f"/prompt Hvad med {text}?")
    assert f"Hvad med {text}?" in text_of(pia(world).last())
    await say(world, pia(world), "/inputs")  # the question is the heading of the list
    assert f"Hvad med {text}?" in text_of(pia(world).last())
    await say(world, host(world), "/stats")
    answered(world, host(world), "stats.heading")
    await say(world, host(world), f"/relay Hilsen {text}")
    host(world).press(host(world).last(), f"v1:bcast:send-{last_broadcast(world)}")
    await world.harness.settle()
    assert f"Hilsen {text}" in text_of(world.others["cy"].last())


@case("inputs with HTML in /mine, /inputs and the withdrawal")
async def _(world: World) -> None:
    text = "<i>mit</i> & </b> svar"
    await say(world, pia(world), text)
    await say(world, pia(world), "/mine")
    assert text in text_of(pia(world).last())
    await say(world, pia(world), "/inputs")
    assert text in text_of(pia(world).last())
    await say(world, pia(world), "/undo")
    answered(world, pia(world), "inputs.withdrawn")
    assert text in text_of(pia(world).last())


# -- running a case -------------------------------------------------------------------------------


@pytest.fixture
async def world(
    settings: Settings, seed_event: Event, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    async with running_day(settings, seed_event, tmp_path_factory) as day:
        yield day


def test_the_corpus_has_at_least_forty_kinds() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", CASES)
async def test_hostile_input(world: World, name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    calls = len(world.api.calls)
    await CASES[name](world)
    await world.harness.settle()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    apologies = {
        world.texts(lang, key)
        for lang in world.texts.languages
        for key in ("errors.generic", "errors.storage")
    }
    shown = {text_of(m) for m in world.api.sent_messages()}
    assert not shown & apologies, "the error handler apologised"
    refused = [
        (call.method, call.description)
        for call in world.api.calls[calls:]
        if not call.ok
        and any(
            reason in (call.description or "")
            for reason in ("parse entities", "too long", "BUTTON_DATA_INVALID", "is empty")
        )
    ]
    assert refused == [], "the bot sent what Telegram refuses"
    failed = world.harness.query("SELECT kind, error FROM outbox WHERE status = 'failed'")
    assert failed == []
