"""`python -m bot rehearse`: the seed event offline, as the README's first command runs it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.eventfile import SEED_EVENT, load_event


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("rehearsal")
    capture = pytest.MonkeyPatch()
    import io
    import sys

    buffer = io.StringIO()
    capture.setattr(sys, "stdout", buffer)
    try:
        assert main(["rehearse", "--participants", "24", "--out", str(out)]) == 0
    finally:
        capture.undo()
    return buffer.getvalue(), out


def test_it_prints_each_sites_timeline_in_event_time(rehearsal: tuple[str, Path]) -> None:
    text, _ = rehearsal
    event = load_event(SEED_EVENT)
    for site in event.sites:
        assert f"== {site.name.get('da', 'da')} —" in text
    for item in event.agenda:
        assert item.title.get("da", "da") in text
    assert "programme moved +5 min by the facilitator" in text
    assert "message from the facilitator" in text
    assert "5 minutes left: Gruppearbejde 1" in text
    assert "Summary" in text
    assert "inputs     Gruppearbejde 1:" in text
    assert "starred by facilitators" in text


def test_every_push_reached_every_participant_and_nothing_failed(
    rehearsal: tuple[str, Path],
) -> None:
    _, out = rehearsal
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["participants"] == 24
    assert summary["checked_in"] == 24
    assert set(summary["deliveries"]) == {"sent"}
    assert summary["answers"] > 0
    # Every answer a simulated participant wrote landed as an input.
    assert summary["inputs"] == summary["answers"]
    with sqlite3.connect(out / "rehearsal.sqlite3") as conn:
        pushes = conn.execute(
            "SELECT o.user_id, COUNT(*), MIN(k.given_at) < '2018-10-03T11:00'"
            "  FROM outbox o JOIN consents k ON k.user_id = o.user_id"
            " WHERE o.kind = 'push' AND o.key LIKE 'push:%' GROUP BY o.user_id"
        ).fetchall()
        closes = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE key LIKE 'push:%:close:%' AND status = 'sent'"
        ).fetchone()
        fired = conn.execute(
            "SELECT COUNT(*) FROM agenda_fired WHERE what = 'start' AND outcome = 'sent'"
        ).fetchone()
    assert len(pushes) == 24
    # Those there before 13:00 (11:00 UTC) received all eight items of their site; late
    # joiners the item that was on when they arrived and everything after it.
    assert {count for _, count, early in pushes if early} == {8}
    assert all(1 <= count <= 8 for _, count, _ in pushes)
    assert closes == (24,)
    assert fired == (16,)  # eight items at each of two sites


def test_it_writes_its_files_under_out(rehearsal: tuple[str, Path]) -> None:
    _, out = rehearsal
    assert (out / "rehearsal.sqlite3").stat().st_size > 0
    assert "Summary" in (out / "timeline.txt").read_text(encoding="utf-8")


async def test_at_three_sites_each_participant_gets_one_digest_of_both_other_sites(
    tmp_path: Path,
) -> None:
    from bot.sandbox.rehearsal import rehearse

    three_sites = Path(__file__).parent / "data" / "three_sites.yaml"
    result = await rehearse(three_sites, participants=30, out=tmp_path)
    deliveries = result.summary["deliveries"]  # the summary is JSON: status → count here
    assert isinstance(deliveries, dict)
    assert set(deliveries) == {"sent"}
    with sqlite3.connect(tmp_path / "rehearsal.sqlite3") as conn:
        # (Each site's facilitator delays the programme, so the check-in is later at some.)
        there = conn.execute(
            "SELECT COUNT(*) FROM checkins c JOIN agenda_fired f ON f.site_key = c.site_key"
            " WHERE f.item_key = 'check_in' AND f.what = 'start'"
            " AND c.checked_in_at <= f.fired_at"
        ).fetchone()
        digests = conn.execute(
            "SELECT user_id, COUNT(*) FROM outbox WHERE key LIKE 'digest:%' GROUP BY user_id"
        ).fetchall()
    # Everyone there at the check-in: one message, not one per other site.
    assert len(digests) == there[0] > 0
    assert {count for _, count in digests} == {1}
    assert result.text.count("digest from 2 other sites:") == 3  # once per site
