"""What the benchmarks share: figures, seeding, the instrumented fake and the loop monitor.

Every benchmark module prints its figures and, with `--json FILE`, writes them as a list of
`Figure` dicts for `bench/run.py`, which collects them into one table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.event import Event  # noqa: E402
from bot.models import CheckIn  # noqa: E402
from bot.sandbox import FakeBotApi  # noqa: E402
from bot.sandbox.fake_api import JsonDict  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.unit_of_work import SqliteUnitOfWork  # noqa: E402

TOKEN = "777777:BENCH-sandbox"  # noqa: S105 - the sandbox's own token, reaches nothing
FIRST_USER = 100_000


# --------------------------------------------------------------------------------------------
# Figures


@dataclass(frozen=True)
class Figure:
    """One line of the results table. `met` is None where the issue sets no target."""

    section: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None
    note: str = ""


def check(value: float, op: str, limit: float) -> bool:
    return value >= limit if op == ">=" else value < limit if op == "<" else value <= limit


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def cli(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser


def emit(figures: Iterable[Figure], json_path: Path | None) -> None:
    items = list(figures)
    for figure in items:
        verdict = "" if figure.met is None else ("met" if figure.met else "NOT MET")
        target = f"(target {figure.target})" if figure.target else ""
        note = f" [{figure.note}]" if figure.note else ""
        print(f"  {figure.name}: {figure.value} {target} {verdict}{note}".rstrip(), flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps([asdict(f) for f in items], ensure_ascii=False))


# --------------------------------------------------------------------------------------------
# The application's surroundings


def settings_for(database: Path, event_file: Path | None = None) -> Settings:
    extra: dict[str, Any] = {} if event_file is None else {"event_file": event_file}
    return Settings(
        _env_file=None,
        telegram_bot_token=SecretStr(TOKEN),
        database_path=database,
        **extra,
    )


def user_ids(count: int, first: int = FIRST_USER) -> list[int]:
    return list(range(first, first + count))


async def seed_participants(
    database: Path,
    event: Event,
    count: int,
    *,
    sites: Sequence[str] | None = None,
    first: int = FIRST_USER,
) -> list[int]:
    """`count` participants checked in (consent, site, table, role) with the storage layer,
    spread over `sites` (default: all of the event's) and their tables; ids from `first`."""
    keys = list(sites) if sites is not None else [s.key for s in event.sites]
    now = datetime.now(UTC)
    db = await Database.open(database)
    uow = SqliteUnitOfWork(db)
    ids = user_ids(count, first)
    try:
        async with uow.transaction():
            for n, user_id in enumerate(ids):
                site = event.site(keys[n % len(keys)])
                assert site is not None
                group = site.groups[(n // len(keys)) % len(site.groups)] if site.groups else None
                await uow.participants.upsert(user_id, user_id, f"Deltager {n}", now, "da")
                await uow.participants.record_consent(user_id, event.key, "bench", now)
                await uow.checkins.save(
                    CheckIn(
                        event.key,
                        user_id,
                        site.key,
                        group.key if group else None,
                        now,
                        now,
                        category_key="politician",
                        anonymous=False,
                    )
                )
    finally:
        await db.close()
    return ids


class TimedFakeBotApi(FakeBotApi):
    """The fake Bot API, noting when each update was handed to the bot (the moment a
    getUpdates answer carried it) and, for each message, when the bot answered it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed_out: dict[int, float] = {}  # update id → first getUpdates answer with it
        self.first_poll: float | None = None  # when the first getUpdates arrived

    async def _get_updates(self, request: Any) -> list[JsonDict]:
        if self.first_poll is None:
            self.first_poll = time.time()
        batch = await super()._get_updates(request)
        now = time.time()
        for update in batch:
            self.handed_out.setdefault(update["update_id"], now)
        return batch


def removing(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


class StallWatch:
    """How late a timer on this event loop fires: the longest stall of the loop while it
    runs (the same measurement as `bot.health.LoopMonitor`, at a finer tick)."""

    def __init__(self, tick: float = 0.01) -> None:
        self.tick = tick
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.longest = max(self.longest, time.perf_counter() - before - self.tick)

    def start(self) -> None:
        self.longest = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.longest


async def wait_for(condition: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := condition():
            return value
        await asyncio.sleep(0.01)
    raise TimeoutError(f"timed out after {within:.0f} s waiting for {what}")


def rss_kib(pid: int | None = None) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    fields = {
        line.split(":")[0]: int(line.split()[1])
        for line in status.splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }
    return fields["VmRSS"], fields["VmHWM"]
