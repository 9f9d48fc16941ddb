"""The composition root: the one place that wires settings, storage, services and both faces.

`running()` is the one lifecycle every caller uses (`python -m bot run`, the rehearsal, the
sandbox harness, the tests, the benchmarks): it opens the database, builds the services and
the Telegram application around them, starts what runs in the background and, on the way
out, stops it all in reverse order. `serve()` then brings updates in, by long polling or the
webhook, and serves HTTP when asked, until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults, ExtBot, JobQueue
from telegram.request import BaseRequest, HTTPXRequest

import handlers
from bot.clock import SystemClock
from bot.commands import menu
from bot.config import Settings
from bot.event import Event
from bot.eventfile import load_event
from bot.health import LoopMonitor, gc_frozen, snapshot
from bot.i18n import Catalogue
from bot.ports import Clock, Sender
from bot.services import Services
from bot.services.access import AccessService
from bot.services.agenda import AgendaEngine
from bot.services.alerts import AlertService
from bot.services.broadcast import BroadcastService
from bot.services.checkin import CheckInService
from bot.services.console import ConsoleService
from bot.services.delivery import DeliveryWorker, RateLimiter
from bot.services.export import ExportService
from bot.services.inbox import InboxService
from bot.services.inputs import InputService
from bot.services.live import InputChange, InputChanged, LiveBus
from bot.services.lostchats import LostChatService
from bot.services.pace import PaceGate
from bot.services.privacy import PrivacyService
from bot.services.relay import RelayService
from bot.services.roles import RoleService
from bot.services.walls import WallService
from bot.telegram.application import ServicesApplication
from bot.telegram.limits import ReplyLimits
from bot.telegram.polling import ALLOWED_UPDATES, InboxPoller, RawUpdatesRequest
from bot.telegram.processor import ChatOrderedProcessor
from bot.telegram.scheduler import AgendaScheduler
from bot.telegram.sender import TelegramSender
from bot.telegram.webhook import TelegramWebhook
from handlers.context import Context
from storage.db import Database
from storage.exports import open_export_source
from storage.unit_of_work import SqliteUnitOfWork
from web.app import build_web_app
from web.console import Console
from web.pages import ConsolePages, Pages
from web.server import HttpServer, Listen
from web.walls import Walls

log = logging.getLogger(__name__)

App = Application[
    ExtBot[Any], Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], JobQueue[Context]
]


class MissingTokenError(Exception):
    """`run` needs a token; the command line turns this into one clear sentence."""


def build_services(
    event: Event,
    db: Database,
    clock: Clock,
    texts: Catalogue,
    organiser_ids: frozenset[int],
    sender: Sender,
    limiter: RateLimiter | None = None,
    *,
    wake: Callable[[], None] = lambda: None,
    live: LiveBus | None = None,
    public_url: str | None = None,
    bot_username: str | None = None,
    pace: PaceGate | None = None,
) -> Services:
    """The services over one database. `wake` is told whenever something changed what the
    agenda has due (the scheduler that drives the engine); `live` carries every committed
    change to whatever shows it live (the walls); `pace` is the per-person limit for
    commands and button presses (by default `PaceRule()`'s)."""
    uow = SqliteUnitOfWork(db)
    live = live if live is not None else LiveBus()

    def erased(user_id: int) -> None:
        access.forget_person(user_id)
        live.publish(InputChanged(InputChange.ERASED, None))

    # A missed push is reported by the agenda engine, at the tick the scheduler runs on `wake`.
    delivery = DeliveryWorker(uow, sender, clock, limiter, on_missed=wake)
    queued = delivery.notify
    relay = RelayService(event, uow, clock, texts, on_queued=queued)
    agenda = AgendaEngine(
        event, uow, clock, texts, relay=relay, on_queued=queued, wake=wake, live=live
    )
    access = AccessService(
        event,
        uow,
        clock,
        organiser_ids=organiser_ids,
        ui_languages=texts.languages,
        wake_agenda=wake,
    )
    lost_chats = LostChatService(
        event, uow, clock, texts, access, ui_languages=texts.languages, on_queued=queued
    )
    delivery.on_chat_lost = lost_chats.send_failed
    return Services(
        event=event,
        texts=texts,
        clock=clock,
        access=access,
        checkin=CheckInService(
            event,
            uow,
            clock,
            consent_version=texts.raw(texts.default, "consent.version"),
            live=live,
        ),
        privacy=PrivacyService(
            uow,
            clock,
            event,
            on_erased=erased,
            texts=texts,
            on_queued=queued,
            rerender=relay.without_erased,
        ),
        agenda=agenda,
        broadcast=BroadcastService(event, uow, clock, texts, on_queued=queued),
        delivery=delivery,
        inputs=InputService(
            event, uow, clock, texts, access, on_queued=queued, wake_agenda=agenda.wake, live=live
        ),
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
        alerts=AlertService(event, uow, clock, texts, access, on_queued=queued),
        roles=RoleService(event, uow, clock, texts, access, on_queued=queued),
        lost_chats=lost_chats,
        walls=WallService(
            event, uow, clock, texts, public_url=public_url, bot_username=bot_username, live=live
        ),
        console=ConsoleService(event, uow, clock, texts, access, public_url=public_url),
        live=live,
        pace=pace if pace is not None else PaceGate(),
    )


@dataclass(eq=False)
class Running:
    """A started bot: its application, its services, and where it listens once it serves."""

    app: App
    services: Services
    raw_updates: RawUpdatesRequest  # the getUpdates transport, keeping Telegram's JSON
    http_port: int | None = field(default=None)  # set by `serve()` once HTTP is up


async def _recover(services: Services) -> None:
    """What a start repairs before anything is handled."""
    ended = await services.checkin.end_roles_of_old_codes()
    if ended:
        log.warning("%d roles ended: the code that granted them has changed", ended)
    await services.walls.tokens()  # made at the first start, so `walls` and /wall can list them
    recovered = await services.delivery.recover()
    if recovered:
        log.warning("%d messages were being sent when the bot stopped: marked unknown", recovered)


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    event: Event | None = None,
    clock: Clock | None = None,
    request_factory: Callable[[], BaseRequest] | None = None,
    limiter: RateLimiter | None = None,
    wake: Callable[[], None] | None = None,
    pace: PaceGate | None = None,
) -> AsyncIterator[Running]:
    """The bot, started; stopped on the way out, whatever happened inside.

    `request_factory` replaces PTB's HTTP transport (tests and the rehearsal pass the fake
    Bot API's in-process request); otherwise the Bot API server of the settings is used.
    Without `wake`, the JobQueue drives the agenda engine on the real clock; with it, the
    caller does (the rehearsal and tests tick the engine on a simulated clock) and `wake` is
    told whenever something changed what is due, as the JobQueue would be. `pace` replaces
    the per-person limit for commands and presses (`bot.services.pace`).
    """
    if settings.telegram_bot_token is None:
        raise MissingTokenError
    event = event if event is not None else load_event(settings.event_file)
    clock = clock if clock is not None else SystemClock()
    texts = Catalogue.load(default=event.default_language)
    # One account of Telegram's limits for the delivery worker and the handlers' answers.
    limiter = limiter if limiter is not None else RateLimiter()

    def request(pool: int) -> BaseRequest:
        return request_factory() if request_factory is not None else HTTPXRequest(pool)

    # PTB's own defaults: 256 connections for sending, one for getUpdates (wrapped to keep
    # the JSON of each answer).
    raw_updates = RawUpdatesRequest(request(1))
    bot: ExtBot[Any] = ExtBot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_api_file_url,
        request=request(256),
        get_updates_request=raw_updates,
        defaults=Defaults(
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            tzinfo=event.tz,
        ),
        rate_limiter=ReplyLimits(limiter),
    )
    job_queue: JobQueue[Context] = JobQueue()
    scheduler = AgendaScheduler(job_queue, clock) if wake is None else None
    # getMe first: a refused token or an unreachable Bot API fails before the database is
    # touched. The application's own initialize() finds the bot initialised already.
    await bot.initialize()
    try:
        db = await Database.open(settings.database_path)
    except BaseException:
        await bot.shutdown()
        raise
    try:
        services = build_services(
            event,
            db,
            clock,
            texts,
            settings.organizer_ids,
            TelegramSender(bot),
            limiter,
            wake=scheduler.wake if scheduler is not None else wake or (lambda: None),
            public_url=settings.public_url,
            bot_username=bot.username,
            pace=pace,
        )
        updates: asyncio.Queue[object] = asyncio.Queue()
        app: App = (
            ApplicationBuilder()
            .application_class(ServicesApplication, {"services": services})
            .bot(bot)
            .updater(None)  # updates come through the inbox: `serve()` below
            .update_queue(updates)
            .job_queue(job_queue)
            .context_types(ContextTypes(context=Context))
            # Updates of different chats are handled concurrently, one chat's in order.
            .concurrent_updates(ChatOrderedProcessor(services.inbox, updates.put))
            .build()
        )
        handlers.register(
            app, [s.facilitator_chat for s in event.sites if s.facilitator_chat is not None]
        )
        async with app:  # initialize (getMe) … shutdown
            services.monitor.start()
            try:
                await _register_commands(app, texts)
                await _recover(services)
                await services.delivery.start()
                await app.start()  # handling what reaches the update queue, and the JobQueue
                try:
                    if scheduler is not None:
                        scheduler.start(services.agenda)
                    log.info("ready: event %s, %d sites", event.key, len(event.sites))
                    yield Running(app, services, raw_updates)
                finally:
                    await app.stop()
            finally:
                await services.delivery.stop()
                await services.monitor.stop()
    finally:
        await db.close()
        await bot.shutdown()  # done by the application's shutdown already, unless it failed


