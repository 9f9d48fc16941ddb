"""`python -m bot …`: the command line. Builds Settings, calls the composition root.

Operator-facing output is in English; everything participants see lives in `prompts/`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.config import Settings
from bot.eventfile import SEED_EVENT, EventFileError, load_event

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


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

    check = sub.add_parser(
        "check",
        help="validate an event file and print its summary",
        description="Validate an event file. Prints a summary and exits 0, or prints every "
        "problem as file:line: field: message and exits 1.",
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
    return parser


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
    except EventFileError as exc:
        print(f"The event file has {len(exc.problems)} problem(s):", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_USAGE  # pragma: no cover - argparse requires a command


def _check(path: Path, lang: str | None) -> int:
    from bot.event_summary import render_summary

    event = load_event(path)
    print(render_summary(event, lang))
    print(f"\n{path}: OK")
    return EXIT_OK


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        print(f"The settings are not valid: {problems}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _rehearse(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from bot import logs
    from bot.sandbox.rehearsal import rehearse

    settings = _settings()
    # The timeline is the output; the bot's own INFO lines would drown it.
    logs.configure("WARNING", [])
    logging.getLogger("bot.services.delivery").setLevel(logging.ERROR)
    event_file = args.event or settings.event_file
    print(f"Rehearsing {event_file} with {args.participants} simulated participants…", flush=True)
    result = asyncio.run(
        rehearse(
            event_file,
            participants=args.participants,
            speed=args.speed,
            out=args.out,
            seed=args.seed,
        )
    )
    print(result.text)
    print(f"Database and reports in {result.out}/")
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
    from telegram import Update
    from telegram.error import InvalidToken, NetworkError

    from bot import logs
    from bot.app import MissingTokenError, build_application
    from storage.db import DatabaseError

    settings = _settings()
    if args.event is not None:
        settings = settings.model_copy(update={"event_file": args.event})
    token = settings.telegram_bot_token
    logs.configure(settings.log_level, [token.get_secret_value()] if token else [])
    try:
        app = build_application(settings)
    except MissingTokenError:
        print(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram and put "
            "its token in TELEGRAM_BOT_TOKEN (environment or .env).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        # Pending updates are kept: what participants wrote while the bot was down still counts.
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
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
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
