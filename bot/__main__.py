"""`python -m bot …`: the command line. Builds Settings, calls the composition root.

Operator-facing output is in English; everything participants see lives in `prompts/`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from bot.config import Settings
from bot.eventfile import SEED_EVENT, EventFileError, Problem, Review, load_event, review_event
from bot.export import Format

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_SET_THE_VARIABLE = (
    "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram and put "
    "its token in TELEGRAM_BOT_TOKEN (environment or .env)."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Samtidig: a Telegram bot for workshops held at several sites at once.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the live bot (long polling)",
        description="Run the live bot. Needs TELEGRAM_BOT_TOKEN; reads the settings from the "
        "environment or .env (see .env.example).",
    )
    run.add_argument("--event", type=Path, help="event file (default: EVENT_FILE or the seed)")
    run.add_argument(
        "--webhook",
        metavar="URL",
        help="receive updates at this HTTPS URL instead of long polling (a reverse proxy "
        "terminates TLS and forwards to --listen:--port; Telegram's secret token is checked "
        "on every request: WEBHOOK_SECRET, or a random one per start)",
    )
    run.add_argument(
        "--serve",
        action="store_true",
        help="serve HTTP on --listen:--port while long polling (the walls, /healthz; implied "
        "by --webhook and by --listen)",
    )
    run.add_argument(
        "--listen",
        metavar="HOST",
        help="serve HTTP (the walls, /healthz, the webhook) on this address (default with "
        "--serve or --webhook: 127.0.0.1); links use PUBLIC_URL",
    )
    run.add_argument("--port", type=_port, default=8443, help="HTTP port (default: %(default)s)")
    run.add_argument(
        "--drop-pending-updates",
        action="store_true",
        help="discard what Telegram holds for the bot at start (never done otherwise)",
    )
    run.add_argument(
        "--allow-demo-codes",
        action="store_true",
        help="start even with the seed event's published demo codes, which anyone can use: "
        "only for a local trial against a fake Telegram",
    )

    check = sub.add_parser(
        "check",
        help="validate an event file and print its summary",
        description="Validate an event file. Prints a summary and exits 0, or prints every "
        "problem as file:line: field: message and exits 1. A published demo code (the seed "
        "event's organiser and facilitator codes) is such a problem, except in the seed "
        "itself, where a note says so; a facilitator listed by @username gets a WARNING.",
    )
    check.add_argument("file", type=Path, nargs="?", help="event file (default: the seed event)")
    check.add_argument("--lang", help="language of the summary (default: the event's first)")

    rehearse = sub.add_parser(
        "rehearse",
        help="run the whole event offline, accelerated, with simulated participants",
        description="Run the event with the real bot against a built-in fake Telegram: "
        "simulated participants check in, receive the programme and answer; one facilitator "
        "per site delays once and broadcasts once. Prints each site's timeline in event time "
        "and a summary, and writes the database, timeline.txt and summary.json under --out. "
        "Needs no token and no network.",
    )
    rehearse.add_argument(
        "event", type=Path, nargs="?", help="event file (default: EVENT_FILE or the seed event)"
    )
    rehearse.add_argument(
        "--participants", type=_positive, default=75, help="simulated participants (default 75)"
    )
    rehearse.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="event seconds per real second, e.g. 120; 0 (default) runs as fast as it can",
    )
    rehearse.add_argument(
        "--out",
        type=Path,
        default=Path("rehearsal-output"),
        help="folder for the database and reports (default: %(default)s)",
    )
    rehearse.add_argument("--seed", type=int, default=2018, help="random seed (default 2018)")
    rehearse.add_argument(
        "--serve",
        action="store_true",
        help="serve the walls and the console while the rehearsal runs and print their URLs "
        "and console sign-in links (without --speed it runs at 60 event seconds a second, to "
        "be watched)",
    )
    rehearse.add_argument(
        "--listen", default="127.0.0.1", metavar="HOST", help="with --serve (default: %(default)s)"
    )
    rehearse.add_argument(
        "--port", type=_port, default=8080, help="with --serve (default: %(default)s)"
    )

    purge = sub.add_parser(
        "purge",
        help="erase the personal data of a past event (retention)",
        description="Erase every participant's personal data of the event (profile, consent, "
        "check-in, inputs, votes, what was sent to them), keeping only an anonymous count. "
        "With --before, if the event took place before DATE; without it, if the event "
        "file's retention_days have passed. Exports made afterwards are empty.",
    )
    purge.add_argument("--before", type=_date, metavar="YYYY-MM-DD", help="cut-off date")
    purge.add_argument("--event", type=Path, help="event file (default: EVENT_FILE or the seed)")
    purge.add_argument("--database", type=Path, help="database (default: DATABASE_PATH)")

    qr = sub.add_parser(
        "qr",
        help="write printable QR check-in cards (PNG and SVG)",
        description="Write one PNG and one SVG card per site and per table code, each encoding "
        "https://t.me/<bot>?start=<code> with the name printed under it.",
    )
    qr.add_argument("--event", type=Path, help="event file (default: EVENT_FILE or the seed)")
    qr.add_argument("--bot-username", required=True, help="the bot's @username from BotFather")
    qr.add_argument(
        "--out", type=Path, default=Path("qr-codes"), help="folder (default: %(default)s)"
    )
    qr.add_argument("--lang", help="language of the captions (default: the event's first)")

    walls = sub.add_parser(
        "walls",
        help="print the links of the walls (one per site, one for all sites)",
        description="Print each wall's secret link: PUBLIC_URL/wall/<token> (only the path "
        "while PUBLIC_URL is not set). Tokens are made at the first start and kept in the "
        "database. --rotate gives a site's wall (or every wall) a new token: the old link "
        "stops working at once, and pages open on it close within seconds, even while the "
        "bot runs.",
    )
    walls.add_argument(
        "--rotate", metavar="SITE|all", help="a new token for this site's wall, or every wall"
    )
    walls.add_argument("--event", type=Path, help="event file (default: EVENT_FILE or the seed)")
    walls.add_argument("--database", type=Path, help="SQLite file (default: DATABASE_PATH)")

    export = sub.add_parser(
        "export",
        help="export the inputs and the report (CSV, XLSX, JSON, HTML, Markdown)",
        description="Export what the event produced from its database: one row per visible "
        "input as CSV (UTF-8 with BOM), XLSX (a sheet per site and a summary) and JSON "
        "(schema: prompts/export-v1.schema.json), and a readable report as HTML (pictures "
        "inside) and Markdown (pictures in a folder beside it). Without --format, every "
        "format goes into the folder --out. Hidden and withdrawn inputs are never exported; "
        "authors appear only as the event's anonymity allows. Reads the database read-only, "
        "so it can run while the bot does.",
    )
    export.add_argument(
        "--format",
        choices=[fmt.value for fmt in Format],
        help="one format (default: all of them)",
    )
    export.add_argument("--site", help="only this site (its key in the event file)")
    export.add_argument(
        "--out",
        type=Path,
        default=Path("exports"),
        help="folder; with --format also a file name ending in that format (default: %(default)s)",
    )
    export.add_argument("--event", type=Path, help="event file (default: EVENT_FILE or the seed)")
    export.add_argument("--database", type=Path, help="SQLite file (default: DATABASE_PATH)")
    export.add_argument(
        "--media",
        action="store_true",
        help="also fetch the photos, documents and voice notes of the exported inputs from "
        "Telegram (getFile; needs TELEGRAM_BOT_TOKEN) into <event>-media/ beside the data "
        "files, named by input id; the CSV, XLSX and JSON name each file in `media_file`",
    )
    return parser


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("give a date as YYYY-MM-DD") from None


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError("give a port from 0 to 65535")
    return int(value)


def _positive(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 100_000:
        raise argparse.ArgumentTypeError("give a number from 1 to 100000")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    # Opt in to PTB 23's behaviour now: durations and retry_after as timedeltas, without a
    # deprecation warning on every voice note.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return _check(args.file or SEED_EVENT, args.lang)
        if args.command == "qr":
            return _qr(args)
        if args.command == "run":
            return _run(args)
        if args.command == "rehearse":
            return _rehearse(args)
        if args.command == "purge":
            return _purge(args)
        if args.command == "export":
            return _export(args)
        if args.command == "walls":
            return _walls(args)
    except EventFileError as exc:
        print(f"The event file has {len(exc.problems)} problem(s):", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_USAGE  # pragma: no cover - argparse requires a command


def _check(path: Path, lang: str | None) -> int:
    from bot.event_summary import render_summary

    review = review_event(path)
    for warning in review.warnings:
        print(_warning(warning), file=sys.stderr)
    if review.demo_codes and not review.seed:
        raise EventFileError(review.demo_codes)
    print(render_summary(review.event, lang))
    if review.demo_codes:
        print(
            f"\nNote: {_fields(review)} hold the published demo codes of the seed event, known "
            "to anyone: fine for `python -m bot rehearse`; `python -m bot run` refuses them. "
            "For a real event, copy this file and choose your own secret codes."
        )
    print(f"\n{path}: OK")
    return EXIT_OK


def _warning(problem: Problem) -> str:
    return str(Problem(problem.path, problem.line, problem.field, f"WARNING: {problem.message}"))


def _fields(review: Review) -> str:
    return ", ".join(problem.field for problem in review.demo_codes)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        print(f"The settings are not valid: {problems}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _purge(args: argparse.Namespace) -> int:
    import asyncio

    from bot.clock import SystemClock
    from bot.services.privacy import PrivacyService
    from storage.db import Database
    from storage.unit_of_work import SqliteUnitOfWork

    settings = _settings()
    event = load_event(args.event or settings.event_file)
    database = args.database or settings.database_path
    if not Path(database).exists():
        print(f"No database at {database}.", file=sys.stderr)
        return EXIT_INVALID

    async def purge() -> int | None:
        db = await Database.open(database)
        try:
            service = PrivacyService(SqliteUnitOfWork(db), SystemClock(), event)
            return await service.purge_event(args.before)
        finally:
            await db.close()

    erased = asyncio.run(purge())
    if erased is None:
        print(f"{event.key} ({event.event.date}) is within its retention period: nothing erased.")
    else:
        print(f"{event.key}: erased the personal data of {erased} people.")
    return EXIT_OK


def _rehearse(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from bot import logs
    from bot.sandbox.rehearsal import rehearse

    settings = _settings()
    # The timeline is the output; the bot's own INFO lines would drown it.
    logs.configure("WARNING", [])
    logging.getLogger("bot.services.delivery").setLevel(logging.ERROR)
    from web.server import Listen

    event_file = args.event or settings.event_file
    print(f"Rehearsing {event_file} with {args.participants} simulated participants…", flush=True)
    speed = args.speed if args.speed > 0 or not args.serve else 60.0
    if args.serve:
        print(f"Served live at {speed:g} event seconds a second; open in a browser:", flush=True)
    result = asyncio.run(
        rehearse(
            event_file,
            participants=args.participants,
            speed=speed,
            out=args.out,
            seed=args.seed,
            serve=Listen(args.listen, args.port) if args.serve else None,
            announce=lambda line: print(line, flush=True),
        )
    )
    print(result.text)
    print(f"Database and reports in {result.out}/")
    return EXIT_OK


def _walls(args: argparse.Namespace) -> int:
    import asyncio

    from bot.clock import SystemClock
    from bot.i18n import Catalogue
    from bot.services.walls import ALL_SITES, WallLink, WallService
    from storage.db import Database
    from storage.unit_of_work import SqliteUnitOfWork

    settings = _settings()
    event = load_event(args.event or settings.event_file)
    database = args.database or settings.database_path
    texts = Catalogue.load(default=event.default_language)
    rotate: list[str] = []
    if args.rotate is not None:
        rotate = (
            [site.key for site in event.sites] + [ALL_SITES]
            if args.rotate == "all"
            else [args.rotate]
        )
        if args.rotate != "all" and event.site(args.rotate) is None:
            sites = ", ".join(site.key for site in event.sites)
            print(
                f"There is no site {args.rotate!r} in {event.key}; its sites: {sites}, or all",
                file=sys.stderr,
            )
            return EXIT_USAGE

    async def links() -> list[WallLink]:
        db = await Database.open(database)
        try:
            service = WallService(
                event, SqliteUnitOfWork(db), SystemClock(), texts, public_url=settings.public_url
            )
            if rotate:
                await service.rotate(rotate)
            return await service.links()
        finally:
            await db.close()

    for link in asyncio.run(links()):
        rotated = "  (new)" if link.wall in rotate else ""
        print(f"{link.name}: {link.url or '/wall/' + link.token}{rotated}")
    if settings.public_url is None:
        print("PUBLIC_URL is not set: open these paths on the bot's --listen address.")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    import asyncio
    import time
    from datetime import UTC, datetime

    from bot.export import ALL_FORMATS
    from bot.export.records import Scope
    from bot.export.runner import Written, target_paths, write_exports
    from bot.export.source import ExportSource
    from bot.i18n import Catalogue
    from storage.exports import ExportSchemaError, open_export_source

    settings = _settings()
    event = load_event(args.event or settings.event_file)
    if args.site is not None and event.site(args.site) is None:
        sites = ", ".join(site.key for site in event.sites)
        print(
            f"There is no site {args.site!r} in {event.key}; its sites: {sites}", file=sys.stderr
        )
        return EXIT_USAGE
    database = args.database or settings.database_path
    texts = Catalogue.load(default=event.default_language)
    formats = (Format(args.format),) if args.format else ALL_FORMATS
    only = (args.site,) if args.site else None
    if args.media and settings.telegram_bot_token is None:
        print(
            "export --media fetches the files from Telegram with the bot's token: set "
            "TELEGRAM_BOT_TOKEN (and TELEGRAM_API_BASE_URL / TELEGRAM_API_FILE_URL for a local "
            "Bot API server), or export without --media.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    paths = target_paths(event.key, args.out, formats, only)
    # Beside the data files, and named relative to them, so the folder can move as a whole.
    media_folder = next(iter(paths.values())).parent / f"{event.key}-media"
    missing: list[int] = []
    media_files: dict[int, str] = {}
    if args.media:
        media_folder.mkdir(parents=True, exist_ok=True)

    async def export() -> list[Written]:
        async with open_export_source(database) as source:
            if args.media:
                media_files.update(
                    await _fetch_media(settings, source, event.key, only, media_folder)
                )
            return await write_exports(
                event,
                texts,
                source,
                args.out,
                formats=formats,
                only=only,
                generated_at=datetime.now(UTC),
                media_files=media_files,
            )

    async def _fetch_media(
        settings: Settings,
        source: ExportSource,
        event_key: str,
        only: tuple[str, ...] | None,
        folder: Path,
    ) -> dict[int, str]:
        from telegram import Bot

        from bot.telegram.files import fetch_media

        wanted = [
            (row.id, row.file_id)
            for scope in ([Scope(site_key=s) for s in only] if only else [Scope()])
            async for row in source.inputs(event_key, scope)
            if row.file_id is not None
        ]
        assert settings.telegram_bot_token is not None  # noqa: S101 - checked above
        async with Bot(
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_base_url,
            base_file_url=settings.telegram_api_file_url,
        ) as bot:
            fetched = await fetch_media(bot, wanted, folder)
        missing.extend(fetched.missing)
        return {input_id: f"{folder.name}/{path.name}" for input_id, path in fetched.files.items()}

    started = time.perf_counter()
    try:
        written = asyncio.run(export())
    except ExportSchemaError as exc:
        print(f"Cannot export: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for item in written:
        print(f"  {item.path}  {item.inputs} inputs, {item.size / 1024:,.0f} KiB")
    if args.media:
        print(f"  {media_folder}/  {len(media_files)} media file(s)")
        if missing:
            ids = ", ".join(str(i) for i in missing)
            print(f"  Telegram gave no file for input(s) {ids}: not in the folder")
    print(
        f"Exported {event.key} from {database}: {len(written)} file(s) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return EXIT_OK


def _qr(args: argparse.Namespace) -> int:
    from bot.i18n import Catalogue
    from bot.qrcards import write_cards

    settings = _settings()
    event = load_event(args.event or settings.event_file)
    texts = Catalogue.load(default=event.default_language)
    written = write_cards(event, texts, args.bot_username, args.out, args.lang)
    print(f"Wrote {len(written)} files ({len(written) // 2} cards) to {args.out}/")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import secrets

    from telegram.error import InvalidToken, NetworkError

    from bot import logs
    from bot.app import MissingTokenError, Webhook, running, serve
    from storage.db import DatabaseError
    from web.server import Listen

    settings = _settings()
    if args.event is not None:
        settings = settings.model_copy(update={"event_file": args.event})
    token = settings.telegram_bot_token
    if token is None:
        print(_SET_THE_VARIABLE, file=sys.stderr)
        return EXIT_USAGE
    review = review_event(settings.event_file)
    if review.demo_codes and not args.allow_demo_codes:
        print(
            f"Not starting: {settings.event_file} uses published demo codes ({_fields(review)}), "
            "with which anyone can become organiser or facilitator; put your own secret codes "
            "in the event file, or pass --allow-demo-codes for a local trial against a fake "
            "Telegram.",
            file=sys.stderr,
        )
        return EXIT_INVALID
    logs.configure(settings.log_level, [token.get_secret_value()])
    for warning in review.warnings:
        # The field and line only: the username itself is a name, and names are not logged.
        logging.getLogger("bot").warning("%s", warning)
    webhook = None
    if args.webhook:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        webhook = Webhook(url=args.webhook, secret_token=secret or secrets.token_urlsafe(32))
    serving = webhook is not None or args.serve or args.listen is not None
    listen = Listen(args.listen or "127.0.0.1", args.port) if serving else None

    async def run() -> None:
        async with running(settings, event=review.event) as bot:
            # Pending updates are kept unless asked: what participants wrote while the bot
            # was down still counts.
            await serve(
                bot, webhook=webhook, listen=listen, drop_pending=args.drop_pending_updates
            )

    try:
        asyncio.run(run())
    except MissingTokenError:  # pragma: no cover - the token was looked at above
        print(_SET_THE_VARIABLE, file=sys.stderr)
        return EXIT_USAGE
    except DatabaseError as exc:
        print(f"Database problem: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except InvalidToken:
        print(
            "Telegram rejected TELEGRAM_BOT_TOKEN: copy the token again from @BotFather.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except NetworkError as exc:
        # The message names the exception class only; PTB's text could contain the URL.
        print(
            f"Cannot reach the Bot API at TELEGRAM_API_BASE_URL ({type(exc).__name__}); "
            "check the network or the setting.",
            file=sys.stderr,
        )
        return EXIT_INVALID
    except OSError as exc:
        print(f"Cannot listen on {args.listen}:{args.port}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
