"""`python -m bot export --media`: the photos, documents and voice notes of the exported
inputs fetched from the Bot API (getFile, then the file URL) into a folder beside the data
files, which name each file relative to themselves; without a token, a clear refusal."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest

from bot.__main__ import EXIT_OK, EXIT_USAGE, main
from bot.clock import ManualClock
from bot.event import Event
from bot.sandbox import FakeBotApiServer
from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import TOKEN
from tests.handlers.helpers import at, check_in, run_until

MEDIA = "aabne-vaerksteder-2018-media"


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; loopback traffic must never be sent anywhere else."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)


async def answered_with_media(harness: BotHarness, event: Event, clock: ManualClock) -> None:
    anna = harness.api.user(701, "Anna Andersen", language_code="da")
    await check_in(harness, anna, "aalborg-t2")
    await run_until(harness, clock, at(event, "13:41"))
    anna.send("Politikerne skal sætte rammen.")
    anna.send_photo("Vores flipover", content=b"\xff\xd8\xff\xe0 flipover")
    anna.send_voice(7)
    anna.send_document("noter.pdf", "Referat", content=b"%PDF-1.4 noter")
    await harness.settle()


async def test_export_media_fetches_the_files_beside_the_export_and_names_them(
    harness: BotHarness,
    seed_event: Event,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await answered_with_media(harness, seed_event, clock)
    out = tmp_path / "exports"
    async with FakeBotApiServer(harness.api) as server:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", server.base_url)
        monkeypatch.setenv("TELEGRAM_API_FILE_URL", server.base_file_url)
        args = ["export", "--media", "--database", str(harness.database_path), "--out", str(out)]
        code = await asyncio.to_thread(main, args)

    assert code == EXIT_OK
    stored = harness.query("SELECT id, kind, file_id FROM inputs ORDER BY id")
    by_kind = {kind: (input_id, file_id) for input_id, kind, file_id in stored}
    expected = {
        "photo": f"{MEDIA}/{by_kind['photo'][0]}.jpg",
        "voice": f"{MEDIA}/{by_kind['voice'][0]}.oga",
        "document": f"{MEDIA}/{by_kind['document'][0]}.pdf",
    }
    for kind, relative in expected.items():
        assert (out / relative).read_bytes() == harness.api.files[by_kind[kind][1]].content
    assert sorted(p.name for p in (out / MEDIA).iterdir()) == sorted(
        Path(r).name for r in expected.values()
    )
    assert len(harness.api.calls_to("getFile")) == 3
    with (out / "aabne-vaerksteder-2018.csv").open(encoding="utf-8-sig") as handle:
        rows = {row["kind"]: row["media_file"] for row in csv.DictReader(handle)}
    assert rows == {"text": "", **expected}
    data = json.loads((out / "aabne-vaerksteder-2018.json").read_text(encoding="utf-8"))
    assert {i["kind"]: i["media_file"] for i in data["inputs"]} == {"text": None, **expected}


async def test_export_media_without_a_token_says_what_it_needs(
    harness: BotHarness,
    seed_event: Event,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await answered_with_media(harness, seed_event, clock)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    out = tmp_path / "exports"
    args = ["export", "--media", "--database", str(harness.database_path), "--out", str(out)]

    code = await asyncio.to_thread(main, args)

    assert code == EXIT_USAGE
    assert "set TELEGRAM_BOT_TOKEN" in capsys.readouterr().err
    assert not out.exists()
    assert harness.api.calls_to("getFile") == []
