"""The command line: `check`, `qr`, and the settings it reads."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PIL import Image

from bot.__main__ import main
from bot.config import Settings
from bot.eventfile import SEED_EVENT
from bot.logs import RedactFilter


def test_check_prints_both_sites_timelines_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "Aalborg" in out
    assert "København" in out
    assert out.count("13:00") >= 2
    assert out.count("16:00") >= 2
    assert "OK" in out


def test_check_reports_file_line_and_field_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    text = SEED_EVENT.read_text(encoding="utf-8").replace(
        "timezone: Europe/Copenhagen", "timezone: Europe/Aalborg"
    )
    broken.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "Europe/Aalborg" in s)
    assert main(["check", str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"{broken}:{line}:" in err
    assert "timezone" in err
    assert "Traceback" not in err


def test_qr_writes_a_png_and_an_svg_card_per_site_and_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cards"
    assert main(["qr", "--bot-username", "@samtidig_bot", "--out", str(out)]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "aalborg.png" in pngs
    assert "aalborg-t2.png" in pngs
    assert "kobenhavn-t4.png" in pngs
    assert len(pngs) == 2 + 8  # two sites, four tables each
    assert len(list(out.glob("*.svg"))) == len(pngs)
    with Image.open(out / "aalborg-t2.png") as image:
        assert image.width >= 400
        # The name is printed under the code: the strip below it has dark pixels.
        strip = image.convert("L").crop((0, image.height - 140, image.width, image.height))
        darkest, _ = strip.getextrema()
        assert isinstance(darkest, int)  # one band ("L"): (min, max), not a pair per band
        assert darkest < 100
    svg = (out / "aalborg-t2.svg").read_text(encoding="utf-8")
    assert "Aalborg · Bord 2" in svg
    assert "aalborg-t2" in svg


def test_qr_cards_encode_the_deep_link() -> None:
    from bot.eventfile import load_event
    from bot.qrcards import cards

    found = {card.code: card.link for card in cards(load_event(SEED_EVENT), "samtidig_bot", "da")}
    assert found["aalborg-t2"] == "https://t.me/samtidig_bot?start=aalborg-t2"


def test_settings_read_the_environment_with_the_documented_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:abc")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot{token}/x")
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "db.sqlite3"))
    monkeypatch.setenv("ORGANIZER_IDS", "12, 34,56")
    monkeypatch.setenv("EVENT_FILE", "")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings(_env_file=None)
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "1:abc"
    assert "1:abc" not in repr(settings)
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot{token}/x"
    assert settings.organizer_ids == frozenset({12, 34, 56})
    assert settings.event_file == Path(str(SEED_EVENT))
    assert settings.log_level == "DEBUG"
    assert settings.public_url is None
    monkeypatch.setenv("PUBLIC_URL", "https://samtidig.example.org/")
    assert Settings(_env_file=None).public_url == "https://samtidig.example.org"
    monkeypatch.setenv("PUBLIC_URL", "samtidig.example.org")
    with pytest.raises(ValueError, match="base URL"):
        Settings(_env_file=None)


def test_walls_prints_every_link_and_a_rotation_replaces_only_the_rotated_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "db.sqlite3"))
    monkeypatch.setenv("PUBLIC_URL", "https://samtidig.example.org")
    monkeypatch.delenv("EVENT_FILE", raising=False)

    def links() -> dict[str, str]:
        out = capsys.readouterr().out
        pairs = (line.removesuffix("  (new)").split(": ", 1) for line in out.splitlines())
        return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}

    assert main(["walls"]) == 0
    first = links()
    assert set(first) == {"Aalborg", "København", "Alle steder"}
    assert all(url.startswith("https://samtidig.example.org/wall/") for url in first.values())
    assert main(["walls"]) == 0
    assert links() == first
    assert main(["walls", "--rotate", "aalborg"]) == 0
    rotated = links()
    assert rotated["Aalborg"] != first["Aalborg"]
    assert rotated["København"] == first["København"]
    assert main(["walls", "--rotate", "all"]) == 0
    assert not set(links().values()) & set(first.values())
    assert main(["walls", "--rotate", "nowhere"]) == 2


def test_the_token_is_redacted_from_every_log_line(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    secret = "123:SECRET-abc"
    redact = RedactFilter([secret])
    logger.addFilter(redact)
    try:
        with caplog.at_level(logging.INFO, logger="test.redact"):
            logger.info("POST https://api.telegram.org/bot%s/getMe", secret)
    finally:
        logger.removeFilter(redact)
    assert secret not in caplog.text
    assert "[REDACTED]" in caplog.text


HOSTILE_EVENT_FILES = {
    "malformed YAML": ("event: [\n", "invalid YAML"),
    "a huge file": ("# padding\n" * 120_000, "larger than 1 MiB"),
    "deep nesting": ("a: " + "[" * 5_000 + "]" * 5_000 + "\n", "nested deeper than"),
    "an unknown time zone": (
        SEED_EVENT.read_text(encoding="utf-8").replace("Europe/Copenhagen", "Europe/Nowhere"),
        "timezone",
    ),
    "a duplicate key": ("event:\n  key: a\n  key: b\n", "duplicate key 'key'"),
    "a billion laughs": ('a: &a ["x", "x"]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n', "alias"),
}


@pytest.mark.parametrize("kind", HOSTILE_EVENT_FILES)
@pytest.mark.parametrize("command", ["check", "run", "rehearse", "export", "purge"])
def test_a_hostile_event_file_gets_a_clear_error_never_a_traceback(
    kind: str,
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text, expected = HOSTILE_EVENT_FILES[kind]
    path = tmp_path / "event.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:abc")
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "db.sqlite3"))
    args = {
        "check": ["check", str(path)],
        "run": ["run", "--event", str(path)],
        "rehearse": ["rehearse", str(path), "--out", str(tmp_path / "out")],
        "export": ["export", "--event", str(path), "--out", str(tmp_path / "out")],
        "purge": ["purge", "--before", "2019-01-01", "--event", str(path)],
    }[command]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"{path}" in err
    assert expected in err
    assert "Traceback" not in err
