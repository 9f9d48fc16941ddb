"""The bot's one HTTP server: uvicorn, in the bot's own event loop, beside PTB.

uvicorn parses HTTP (h11: chunked bodies, keep-alive, header size limits); this module only
runs it the way a bot needs:

- in the running loop, started and stopped by the bot's lifecycle, which owns SIGINT and
  SIGTERM (uvicorn's own signal handling is left out);
- on a socket bound here, so that a port in use fails with a clear OSError at start and port 0
  gives a free port (the tests);
- with a deadline for a request's headers: uvicorn waits as long as a client likes for the
  headers of its first request, so a client that opens connections and never finishes them
  would hold a file descriptor each, for ever. `HEADERS_TIMEOUT` closes them;
- without an access log (paths and client addresses of participants are nobody's business)
  and without touching the logging set-up of the bot;
- with room for every wall in every room: each open wall holds a connection (and a file
  descriptor) for as long as it is open, so the cap on connections is well above the 1,000
  live pages the walls are built for, and the process raises its soft open-file limit (often
  1,024) towards the hard one so that the cap, not EMFILE, is what a crowd meets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEADERS_TIMEOUT = 10.0  # seconds a client has to send a request's headers
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open
MAX_CONNECTIONS = 4000  # beyond this uvicorn answers 503 at once (counts this connection)
SPARE_FILES = 256  # file descriptors besides the connections: the database, Telegram, logs


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the HTTP server listens (a reverse proxy with TLS forwards to it)."""

    host: str = "127.0.0.1"
    port: int = 8443
    headers_timeout: float = HEADERS_TIMEOUT


class _HeadersDeadline(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for the headers of each request.

    The deadline starts when the connection opens, and again with the first bytes of a next
    request on a kept-alive connection; it ends when uvicorn has the headers (it then starts
    a request cycle) and closes the connection if it passes first."""

    headers_timeout = HEADERS_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_headers():
            if self._deadline is None:
                self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.headers_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            log.info("closed a connection that did not send its headers in time")
            self.transport.close()


class _InLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The bot's lifecycle owns the signals and stops this server itself.
        yield


class HttpServer:
    """`await start()`, then `port`, then `await stop()`."""

    def __init__(self, app: ASGIApp, listen: Listen) -> None:
        protocol = type(
            "HeadersDeadline", (_HeadersDeadline,), {"headers_timeout": listen.headers_timeout}
        )
        self._config = uvicorn.Config(
            app,
            http=protocol,
            lifespan="off",  # the bot opens and closes its resources itself
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE,
            limit_concurrency=MAX_CONNECTIONS,
            timeout_graceful_shutdown=5,
        )
        self._listen = listen
        self._server = _InLoopServer(self._config)
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            return self._listen.port
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        """Bind (an OSError if the address is taken) and serve until `stop()`."""
        enough_files(MAX_CONNECTIONS + SPARE_FILES)
        family = socket.AF_INET6 if ":" in self._listen.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._listen.host, self._listen.port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self._socket = sock
        self._task = asyncio.get_running_loop().create_task(self._server.serve([sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise OSError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def enough_files(wanted: int) -> int:
    """Raise this process's soft limit on open files to `wanted` (no further than the hard
    limit, which only an administrator can move); never lowers it. Returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d to %d", soft, target)
            return soft
        if target < wanted:
            log.warning(
                "open files are limited to %d: fewer pages than %d can be open",
                target,
                wanted - SPARE_FILES,
            )
    return target
