"""`make bench`: every benchmark of issues 9 and 16, one after another, each in a process of
its own; prints one table and writes it to bench/RESULTS.md with the date and the machine.

    .venv/bin/python bench/run.py [--only 1,3] [--out bench/RESULTS.md]

Sections (each also runs alone: `.venv/bin/python bench/<script> --help`):

1. intake_bench.py     inputs/s and latency through the real application, beside a PTB echo bot
2. broadcast_bench.py  a broadcast through the outbox against Telegram's limits, and paid rate
3. schedule_bench.py   lateness of agenda pushes while intake runs; event-loop stalls
4. export_figures.py   100,000 inputs over 50 sites: time and memory per format; stalls
5. footprint_bench.py  `python -m bot run` with 10,000 participants: memory, start to polling
6. rehearsal_bench.py  wall time of `python -m bot rehearse`, 75 and 2,000 participants
7. load_bench.py       issue 14: a broadcast under 40 flooders, a stranger's flood, 300 check-ins
8. walls_bench.py      1,000 live walls open while inputs arrive at 100/s (issue 16): commit →
                       arrival at every page, intake beside it, the bot's peak memory

Benchmarks print figures; they assert nothing. Everything runs on loopback or in-process and
stops by itself (each section has a time limit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import ROOT, Figure

BENCH = Path(__file__).resolve().parent
SECTIONS = [
    ("1. Intake", "intake_bench.py", 200),
    ("2. Broadcast", "broadcast_bench.py", 200),
    ("3. Scheduling", "schedule_bench.py", 150),
    ("4. Export", "export_figures.py", 240),
    ("5. Footprint", "footprint_bench.py", 90),
    ("6. Rehearsal", "rehearsal_bench.py", 240),
    ("7. Load", "load_bench.py", 240),
    ("8. Walls", "walls_bench.py", 240),
]

HOW = """\
How the figures are measured, in short:

1. Intake: the real application in-process (`serve()`: the inbox poller, `ChatOrderedProcessor`,
   handlers, services, SQLite, the 👍 reaction) against `FakeBotApi` through `FakeRequest`, 1,000
   participants checked in beforehand. A burst waits at the fake: inputs/s from the first being
   handed out by getUpdates to the last acknowledged (committed in brackets); burst latency from
   getUpdates to the committed row. Open loop: inputs offered at a fixed rate, latency from the
   moment an input waits at the fake to its committed row (the moment `InputService.receive`
   returns, its transaction committed). The echo bot: PTB's `Updater`, one `MessageHandler`
   replying, 64 updates at once, the same fake; its answer is its reply reaching the fake.
2. Broadcast: `/broadcast all` by an organiser, Send pressed; rates and windows from the fake's
   timestamps of the copies it accepted; 429s as the fake counted them.
3. Scheduling: the real JobQueue and `SystemClock`; ten sites' prompts fall due 1.5 s apart a
   few seconds after the start (agenda shifts); lateness = the push reaching the fake minus the
   due moment; loop stall = the bot's own `LoopMonitor`.
4. Export: `bench/export_bench.py`'s synthetic inputs over a 50-site event; each format in a
   process of its own (peak = VmHWM), off the loop as `/export` does; stall of that process's
   main loop.
5. Footprint: `python -m bot run` as a process against `FakeBotApiServer` on loopback; start =
   spawn to the fake's first getUpdates; memory = VmRSS/VmHWM from /proc.
6. Rehearsal: `python -m bot rehearse` as a process, stopped after 200 s.
7. Load: `python -m bot run` as a process against `FakeBotApiServer` with Telegram's limits on
   (`bot.sandbox.load`); broadcast time = Send pressed to the last copy the fake accepted, the
   same broadcast without and with 40 participants writing once a second; latencies from the
   fake's timestamps; check-ins: `/start`, consent, role, named, each pressed on arrival.
