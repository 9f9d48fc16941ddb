"""Rehearsal benchmark: the wall time of `python -m bot rehearse`, as a process of its own.

    .venv/bin/python bench/rehearsal_bench.py [--limit 200]

- the seed event with its 75 participants (what `make rehearse` runs);
- `bench/ten-sites.yaml` (the seed event with ten sites) with 2,000 participants.

Each run writes under a temporary folder and is stopped after `--limit` seconds; a run stopped
so is reported with the event time it had reached (the latest outbox row it wrote: the
rehearsal's clock is the event's).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import ROOT, Figure, cli, emit
from events import TEN_SITES

from bot.eventfile import SEED_EVENT, load_event

SECTION = "6. Rehearsal"


def rehearse(event_file: Path, participants: int, out: Path, limit: float) -> tuple[float, str]:
    """(wall seconds, "" or what went wrong)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    log = out.with_suffix(".log")
    started = time.perf_counter()
    with log.open("wb") as handle:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, the bot's own command
            [
                sys.executable,
                "-m",
                "bot",
                "rehearse",
                str(event_file),
                "--participants",
                str(participants),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            code = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return (
                time.perf_counter() - started,
                f"stopped after {limit:.0f} s at {_reached(event_file, out)}",
            )
    wall = time.perf_counter() - started
    if code != 0:
        last = log.read_text(errors="replace").strip().splitlines()[-1:]
        return wall, f"exit {code}: {last[0] if last else '?'}"
    return wall, ""


def _reached(event_file: Path, out: Path) -> str:
    database = out / "rehearsal.sqlite3"
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT MAX(created_at) FROM outbox").fetchone()
            pending = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
            ).fetchone()
    except sqlite3.Error:
        return "an unknown event time"
    if not row or row[0] is None:
        return "the start"
    tz = load_event(event_file).tz
    when = datetime.fromisoformat(row[0]).astimezone(tz)
    waiting = pending[0]
    return f"event time {when:%H:%M}, {waiting:,} outbox message{'s' * (waiting != 1)} waiting"


def measure(limit: float) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="samtidig-rehearsal-") as tmp:
        folder = Path(tmp)
        runs = (
            (Path(str(SEED_EVENT)), 75, "seed event, 75 participants, 2 sites"),
            (TEN_SITES, 2000, "bench/ten-sites.yaml, 2,000 participants, 10 sites"),
        )
        for n, (event_file, participants, label) in enumerate(runs):
            wall, problem = rehearse(event_file, participants, folder / f"run{n}", limit)
            figures.append(
                Figure(
                    SECTION,
                    f"wall time: {label}",
                    f"did not finish ({problem})" if problem else f"{wall:.1f} s",
                    note="no target in the issue",
                )
            )
    return figures


def main() -> None:
    parser = cli(__doc__)
    # 200 s: enough for the ten-site run to reach its cross-site check-in on a busy machine
    # and keep `make bench` under ten minutes (bench/run.py gives this section 240 s).
    parser.add_argument("--limit", type=float, default=200.0)
    args = parser.parse_args()
    emit(measure(args.limit), args.json)


if __name__ == "__main__":
    main()
