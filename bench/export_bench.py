"""Export benchmark: a synthetic seed event with N inputs (default 100,000), exported in every
format the way `/export` does it (a worker thread, its own loop and read-only connection),
while the caller's event loop measures how late its own timers fire.

    .venv/bin/python bench/export_bench.py [--inputs 100000] [--event FILE] [--keep DIR]

Prints the seconds and size of each file, the longest stall of the caller's loop, and how
much the process's peak memory grew during the export (streaming keeps it flat as N grows).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import yaml

from bot.eventfile import SEED_EVENT, load_event
from bot.export.runner import Written, export_off_loop
from bot.i18n import Catalogue
from storage.db import Database
from storage.exports import open_export_source

PEOPLE_PER_SITE = 600


def answers() -> list[str]:
    texts: list[str] = []
    for lang in ("da", "en"):
        path = resources.files("prompts") / "answers" / f"{lang}.yaml"
        texts += yaml.safe_load(path.read_text(encoding="utf-8"))["answers"]
    return texts


def build(path: Path, inputs: int, seed: int = 6, event_file: Path | None = None) -> None:
    asyncio.run(_migrate(path))
    event = load_event(event_file or SEED_EVENT)
    rng = random.Random(seed)  # noqa: S311 - sample data
    samples = answers()
    start = datetime(2018, 10, 3, 11, 40, tzinfo=UTC)
    prompts = ["group_work_1", "group_work_2", "wrap_up"]
    people: list[tuple[int, str, str]] = []
    with sqlite3.connect(path) as conn:
        for s, site in enumerate(event.sites):
            for n in range(PEOPLE_PER_SITE):
                user = 100_000 + s * PEOPLE_PER_SITE + n
                group = site.groups[n % len(site.groups)].key
                people.append((user, site.key, group))
        conn.executemany(
            "INSERT INTO participants (user_id, chat_id, display_name, created_at)"
            " VALUES (?, ?, ?, ?)",
            [(u, u, f"Deltager {u}", start.isoformat()) for u, _, _ in people],
        )
        conn.executemany(
            "INSERT INTO consents (user_id, event_key, version, given_at) VALUES (?, ?, 'v', ?)",
            [(u, event.key, start.isoformat()) for u, _, _ in people],
        )
        conn.executemany(
            "INSERT INTO checkins (event_key, user_id, site_key, group_key, checked_in_at,"
            " updated_at, category_key, anonymous) VALUES (?, ?, ?, ?, ?, ?, 'politician', ?)",
            [
                (event.key, u, site, group, start.isoformat(), start.isoformat(), u % 3 == 0)
                for u, site, group in people
            ],
        )
        rows = []
        for i in range(inputs):
            user, site_key, group = rng.choice(people)
            at = start + timedelta(seconds=rng.uniform(0, 4 * 3600))
            rows.append(
                (
                    event.key,
                    user,
                    site_key,
                    group,
                    rng.choice(prompts),
                    rng.choice(samples),
                    user,
                    i,
                    "visible" if rng.random() > 0.02 else "hidden",
                    at.isoformat(timespec="microseconds"),
                    user % 3 == 0,
                )
            )
        conn.executemany(
            "INSERT INTO inputs (event_key, user_id, site_key, group_key, role, category_key,"
            " item_key, kind, text, chat_id, message_id, state, created_at, anonymous)"
            " VALUES (?, ?, ?, ?, 'participant', 'politician', ?, 'text', ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute(
            "INSERT INTO highlights (input_id, event_key, site_key, reason, created_at)"
            " SELECT id, event_key, site_key, 'star', created_at"
            " FROM inputs WHERE id % 50 = 0"
        )
        # Each highlight is relayed to the next site of the event (the seed: the other one).
        keys = [site.key for site in event.sites]
        conn.executemany(
            "INSERT INTO highlight_relays SELECT input_id, ?, 'digest', 'bench', created_at"
            " FROM highlights WHERE site_key = ?",
            [(keys[(n + 1) % len(keys)], key) for n, key in enumerate(keys)],
        )


async def _migrate(path: Path) -> None:
    db = await Database.open(path)
    await db.close()


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def measure(
    database: Path, out: Path, event_file: Path | None = None
) -> tuple[list[Written], float, float]:
    event = load_event(event_file or SEED_EVENT)
    texts = Catalogue.load(default=event.default_language)
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - before - 0.01)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    written = await export_off_loop(
        event,
        texts,
        lambda: open_export_source(database),
        out,
        generated_at=datetime(2018, 10, 3, 14, 5, tzinfo=UTC),
    )
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    return list(written), elapsed, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--event", type=Path, help="event file (default: the seed event)")
    parser.add_argument("--keep", type=Path, help="write the database and files here")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="samtidig-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "bench.sqlite3"
    database.unlink(missing_ok=True)
    started = time.perf_counter()
    build(database, args.inputs, event_file=args.event)
    print(f"built {args.inputs:,} inputs in {time.perf_counter() - started:.1f} s")
    # Load the heavy libraries before measuring, so the growth is the export's own.
    import matplotlib.figure  # noqa: F401
    import xlsxwriter  # noqa: F401

    before = peak_kib()
    written, elapsed, worst = asyncio.run(measure(database, folder / "exports", args.event))
    grown = peak_kib() - before
    for item in written:
        print(
            f"  {item.format.value:5} {item.size / 1024 / 1024:7.1f} MiB"
            f"  {item.seconds:6.1f} s  {item.inputs:,} inputs"
        )
    print(f"all formats: {elapsed:.1f} s")
    print(f"longest stall of the caller's event loop: {worst * 1000:.0f} ms")
    print(f"peak memory grew by {grown / 1024:.0f} MiB during the export")
    print(f"files in {folder / 'exports'}")


if __name__ == "__main__":
    main()
