"""JobQueue glue: APScheduler only wakes the agenda engine; what is due comes from the database.

Job names are deterministic, so the jobs that `start()` builds at every start replace nothing
and duplicate nothing: `agenda:wake` at the next moment something becomes due, and a heartbeat
that catches anything a wake-up missed (a clock that jumped, a facilitator's change).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from telegram import Bot
from telegram.error import TelegramError
from telegram.ext import JobQueue

from bot.services import Services
from handlers.context import Context

BROADCAST_CHECK_SECONDS = 5
BROADCAST_WATCH_LIMIT = 120  # checks: ten minutes

log = logging.getLogger(__name__)

WAKE = "agenda:wake"
HEARTBEAT = "agenda:heartbeat"
HEARTBEAT_SECONDS = 30
# APScheduler skips a job that starts more than `misfire_grace_time` late (default 1 s): a
# stalled event loop would then silently skip a prompt. Late is fine; the engine pushes what
# is due whenever it runs.
JOB_KWARGS: dict[str, Any] = {"misfire_grace_time": 3600, "coalesce": True}


def start(job_queue: JobQueue[Context]) -> None:
    job_queue.run_once(agenda_job, when=0, name=WAKE, job_kwargs=JOB_KWARGS)
    job_queue.run_repeating(
        agenda_job,
        interval=HEARTBEAT_SECONDS,
        first=HEARTBEAT_SECONDS,
        name=HEARTBEAT,
        job_kwargs=JOB_KWARGS,
    )


async def agenda_job(context: Context) -> None:
    await context.services.agenda.tick()
    await reschedule(context)


async def reschedule(context: Context) -> None:
    """Set the one wake-up job to the engine's next due moment."""
    # PTB types CallbackContext.job_queue with the wrong parameter (ST, not the context).
    job_queue = cast("JobQueue[Context] | None", context.job_queue)
    if job_queue is None:
        return
    services = context.services
    when = await services.agenda.next_wake()
    current = context.job
    for job in job_queue.get_jobs_by_name(WAKE):
        if job is not current:
            job.schedule_removal()
    if when is not None:
        delay = max(0.0, (when - services.clock.now()).total_seconds())
        job_queue.run_once(agenda_job, when=delay, name=WAKE, job_kwargs=JOB_KWARGS)


@dataclass
class BroadcastWatch:
    """Where to report a broadcast's delivery: the facilitator's confirmation message."""

    broadcast_id: int
    chat_id: int
    message_id: int
    lang: str
    checks: int = 0


def watch_broadcast(job_queue: JobQueue[Context] | None, watch: BroadcastWatch) -> None:
    if job_queue is not None:
        job_queue.run_repeating(
            broadcast_job,
            interval=BROADCAST_CHECK_SECONDS,
            first=BROADCAST_CHECK_SECONDS,
            data=watch,
            name=f"broadcast:{watch.broadcast_id}",
            job_kwargs=JOB_KWARGS,
        )


async def broadcast_job(context: Context) -> None:
    job = context.job
    if job is None or not isinstance(job.data, BroadcastWatch):
        return
    try:
        done = await report_broadcast(context.bot, context.services, job.data)
    except TelegramError:
        # The facilitator's chat cannot be written to: stop asking every five seconds.
        log.warning("could not report broadcast %s", job.data.broadcast_id)
        done = True
    if done:
        job.schedule_removal()


async def report_broadcast(bot: Bot, services: Services, watch: BroadcastWatch) -> bool:
    """Edit the confirmation into "delivered to X of N"; True once nothing is left to send
    (or after ten minutes, when the figure is what it is)."""
    counts = await services.broadcast.progress(watch.broadcast_id)
    waiting = counts.get("pending", 0) + counts.get("sending", 0)
    watch.checks += 1
    done = waiting == 0 or watch.checks >= BROADCAST_WATCH_LIMIT
    if not done:
        return False
    text = services.texts(
        watch.lang,
        "facilitator.broadcast_report",
        sent=counts.get("sent", 0),
        total=sum(counts.values()),
        unreachable=counts.get("unreachable", 0),
        other=sum(n for s, n in counts.items() if s in {"failed", "unknown"}) + waiting,
    )
    try:
        await bot.edit_message_text(text, chat_id=watch.chat_id, message_id=watch.message_id)
    except TelegramError:
        # Deleted or too old to edit: a new message says it instead.
        await bot.send_message(watch.chat_id, text)
    return True
