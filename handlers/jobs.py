"""JobQueue glue: APScheduler only wakes the agenda engine; what is due comes from the database.

Job names are deterministic, so the jobs that `start()` builds at every start replace nothing
and duplicate nothing: `agenda:wake` at the next moment something becomes due, and a heartbeat
that catches anything a wake-up missed (a clock that jumped, a facilitator's change).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from telegram.ext import JobQueue

from handlers.context import Context

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
