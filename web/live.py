"""The walls' live streams: one render per wall per change, fanned out to every open page.

The hub listens to the in-process publication (`bot.services.live`). A change marks the
walls it touches; shortly after (`COALESCE`, so a burst of inputs costs one render), each
marked wall that someone has open is rendered once, as one server-sent-events frame, and the
same bytes go to every page on it. A page keeps only the latest frame: a slow client skips
states instead of piling them up. A page that (re)connects gets the current state at once.

Every `REFRESH` seconds the open walls are rendered again (sent only if they changed: the
clock moved an item on, a count changed that no event names) and their tokens are checked,
so a rotation from the command line, in another process, closes the pages on the old link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

from bot.services.live import InputChange, InputChanged, LiveEvent, WallsRotated
from bot.services.walls import ALL_SITES

log = logging.getLogger(__name__)

COALESCE = 0.05  # seconds: changes in this window are rendered together
REFRESH = 10.0  # seconds between renders of every open wall, sent only when changed
PING = 15.0  # seconds between comments on a quiet stream (proxies, dead connections)
RETRY_MS = 1000  # how soon a browser reconnects after the stream broke

Render = Callable[[str, str], Awaitable[str]]  # (wall, lang) → the wall's HTML fragment
StillOpen = Callable[[str], Awaitable[bool]]  # a page's credential → whether it still counts


def frame(html: str, event: str = "state") -> bytes:
    """One server-sent event; every line of the fragment is a `data:` line."""
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


GONE = frame("", "gone")


@dataclass(eq=False)
class Viewer:
    """One open page."""

    wall: str
    lang: str
    token: str
    latest: bytes | None = None
    closed: bool = False
    gone: bool = False  # closed because its link was rotated
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, data: bytes) -> None:
        self.latest = data
        self.changed.set()

    def close(self, *, gone: bool) -> None:
        self.closed, self.gone = True, gone
        self.changed.set()


class WallHub:
    def __init__(
        self,
        render: Render,
        tokens: Callable[[], Awaitable[dict[str, str]]],
        *,
        coalesce: float = COALESCE,
        refresh: float = REFRESH,
        ping: float = PING,
    ) -> None:
        self._render = render
        self._tokens = tokens
        self._coalesce, self._refresh, self._ping = coalesce, refresh, ping
        self._viewers: dict[tuple[str, str], set[Viewer]] = {}
        self._frames: dict[tuple[str, str], bytes] = {}  # the latest state of each open wall
        self._dirty: set[str] = set()
        self._flush: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        # Other live pages (the console): key prefix → their renderer and their check, done
        # with the walls' tokens every `refresh` seconds.
        self._views: dict[str, tuple[Render, StillOpen]] = {}
        self.renders = 0  # walls rendered since start (a figure for tests and benchmarks)
        # Set by whoever subscribes `on_event` to the publication: undone by `stop()`.
        self.unsubscribe: Callable[[], None] = lambda: None

    # -- lifecycle -------------------------------------------------------------------------

    def add_view(self, prefix: str, render: Render, still_open: StillOpen) -> None:
        """Pages whose key starts with `prefix` (followed by a site key or ALL_SITES) are
        rendered by `render`; their credential (the viewer's token) is checked by
        `still_open` instead of the walls' tokens."""
        self._views[prefix] = (render, still_open)

    def _view(self, wall: str) -> tuple[Render, StillOpen] | None:
        return next((v for p, v in self._views.items() if wall.startswith(p)), None)

    def start(self) -> None:
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def stop(self) -> None:
        """Close every open stream (the server can then stop without waiting for them)."""
        self.unsubscribe()
        for task in (self._refresher, self._flush):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for viewers in self._viewers.values():
            for viewer in viewers:
                viewer.close(gone=False)

    @property
    def open_pages(self) -> int:
        return sum(len(viewers) for viewers in self._viewers.values())

    # -- what changed ------------------------------------------------------------------------

    def on_event(self, event: LiveEvent) -> None:
        """A committed change (called synchronously by the publication): note, never wait."""
        if isinstance(event, WallsRotated):
            wall = event.site_key or ALL_SITES
            for key in [k for k in self._viewers if k[0] == wall]:
                for viewer in self._viewers.pop(key):
                    viewer.close(gone=True)
                self._frames.pop(key, None)
            return
        if isinstance(event, InputChanged) and event.change is InputChange.ADDED:
            # A new input shows on its own site's wall and the all-sites figures only; any
            # other change may touch a highlight that every wall shows.
            touched = {event.site_key or ALL_SITES, ALL_SITES}
            touched |= {prefix + wall for prefix in self._views for wall in list(touched)}
        else:
            touched = {wall for wall, _ in self._viewers}
        self._mark(touched)

    def _mark(self, walls: set[str]) -> None:
        self._dirty |= walls
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._render_dirty())

    async def _render_dirty(self) -> None:
        # What is marked while the walls render is rendered next, by this task: `_mark` starts
        # no second one while it runs, and the last change of a burst must not wait for
        # another change (or the refresh) to be shown.
        while self._dirty:
            await asyncio.sleep(self._coalesce)
            dirty, self._dirty = self._dirty, set()
            for key in [k for k in self._viewers if k[0] in dirty]:
                await self._update(key)

    async def _update(self, key: tuple[str, str]) -> None:
        view = self._view(key[0])
        render = view[0] if view is not None else self._render
        try:
            data = frame(await render(*key))
        except Exception:
            log.exception("a wall could not be rendered")
            return
        self.renders += 1
        if self._frames.get(key) == data:
            return
        self._frames[key] = data
        for viewer in self._viewers.get(key, ()):
            viewer.send(data)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            try:
                tokens = await self._tokens()
            except Exception:
                log.exception("the walls' tokens could not be read")
                continue
            for viewers in list(self._viewers.values()):
                for viewer in list(viewers):
                    if not await self._still_open(viewer, tokens):
                        viewers.discard(viewer)
                        viewer.close(gone=True)
            self._mark({wall for wall, _ in self._viewers})

    async def _still_open(self, viewer: Viewer, tokens: dict[str, str]) -> bool:
        view = self._view(viewer.wall)
        if view is None:
            return tokens.get(viewer.wall) == viewer.token
        try:
            return await view[1](viewer.token)
        except Exception:
            log.exception("a live page's session could not be checked")
            return True

    # -- one open page -----------------------------------------------------------------------

    async def stream(self, wall: str, lang: str, token: str) -> AsyncGenerator[bytes]:
        """The frames of one page: the current state first, then each change, until the
        page goes away or its link is rotated."""
        key = (wall, lang)
        viewer = Viewer(wall, lang, token)
        self._viewers.setdefault(key, set()).add(viewer)
        try:
            if key not in self._frames:
                await self._update(key)
            # What changes while a frame is on its way is kept for the next one.
            viewer.changed.clear()
            viewer.latest = None
            yield f"retry: {RETRY_MS}\n\n".encode() + self._frames.get(key, b"")
            while True:
                try:
                    # A deadline on this task, not `wait_for`'s task and timer per frame: with
                    # 1,000 pages open that was a task for every page at every change.
                    async with asyncio.timeout(self._ping):
                        await viewer.changed.wait()
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                viewer.changed.clear()
                if viewer.closed:
                    if viewer.gone:
                        yield GONE
                    return
                if viewer.latest is not None:
                    data, viewer.latest = viewer.latest, None
                    yield data
        finally:
            viewers = self._viewers.get(key)
            if viewers is not None:
                viewers.discard(viewer)
                if not viewers:
                    del self._viewers[key]
                    self._frames.pop(key, None)
