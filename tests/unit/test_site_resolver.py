"""Which site a person acts on: one precedence for every command, without Telegram.

The seed event has two sites, Aalborg and København (in that order in the file)."""

from __future__ import annotations

import pytest

from bot.clock import ManualClock
from bot.event import Event
from bot.models import Role, UserRef
from bot.services.access import (
    AccessService,
    AllOnlyForOrganisers,
    NotCheckedIn,
    NotFacilitator,
    NotYourSite,
    OnSite,
    OnSites,
    Purpose,
    Rights,
    WhichSite,
)
from bot.services.checkin import CheckInService
from storage.unit_of_work import SqliteUnitOfWork

ORGANISER = UserRef(user_id=900, chat_id=900, display_name="Olga")
PERSON = UserRef(user_id=301, chat_id=301, display_name="Finn")
BOTH = ("aalborg", "kobenhavn")
VIEWS = (Purpose.PROGRAMME, Purpose.INPUTS, Purpose.FACILITATE)


def access(event: Event, uow: SqliteUnitOfWork, clock: ManualClock) -> AccessService:
    return AccessService(
        event, uow, clock, organiser_ids=frozenset({ORGANISER.user_id}), ui_languages=("da",)
    )


async def facilitates(
    event: Event, uow: SqliteUnitOfWork, clock: ManualClock, user: UserRef, *site_keys: str
) -> None:
    async with uow.transaction():
        await uow.participants.upsert(user.user_id, user.chat_id, user.display_name, clock.now())
        for site_key in site_keys:
            await uow.roles.grant(
                event.key, user.user_id, Role.FACILITATOR, site_key, "code", clock.now()
            )


async def checks_in(
    event: Event, uow: SqliteUnitOfWork, clock: ManualClock, user: UserRef, code: str
) -> None:
    checkin = CheckInService(event, uow, clock, consent_version="test-1")
    await checkin.start(user, code)
    await checkin.consent(user)
    await checkin.choose_category(user, "politician")
    await checkin.choose_anonymity(user, anonymous=False)
    assert (await checkin.where(user)).complete


def rights(*sites: str, organiser: bool = False) -> Rights:
    return Rights(organiser=organiser, facilitator_sites=frozenset(sites))


def single_site(event: Event) -> Event:
    """The seed event with Aalborg alone."""
    data = event.model_dump(mode="python")
    data["sites"] = data["sites"][:1]
    for item in data["agenda"]:
        item["variants"] = [v for v in item["variants"] if v.get("site") in {None, "aalborg"}]
    return Event.model_validate(data)


