"""An organiser takes a role back: the person is told and loses the right at their next
command, since rights are looked up at every use."""

from __future__ import annotations

from bot.sandbox.harness import BotHarness
from tests.handlers.conftest import ORGANISER_ID

AALBORG_HOST_CODE = "demo-vaert-aalborg-7Fq3Lm"


async def test_a_revoked_facilitator_loses_the_right_at_the_next_command(
    harness: BotHarness,
) -> None:
    finn = harness.api.user(302, "Finn", language_code="en")
    finn.send(f"/checkin {AALBORG_HOST_CODE}")
    finn.send("/broadcast aalborg Coffee is ready")
    await harness.deliver()
    assert harness.query("SELECT user_id, role, site_key FROM roles") == [
        (302, "facilitator", "aalborg")
    ]
    assert "That command is for" not in finn.last()["text"]

    olga = harness.api.user(ORGANISER_ID, "Olga", language_code="en")
    olga.send("/roles")
    await harness.deliver()
    assert "302 facilitator aalborg" in olga.last()["text"]
    olga.send("/revoke 302 aalborg")
    await harness.deliver()
    assert olga.last()["text"].startswith("Done: 1 role ended")
    assert harness.query("SELECT * FROM roles") == []
    await harness.settle()

    finn.send("/broadcast aalborg Coffee is ready")
    await harness.deliver()
    assert finn.last()["text"].startswith("That command is for facilitators and organisers")
    # In the language the person chose, else the event's (Danish for the seed).
    assert any(
        "Arrangørerne har afsluttet din rolle" in m.get("text", "")
        for m in harness.api.sent_messages(302)
    )


async def test_revoke_is_for_organisers_and_names_a_person_by_number(harness: BotHarness) -> None:
    finn = harness.api.user(302, "Finn", language_code="en")
    finn.send(f"/checkin {AALBORG_HOST_CODE}")
    finn.send("/revoke 302")
    await harness.deliver()
    assert finn.last()["text"] == "That command is for organisers."
    olga = harness.api.user(ORGANISER_ID, "Olga", language_code="en")
    for bad in ("/revoke", "/revoke finn", "/revoke 302 odense"):
        olga.send(bad)
        await harness.deliver()
        assert "/roles lists the numbers" in olga.last()["text"]
    olga.send(f"/revoke {ORGANISER_ID}")
    await harness.deliver()
    assert "ORGANIZER_IDS" in olga.last()["text"]
    assert len(harness.query("SELECT * FROM roles")) == 1
