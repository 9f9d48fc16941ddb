"""JobQueue glue of the handlers: a broadcast's "delivered to X of N" report.

The agenda's own wake-ups are the Telegram adapter's (`bot.telegram.scheduler`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.error import TelegramError
from telegram.ext import JobQueue

from bot.services import Services
from bot.telegram.scheduler import JOB_KWARGS
from handlers.context import Context

BROADCAST_CHECK_SECONDS = 5
BROADCAST_WATCH_LIMIT = 120  # checks: ten minutes

log = logging.getLogger(__name__)


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