8. Walls: `python -m bot run --listen` as a process against `FakeBotApiServer`; a second
   process holds 1,000 server-sent-events streams (the three sites' walls and the all-sites
   wall, 250 each) while inputs arrive at 100/s for 30 s, each from another participant,
   then 1,000 at once.
   Commit → arrival: the input's `created_at` (stamped in the transaction that stores it,
   just before the commit) to the first frame at a page that shows it (its site's newest
   inputs; the all-sites wall's count of who answered), every (input, page) pair. Intake: the
   same feed without pages, a fresh process. Memory: the bot's VmHWM.
"""


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    nproc = len(os.sched_getaffinity(0))  # what `nproc` prints
    return {
        "nproc": str(nproc),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": _commit(),
    }


def _commit() -> str:
    """The commit measured (read-only git commands), and whether the tree differed from it."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    head = subprocess.run(  # noqa: S603 - git, read-only
        [git, "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not head:
        return "unknown"
    changed = subprocess.run(  # noqa: S603 - git, read-only
        [git, "diff", "--quiet", "HEAD", "--", "bot", "handlers", "storage", "prompts"],
        cwd=ROOT,
        check=False,
    ).returncode
    return head + (" with uncommitted changes to the application" if changed else "")


def run_section(title: str, script: str, limit: float) -> tuple[list[Figure], float]:
    print(f"\n== {title} ({script}) ==", flush=True)
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result = Path(handle.name)
    try:
        completed = subprocess.run(  # noqa: S603 - this interpreter, our own scripts
            [sys.executable, str(BENCH / script), "--json", str(result)],
            cwd=ROOT,
            timeout=limit,
            check=False,
        )
        if completed.returncode == 0 and result.stat().st_size:
            figures = [Figure(**item) for item in json.loads(result.read_text())]
        else:
            figures = [Figure(title, "(section failed)", f"exit code {completed.returncode}")]
    except subprocess.TimeoutExpired:
        figures = [Figure(title, "(section failed)", f"stopped after {limit:.0f} s")]
    finally:
        result.unlink(missing_ok=True)
    return figures, time.perf_counter() - started


def table(figures: list[Figure]) -> str:
    lines = [
        "| section | figure | value | target | met | note |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        cells = [f.section, f.name, f.value, f.target, met, f.note]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated section numbers, e.g. 1,3")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    wanted = {int(n) for n in args.only.split(",")} if args.only else None
    started = time.perf_counter()
    when = datetime.now().astimezone()
    box = machine()
    load = os.getloadavg()[0]  # other work on the machine disturbs the figures
    figures: list[Figure] = []
    durations: list[str] = []
    for number, (title, script, limit) in enumerate(SECTIONS, 1):
        if wanted is not None and number not in wanted:
            continue
        got, seconds = run_section(title, script, limit)
        figures += got
        durations.append(f"{title.split('. ', 1)[1].lower()} {seconds:.0f} s")
    total = time.perf_counter() - started
    targets = [f for f in figures if f.met is not None]
    met = sum(1 for f in targets if f.met)
    header = (
        f"Run {when:%Y-%m-%d %H:%M %Z} on {box['nproc']} CPUs ({box['cpu']}), "
        f"{box['memory']} memory, Python {box['python']}, Linux {box['kernel']}; "
        f"commit {box['commit']}; load average {load:.2f} at the start."
    )
    summary = (
        f"{met} of {len(targets)} targets met. Total run time {total / 60:.1f} min "
        f"({', '.join(durations)})."
    )
    body = table(figures)
    print(f"\n{header}\n\n{body}\n\n{summary}")
    args.out.write_text(
        "# Benchmark results\n\n"
        "Written by `make bench` (`bench/run.py`); each script's docstring says exactly how "
        "its figures are measured.\n\n"
        f"{header}\n\n{body}\n\n{summary}\n\n{HOW}",
        encoding="utf-8",
    )
    print(
        f"written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
    )


if __name__ == "__main__":
    main()