async def test_a_facilitator_checked_in_at_another_site_acts_on_the_site_they_facilitate(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = access(seed_event, uow, clock)
    await facilitates(seed_event, uow, clock, PERSON, "aalborg")
    await checks_in(seed_event, uow, clock, PERSON, "kobenhavn-t1")
    expected = OnSite("aalborg", facilitator=True, named=False, rights=rights("aalborg"))
    for purpose in VIEWS:
        assert await service.site_for(PERSON, [], purpose) == expected, purpose
    # Naming the site of the check-in shows its programme and inputs, as a participant's.
    as_participant = OnSite("kobenhavn", facilitator=False, named=True, rights=rights("aalborg"))
    assert await service.site_for(PERSON, ["kobenhavn"], Purpose.PROGRAMME) == as_participant
    assert await service.site_for(PERSON, ["KOBENHAVN"], Purpose.INPUTS) == as_participant
    assert await service.site_for(PERSON, ["kobenhavn"], Purpose.FACILITATE) == NotYourSite()


async def test_a_participant_acts_on_the_site_they_are_checked_in_at(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = access(seed_event, uow, clock)
    await checks_in(seed_event, uow, clock, PERSON, "kobenhavn-t1")
    here = OnSite("kobenhavn", facilitator=False, named=False, rights=rights())
    assert await service.site_for(PERSON, [], Purpose.PROGRAMME) == here
    assert await service.site_for(PERSON, ["not-a-site"], Purpose.INPUTS) == here
    assert await service.site_for(PERSON, [], Purpose.FACILITATE) == NotFacilitator()
    # Any site's programme; only their own site's inputs.
    aalborg = OnSite("aalborg", facilitator=False, named=True, rights=rights())
    assert await service.site_for(PERSON, ["aalborg"], Purpose.PROGRAMME) == aalborg
    assert await service.site_for(PERSON, ["aalborg"], Purpose.INPUTS) == NotYourSite()


async def test_someone_without_a_place_at_the_event_is_told_to_check_in(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = access(seed_event, uow, clock)
    # A scan without consent is no place yet.
    await CheckInService(seed_event, uow, clock, consent_version="test-1").start(
        PERSON, "kobenhavn-t1"
    )
    for words in ([], ["kobenhavn"]):
        for purpose in (Purpose.PROGRAMME, Purpose.INPUTS):
            assert await service.site_for(PERSON, words, purpose) == NotCheckedIn()
        for purpose in (Purpose.FACILITATE, Purpose.BROADCAST, Purpose.REPORT):
            assert await service.site_for(PERSON, words, purpose) == NotFacilitator()


async def test_a_facilitator_of_several_sites_is_asked_which_unless_checked_in_at_one(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = access(seed_event, uow, clock)
    await facilitates(seed_event, uow, clock, PERSON, "kobenhavn", "aalborg")
    for purpose in VIEWS:
        assert await service.site_for(PERSON, [], purpose) == WhichSite(BOTH)
    await checks_in(seed_event, uow, clock, PERSON, "kobenhavn-t2")
    here = OnSite("kobenhavn", facilitator=True, named=False, rights=rights(*BOTH))
    for purpose in VIEWS:
        assert await service.site_for(PERSON, [], purpose) == here


async def test_an_organiser_is_asked_which_site_unless_checked_in_or_the_event_has_one(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = access(seed_event, uow, clock)
    organiser = rights(organiser=True)
    for purpose in VIEWS:
        assert await service.site_for(ORGANISER, [], purpose) == WhichSite(BOTH)
        named = OnSite("kobenhavn", facilitator=True, named=True, rights=organiser)
        assert await service.site_for(ORGANISER, ["kobenhavn"], purpose) == named
    alone = single_site(seed_event)
    only = OnSite("aalborg", facilitator=True, named=False, rights=organiser)
    assert await access(alone, uow, clock).site_for(ORGANISER, [], Purpose.FACILITATE) == only
    await checks_in(seed_event, uow, clock, ORGANISER, "kobenhavn-t1")
    here = OnSite("kobenhavn", facilitator=True, named=False, rights=organiser)
    for purpose in VIEWS:
        assert await service.site_for(ORGANISER, [], purpose) == here


async def test_every_site_at_once_is_an_organisers_broadcast(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    service = access(seed_event, uow, clock)
    await facilitates(seed_event, uow, clock, PERSON, "aalborg")
    assert await service.site_for(PERSON, ["all", "hej"], Purpose.BROADCAST) == (
        AllOnlyForOrganisers()
    )
    assert await service.site_for(ORGANISER, ["ALL", "hej"], Purpose.BROADCAST) == OnSites(
        None, ("all",), rights(organiser=True)
    )
    # Elsewhere `all` is only a word: the facilitator's own site, its text starting with it.
    assert await service.site_for(PERSON, ["all"], Purpose.FACILITATE) == OnSite(
        "aalborg", facilitator=True, named=False, rights=rights("aalborg")
    )


@pytest.mark.parametrize(
    ("who", "words", "expected"),
    [
        ("organiser", [], OnSites(None, (), rights(organiser=True))),
        (
            "organiser",
            ["kobenhavn", "csv", "aalborg", "kobenhavn"],
            OnSites(BOTH, ("kobenhavn", "aalborg"), rights(organiser=True)),
        ),
        ("facilitator", ["json"], OnSites(("aalborg",), (), rights("aalborg"))),
        ("facilitator", ["aalborg"], OnSites(("aalborg",), ("aalborg",), rights("aalborg"))),
        ("facilitator", ["aalborg", "kobenhavn"], NotYourSite()),
    ],
)
async def test_a_report_covers_the_sites_named_else_everything_the_person_facilitates(
    seed_event: Event,
    uow: SqliteUnitOfWork,
    clock: ManualClock,
    who: str,
    words: list[str],
    expected: object,
) -> None:
    service = access(seed_event, uow, clock)
    await facilitates(seed_event, uow, clock, PERSON, "aalborg")
    # A check-in never widens or moves a report.
    await checks_in(seed_event, uow, clock, PERSON, "kobenhavn-t1")
    user = ORGANISER if who == "organiser" else PERSON
    assert await service.site_for(user, words, Purpose.REPORT) == expected
