"""Walls benchmark: 1,000 live pages open on the real bot process while inputs arrive at 100/s.

    .venv/bin/python bench/walls_bench.py [--connections 1000] [--rate 100] [--seconds 30]
                                          [--burst 1000]

The bot runs as in production: `python -m bot run --listen 127.0.0.1 --port N` (this
checkout's code, PYTHONPATH set to it), polling the fake Bot API served on loopback by this
process (`FakeBotApiServer`). The event is the three-site test event moved to today with its
first group work open and `wall.inputs: all`, so every input is a change on its site's wall
(its newest inputs) and on the all-sites wall (the count of people who answered).
`PUBLIC_URL` is set, so a site's wall carries its QR code as it would in a room.

A separate load process (this script with `--clients`, raw asyncio protocols speaking HTTP/1.1
as a browser's EventSource does) opens the connections, spread evenly over the three sites'
walls and the all-sites wall, and waits until every one has its first frame. Then inputs are
fed at a fixed rate for a fixed time, each by a different checked-in participant, each at its
planned instant whatever the bot does; after a pause, a burst waits at the fake all at once.

- commit → arrival: each input's `created_at`, which the bot stamps inside the transaction
  that stores it, shortly before the commit (so the figure is, if anything, a few
  milliseconds too long), against the moment the load process received the first frame that
  shows it: for a page on its site's wall the first frame whose newest input is this one or a
  later one; for a page on the all-sites wall the first frame whose "answered" count of that
  site includes it (every input has its own author, so the k-th input of a site is answered
  number k). Both processes read the same system clock. p50/p99/max over every (input, page
  that shows it) pair; an input that never reaches a page by the end is counted as missing.
- intake: committed inputs/s = inputs committed over the time from the first being offered to
  the last committed, and latency from offered to committed, for the same load and duration
  without any page open (a fresh bot process and database) and with the pages open; beside
  it, without a target, the burst's committed inputs/s (what the bot can take).
- memory: the bot process's VmHWM (peak resident memory, from /proc) at the end of each run.

The bot's and the load process's CPU time (from /proc) while the feed runs are noted beside
the intake. Only loopback traffic; the whole run takes about 80 seconds at the defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import resource
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from common import (
    ROOT,
    TOKEN,
    Figure,
    TimedFakeBotApi,
    check,
    cli,
    emit,
    ms,
    percentile,
    rss_kib,
    seed_participants,
    wait_for,
)

from bot.eventfile import load_event
from bot.sandbox import FakeBotApiServer, today
from bot.sandbox.today import free_port

SECTION = "8. Walls"
THREE_SITES = ROOT / "tests" / "data" / "three_sites.yaml"
ALL = "*"  # the all-sites wall's key, as in bot.services.walls
FIRST = 300_000  # the participants' ids
TAIL = 5.0  # seconds after the last commit for the last frames to arrive


def event_now(folder: Path) -> Path:
    """The three-site event today, its first group work open for the next half hour."""
    return today.event_now(THREE_SITES, folder)


def more_files() -> None:
    """Raise this process's open-file limit to its hard limit (a child inherits it): 1,000
    connections need more than the usual soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------------------------
# The load process: the pages


INPUT_ID = re.compile(rb'data-input="(\d+)"')
FIGURE = re.compile(rb"<dd>(\d+)</dd>")


def site_value(frame: bytes) -> int:
    """The newest input a site's wall shows (0: none)."""
    start = frame.find(b'class="inputs"')
    if start < 0:
        return 0
    end = frame.find(b'class="arriving"', start)
    return max((int(n) for n in INPUT_ID.findall(frame, start, end)), default=0)


def all_value(frame: bytes) -> list[int]:
    """Per site column of the all-sites wall: how many answered the open question."""
    found = []
    for column in frame.split(b'<section class="column">')[1:]:
        figures = FIGURE.findall(column)
        found.append(int(figures[1]) if len(figures) > 1 else 0)
    return found


class Page(asyncio.Protocol):
    """One EventSource: GET the stream, note when each `state` frame arrived and what it shows."""

    def __init__(self, wall: str, path: str, port: int, seen: dict[bytes, int], values: list[Any]):
        self.wall = wall
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        ).encode()
        self._buffer = b""
        self._headers = True
        self._seen, self._values = seen, values
        self.frames: list[tuple[float, int]] = []  # (arrival, index into values)
        self.first = asyncio.get_running_loop().create_future()
        self.lost = False
        self.status = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._buffer + data
        if self._headers:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            self.status = buffer[: buffer.find(b"\r\n")]
            buffer, self._headers = buffer[end + 4 :], False
        while (end := buffer.find(b"\n\n")) >= 0:
            chunk, buffer = buffer[:end], buffer[end + 2 :]
            start = chunk.find(b"event: state")
            if start < 0:
                continue  # the retry line, a ping, or chunked encoding's framing
            frame = chunk[start:]
            index = self._seen.get(frame)
            if index is None:
                index = self._seen[frame] = len(self._values)
                self._values.append(site_value(frame) if self.wall != ALL else all_value(frame))
            self.frames.append((now, index))
            if not self.first.done():
                self.first.set_result(None)
        self._buffer = buffer

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.first.done():
            self.first.set_exception(ConnectionError(self.status.decode(errors="replace")))


