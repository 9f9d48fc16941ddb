"""Check-in rules, without Telegram: codes, consent, tables, moves, roles."""

from __future__ import annotations

from bot.clock import ManualClock
from bot.event import Event
from bot.models import Role, UserRef
from bot.services.access import AccessService
from bot.services.checkin import (
    CheckedIn,
    CheckInService,
    ChooseAnonymity,
    ChooseCategory,
    ChooseTable,
    ConfirmMove,
    Declined,
    NeedCode,
    NeedConsent,
    NotCheckedIn,
    RoleGranted,
    Stale,
    StayedAt,
    UnknownCode,
)
from storage.unit_of_work import SqliteUnitOfWork

ANNA = UserRef(user_id=101, chat_id=101, display_name="Anna", telegram_language="da")


async def answer(checkin: CheckInService) -> None:
    """The role and anonymity questions the seed event asks after consent."""
    await checkin.choose_category(ANNA, "politician")
    await checkin.choose_anonymity(ANNA, anonymous=False)


def service(seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock) -> CheckInService:
    return CheckInService(seed_event, uow, clock, consent_version="test-1")


async def test_a_table_code_asks_for_consent_then_checks_in_at_site_and_table(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    assert await checkin.start(ANNA, "aalborg-t2") == NeedConsent("aalborg", "t2")
    assert not (await checkin.where(ANNA)).complete
    assert await checkin.consent(ANNA) == ChooseCategory("aalborg")
    assert await checkin.choose_category(ANNA, "politician") == ChooseAnonymity("aalborg")
    assert await checkin.choose_anonymity(ANNA, anonymous=True) == CheckedIn("aalborg", "t2")
    where = await checkin.where(ANNA)
    assert where.complete
    assert where.checkin is not None
    assert (where.checkin.site_key, where.checkin.group_key) == ("aalborg", "t2")
    async with uow.transaction():
        consent = await uow.participants.active_consent(ANNA.user_id, seed_event.key)
    assert consent is not None
    assert consent.version == "test-1"
    assert consent.given_at == clock.now()


async def test_a_site_code_asks_for_the_table_after_consent(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    assert await checkin.start(ANNA, "kobenhavn") == NeedConsent("kobenhavn", None)
    assert await checkin.consent(ANNA) == ChooseTable("kobenhavn", None)
    assert await checkin.choose_table(ANNA, "t3") == ChooseCategory("kobenhavn")
    await answer(checkin)
    where = (await checkin.where(ANNA)).checkin
    assert where is not None
    assert (where.group_key, where.category_key, where.anonymous) == ("t3", "politician", False)


async def test_checking_in_again_with_the_same_code_changes_nothing(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    await checkin.start(ANNA, "aalborg-t2")
    await checkin.consent(ANNA)
    await answer(checkin)
    first = (await checkin.where(ANNA)).checkin
    assert await checkin.start(ANNA, "aalborg-t2") == CheckedIn("aalborg", "t2", already=True)
    assert await checkin.start(ANNA, "aalborg") == CheckedIn("aalborg", "t2", already=True)
    assert (await checkin.where(ANNA)).checkin == first


async def test_a_table_card_of_the_same_site_moves_to_that_table_without_asking(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    await checkin.start(ANNA, "aalborg-t2")
    await checkin.consent(ANNA)
    await answer(checkin)
    assert await checkin.start(ANNA, "aalborg-t4") == CheckedIn("aalborg", "t4")


async def test_moving_to_another_site_asks_first_and_can_be_declined_or_accepted(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    await checkin.start(ANNA, "aalborg-t2")
    await checkin.consent(ANNA)
    await answer(checkin)
    assert await checkin.start(ANNA, "kobenhavn-t1") == ConfirmMove("aalborg", "kobenhavn", "t1")
    assert await checkin.answer_move(ANNA, accept=False) == StayedAt("aalborg", "t2")
    assert await checkin.answer_move(ANNA, accept=True) == Stale()  # nothing pending any more
    await checkin.start(ANNA, "kobenhavn-t1")
    assert await checkin.answer_move(ANNA, accept=True) == CheckedIn(
        "kobenhavn", "t1", moved_from="aalborg"
    )
    where = (await checkin.where(ANNA)).checkin
    assert where is not None
    assert (where.site_key, where.group_key, where.pending_site_key) == ("kobenhavn", "t1", None)


async def test_declining_consent_keeps_no_check_in(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    await checkin.start(ANNA, "aalborg-t1")
    assert await checkin.decline(ANNA) == Declined()
    assert (await checkin.where(ANNA)).checkin is None
    assert await checkin.choose_table(ANNA, "t1") == NotCheckedIn()


async def test_unknown_and_malformed_codes_are_told_apart(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    assert await checkin.start(ANNA, "odense-t1") == UnknownCode(malformed=False)
    assert await checkin.start(ANNA, "aalborg t1") == UnknownCode(malformed=True)
    assert await checkin.start(ANNA, "<script>") == UnknownCode(malformed=True)
    assert await checkin.start(ANNA, "x" * 65) == UnknownCode(malformed=True)
    assert await checkin.start(ANNA, None) == NeedCode()


async def test_a_table_of_another_site_is_refused(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    await checkin.start(ANNA, "aalborg")
    await checkin.consent(ANNA)
    assert await checkin.choose_table(ANNA, "t9") == Stale()
    assert await checkin.choose_table(ANNA, "t1") == ChooseCategory("aalborg")


async def test_role_codes_grant_roles_once(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    access = AccessService(
        seed_event, uow, clock, organiser_ids=frozenset(), ui_languages=("da", "en")
    )
    site = seed_event.site("aalborg")
    assert site is not None
    assert site.facilitator_code is not None
    assert await checkin.start(ANNA, site.facilitator_code) == RoleGranted(
        Role.FACILITATOR, "aalborg", new=True
    )
    assert await checkin.start(ANNA, site.facilitator_code) == RoleGranted(
        Role.FACILITATOR, "aalborg", new=False
    )
    rights = await access.rights(ANNA)
    assert rights.role is Role.FACILITATOR
    assert rights.may_facilitate("aalborg")
    assert not rights.may_facilitate("kobenhavn")


async def test_organisers_from_the_settings_have_rights_everywhere(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    access = AccessService(
        seed_event, uow, clock, organiser_ids=frozenset({ANNA.user_id}), ui_languages=("da", "en")
    )
    rights = await access.rights(ANNA)
    assert rights.role is Role.ORGANISER
    assert rights.may_facilitate("aalborg")
    assert rights.may_facilitate("kobenhavn")


async def test_language_follows_choice_then_telegram_then_the_event(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    access = AccessService(
        seed_event, uow, clock, organiser_ids=frozenset(), ui_languages=("da", "en")
    )
    english = UserRef(5, 5, "Eve", telegram_language="en-GB")
    french = UserRef(6, 6, "Fred", telegram_language="fr")
    assert await access.language(english) == "en"
    assert await access.language(french) == "da"
    assert await access.set_language(french, "en")
    assert await access.language(french) == "en"
    assert not await access.set_language(french, "fr")


async def test_a_forged_role_or_a_fixed_anonymity_is_refused(
    seed_event: Event, uow: SqliteUnitOfWork, clock: ManualClock
) -> None:
    checkin = service(seed_event, uow, clock)
    await checkin.start(ANNA, "aalborg-t1")
    await checkin.consent(ANNA)
    assert await checkin.choose_category(ANNA, "king") == Stale()
    fixed = seed_event.model_copy(
        update={"event": seed_event.event.model_copy(update={"anonymity": "named"})}
    )
    assert await service(fixed, uow, clock).choose_anonymity(ANNA, anonymous=True) == Stale()
