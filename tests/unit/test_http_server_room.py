"""The HTTP server has room for the walls of a big event: 1,000 open live pages and more."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from web.server import MAX_CONNECTIONS, SPARE_FILES, HttpServer, Listen

PAGES = 1_000  # the live pages issue 16 asks the walls to carry at once


@contextlib.contextmanager
def open_files_limited_to(soft: int) -> Iterator[None]:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def _hard_limit() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1 << 30 if hard == resource.RLIM_INFINITY else hard


def held_open_app(release: asyncio.Event) -> Starlette:
    async def stream(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"event: state\ndata: open\n\n"
            await release.wait()

        return StreamingResponse(body(), media_type="text/event-stream")

    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/live", stream), Route("/hello", hello)])


async def first_bytes(port: int, path: str) -> tuple[asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    line = await reader.readline()
    return writer, line


@pytest.mark.skipif(
    _hard_limit() < MAX_CONNECTIONS + SPARE_FILES, reason="the hard open-file limit is lower"
)
async def test_the_server_raises_a_low_open_file_limit_to_what_its_connections_need() -> None:
    with open_files_limited_to(256):
        server = HttpServer(held_open_app(asyncio.Event()), Listen(port=0))
        await server.start()
        try:
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        finally:
            await server.stop()
    assert soft >= MAX_CONNECTIONS + SPARE_FILES


@pytest.mark.skipif(_hard_limit() < 2 * PAGES + SPARE_FILES, reason="too few open files allowed")
async def test_a_thousand_live_pages_stay_open_and_the_next_visitor_is_still_answered() -> None:
    release = asyncio.Event()
    server = HttpServer(held_open_app(release), Listen(port=0))
    await server.start()
    writers: list[asyncio.StreamWriter] = []
    try:
        for batch in range(0, PAGES, 100):
            opened = await asyncio.gather(
                *(first_bytes(server.port, "/live") for _ in range(batch, batch + 100))
            )
            writers += [writer for writer, _ in opened]
            assert {line for _, line in opened} == {b"HTTP/1.1 200 OK\r\n"}
        writer, line = await first_bytes(server.port, "/hello")
        writers.append(writer)
        assert line == b"HTTP/1.1 200 OK\r\n"
    finally:
        release.set()
        for writer in writers:
            writer.close()
        await server.stop()
