"""`FakeBotApi` served over real HTTP/1.1 on a loopback address.

Built on `asyncio.start_server` only, so the bot's real HTTP client (httpx via PTB's
`HTTPXRequest`) is exercised end to end: connection pooling, keep-alive, multipart uploads and
file downloads. A small control API under `/_control/` lets another process play the users.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qsl, unquote, unquote_to_bytes, urlsplit

from bot.sandbox.fake_api import (
    ApiCall,
    FakeBotApi,
    FakeUser,
    FaultKind,
    JsonDict,
    TransportFault,
    UploadedFile,
)

__all__ = ["FakeBotApiServer"]

_LOGGER = logging.getLogger(__name__)

_MAX_HEADER_LINES: Final = 100
_MAX_LINE_BYTES: Final = 64 * 1024
# A little above Telegram's 50 MB upload limit, so the fake can answer 413 itself.
_MAX_BODY_BYTES: Final = 60 * 1024 * 1024
_METHOD_ROUTE: Final = re.compile(r"/bot(?P<token>[^/]*)/(?P<method>[^/]+)")
_FILE_ROUTE: Final = re.compile(r"/file/bot(?P<token>[^/]*)/(?P<path>.+)")
_PARAM_RE: Final = re.compile(
    r';\s*(?P<key>[^=;\s]+)\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^;]*))'
)


class _HttpError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    keep_alive: bool


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, payload: Any) -> _Response:
        try:
            return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate: escaped, as Telegram would send it
            return cls(status, json.dumps(payload).encode("ascii"))

    @classmethod
    def error(cls, status: int, description: str) -> _Response:
        return cls.json(status, {"ok": False, "error_code": status, "description": description})


class FakeBotApiServer:
    """Serve `api` on http://host:port; only loopback addresses are accepted.

    Point PTB at it with `Bot(token, base_url=server.base_url,
    base_file_url=server.base_file_url)`.
    """

    def __init__(self, api: FakeBotApi, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api = api
        self._host = _loopback_host(host)
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the server is already running")
        self._server = await asyncio.start_server(
            self._serve_connection, self._host, self._port, limit=_MAX_LINE_BYTES
        )
        self._port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("fake Bot API listening on %s", self.origin)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Python 3.11's wait_closed does not wait for open connections; end them ourselves.
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    @property
    def port(self) -> int:
        return self._port

    @property
    def origin(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        """PTB's base_url: it appends the token, then "/<method>"."""
        return f"{self.origin}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.origin}/file/bot"

    # -- connections ------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._serve_requests(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing left to answer
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            try:
                request = await _read_request(reader, writer)
            except _HttpError as error:
                await _write(writer, _Response.error(error.status, error.description), False)
                return
            if request is None:
                return
            try:
                response = await self._respond(request)
            except TransportFault as fault:
                if fault.kind is FaultKind.TIMEOUT_AFTER:
                    # Keep the connection silent until the client gives up on it.
                    while await reader.read(_MAX_LINE_BYTES):
                        pass
                return  # closing without an answer is the dropped connection
            except Exception:
                # A bug in the fake must show up as a loud 500, never as a silent hang.
                _LOGGER.exception("fake Bot API failed on %s %s", request.method, request.path)
                response = _Response.error(500, "Internal Server Error")
            await _write(writer, response, request.keep_alive)
            if not request.keep_alive:
                return

    # -- routing ----------------------------------------------------------------------------

    async def _respond(self, request: _Request) -> _Response:
        path = request.path
        if path.startswith("/_control/"):
            return await self._control(request)
        if match := _FILE_ROUTE.fullmatch(path):
            return self._download(request, unquote(match["token"]), unquote(match["path"]))
        if match := _METHOD_ROUTE.fullmatch(path):
            return await self._api_call(request, unquote(match["token"]), unquote(match["method"]))
        return _Response.error(404, "Not Found")

    def _download(self, request: _Request, token: str, file_path: str) -> _Response:
        if request.method != "GET":
            return _Response.error(405, "Method Not Allowed")
        status, content = self.api.download(token, file_path)
        kind = "application/octet-stream" if status == 200 else "application/json"
        return _Response(status, content, kind)

    async def _api_call(self, request: _Request, token: str, method: str) -> _Response:
        if request.method not in {"GET", "POST"}:
            return _Response.error(405, "Method Not Allowed")
        try:
            params, files = _parameters(request)
        except _HttpError as error:
            return _Response.error(error.status, error.description)
        status, answer = await self.api.call(token, method, params, files)
        return _Response.json(status, answer)

    async def _control(self, request: _Request) -> _Response:
        """Drive the fake from another process: play users, read what the bot did."""
        action = request.path.removeprefix("/_control/")
        query = dict(parse_qsl(request.query))
        try:
            if request.method == "GET":
                return _Response.json(
                    200, {"ok": True, "result": self._control_read(action, query)}
                )
            if request.method == "POST":
                data = _json_object(request.body) if request.body else {}
                return _Response.json(200, {"ok": True, "result": self._control_act(action, data)})
        except (KeyError, TypeError, ValueError, LookupError) as error:
            return _Response.error(400, f"Bad Request: {error}")
        return _Response.error(405, "Method Not Allowed")

    def _control_read(self, action: str, query: Mapping[str, str]) -> Any:
        if action == "messages":
            chat_id = int(query["chat_id"]) if "chat_id" in query else None
            return self.api.sent_messages(chat_id)
        if action == "calls":
            method = query.get("method")
            calls = self.api.calls_to(method) if method else self.api.calls
            return [_call_json(call) for call in calls]
        if action == "updates":
            return self.api.pending_updates()
        raise LookupError(f"unknown control endpoint {action!r}")

    def _control_act(self, action: str, data: Mapping[str, Any]) -> Any:
        if action == "fail":
            self.api.fail_next(
                str(data["method"]),
                error_code=int(data["error_code"]),
                description=data.get("description"),
                retry_after=data.get("retry_after"),
                times=int(data.get("times", 1)),
                chat_id=data.get("chat_id"),
            )
            return True
        if action == "send":
            person = self._person(data)
            if "chat_id" in data and int(data["chat_id"]) != person.id:
                group = self.api.group(int(data["chat_id"]), str(data.get("title", "Group")))
                return group.send(person, str(data["text"]))
            return person.send(str(data["text"]))
        person = self.api.existing_user(int(data["user_id"]))
        if action == "press":
            chat_id = int(data.get("chat_id", person.id))
            message = self.api.message(chat_id, int(data["message_id"]))
            return person.press(message, str(data["callback_data"]))
        if action == "block":
            return person.block()
        if action == "unblock":
            return person.unblock()
        raise LookupError(f"unknown control endpoint {action!r}")

    def _person(self, data: Mapping[str, Any]) -> FakeUser:
        """The sender of a control message; details not given stay as they were."""
        user_id = int(data["user_id"])
        first_name, username = f"User {user_id}", None
        language: str | None = "da"
        with contextlib.suppress(LookupError):
            known = self.api.existing_user(user_id)
            first_name, username = known.first_name, known.username
            language = known.language_code
        return self.api.user(
            user_id,
            str(data.get("first_name") or first_name),
            language_code=data.get("language_code", language),
            username=data.get("username", username),
        )


