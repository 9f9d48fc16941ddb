"""Export figures: 100,000 inputs over 50 sites, each format exported by a fresh process.

    .venv/bin/python bench/export_figures.py [--inputs 100000] [--sites 50]

The database is built by `bench/export_bench.py` (its synthetic inputs, here over an event of
50 sites made by `bench/events.py`). Each of CSV, XLSX, JSON and the HTML report is then
exported by a process of its own, the way `/export` runs (a worker thread with its own event
loop and read-only connection), so that each format's peak resident memory (VmHWM) is its own:
the interpreter, the bot's modules, XlsxWriter and matplotlib included. Meanwhile the process's
main event loop, standing in for the bot's, measures how late a 10 ms timer fires.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from common import Figure, StallWatch, check, cli, emit, rss_kib
from events import many_sites, write

SECTION = "4. Export"
FORMATS = {"csv": 2.0, "xlsx": 15.0, "json": 2.0, "html": 20.0}  # target seconds
NAMES = {"csv": "CSV", "xlsx": "XLSX", "json": "JSON", "html": "HTML report"}
MEMORY_TARGET_MB = 300


def child(fmt: str, database: Path, event_file: Path, out: Path) -> dict[str, float]:
    """Export one format from `database`; return seconds, memory and the loop's stall."""
    # What an export loads, before the baseline, as the bot has them once loaded. matplotlib is
    # now only for the Markdown report's picture files; it stays loaded here so that these
    # figures compare with earlier runs (it makes the baseline larger, not smaller).
    import matplotlib.figure  # noqa: F401
    import xlsxwriter  # noqa: F401

    from bot.eventfile import load_event
    from bot.export import Format
    from bot.export.runner import export_off_loop
    from bot.i18n import Catalogue
    from storage.exports import open_export_source

    event = load_event(event_file)
    texts = Catalogue.load(default=event.default_language)
    before, _ = rss_kib()
    peak = [before]
    done = threading.Event()

    def sample() -> None:  # VmHWM covers it too; this shows when memory peaks
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss_kib()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def run() -> tuple[float, float, int]:
        watch = StallWatch()
        watch.start()
        started = time.perf_counter()
        written = await export_off_loop(
            event,
            texts,
            lambda: open_export_source(database),
            out,
            formats=(Format(fmt),),
            generated_at=datetime(2018, 10, 3, 14, 5, tzinfo=UTC),
        )
        elapsed = time.perf_counter() - started
        stall = await watch.stop()
        return elapsed, stall, written[0].size

    elapsed, stall, size = asyncio.run(run())
    done.set()
    sampler.join()
    _, hwm = rss_kib()
    return {
        "seconds": elapsed,
        "stall": stall,
        "size_mib": size / 1024 / 1024,
        "rss_before_mib": before / 1024,
        "hwm_mib": hwm / 1024,
    }


def measure(inputs: int, sites: int) -> list[Figure]:
    from export_bench import build

    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="samtidig-export-") as tmp:
        folder = Path(tmp)
        event_file = write(many_sites(sites, f"aabne-vaerksteder-{sites}"), folder / "event.yaml")
        database = folder / "export.sqlite3"
        started = time.perf_counter()
        build(database, inputs, event_file=event_file)
        built = time.perf_counter() - started
        print(f"  (built {inputs:,} inputs over {sites} sites in {built:.0f} s)")
        stalls: list[float] = []
        for fmt, target in FORMATS.items():
            result_file = folder / f"{fmt}.json"
            subprocess.run(  # noqa: S603 - this interpreter, this script
                [
                    sys.executable,
                    __file__,
                    "--child",
                    fmt,
                    "--database",
                    str(database),
                    "--event",
                    str(event_file),
                    "--out",
                    str(folder / "out"),
                    "--result",
                    str(result_file),
                ],
                check=True,
                timeout=300,
            )
            got = json.loads(result_file.read_text())
            stalls.append(got["stall"])
            figures.append(
                Figure(
                    SECTION,
                    f"{NAMES[fmt]}: time ({inputs:,} inputs, {sites} sites)",
                    f"{got['seconds']:.1f} s ({got['size_mib']:.0f} MiB)",
                    f"< {target:g} s",
                    check(got["seconds"], "<", target),
                ),
            )
            figures.append(
                Figure(
                    SECTION,
                    f"{NAMES[fmt]}: peak resident memory of the exporting process",
                    f"{got['hwm_mib']:.0f} MiB",
                    f"< {MEMORY_TARGET_MB} MB",
                    check(got["hwm_mib"], "<", MEMORY_TARGET_MB),
                    f"{got['rss_before_mib']:.0f} MiB before the export",
                ),
            )
        worst = max(stalls)
        figures.append(
            Figure(
                SECTION,
                "longest event-loop stall while an export runs",
                f"{worst * 1000:.0f} ms",
                "< 100 ms",
                check(worst, "<", 0.1),
                "per format: " + ", ".join(f"{s * 1000:.0f}" for s in stalls) + " ms",
            )
        )
    return figures


def main() -> None:
    parser = cli(__doc__)
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--child", choices=sorted(FORMATS), help=argparse_hidden())
    parser.add_argument("--database", type=Path, help=argparse_hidden())
    parser.add_argument("--event", type=Path, help=argparse_hidden())
    parser.add_argument("--out", type=Path, help=argparse_hidden())
    parser.add_argument("--result", type=Path, help=argparse_hidden())
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.database, args.event, args.out)
        args.result.write_text(json.dumps(result))
        return
    emit(measure(args.inputs, args.sites), args.json)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
