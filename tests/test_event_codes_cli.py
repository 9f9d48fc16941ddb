"""`check` and `run` on the seed's published demo codes and on facilitators listed by
@username: refused outside a rehearsal, warned about, and the seed itself still checks clean."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.event import PUBLISHED_DEMO_CODES
from bot.eventfile import SEED_EVENT, load_event
from bot.sandbox import FakeBotApi, FakeBotApiServer
from tests.test_run_over_http import TOKEN, _run_bot
from tests.waiting import eventually

SEED = SEED_EVENT.read_text(encoding="utf-8")
OWN_CODES = {
    "demo-arrangoer-Xk42pQ9t": "vores-egen-arrangoer-8Hq2",
    "demo-vaert-aalborg-7Fq3Lm": "vores-egen-vaert-aal-3Jx9",
    "demo-vaert-kobenhavn-R8n2Vw5c": "vores-egen-vaert-kbh-5Tz1",
}


def _with_own_codes(text: str = SEED, *, keep: str | None = None) -> str:
    for demo, own in OWN_CODES.items():
        if demo != keep:
            text = text.replace(demo, own)
    return text


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "event.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_secret_code_of_the_seed_is_a_published_demo_code() -> None:
    event = load_event(SEED_EVENT)
    secrets = {event.event.organiser_code} | {site.facilitator_code for site in event.sites}
    assert secrets <= PUBLISHED_DEMO_CODES


def test_check_of_a_copy_of_the_seed_reports_each_demo_code_with_its_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, SEED)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    organiser = _line_of(SEED, "demo-arrangoer-Xk42pQ9t")
    aalborg = _line_of(SEED, "demo-vaert-aalborg-7Fq3Lm")
    kobenhavn = _line_of(SEED, "demo-vaert-kobenhavn-R8n2Vw5c")
    assert f"{path}:{organiser}: event.organiser_code: this is a published demo code" in err
    assert f"{path}:{aalborg}: sites[0](aalborg).facilitator_code: this is a published" in err
    assert f"{path}:{kobenhavn}: sites[1](kobenhavn).facilitator_code: this is a" in err
    assert "3 problem(s)" in err


def test_check_refuses_one_demo_code_left_among_own_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _with_own_codes(keep="demo-vaert-kobenhavn-R8n2Vw5c")
    path = _write(tmp_path, text)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "1 problem(s)" in err
    assert f"{path}:{_line_of(text, 'demo-vaert-kobenhavn')}: sites[1](kobenhavn)" in err


def test_check_of_the_seed_itself_exits_0_with_a_note_on_its_demo_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    note = next(line for line in out.splitlines() if line.startswith("Note:"))
    assert "event.organiser_code" in note
    assert "sites[1](kobenhavn).facilitator_code" in note
    assert "`python -m bot rehearse`" in note
    assert "`python -m bot run` refuses them" in note


def test_check_of_a_copy_with_own_codes_exits_0_without_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(_write(tmp_path, _with_own_codes()))]) == 0
    captured = capsys.readouterr()
    assert "Note:" not in captured.out
    assert captured.err == ""


def test_check_warns_once_per_facilitator_listed_by_username_and_still_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _with_own_codes().replace(
        "facilitators: []", 'facilitators: [4711, "@anna_vaert", "@bo_vaert"]', 1
    )
    path = _write(tmp_path, text)
    assert main(["check", str(path)]) == 0
    warnings = capsys.readouterr().err.splitlines()
    line = _line_of(text, "@anna_vaert")
    assert [w.split(": WARNING: ")[0] for w in warnings] == [
        f"{path}:{line}: sites[0](aalborg).facilitators[1]",
        f"{path}:{line}: sites[0](aalborg).facilitators[2]",
    ]
    assert all("numeric Telegram user id is safer" in w for w in warnings)


def _run(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVENT_FILE", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    # Nothing listens there: had the bot started, it would fail to reach it.
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9/bot")
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "run.sqlite3"))
    return main(argv)


def test_run_refuses_the_seed_in_one_line_naming_the_fields_and_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(["run"], tmp_path, monkeypatch)
    said = capsys.readouterr().err.strip()
    assert code == 1
    assert said.count("\n") == 0, said
    assert said.startswith("Not starting:"), said
    assert "event.organiser_code, sites[0](aalborg).facilitator_code" in said
    assert "--allow-demo-codes" in said
    assert not (tmp_path / "run.sqlite3").exists()  # refused before anything was opened


def test_run_refuses_a_file_with_one_demo_code_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, _with_own_codes(keep="demo-arrangoer-Xk42pQ9t"))
    code = _run(["run", "--event", str(path)], tmp_path, monkeypatch)
    said = capsys.readouterr().err
    assert code == 1
    assert "published demo codes (event.organiser_code)" in said


async def test_run_with_allow_demo_codes_starts_and_logs_each_username_warning_once(
    tmp_path: Path,
) -> None:
    text = SEED.replace("facilitators: []", 'facilitators: ["@anna_vaert"]', 1)
    path = _write(tmp_path, text)
    api = FakeBotApi(TOKEN)
    async with FakeBotApiServer(api) as server:
        process = await _run_bot(tmp_path, server, "--event", str(path))
        try:
            await eventually(lambda: api.calls_to("deleteWebhook"), what="polling to start")
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    log = (stdout + stderr).decode()
    assert process.returncode == 0, log
    line = _line_of(text, "@anna_vaert")
    assert log.count(f"{path}:{line}: sites[0](aalborg).facilitators[0]: listed by") == 1, log
    assert "anna_vaert" not in log  # a username is a name: not logged
