"""The fake over real HTTP on loopback, with PTB's default HTTPXRequest as the client."""

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.sandbox import FakeBotApi, FakeBotApiServer, FakeUser


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; loopback traffic must never be sent anywhere else."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def server(api: FakeBotApi) -> AsyncIterator[FakeBotApiServer]:
    async with FakeBotApiServer(api) as running:
        yield running


@pytest.fixture
async def http_bot(api: FakeBotApi, server: FakeBotApiServer) -> AsyncIterator[Bot]:
    async with Bot(
        api.token, base_url=server.base_url, base_file_url=server.base_file_url
    ) as real_bot:
        yield real_bot


@pytest.fixture
async def client(server: FakeBotApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.origin, trust_env=False) as http:
        yield http


async def test_get_me_over_loopback_http(
    api: FakeBotApi, server: FakeBotApiServer, http_bot: Bot
) -> None:
    me = await http_bot.get_me()

    assert (me.id, me.username) == (123456, "samtidig_bot")
    assert server.base_url == f"http://127.0.0.1:{server.port}/bot"
    assert server.port > 0
    assert [call.method for call in api.calls] == ["getMe", "getMe"]


async def test_a_document_uploaded_as_multipart_downloads_back_byte_for_byte(
    api: FakeBotApi, http_bot: Bot, ana: FakeUser
) -> None:
    content = bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n"
    name = 'rapport "endelig" æøå.bin'

    sent = await http_bot.send_document(ana.id, content, filename=name, caption="Eksport")

    assert sent.document is not None
    assert sent.document.file_name == name
    assert sent.caption == "Eksport"
    assert api.calls_to("sendDocument")[0].files == {"document": name}
    telegram_file = await http_bot.get_file(sent.document.file_id)
    assert telegram_file.file_path is not None
    assert telegram_file.file_path.startswith(f"{http_bot.base_file_url}/documents/")
    assert bytes(await telegram_file.download_as_bytearray()) == content
    assert api.downloads == [api.files[sent.document.file_id].file_path]


async def test_long_poll_over_http_wakes_on_a_message_and_expires_empty(
    http_bot: Bot, ana: FakeUser, long_poll_waiting: asyncio.Event
) -> None:
    [start] = await http_bot.get_updates()
    long_poll_waiting.clear()
    poll = asyncio.create_task(http_bot.get_updates(offset=start.update_id + 1, timeout=5))
    await asyncio.wait_for(long_poll_waiting.wait(), 5)
    ana.send("hej")

    woken = await poll
    began = time.monotonic()
    expired = await http_bot.get_updates(
        offset=woken[-1].update_id + 1, timeout=dt.timedelta(seconds=0.2)
    )

    assert [u.message.text for u in woken if u.message] == ["hej"]
    assert expired == ()
    assert time.monotonic() - began >= 0.15


