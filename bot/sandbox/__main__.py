"""`python -m bot.sandbox serve`: run the fake Telegram Bot API on loopback for manual rehearsals.

Point the bot at it with TELEGRAM_API_BASE_URL and play the participants with curl against the
control API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from bot.sandbox.fake_api import FakeBotApi, TelegramLimits
from bot.sandbox.http import FakeBotApiServer

_EPILOG = """\
control API (JSON bodies):
  POST /_control/send     {"user_id": 42, "first_name": "Ana", "language_code": "da",
                           "text": "/start"}  (add "chat_id": -100..., "title" for a group)
  POST /_control/press    {"user_id": 42, "message_id": 3, "callback_data": "..."}
  POST /_control/block    {"user_id": 42}      (and /_control/unblock)
  POST /_control/fail     {"method": "sendMessage", "error_code": 429, "retry_after": 5}
  GET  /_control/messages?chat_id=42           what the bot sent to that chat
  GET  /_control/calls[?method=sendMessage]    every Bot API call, answered
  GET  /_control/updates                       updates the bot has not confirmed yet
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox",
        description="A fake Telegram Bot API for offline rehearsals. Nothing leaves the machine.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the fake Bot API over HTTP on a loopback address",
        description="Serve the fake Bot API over HTTP on a loopback address until interrupted.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="loopback address to bind (127.0.0.1, ::1 or localhost; default: %(default)s)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8081,
        help="TCP port, 0 for any free one (default: %(default)s)",
    )
    serve.add_argument(
        "--token",
        default="123456:TEST-token",
        help="the only bot token the fake accepts (default: %(default)s)",
    )
    serve.add_argument(
        "--bot-username", default="samtidig_bot", help="the bot's @username (default: %(default)s)"
    )
    serve.add_argument(
        "--limits",
        action="store_true",
        help="enforce Telegram's flood limits (30/s overall, 1/s per chat, 20/min per group)",
    )
    serve.add_argument(
        "--lenient",
        action="store_true",
        help="do not record unknown Bot API methods as unexpected",
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="DEBUG logs every Bot API call (default: %(default)s)",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    api = FakeBotApi(args.token, bot_username=args.bot_username, strict=not args.lenient)
    if args.limits:
        api.limits = TelegramLimits()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not available on Windows
            loop.add_signal_handler(signum, stop.set)
    async with FakeBotApiServer(api, args.host, args.port) as server:
        print(  # noqa: T201 - talking to the person who started the sandbox is the point
            f"Fake Telegram Bot API on {server.origin}\n"
            f"  TELEGRAM_API_BASE_URL={server.base_url}\n"
            f"  TELEGRAM_API_BASE_FILE_URL={server.base_file_url}\n"
            f"  bot token: {api.token}\n"
            f"  try: curl -s {server.origin}/_control/send -d "
            '\'{"user_id": 42, "first_name": "Ana", "text": "/start"}\'\n'
            "Stop with Ctrl-C.",
            flush=True,
        )
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(args))
    except ValueError as error:  # a non-loopback --host, a malformed --token
        print(f"error: {error}", file=sys.stderr)  # noqa: T201
        return 2
    except OSError as error:
        print(f"error: cannot listen: {error}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
