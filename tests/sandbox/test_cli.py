"""`python -m bot.sandbox serve` as a person (or a crash test) starts it."""

import asyncio
import signal
import sys
from pathlib import Path

import httpx
import pytest

from bot.sandbox.__main__ import main

REPO = Path(__file__).resolve().parents[2]


async def test_serve_prints_its_base_url_answers_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox",
        "serve",
        "--port",
        "0",
        "--token",
        "777:REHEARSAL",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        base_url = ""
        while not base_url:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=10)).decode()
            assert line, "the sandbox exited before printing its base URL"
            if "TELEGRAM_API_BASE_URL=" in line:
                base_url = line.split("=", 1)[1].strip()
        async with httpx.AsyncClient(trust_env=False) as client:
            me = (await client.post(f"{base_url}777:REHEARSAL/getMe")).json()
            origin = base_url.removesuffix("/bot")
            await client.post(f"{origin}/_control/send", json={"user_id": 5, "text": "/start"})
            calls = (await client.get(f"{origin}/_control/calls")).json()["result"]
        assert base_url.startswith("http://127.0.0.1:")
        assert me["result"]["id"] == 777
        assert [c["method"] for c in calls] == ["getMe"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0, stderr.decode()


def test_serve_refuses_a_public_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2  # noqa: S104

    assert "loopback" in capsys.readouterr().err


def test_help_documents_the_control_api(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])

    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "/_control/send" in help_text
    assert "--port" in help_text