# -- HTTP/1.1 parsing -----------------------------------------------------------------------


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> _Request | None:
    """One request from the connection, or None when the client closed it cleanly."""
    try:
        line = await reader.readline()
    except ValueError:  # the line is longer than the reader's limit
        raise _HttpError(414, "URI Too Long") from None
    if not line:
        return None
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _HttpError(400, "Bad Request")
    method, target, version = parts
    headers = await _read_headers(reader)
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await _read_body(reader, headers)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
    split = urlsplit(target)
    return _Request(method.upper(), split.path, split.query, headers, body, keep_alive)


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        try:
            line = await reader.readline()
        except ValueError:
            raise _HttpError(431, "Request Header Fields Too Large") from None
        if line in {b"\r\n", b"\n"}:
            return headers
        if not line:
            raise asyncio.IncompleteReadError(line, None)
        name, separator, value = line.decode("latin-1").partition(":")
        if not separator:
            raise _HttpError(400, "Bad Request")
        headers[name.strip().lower()] = value.strip()
    raise _HttpError(431, "Request Header Fields Too Large")


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _HttpError(400, "Bad Request") from None
    if length < 0:
        raise _HttpError(400, "Bad Request")
    if length > _MAX_BODY_BYTES:
        raise _HttpError(413, "Request Entity Too Large")
    return await reader.readexactly(length) if length else b""


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readline()
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            raise _HttpError(400, "Bad Request") from None
        if size == 0:
            while (await reader.readline()) not in {b"\r\n", b"\n", b""}:
                pass  # trailers carry nothing the fake needs
            return b"".join(chunks)
        total += size
        if total > _MAX_BODY_BYTES:
            raise _HttpError(413, "Request Entity Too Large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _write(writer: asyncio.StreamWriter, response: _Response, keep_alive: bool) -> None:
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = "Unknown"
    head = (
        f"HTTP/1.1 {response.status} {phrase}\r\n"
        "Server: samtidig-sandbox\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + response.body)
    await writer.drain()


# -- request bodies -------------------------------------------------------------------------


def _parameters(request: _Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Parameters from the query string and the body, as Telegram accepts them."""
    params: dict[str, Any] = dict(parse_qsl(request.query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    content_type, options = _header_value(request.headers.get("content-type", ""))
    if not request.body:
        return params, files
    if content_type == "application/json":
        params.update(_json_object(request.body))
    elif content_type == "application/x-www-form-urlencoded":
        text = request.body.decode("utf-8", "replace")
        params.update(parse_qsl(text, keep_blank_values=True))
    elif content_type == "multipart/form-data":
        boundary = options.get("boundary")
        if not boundary:
            raise _HttpError(400, "Bad Request: multipart boundary is missing")
        for name, file_name, mime, content in _multipart(request.body, boundary.encode("latin-1")):
            if file_name is None:
                params[name] = content.decode("utf-8", "replace")
            else:
                files[name] = (file_name, content, mime)
    else:
        raise _HttpError(400, f"Bad Request: unsupported Content-Type {content_type!r}")
    return params, files


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise _HttpError(400, "Bad Request: can't parse JSON encoded request") from None
    if not isinstance(value, dict):
        raise _HttpError(400, "Bad Request: JSON request must be an object")
    return value


def _header_value(header: str) -> tuple[str, dict[str, str]]:
    """Split `type/sub; key="value"` into the lower-cased value and its parameters.

    Quoted values follow HTML5 form encoding, which httpx uses for file names: a quote is
    sent as %22 and the rest of the text as UTF-8.
    """
    value, _, rest = header.partition(";")
    options: dict[str, str] = {}
    for match in _PARAM_RE.finditer(";" + rest):
        key = match["key"].lower()
        if match["quoted"] is not None:
            raw = re.sub(r"\\(.)", r"\1", match["quoted"])
            raw = raw.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
        else:
            raw = match["bare"].strip()
        if key.endswith("*"):
            # RFC 5987: charset'language'percent-encoded
            charset, _, encoded = raw.partition("'")
            raw = unquote_to_bytes(encoded.partition("'")[2]).decode(charset or "utf-8", "replace")
            key = key[:-1]
        options[key] = raw
    return value.strip().lower(), options


def _multipart(body: bytes, boundary: bytes) -> list[tuple[str, str | None, str, bytes]]:
    """Parts of a multipart/form-data body as (name, file name, MIME type, content)."""
    delimiter = b"--" + boundary
    start = body.find(delimiter)
    if start < 0:
        raise _HttpError(400, "Bad Request: malformed multipart body")
    parts: list[tuple[str, str | None, str, bytes]] = []
    position = start + len(delimiter)
    while not body.startswith(b"--", position):
        header_end = body.find(b"\r\n\r\n", position)
        part_end = body.find(b"\r\n" + delimiter, header_end)
        if header_end < 0 or part_end < 0:
            raise _HttpError(400, "Bad Request: malformed multipart body")
        headers: dict[str, str] = {}
        for line in body[position:header_end].decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip():
                headers[name.strip().lower()] = value.strip()
        disposition, options = _header_value(headers.get("content-disposition", ""))
        if disposition == "form-data" and "name" in options:
            mime = headers.get("content-type", "application/octet-stream")
            content = body[header_end + 4 : part_end]
            parts.append((options["name"], options.get("filename"), mime, content))
        position = part_end + 2 + len(delimiter)
    return parts


def _call_json(call: ApiCall) -> JsonDict:
    data: JsonDict = dataclasses.asdict(call)
    data["fault"] = call.fault.value if call.fault else None
    return data


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"  # one address, so port 0 cannot bind IPv4 and IPv6 differently
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"the fake Bot API binds to loopback IP addresses only, not {host!r}"
        ) from None
    if not address.is_loopback:
        raise ValueError(f"the fake Bot API binds to loopback addresses only, not {host!r}")
    return str(address)