def save(out: Path, pages: list[Page], values: list[Any]) -> None:
    lost = sum(1 for page in pages if page.lost)
    received = [{"wall": page.wall, "frames": page.frames} for page in pages]
    out.write_text(json.dumps({"values": values, "pages": received, "lost": lost}))


async def clients(port: int, paths: dict[str, str], count: int, out: Path) -> None:
    """Open `count` pages spread over the walls, say `ready`, and at `stop` on stdin write
    what each page received to `out`."""
    loop = asyncio.get_running_loop()
    seen: dict[bytes, int] = {}
    values: list[Any] = []
    walls = list(paths)
    pages: list[Page] = []
    transports = []

    def opener(n: int) -> Callable[[], Page]:
        wall = walls[n % len(walls)]
        return lambda: Page(wall, paths[wall], port, seen, values)

    for batch in range(0, count, 50):  # not 1,000 handshakes in the same instant
        made = await asyncio.gather(
            *(
                loop.create_connection(opener(n), "127.0.0.1", port)
                for n in range(batch, min(count, batch + 50))
            )
        )
        for transport, page in made:
            transports.append(transport)
            pages.append(page)
        await asyncio.gather(*(page.first for _, page in made))
    print(f"ready {len(pages)}", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    save(out, pages, values)
    for transport in transports:
        transport.close()


# --------------------------------------------------------------------------------------------
# The bot process and the feed


@dataclass
class Run:
    pages: int
    offered: dict[tuple[int, int], float] = field(default_factory=dict)  # (chat, msg) → time
    inputs: list[tuple[int, str, float, int, int]] = field(default_factory=list)
    peak_kib: int = 0
    cpu: float = 0.0  # the bot's CPU seconds per second while inputs arrived
    loader_cpu: float = 0.0  # the same for the load process
    received: dict[str, Any] | None = None
    burst: dict[tuple[int, int], float] = field(default_factory=dict)  # offered all at once
    burst_at: float = 0.0
    window: tuple[float, float] = (0.0, 0.0)  # the steady feed
    load: float = 0.0


def cpu_seconds(pid: int | None) -> float:
    """User and system CPU time of a process so far, from /proc (0 without one)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def committed(database: Path, count: int) -> None:
    with contextlib.suppress(TimeoutError):
        await wait_for(
            lambda: query(database, "SELECT COUNT(*) FROM inputs")[0][0] >= count,
            30,
            "every input committed",
        )


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as conn:
        return list(conn.execute(sql))


async def start_bot(
    folder: Path,
    database: Path,
    event_file: Path,
    api: TimedFakeBotApi,
    server: FakeBotApiServer,
    port: int,
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "EVENT_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=server.base_url,
        TELEGRAM_API_FILE_URL=server.base_file_url,
        DATABASE_PATH=str(database),
        EVENT_FILE=str(event_file),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),  # this checkout's code, whatever the venv's install points at
    )
    api.first_poll = None
    with (folder / "bot.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            env=env,
            cwd=folder,
            stdout=log,
            stderr=log,
        )
    await wait_for(lambda: api.first_poll or process.returncode is not None, 60, "the bot")
    if process.returncode is not None:
        raise RuntimeError(f"the bot stopped at start; see {folder / 'bot.log'}")
    return process


async def stop_bot(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def open_pages(
    database: Path, port: int, pages: int, out: Path
) -> asyncio.subprocess.Process:
    """The load process, once every page it opened has its first frame."""
    tokens = dict(query(database, "SELECT wall, token FROM wall_tokens"))
    paths = {wall: f"/wall/{token}/live" for wall, token in tokens.items()}
    loader = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--clients",
        json.dumps(paths),
        "--port",
        str(port),
        "--connections",
        str(pages),
        "--out",
        str(out),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert loader.stdout is not None
    line = await asyncio.wait_for(loader.stdout.readline(), 90)
    if not line.startswith(b"ready"):
        loader.kill()
        await loader.wait()
        raise RuntimeError(f"the load process did not open its pages: {line!r}")
    print(f"  {line.decode().split()[1]} pages open", flush=True)
    return loader


async def one_run(
    folder: Path,
    template: Path,
    event_file: Path,
    pages: int,
    rate: int,
    seconds: float,
    burst: int,
) -> Run:
    run = Run(pages)
    database = folder / f"walls-{pages}.sqlite3"
    shutil.copy(template, database)
    api = TimedFakeBotApi(TOKEN)
    port = free_port()
    run.load = os.getloadavg()[0]
    async with FakeBotApiServer(api) as server:
        process = await start_bot(folder, database, event_file, api, server, port)
        loader = None
        try:
            out = folder / "pages.json"
            if pages:
                loader = await open_pages(database, port, pages, out)
            steady = rate * int(seconds)
            people = [api.user(FIRST + n, f"Deltager {n}") for n in range(steady + burst)]
            begin = time.time() + 0.2
            cpu = cpu_seconds(process.pid), cpu_seconds(loader.pid if loader else None)
            for n, person in enumerate(people[:steady]):
                delay = begin + n / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                message = person.send(f"Input nummer {n}: vi prøver væggene af")["message"]
                run.offered[(message["chat"]["id"], message["message_id"])] = time.time()
            run.window = (begin, time.time())
            span = run.window[1] - begin
            run.cpu = (cpu_seconds(process.pid) - cpu[0]) / span
            run.loader_cpu = (cpu_seconds(loader.pid if loader else None) - cpu[1]) / span
            await committed(database, steady)
            await asyncio.sleep(TAIL)  # with or without pages, the same pause before the burst
            # Then what the bot can take: a burst, every input waiting at once (pages open).
            run.burst_at = time.time()
            for n, person in enumerate(people[steady:]):
                message = person.send(f"Input nummer {steady + n}: alle på én gang")["message"]
                run.burst[(message["chat"]["id"], message["message_id"])] = run.burst_at
            await committed(database, steady + burst)
            if loader is not None:
                assert loader.stdin is not None
                loader.stdin.write(b"stop\n")
                await loader.stdin.drain()
                await asyncio.wait_for(loader.wait(), 60)
                run.received = json.loads(out.read_text())
            _, run.peak_kib = rss_kib(process.pid)
        finally:
            if loader is not None and loader.returncode is None:
                loader.kill()
                await loader.wait()
            await stop_bot(process)
    for input_id, site, created, chat, message_id in query(
        database, "SELECT id, site_key, created_at, chat_id, message_id FROM inputs ORDER BY id"
    ):
        stamp = datetime.fromisoformat(created).timestamp()
        run.inputs.append((input_id, site, stamp, chat, message_id))
    return run


# --------------------------------------------------------------------------------------------
# Figures


@dataclass
class Intake:
    committed: int  # of the steady feed
    rate: float  # committed inputs/s of the steady feed
    latencies: list[float]  # offered → committed, steady feed
    burst: int  # of the burst, committed
    burst_rate: float  # committed inputs/s of the burst


def intake(run: Run) -> Intake:
    steady = [stamp for _, _, stamp, chat, mid in run.inputs if (chat, mid) in run.offered]
    latencies = [
        stamp - run.offered[(chat, mid)]
        for _, _, stamp, chat, mid in run.inputs
        if (chat, mid) in run.offered
    ]
    burst = [stamp for _, _, stamp, chat, mid in run.inputs if (chat, mid) in run.burst]
    rate = len(steady) / (max(steady) - min(run.offered.values())) if steady else 0.0
    burst_rate = len(burst) / (max(burst) - run.burst_at) if burst else 0.0
    return Intake(len(steady), rate, latencies, len(burst), burst_rate)


def arrivals(run: Run, sites: list[str]) -> tuple[list[float], int, int]:
    """Commit → arrival over every (input, page showing it); (delays, missing, pairs)."""
    assert run.received is not None
    values = run.received["values"]
    ordinal: dict[int, int] = {}
    counts = dict.fromkeys(sites, 0)
    for input_id, site, *_ in run.inputs:
        counts[site] += 1
        ordinal[input_id] = counts[site]
    delays: list[float] = []
    missing = pairs = 0
    for page in run.received["pages"]:
        wall, frames = page["wall"], page["frames"]
        times = [t for t, _ in frames]
        if wall == ALL:
            shown: dict[str, list[int]] = {site: [] for site in sites}  # running maximum per site
            for _, index in frames:
                counts_now = values[index]
                for n, site in enumerate(sites):
                    last = shown[site][-1] if shown[site] else 0
                    now = counts_now[n] if n < len(counts_now) else 0
                    shown[site].append(max(last, now))
        else:
            running: list[int] = []
            highest = 0
            for _, index in frames:
                highest = max(highest, values[index])
                running.append(highest)
        for input_id, site, stamp, chat, mid in run.inputs:
            if (chat, mid) not in run.offered:
                continue  # the burst after the steady feed: it measures the intake only
            if wall == ALL:
                series, wanted = shown[site], ordinal[input_id]
            elif wall == site:
                series, wanted = running, input_id
            else:
                continue  # another site's wall does not show it
            pairs += 1
            at = bisect_left(series, wanted)
            if at == len(series):
                missing += 1
            else:
                delays.append(times[at] - stamp)
    return delays, missing, pairs


async def measure(pages: int, rate: int, seconds: float, burst: int) -> list[Figure]:
    more_files()
    with tempfile.TemporaryDirectory(prefix="samtidig-walls-") as tmp:
        folder = Path(tmp)
        event_file = event_now(folder)
        event = load_event(event_file)
        sites = [site.key for site in event.sites]
        template = folder / "template.sqlite3"
        await seed_participants(template, event, rate * int(seconds) + burst, first=FIRST)
        print(f"  without pages: {rate}/s for {seconds:.0f} s, then {burst:,} at once", flush=True)
        alone = await one_run(folder, template, event_file, 0, rate, seconds, burst)
        print(f"  with {pages:,} pages: the same", flush=True)
        loaded = await one_run(folder, template, event_file, pages, rate, seconds, burst)
    base, busy = intake(alone), intake(loaded)
    delays, missing, pairs = arrivals(loaded, sites)
    assert loaded.received is not None
    p99 = percentile(delays, 0.99) if not missing else float("inf")
    slower = 1 - busy.rate / base.rate if base.rate else 1.0
    burst_slower = 1 - busy.burst_rate / base.burst_rate if base.burst_rate else 1.0
    peak = loaded.peak_kib / 1024
    on = f"{pages:,} pages, {rate} inputs/s"
    start, end = loaded.window
    frames = sum(
        1 for page in loaded.received["pages"] for t, _ in page["frames"] if start <= t <= end
    )
    return [
        Figure(
            SECTION,
            f"{on}: commit → arrival at every page showing it",
            f"p50 {ms(percentile(delays, 0.5))}, p99 {ms(percentile(delays, 0.99))}, "
            f"max {ms(max(delays, default=float('nan')))}",
            "p99 < 1 s",
            check(p99, "<", 1.0),
            f"{pairs:,} (input, page) pairs, {missing:,} never arrived; "
            f"{frames / pages / (end - start):.1f} frames a second per page; "
            f"{loaded.received['lost']} pages lost; load average {loaded.load:.2f}",
        ),
        Figure(
            SECTION,
            f"{on}: intake, committed inputs/s",
            f"{busy.rate:.1f}/s ({busy.committed:,} of {len(loaded.offered):,}); "
            f"without pages {base.rate:.1f}/s ({base.committed:,})",
            "<= 10% slower",
            check(slower, "<=", 0.10),
            f"{slower * 100:+.1f}% slower; offered → committed p99 "
            f"{ms(percentile(busy.latencies, 0.99))}, without pages "
            f"{ms(percentile(base.latencies, 0.99))}; the bot's CPU {loaded.cpu:.2f} s/s, "
            f"without pages {alone.cpu:.2f} s/s (the load process {loaded.loader_cpu:.2f} s/s)",
        ),
        Figure(
            SECTION,
            f"{pages:,} pages, a burst of {burst:,}: intake, committed inputs/s",
            f"{busy.burst_rate:.0f}/s ({busy.burst:,} of {burst:,}); "
            f"without pages {base.burst_rate:.0f}/s ({base.burst:,})",
            "",
            None,
            f"{burst_slower * 100:+.1f}% slower; no target (the issue's is the steady feed's): "
            "what the bot can take, every input waiting at once; moves with the machine's load",
        ),
        Figure(
            SECTION,
            f"{on}: peak resident memory of the bot",
            f"{peak:.0f} MiB",
            "< 250 MB",
            check(loaded.peak_kib * 1024 / 1e6, "<", 250),
            f"VmHWM; without pages {alone.peak_kib / 1024:.0f} MiB",
        ),
    ]


def main() -> None:
    parser = cli(__doc__)
    parser.add_argument("--connections", type=int, default=1000, help="pages to open")
    parser.add_argument("--rate", type=int, default=100, help="inputs per second")
    parser.add_argument("--seconds", type=float, default=30, help="how long inputs arrive")
    parser.add_argument("--burst", type=int, default=1000, help="inputs at once, after")
    parser.add_argument("--clients", help=argparse_hidden())
    parser.add_argument("--port", type=int, help=argparse_hidden())
    parser.add_argument("--out", type=Path, help=argparse_hidden())
    args = parser.parse_args()
    if args.clients:
        more_files()
        asyncio.run(clients(args.port, json.loads(args.clients), args.connections, args.out))
        return
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    emit(asyncio.run(measure(args.connections, args.rate, args.seconds, args.burst)), args.json)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
