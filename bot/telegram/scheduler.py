"""The JobQueue (APScheduler) wakes the agenda engine; what is due comes from the database.

`AgendaScheduler` keeps one job, `agenda:wake`, set to the next moment something becomes due,
and a heartbeat that catches anything a wake-up missed (a clock that jumped). Whoever changes
what is due (a delay, `/next`, a pause, a star in a live event) calls `wake()`: the engine
ticks at once and the job is set again from there. Job names are fixed, so a restart builds
the same jobs and duplicates nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import CallbackContext, JobQueue

from bot.ports import Clock
from bot.services.agenda import AgendaEngine

log = logging.getLogger(__name__)

WAKE = "agenda:wake"
HEARTBEAT = "agenda:heartbeat"
HEARTBEAT_SECONDS = 30
# APScheduler skips a job that starts more than `misfire_grace_time` late (default 1 s): a
# stalled event loop would then silently skip a prompt. Late is fine; the engine pushes what
# is due whenever it runs.
JOB_KWARGS: dict[str, Any] = {"misfire_grace_time": 3600, "coalesce": True}

Jobs = JobQueue[Any]


class AgendaScheduler:
    """The JobQueue side of the engine's `wake` (`AgendaEngine(wake=scheduler.wake)`)."""

    def __init__(self, job_queue: Jobs, clock: Clock) -> None:
        self._jobs = job_queue
        self._clock = clock
        self._engine: AgendaEngine | None = None

    def start(self, engine: AgendaEngine) -> None:
        """Begin driving `engine`: a tick now, then at every due moment and heartbeat."""
        self._engine = engine
        self.wake()
        self._jobs.run_repeating(
            self._run,
            interval=HEARTBEAT_SECONDS,
            first=HEARTBEAT_SECONDS,
            name=HEARTBEAT,
            job_kwargs=JOB_KWARGS,
        )

    def wake(self) -> None:
        """Tick as soon as the loop is free (before `start`, nothing: start ticks anyway)."""
        if self._engine is not None:
            self._set(0.0)

    def _set(self, delay: float, current: object = None) -> None:
        for job in self._jobs.get_jobs_by_name(WAKE):
            if job is not current:
                job.schedule_removal()
        self._jobs.run_once(self._run, when=delay, name=WAKE, job_kwargs=JOB_KWARGS)

    async def _run(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        engine = self._engine
        if engine is None:
            return
        await engine.tick()
        when = await engine.next_wake()
        if when is None:
            for job in self._jobs.get_jobs_by_name(WAKE):
                if job is not context.job:
                    job.schedule_removal()
            return
        self._set(max(0.0, (when - self._clock.now()).total_seconds()), context.job)