async def test_telegram_errors_map_to_ptb_exceptions_over_http(
    api: FakeBotApi, server: FakeBotApiServer, http_bot: Bot, ana: FakeUser
) -> None:
    with pytest.raises(BadRequest, match="Message is too long"):
        await http_bot.send_message(ana.id, "x" * 4097)
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await http_bot.send_message(
            ana.id,
            "Vælg",
            reply_markup=InlineKeyboardMarkup.from_button(
                InlineKeyboardButton("x", callback_data="x" * 65)
            ),
        )
    api.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await http_bot.send_message(ana.id, "Hej")
    assert caught.value.retry_after == dt.timedelta(seconds=3)
    api.fail_next("sendMessage", error_code=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await http_bot.send_message(ana.id, "Hej")
    ana.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await http_bot.send_message(ana.id, "Hej")
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with Bot("123456:WRONG-token", base_url=server.base_url):
            pass
    assert ana.inbox() == []


async def test_transport_faults_look_like_a_broken_network(
    api: FakeBotApi, server: FakeBotApiServer, ana: FakeUser
) -> None:
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(api.token, base_url=server.base_url, request=request) as impatient:
        api.drop_next("sendMessage", after_accept=True)
        with pytest.raises(NetworkError, match="RemoteProtocolError"):
            await impatient.send_message(ana.id, "1")
        api.time_out_next("sendMessage")
        with pytest.raises(TimedOut):
            await impatient.send_message(ana.id, "2")
        await impatient.send_message(ana.id, "3")  # the pool recovers from both

    assert [m["text"] for m in ana.inbox()] == ["1", "2", "3"]


async def test_the_control_api_plays_a_user_and_reports_the_bot(
    api: FakeBotApi, http_bot: Bot, client: httpx.AsyncClient
) -> None:
    sent = await client.post(
        "/_control/send",
        json={"user_id": 7, "first_name": "Ida", "language_code": "en", "text": "/start"},
    )
    assert sent.status_code == 200
    [update] = await http_bot.get_updates()
    assert update.message is not None
    assert update.message.from_user is not None
    assert (update.message.text, update.message.from_user.language_code) == ("/start", "en")

    keyboard = InlineKeyboardMarkup.from_button(InlineKeyboardButton("Ja", callback_data="y"))
    message = await http_bot.send_message(7, "Kommer du?", reply_markup=keyboard)
    press = await client.post(
        "/_control/press",
        json={"user_id": 7, "message_id": message.message_id, "callback_data": "y"},
    )
    assert press.json()["result"]["callback_query"]["data"] == "y"

    messages = (await client.get("/_control/messages", params={"chat_id": 7})).json()["result"]
    assert [m["text"] for m in messages] == ["Kommer du?"]
    calls = (await client.get("/_control/calls", params={"method": "sendMessage"})).json()
    assert [(c["method"], c["status"]) for c in calls["result"]] == [("sendMessage", 200)]
    assert calls["result"][0]["params"]["reply_markup"] == keyboard.to_dict()
    assert api.existing_user(7).first_name == "Ida"

    unknown = await client.post("/_control/press", json={"user_id": 99, "message_id": 1})
    assert unknown.status_code == 400
    assert unknown.json()["ok"] is False


async def test_the_control_api_injects_faults(
    http_bot: Bot, client: httpx.AsyncClient, ana: FakeUser
) -> None:
    await client.post(
        "/_control/fail", json={"method": "sendMessage", "error_code": 429, "retry_after": 2}
    )

    with pytest.raises(RetryAfter):
        await http_bot.send_message(ana.id, "Hej")


async def test_raw_requests_in_every_body_encoding_reach_the_api(
    api: FakeBotApi, client: httpx.AsyncClient, ana: FakeUser
) -> None:
    base = f"/bot{api.token}"
    as_form = await client.post(f"{base}/sendMessage", data={"chat_id": str(ana.id), "text": "1"})
    as_json = await client.post(f"{base}/SENDMESSAGE", json={"chat_id": ana.id, "text": "2"})
    as_query = await client.get(f"{base}/sendMessage", params={"chat_id": ana.id, "text": "3"})

    assert [r.status_code for r in (as_form, as_json, as_query)] == [200, 200, 200]
    assert [m["text"] for m in ana.inbox()] == ["1", "2", "3"]
    assert [c.params["chat_id"] for c in api.calls_to("sendMessage")] == [ana.id] * 3

    missing = await client.get("/nowhere")
    no_file = await client.get(f"/file/bot{api.token}/documents/file_404.txt")
    broken = await client.post(
        f"{base}/sendMessage", content=b"{", headers={"content-type": "application/json"}
    )
    assert (missing.status_code, missing.json()["description"]) == (404, "Not Found")
    assert no_file.status_code == 404
    assert broken.status_code == 400


async def test_keep_alive_serves_many_requests_on_one_connection(
    api: FakeBotApi, server: FakeBotApiServer
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    request = f"GET /bot{api.token}/getMe HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    try:
        for _ in range(3):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = json.loads(await reader.readexactly(length))
            assert head.startswith(b"HTTP/1.1 200 OK")
            assert body["result"]["username"] == "samtidig_bot"
    finally:
        writer.close()
        await writer.wait_closed()
    assert len(api.calls_to("getMe")) == 3


async def test_stopping_the_server_ends_a_waiting_long_poll(
    api: FakeBotApi, long_poll_waiting: asyncio.Event
) -> None:
    server = FakeBotApiServer(api)
    await server.start()
    async with Bot(api.token, base_url=server.base_url) as polling_bot:
        poll = asyncio.create_task(polling_bot.get_updates(timeout=10))
        await asyncio.wait_for(long_poll_waiting.wait(), 5)
        await server.stop()
        with pytest.raises(NetworkError):
            await poll


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])  # noqa: S104
def test_the_server_refuses_to_bind_beyond_loopback(api: FakeBotApi, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeBotApiServer(api, host=host)


async def test_ipv6_and_localhost_loopback_are_accepted(api: FakeBotApi) -> None:
    assert FakeBotApiServer(api, host="localhost").origin.startswith("http://127.0.0.1:")
    assert FakeBotApiServer(api, host="::1").origin.startswith("http://[::1]:")
