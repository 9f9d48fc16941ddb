"""In-process transport that lets python-telegram-bot talk to a `FakeBotApi`.

PTB's own request pipeline (RequestData encoding, `BaseRequest` status and error mapping,
retries in `ext`) runs unchanged: only the socket is replaced.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.sandbox.fake_api import FakeBotApi, FaultKind, JsonDict, TransportFault, UploadedFile

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput

__all__ = ["FakeRequest"]

# PTB builds "{base_url}{token}/{method}", or puts the token wherever a base_url says {token};
# a well-formed token followed by the rest of the path covers both.
_TOKEN_PATH_RE = re.compile(r"(?P<token>\d+:[A-Za-z0-9_-]+)/(?P<rest>.*)$")
# A malformed token still has to reach the fake so it can answer like Telegram does.
_DEFAULT_PATH_RE = re.compile(r"/bot(?P<token>[^/]*)/(?P<rest>.*)$")


class FakeRequest(BaseRequest):
    """A `BaseRequest` that answers from a `FakeBotApi` instead of the network.

    Parameters are passed on exactly as they would travel over HTTP (strings, JSON-encoded
    where they are not strings; files as multipart parts), so the fake decodes them the way
    Telegram does. `latency` is a simulated round trip, half on the way out and half back,
    so the fake sees a send at the moment Telegram would.
    """

    __slots__ = ("_api", "_closed", "_latency", "_read_timeout")

    def __init__(
        self, api: FakeBotApi, *, latency: float = 0.0, read_timeout: float | None = 5.0
    ) -> None:
        if latency < 0:
            raise ValueError("latency cannot be negative")
        self._api = api
        self._latency = latency
        self._read_timeout = read_timeout
        self._closed = False

    @property
    def api(self) -> FakeBotApi:
        return self._api

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        self._closed = False

    async def shutdown(self) -> None:
        self._closed = True

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._closed:
            raise RuntimeError("This FakeRequest is not initialized!")
        # Only the read timeout matters in-process: it bounds the wait for Telegram's answer.
        timeout = read_timeout if isinstance(read_timeout, int | float) else None
        if read_timeout is BaseRequest.DEFAULT_NONE:
            timeout = self._read_timeout
        try:
            async with asyncio.timeout(timeout):
                return await self._exchange(url, method, request_data)
        except TimeoutError as error:
            raise TimedOut from error

    async def _exchange(
        self, url: str, method: str, request_data: RequestData | None
    ) -> tuple[int, bytes]:
        await asyncio.sleep(self._latency / 2)
        path = unquote(urlsplit(url).path)
        route = _TOKEN_PATH_RE.search(path) or _DEFAULT_PATH_RE.search(path)
        if route is None:
            status, body = 404, _not_found()
        elif method == "GET":  # PTB posts Bot API calls and GETs only files
            status, body = self._download(route.group("token"), route.group("rest"))
        else:
            # The method is the last segment: a base_url with {token} may add more after it.
            api_method = route.group("rest").rsplit("/", 1)[-1]
            params = request_data.json_parameters if request_data else {}
            files = _uploads(request_data.multipart_data) if request_data else {}
            try:
                status, answer = await self._api.call(
                    route.group("token"), api_method, params, files
                )
            except TransportFault as fault:
                await asyncio.sleep(self._latency / 2)
                raise _client_error(fault) from fault
            try:
                body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: escaped, as Telegram sends it
                body = json.dumps(answer).encode("ascii")
        await asyncio.sleep(self._latency / 2)
        return status, body

    def _download(self, token: str, rest: str) -> tuple[int, bytes]:
        # A base_file_url with {token} may put segments between the token and the file path,
        # so the longest stored path the URL ends with wins.
        segments = rest.split("/")
        answer = 404, _not_found()
        for start in range(len(segments)):
            answer = self._api.download(token, "/".join(segments[start:]))
            if answer[0] == 200:
                break
        return answer


def _uploads(multipart: dict[str, tuple[str, bytes | IO[bytes], str]]) -> dict[str, UploadedFile]:
    uploads: dict[str, UploadedFile] = {}
    for name, (file_name, content, mime_type) in multipart.items():
        data = content if isinstance(content, bytes) else content.read()
        uploads[name] = (file_name, data, mime_type)
    return uploads


def _client_error(fault: TransportFault) -> NetworkError:
    """What PTB's HTTPXRequest raises when the network does this to a request."""
    if fault.kind is FaultKind.TIMEOUT_AFTER:
        return TimedOut()
    return NetworkError(
        "httpx.RemoteProtocolError: Server disconnected without sending a response."
    )


def _not_found() -> bytes:
    body: JsonDict = {"ok": False, "error_code": 404, "description": "Not Found"}
    return json.dumps(body).encode("utf-8")
