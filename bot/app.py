"""The composition root: the one place that wires settings, storage, services and handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest, HTTPXRequest

import handlers
from bot.clock import SystemClock
from bot.commands import commands_for
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event
from bot.health import LoopMonitor, gc_frozen, snapshot
from bot.i18n import Catalogue
from bot.models import Role
from bot.ports import Clock, Sender
from bot.services import Services
from bot.services.access import AccessService
from bot.services.agenda import AgendaEngine
from bot.services.alerts import AlertService
from bot.services.broadcast import BroadcastService
from bot.services.checkin import CheckInService
from bot.services.delivery import DeliveryWorker, RateLimiter
from bot.services.export import ExportService
from bot.services.inbox import InboxService
from bot.services.inputs import InputService
from bot.services.privacy import PrivacyService
from bot.services.relay import RelayService
from handlers import jobs
from handlers.context import BotData, Context
from handlers.notifier import ReplyLimits, TelegramSender
from handlers.updates import ChatOrderedProcessor, InboxPoller, RawUpdatesRequest, WebhookServer
from storage.db import Database
from storage.exports import open_export_source
from storage.unit_of_work import SqliteUnitOfWork

log = logging.getLogger(__name__)

App = Application[Any, Context, Any, Any, BotData, Any]


class MissingTokenError(Exception):
    """`run` needs a token; the command line turns this into one clear sentence."""


@dataclass
class Resources:
    """What `post_init` opens and `post_shutdown` closes."""

    db: Database | None = None


def build_services(
    event: Event,
    db: Database,
    clock: Clock,
    texts: Catalogue,
    organiser_ids: frozenset[int],
    sender: Sender,
    limiter: RateLimiter | None = None,
) -> Services:
    uow = SqliteUnitOfWork(db)
    delivery = DeliveryWorker(uow, sender, clock, limiter)
    agenda = AgendaEngine(event, uow, clock, texts)
    agenda.on_queued(delivery.notify)
    relay = RelayService(event, uow, clock, texts)
    relay.on_queued(delivery.notify)
    agenda.relays_with(relay)
    broadcast = BroadcastService(event, uow, clock, texts)
    broadcast.on_queued(delivery.notify)
    access = AccessService(
        event, uow, clock, organiser_ids=organiser_ids, ui_languages=texts.languages
    )
    privacy = PrivacyService(uow, clock, event)
    privacy.on_erased(access.forget_person)
    inputs = InputService(event, uow, clock, texts, access)
    inputs.on_queued(delivery.notify)
    alerts = AlertService(event, uow, clock, texts, access)
    alerts.on_queued(delivery.notify)
    return Services(
        event=event,
        texts=texts,
        clock=clock,
        access=access,
        checkin=CheckInService(
            event, uow, clock, consent_version=texts.raw(texts.default, "consent.version")
        ),
        privacy=privacy,
        agenda=agenda,
        broadcast=broadcast,
        delivery=delivery,
        inputs=inputs,
        # Exports read the same file through a read-only connection of their own.
        export=ExportService(
            event,
            texts,
            clock,
            None if db.path == ":memory:" else lambda: open_export_source(db.path),
        ),
        relay=relay,
        inbox=InboxService(uow, clock),
        monitor=LoopMonitor(),
        alerts=alerts,
    )


def build_application(
    settings: Settings,
    *,
    event: Event | None = None,
    clock: Clock | None = None,
    request_factory: Callable[[], BaseRequest] | None = None,
    limiter: RateLimiter | None = None,
    start_jobs: bool = True,
) -> App:
    """Everything the live bot, the rehearsal and the tests run.

    `request_factory` replaces PTB's HTTP transport (tests and the rehearsal pass the fake Bot
    API's in-process request); otherwise the Bot API server of the settings is used.
    `start_jobs=False` leaves the agenda's wake-ups to the caller (the rehearsal and tests tick
    the engine themselves on a simulated clock).
    """
    if settings.telegram_bot_token is None:
        raise MissingTokenError
    event = event if event is not None else load_event(settings.event_file)
    clock = clock if clock is not None else SystemClock()
    texts = Catalogue.load(default=event.default_language)
    resources = Resources()
    # One account of Telegram's limits for the delivery worker and the handlers' answers.
    limiter = limiter if limiter is not None else RateLimiter()

    async def post_init(app: App) -> None:
        resources.db = await Database.open(settings.database_path)
        services = build_services(
            event,
            resources.db,
            clock,
            texts,
            settings.organizer_ids,
            TelegramSender(app.bot),
            limiter,
        )
        app.bot_data.services = services
        app.bot_data.raw_updates = raw_updates
        processor = app.update_processor
        if isinstance(processor, ChatOrderedProcessor):
            processor.inbox = services.inbox
            processor.requeue = app.update_queue.put
        services.monitor.start()
        await _register_commands(app, texts)
        recovered = await services.delivery.recover()
        if recovered:
            log.warning(
                "%d messages were being sent when the bot stopped: marked unknown", recovered
            )
        await services.delivery.start()
        if app.job_queue is not None and start_jobs:
            jobs.start(app.job_queue)
        log.info("ready: event %s, %d sites", event.key, len(event.sites))

    async def post_shutdown(app: App) -> None:
        services = app.bot_data.services_or_none
        if services is not None:
            await services.delivery.stop()
            await services.monitor.stop()
        if resources.db is not None:
            await resources.db.close()

    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_file_url)
        .context_types(ContextTypes(context=Context, bot_data=BotData))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                tzinfo=event.tz,
            )
        )
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        # Updates of different chats are handled concurrently, one chat's in order.
        .concurrent_updates(ChatOrderedProcessor())
        .rate_limiter(ReplyLimits(limiter))
    )
    if request_factory is not None:
        builder = builder.request(request_factory())
    # PTB's own default for getUpdates (one connection), wrapped to keep the raw JSON.
    raw_updates = RawUpdatesRequest(
        request_factory() if request_factory is not None else HTTPXRequest(connection_pool_size=1)
    )
    builder = builder.get_updates_request(raw_updates)
    app: App = builder.build()
    handlers.register(app)
    return app


async def _register_commands(app: App, texts: Catalogue) -> None:
    """The participant commands in every language; the default scope gets the default one."""
    specs = commands_for(Role.PARTICIPANT)
    for lang in texts.languages:
        commands = [BotCommand(c.name, texts.plain(lang, c.description_key)) for c in specs]
        await app.bot.set_my_commands(commands, language_code=lang)
        if lang == texts.default:
            await app.bot.set_my_commands(commands)


@dataclass(frozen=True, slots=True)
class Webhook:
    """Serve Telegram's webhook at `url` (HTTPS, terminated by a reverse proxy that forwards
    to `listen`:`port`), checking `secret_token` on every request."""

    url: str
    secret_token: str
    listen: str = "127.0.0.1"
    port: int = 8443


async def serve(
    app: App,
    *,
    webhook: Webhook | None = None,
    drop_pending: bool = False,
    stop: asyncio.Event | None = None,
    poll_timeout: int = 30,
) -> None:
    """Run the bot until SIGINT or SIGTERM (or `stop` is set): updates through the inbox, by
    long polling or the webhook. Pending updates are kept unless `drop_pending` says so."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await app.initialize()
    frozen = False
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        # What start-up built (the event, the texts, PTB's objects) lives as long as the bot:
        # kept out of the collector's full passes, which otherwise stall the loop for 40-60 ms
        # every so often under load.
        gc_frozen.hold()
        frozen = True
        services = app.bot_data.services
        poller = InboxPoller(
            app, services.inbox, timeout=poll_timeout, raw=app.bot_data.raw_updates
        )
        await poller.resume()
        server: WebhookServer | None = None
        polling: asyncio.Task[None] | None = None
        if webhook is not None:
            server = WebhookServer(
                app,
                services.inbox,
                path=urlsplit(webhook.url).path or "/",
                secret_token=webhook.secret_token,
                host=webhook.listen,
                port=webhook.port,
            )
            await server.start()
            app.bot_data.webhook_port = server.port
            await app.bot.set_webhook(
                webhook.url,
                secret_token=webhook.secret_token,
                allowed_updates=Update.ALL_TYPES,
                drop_pending_updates=drop_pending,
            )
            log.info("webhook: listening on %s:%d", webhook.listen, server.port)
        else:
            await app.bot.delete_webhook(drop_pending_updates=drop_pending)
            polling = loop.create_task(poller.run(stop))
            log.info("polling for updates")
        heartbeat = loop.create_task(_health_log(app, stop))
        await stop.wait()
        for task in (polling, heartbeat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if server is not None:
            await server.stop()
        await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        if frozen:
            gc_frozen.let_go()  # a process that serves again (the tests) may collect it all


async def _health_log(app: App, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=60)
            return
        figures = await snapshot(app.bot_data.services)
        app.bot_data.services.monitor.take_longest()
        log.info(
            "health: inbox %d pending; outbox %d pending, %d unknown; last delivery %s; "
            "longest loop stall %d ms",
            figures.inbox_pending,
            figures.outbox_pending,
            figures.outbox_unknown,
            figures.last_delivery,
            figures.stall_ms,
        )
