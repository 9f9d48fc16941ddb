"""Load and abuse benchmark (issue 14): `python -m bot run` as a real process against the fake
Bot API on loopback with Telegram's flood limits on (30/s overall, 1/s per chat: 429 above).

    .venv/bin/python bench/load_bench.py [--people 150] [--flooders 40] [--checkins 300]

The scenarios are `bot.sandbox.load`'s, the same that `tests/test_load.py` asserts on:

- a facilitator's broadcast to `--people` participants, from pressing Send to the last copy
  the fake accepted, first without load and then while `--flooders` other participants each
  write an input once a second (acknowledged with 👍, each a feed card for their site's
  facilitator); a quiet participant asks /where every second meanwhile: latency from the
  question reaching the fake to the answer the fake accepted; then the same with the
  flooders not checked in (strangers: nothing stored, each told once a minute that they are
  not checked in);
- a stranger sending /help at 100 a second for 10 s: what they got back, and another
  participant's /where meanwhile;
- `--checkins` people checking in at once (`/start <table code>`, consent, role, named), each
  pressing the next button as soon as it arrives: answers lost (a step that never came within
  120 s), time from /start to the last answer.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from common import Figure, check, cli, emit, ms, percentile

from bot.sandbox.load import (
    FloodFigures,
    flood_during_broadcast,
    parallel_checkins,
    stranger_flood,
)
from bot.services.pace import PaceRule

SECTION = "7. Load"
STRANGERS = 60.0  # seconds the broadcast under the strangers is given


def loaded(flood: FloodFigures) -> str:
    if flood.loaded is None:
        return f"incomplete: {flood.loaded_reached} copies by the deadline ({STRANGERS:.0f} s)"
    return f"{flood.loaded:.1f} s ({flood.loaded / flood.unloaded:.2f}x)"


async def measure(people: int, flooders: int, checkins: int) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "flood"
        folder.mkdir()
        flood = await flood_during_broadcast(folder, people=people, flooders=flooders)
        figures += [
            Figure(
                SECTION,
                f"broadcast to {people}: unloaded vs {flooders} writing once a second",
                f"{flood.unloaded:.1f} s vs {loaded(flood)}",
                "<= 2x",
                flood.loaded is not None and check(flood.loaded / flood.unloaded, "<=", 2.0),
                f"{flood.inputs_sent} inputs sent, {flood.inputs_acknowledged} with 👍 by the "
                f"end; {flood.rate_limited} 429s",
            ),
            Figure(
                SECTION,
                "/where latency during that flood",
                f"p50 {ms(percentile(flood.where_latencies, 0.5))}, "
                f"p99 {ms(percentile(flood.where_latencies, 0.99))}",
                "< 2 s",
                check(max(flood.where_latencies, default=99.0), "<", 2.0)
                and flood.unanswered_where == 0,
                f"{len(flood.where_latencies)} asked, {flood.unanswered_where} unanswered",
            ),
        ]
        folder = Path(tmp) / "strangers"
        folder.mkdir()
        strangers = await flood_during_broadcast(
            folder, people=people, flooders=flooders, flooders_checked_in=False, within=STRANGERS
        )
        figures += [
            Figure(
                SECTION,
                f"broadcast to {people}: unloaded vs {flooders} strangers writing once a second",
                f"{strangers.unloaded:.1f} s vs {loaded(strangers)}",
                "<= 2x",
                strangers.loaded is not None
                and check(strangers.loaded / strangers.unloaded, "<=", 2.0),
                f"{strangers.inputs_sent} messages sent, {strangers.answers_to_writers} "
                f"sentences back (each told once a minute); {strangers.rate_limited} 429s; "
                f"stopped on SIGINT: {'yes' if strangers.stopped_cleanly else 'no, killed'}",
            ),
            Figure(
                SECTION,
                "/where latency during the strangers' flood",
                f"p50 {ms(percentile(strangers.where_latencies, 0.5))}, "
                f"max {ms(max(strangers.where_latencies, default=float('nan')))}",
                "< 2 s",
                check(max(strangers.where_latencies, default=99.0), "<", 2.0)
                and strangers.unanswered_where == 0,
                f"{len(strangers.where_latencies)} asked, {strangers.unanswered_where} unanswered",
            ),
        ]
        folder = Path(tmp) / "stranger"
        folder.mkdir()
        stranger = await stranger_flood(folder)
        figures += [
            Figure(
                SECTION,
                "a stranger's /help at 100/s for 10 s: what came back",
                f"{stranger.helped} answers, {stranger.notices} notice, {stranger.other} other "
                f"for {stranger.sent} sent",
                f"{int(PaceRule().burst)} + 1 notice",
                stranger.helped == PaceRule().burst
                and stranger.notices == 1
                and stranger.other == 0,
            ),
            Figure(
                SECTION,
                "/where latency during the stranger's flood",
                f"p50 {ms(percentile(stranger.where_latencies, 0.5))}, "
                f"max {ms(max(stranger.where_latencies, default=float('nan')))}",
                "< 2 s",
                check(max(stranger.where_latencies, default=99.0), "<", 2.0)
                and stranger.unanswered_where == 0,
                f"{len(stranger.where_latencies)} asked",
            ),
        ]
        folder = Path(tmp) / "checkins"
        folder.mkdir()
        done = await parallel_checkins(folder, people=checkins)
        figures += [
            Figure(
                SECTION,
                f"{checkins} parallel check-ins: answers lost",
                f"{done.lost} ({done.checked_in} checked in)",
                "0",
                done.lost == 0 and done.checked_in == checkins,
                "4 answers each, 30 a second for everyone",
            ),
            Figure(
                SECTION,
                f"{checkins} parallel check-ins: time from /start to the last answer",
                f"p50 {percentile(done.completed, 0.5):.1f} s, "
                f"p99 {percentile(done.completed, 0.99):.1f} s",
            ),
        ]
    return figures


def main() -> None:
    parser = cli(__doc__)
    parser.add_argument("--people", type=int, default=150)
    parser.add_argument("--flooders", type=int, default=40)
    parser.add_argument("--checkins", type=int, default=300)
    args = parser.parse_args()
    # Stopping the fake's server with the bot's long poll still open makes asyncio log the
    # cancelled connection task; it is noise here.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    emit(asyncio.run(measure(args.people, args.flooders, args.checkins)), args.json)


if __name__ == "__main__":
    main()
