"""Every command that acts on a site picks it the same way (`AccessService.site_for`)."""

from __future__ import annotations

from bot.clock import ManualClock
from bot.event import Event
from bot.sandbox.harness import BotHarness
from tests.handlers.helpers import at, become_facilitator, check_in, run_until


async def test_a_facilitator_checked_in_elsewhere_sees_their_own_site_in_agenda_inputs_and_now(
    harness: BotHarness, seed_event: Event, clock: ManualClock
) -> None:
    """Before, /agenda followed the check-in (København) while /inputs and /now followed the
    role (Aalborg). The role wins everywhere: it is the site the facilitator's commands act
    on, so what they see is what /next or /delay would change."""
    finn = harness.api.user(330, "Finn", language_code="en")
    await become_facilitator(harness, seed_event, finn, "aalborg")
    await check_in(harness, finn, "kobenhavn-t1")
    await run_until(harness, clock, at(seed_event, "13:41"))  # a prompt is open at both sites

    seen = {}
    for command in ("/agenda", "/inputs", "/now"):
        finn.send(command)
        await harness.settle()
        seen[command] = finn.last()["text"]
    assert seen["/agenda"].startswith("The programme in Aalborg")
    assert "the latest inputs from Aalborg" in seen["/inputs"]
    assert seen["/now"].startswith("Aalborg")
    assert not any("Copenhagen" in text for text in seen.values()), seen

    # Naming the site of the check-in shows it, as to any participant there.
    finn.send("/agenda kobenhavn")
    await harness.settle()
    assert finn.last()["text"].startswith("The programme in Copenhagen")
    finn.send("/inputs kobenhavn")
    await harness.settle()
    assert "the latest inputs from Copenhagen" in finn.last()["text"]
    finn.send("/now kobenhavn")
    await harness.settle()
    assert "not a facilitator at that site" in finn.last()["text"]


async def test_an_organiser_of_a_multi_site_event_is_asked_which_site(
    harness: BotHarness,
) -> None:
    olga = harness.api.user(900, "Olga", language_code="en")  # ORGANIZER_IDS of the tests
    for command in ("/agenda", "/inputs", "/now"):
        olga.send(command)
        await harness.settle()
        assert olga.last()["text"].startswith("Which site?"), command
        assert f"like this: {command} aalborg, {command} kobenhavn" in olga.last()["text"]


async def test_an_organiser_asked_where_to_broadcast_is_shown_all_among_the_choices(
    harness: BotHarness,
) -> None:
    olga = harness.api.user(900, "Olga", language_code="da")  # ORGANIZER_IDS of the tests
    olga.send("/broadcast Vi ses kl. 14!")
    await harness.settle()
    assert olga.last()["text"].endswith("/broadcast aalborg, /broadcast kobenhavn, /broadcast all")