async def _register_commands(app: App, texts: Catalogue) -> None:
    """The menu of bot.commands (what /help shows first to strangers and participants) in
    every language; the default scope gets the default one."""
    specs = menu()
    for lang in texts.languages:
        commands = [BotCommand(c.name, texts.plain(lang, c.description_key)) for c in specs]
        await app.bot.set_my_commands(commands, language_code=lang)
        if lang == texts.default:
            await app.bot.set_my_commands(commands)


def live_walls(services: Services, *, rehearsal: bool = False) -> tuple[Walls, Console]:
    """The walls' and the console's pages and streams (one hub), following every committed
    change from now on."""
    pages = Pages(services.texts, services.event.tz)
    walls = Walls(services.walls, pages, services.clock)
    console = Console(services, ConsolePages(pages), walls.hub, rehearsal=rehearsal)
    walls.hub.unsubscribe = services.live.subscribe(walls.hub.on_event)
    walls.hub.start()
    return walls, console


@contextlib.asynccontextmanager
async def web_face(services: Services, listen: Listen) -> AsyncIterator[int]:
    """HTTP with the walls, the console (and /healthz) on `listen` without polling or a
    webhook: the rehearsal's, whose console links are printed, not sent; yields the port."""
    walls, console = live_walls(services, rehearsal=True)
    http = HttpServer(build_web_app(lambda: snapshot(services), (), walls, console), listen)
    try:
        await http.start()
        yield http.port
    finally:
        await walls.hub.stop()
        await http.stop()


