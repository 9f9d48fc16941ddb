"""A fake Telegram Bot API for tests, benchmarks and offline workshop rehearsals.

`FakeBotApi` holds the server state and rules; `FakeRequest` plugs it into python-telegram-bot
in-process, `FakeBotApiServer` serves it over loopback HTTP. `FakeUser` and `FakeGroup` play the
people on the other side.
"""

from bot.sandbox.fake_api import (
    ApiCall,
    FakeBotApi,
    FakeGroup,
    FakeUser,
    Fault,
    FaultKind,
    StoredFile,
    TelegramLimits,
    TransportFault,
)
from bot.sandbox.http import FakeBotApiServer
from bot.sandbox.request import FakeRequest

__all__ = [
    "ApiCall",
    "FakeBotApi",
    "FakeBotApiServer",
    "FakeGroup",
    "FakeRequest",
    "FakeUser",
    "Fault",
    "FaultKind",
    "StoredFile",
    "TelegramLimits",
    "TransportFault",
]
