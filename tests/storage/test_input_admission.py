"""What decides whether a message becomes an input, read in one query; the stored input
returned by the insert itself."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import CheckIn, IncomingMessage, InputKind, InputState, Role
from storage.unit_of_work import SqliteUnitOfWork

NOW = datetime(2018, 10, 3, 11, 0, tzinfo=UTC)
USER = 501


def message(message_id: int) -> IncomingMessage:
    return IncomingMessage(501, message_id, 9000 + message_id, InputKind.TEXT, "Mere tillid")


async def store(uow: SqliteUnitOfWork, message_id: int) -> int | None:
    stored = await uow.inputs.add(
        event_key="ev",
        user_id=USER,
        site_key="aalborg",
        group_key="t1",
        role="participant",
        category_key=None,
        anonymous=False,
        item_key="p1",
        adhoc_id=None,
        message=message(message_id),
        now=NOW,
    )
    return stored.id if stored else None


async def test_admission_tells_check_in_consent_and_an_earlier_copy(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        first = await uow.inputs.admission("ev", USER, 501, 1)
        assert first.checkin is None
        assert not first.consented
        assert first.existing_input_id is None

        await uow.participants.upsert(USER, 501, "Ane", NOW)
        await uow.checkins.save(CheckIn("ev", USER, "aalborg", "t1", NOW, NOW, anonymous=True))
        await uow.participants.record_consent(USER, "ev", "v1", NOW)
        ready = await uow.inputs.admission("ev", USER, 501, 1)
        assert ready.checkin is not None
        assert (ready.checkin.site_key, ready.checkin.group_key) == ("aalborg", "t1")
        assert ready.checkin.anonymous is True
        assert ready.consented
        assert ready.existing_input_id is None

        input_id = await store(uow, 1)
        assert input_id is not None
        assert (await uow.inputs.admission("ev", USER, 501, 1)).existing_input_id == input_id
        assert (await uow.inputs.admission("ev", USER, 501, 2)).existing_input_id is None
        # Another event knows nothing of this check-in or consent.
        other = await uow.inputs.admission("other", USER, 501, 2)
        assert other.checkin is None
        assert not other.consented

        await uow.privacy.withdraw_consent(USER, "ev", NOW)
        assert not (await uow.inputs.admission("ev", USER, 501, 2)).consented


async def test_the_insert_returns_the_stored_input_once(uow: SqliteUnitOfWork) -> None:
    async with uow.transaction():
        await uow.participants.upsert(USER, 501, "Ane", NOW)
        stored = await uow.inputs.add(
            event_key="ev",
            user_id=USER,
            site_key="aalborg",
            group_key="t1",
            role="participant",
            category_key=None,
            anonymous=False,
            item_key="p1",
            adhoc_id=None,
            message=message(7),
            now=NOW,
        )
        assert stored is not None
        assert stored == await uow.inputs.get(stored.id)
        assert stored.author_name == "Ane"
        assert (stored.stars, stored.votes, stored.state) == (0, 0, InputState.VISIBLE)
        assert await store(uow, 7) is None  # the same message again


async def test_admission_brings_the_authors_roles_and_the_sites_facilitators(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        for user_id, name in ((USER, "Ane"), (601, "Bo"), (602, "Cai"), (603, "Dan")):
            await uow.participants.upsert(user_id, user_id, name, NOW)
        await uow.checkins.save(CheckIn("ev", USER, "aalborg", "t1", NOW, NOW))
        assert (await uow.inputs.admission("ev", USER, 501, 1)).grants == ()

        await uow.roles.grant("ev", USER, Role.FACILITATOR, "kbh", "code", NOW)
        await uow.roles.grant("ev", 602, Role.FACILITATOR, "aalborg", "code", NOW)
        await uow.roles.grant("ev", 601, Role.FACILITATOR, "aalborg", "event_file", NOW)
        await uow.roles.grant("ev", 603, Role.FACILITATOR, "aalborg", "code", NOW)
        await uow.roles.grant("ev", 603, Role.FACILITATOR, "kbh", "code", NOW)
        await uow.roles.grant("other", 601, Role.FACILITATOR, "kbh", "code", NOW)
        await uow.participants.mark_unreachable(603, NOW)

        admission = await uow.inputs.admission("ev", USER, 501, 1)
        assert admission.grants == tuple(await uow.roles.of_user("ev", USER))
        assert [(g.role, g.site_key, g.via) for g in admission.grants] == [
            (Role.FACILITATOR, "kbh", "code")
        ]
        # The author's own site only, reachable people only, as the feed query lists them.
        assert admission.facilitator_chats == (601, 602)
        assert list(admission.facilitator_chats) == await uow.agenda.facilitator_chats(
            "ev", "aalborg"
        )