@dataclass(frozen=True, slots=True)
class Webhook:
    """Serve Telegram's webhook at `url` (HTTPS, terminated by a reverse proxy that forwards
    to the HTTP server's address), checking `secret_token` on every request."""

    url: str
    secret_token: str


async def serve(
    bot: Running,
    *,
    webhook: Webhook | None = None,
    listen: Listen | None = None,
    drop_pending: bool = False,
    stop: asyncio.Event | None = None,
    poll_timeout: int = 30,
) -> None:
    """Bring updates in until SIGINT or SIGTERM (or `stop` is set): through the inbox, by long
    polling or the webhook. HTTP is served when there is a webhook or a `listen` address
    (by default 127.0.0.1:8443). Pending updates are kept unless `drop_pending` says so."""
    app, services = bot.app, bot.services
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    # What start-up built (the event, the texts, PTB's objects) lives as long as the bot:
    # kept out of the collector's full passes, which otherwise stall the loop for 40-60 ms
    # every so often under load.
    gc_frozen.hold()
    http: HttpServer | None = None
    walls: Walls | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        poller = InboxPoller(app, services.inbox, timeout=poll_timeout, raw=bot.raw_updates)
        await poller.resume()
        routes = []
        if webhook is not None:
            hook = TelegramWebhook(
                app.bot, services.inbox, app.update_queue.put, secret_token=webhook.secret_token
            )
            routes.append(hook.route(urlsplit(webhook.url).path or "/"))
        if webhook is not None or listen is not None:
            listen = listen or Listen()
            walls, console = live_walls(services)
            http = HttpServer(
                build_web_app(lambda: snapshot(services), routes, walls, console), listen
            )
            await http.start()
            bot.http_port = http.port
            log.info("HTTP: listening on %s:%d", listen.host, http.port)
        if webhook is not None:
            await app.bot.set_webhook(
                webhook.url,
                secret_token=webhook.secret_token,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=drop_pending,
            )
            log.info("receiving updates by webhook")
        else:
            await app.bot.delete_webhook(drop_pending_updates=drop_pending)
            tasks.append(loop.create_task(poller.run(stop)))
            log.info("polling for updates")
        tasks.append(loop.create_task(_health_log(services, stop)))
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if walls is not None:
            await walls.hub.stop()  # open streams end, so the server stops without waiting
        if http is not None:
            await http.stop()
        gc_frozen.let_go()  # a process that serves again (the tests) may collect it all


async def _health_log(services: Services, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=60)
            return
        figures = await snapshot(services)
        services.monitor.take_longest()
        log.info(
            "health: inbox %d pending, %d quarantined; outbox %d pending, %d unknown; "
            "last delivery %s; longest loop stall %d ms",
            figures.inbox_pending,
            figures.inbox_quarantined,
            figures.outbox_pending,
            figures.outbox_unknown,
            figures.last_delivery,
            figures.stall_ms,
        )
