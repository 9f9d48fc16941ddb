"""The outbox table: idempotent enqueueing, order, backoff, crash recovery, erasure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.buttons import Consent, Moderate, Moderation, RelayReaction
from bot.models import DeliveryStatus, NewDelivery, OutboxMessage
from storage.db import Database
from storage.unit_of_work import SqliteUnitOfWork

NOW = datetime(2018, 10, 3, 11, 0, tzinfo=UTC)


def delivery(
    key: str, chat_id: int = 100, *, user_id: int | None = None, priority: int = 0
) -> NewDelivery:
    return NewDelivery(
        key=key,
        event_key="ev",
        chat_id=chat_id,
        user_id=user_id,
        kind="push",
        message=OutboxMessage(
            f"<b>{key}</b>", buttons=((("Ja", Consent(yes=True)),),), silent=True
        ),
        priority=priority,
    )


async def test_enqueueing_the_same_key_twice_queues_one_message(uow: SqliteUnitOfWork) -> None:
    async with uow.transaction():
        assert await uow.outbox.enqueue([delivery("push:a"), delivery("push:b")], NOW) == 2
    async with uow.transaction():
        assert await uow.outbox.enqueue([delivery("push:a"), delivery("push:c")], NOW) == 1
        rows = await uow.outbox.next_pending(NOW, 10)
    assert [row.key for row in rows] == ["push:a", "push:b", "push:c"]
    row = rows[0]
    assert row.status is DeliveryStatus.PENDING
    assert row.attempts == 0
    assert row.created_at == NOW
    assert row.message == OutboxMessage(
        "<b>push:a</b>", ((("Ja", Consent(yes=True)),),), silent=True
    )


async def test_a_rolled_back_decision_leaves_nothing_queued(uow: SqliteUnitOfWork) -> None:
    async def decide_then_fail() -> None:
        async with uow.transaction():
            await uow.outbox.enqueue([delivery("push:a")], NOW)
            raise RuntimeError("the decision failed after enqueueing")

    with pytest.raises(RuntimeError):
        await decide_then_fail()
    async with uow.transaction():
        assert await uow.outbox.by_key("push:a") is None
        assert await uow.outbox.next_pending(NOW, 10) == []


async def test_pending_rows_come_by_priority_then_in_the_order_they_were_queued(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        await uow.outbox.enqueue(
            [
                delivery("push:1", 1, priority=5),
                delivery("notice:2", 2, priority=0),
                delivery("push:3", 3, priority=5),
                delivery("notice:4", 4, priority=0),
            ],
            NOW,
        )
        rows = await uow.outbox.next_pending(NOW, 10)
        first_two = await uow.outbox.next_pending(NOW, 2)
    assert [row.key for row in rows] == ["notice:2", "notice:4", "push:1", "push:3"]
    assert [row.key for row in first_two] == ["notice:2", "notice:4"]


async def test_a_row_in_backoff_is_not_due_until_its_time(uow: SqliteUnitOfWork) -> None:
    later = NOW + timedelta(seconds=30)
    async with uow.transaction():
        await uow.outbox.enqueue([delivery("push:a"), delivery("push:b", 200)], NOW)
        row = await uow.outbox.by_key("push:a")
        assert row is not None
        assert await uow.outbox.mark_sending(row.id, NOW)
        await uow.outbox.mark_pending_retry(row.id, later, "Internal Server Error")
    async with uow.transaction():
        assert [r.key for r in await uow.outbox.next_pending(NOW, 10)] == ["push:b"]
        assert await uow.outbox.next_due_at() == later
        assert await uow.outbox.next_due_at(after=later) is None
        due_later = await uow.outbox.next_pending(later, 10)
        retried = await uow.outbox.by_key("push:a")
    assert [r.key for r in due_later] == ["push:a", "push:b"]
    assert retried is not None
    assert (retried.status, retried.attempts, retried.error) == (
        DeliveryStatus.PENDING,
        1,
        "Internal Server Error",
    )


async def test_a_chats_later_rows_wait_behind_its_first_one_but_other_chats_do_not(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        await uow.outbox.enqueue(
            [delivery("a1", 1), delivery("a2", 1), delivery("b1", 2), delivery("c1", 3)], NOW
        )
        first = await uow.outbox.by_key("a1")
        assert first is not None
        assert await uow.outbox.mark_sending(first.id, NOW)
        await uow.outbox.mark_pending_retry(first.id, NOW + timedelta(seconds=5), "Bad Gateway")
        heads = await uow.outbox.next_per_chat(NOW, 10)
        heads_later = await uow.outbox.next_per_chat(NOW + timedelta(seconds=5), 10)
    assert [row.key for row in heads] == ["b1", "c1"]
    assert [row.key for row in heads_later] == ["a1", "b1", "c1"]


async def test_a_chat_with_a_message_on_its_way_offers_no_row_and_the_scan_keeps_heads_only(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        await uow.outbox.enqueue(
            [delivery(f"a{n}", 1) for n in range(50)]
            + [delivery("b1", 2), delivery("b2", 2), delivery("c1", 3)]
            + [delivery("d1", 4, priority=-1)],
            NOW,
        )
        heads = await uow.outbox.next_per_chat(NOW, 10)
        first_two = await uow.outbox.next_per_chat(NOW, 2)
        b1 = await uow.outbox.by_key("b1")
        assert b1 is not None
        assert await uow.outbox.mark_sending(b1.id, NOW)
        while_b1_is_sent = await uow.outbox.next_per_chat(NOW, 10)
    assert [row.key for row in heads] == ["d1", "a0", "b1", "c1"]
    assert [row.key for row in first_two] == ["d1", "a0"]
    assert [row.key for row in while_b1_is_sent] == ["d1", "a0", "c1"]


async def test_a_batch_claim_takes_pending_rows_and_settles_unreachable_people_at_once(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        await uow.participants.upsert(7, 7, "Bo", NOW)
        await uow.participants.upsert(8, 8, "Cy", NOW)
        await uow.participants.mark_unreachable(8, NOW)
        await uow.outbox.enqueue(
            [
                delivery("bo", 7, user_id=7),
                delivery("cy", 8, user_id=8),
                delivery("grp", -5),
                delivery("taken", 9),
            ],
            NOW,
        )
        rows = {row.key: row for row in await uow.outbox.next_pending(NOW, 10)}
        assert await uow.outbox.mark_sending(rows["taken"].id, NOW)
        claimed = await uow.outbox.claim([row.id for row in rows.values()], NOW)
        again = await uow.outbox.claim([row.id for row in rows.values()], NOW)
        after = {key: await uow.outbox.by_key(key) for key in rows}
    assert claimed == {
        rows["bo"].id: DeliveryStatus.SENDING,
        rows["cy"].id: DeliveryStatus.UNREACHABLE,
        rows["grp"].id: DeliveryStatus.SENDING,
    }
    assert again == {}
    statuses = {key: (row.status, row.attempts) for key, row in after.items() if row}
    assert statuses == {
        "bo": (DeliveryStatus.SENDING, 1),
        "cy": (DeliveryStatus.UNREACHABLE, 0),
        "grp": (DeliveryStatus.SENDING, 1),
        "taken": (DeliveryStatus.SENDING, 1),
    }
    assert after["cy"] is not None
    assert after["cy"].error == "participant unreachable"
    async with uow.transaction():
        assert await uow.outbox.claim([], NOW) == {}


async def test_answers_written_in_a_batch_keep_no_text_and_pending_chats_are_found(
    uow: SqliteUnitOfWork,
) -> None:
    later = NOW + timedelta(seconds=2)
    async with uow.transaction():
        await uow.outbox.enqueue(
            [delivery("a1", 1), delivery("a2", 1), delivery("b1", 2), delivery("c1", 3)], NOW
        )
        rows = {row.key: row for row in await uow.outbox.next_pending(NOW, 10)}
        await uow.outbox.claim([rows["a1"].id, rows["b1"].id, rows["c1"].id], NOW)
        await uow.outbox.mark_sent_many([(rows["a1"].id, 11, NOW), (rows["b1"].id, 12, later)])
        a1 = await uow.outbox.by_key("a1")
        b1 = await uow.outbox.by_key("b1")
        waiting = await uow.outbox.pending_chats([1, 2, 3, 4])
        assert await uow.outbox.pending_chats([]) == set()
    assert a1 is not None
    assert b1 is not None
    assert (a1.status, a1.telegram_message_id, a1.sent_at) == (DeliveryStatus.SENT, 11, NOW)
    assert (b1.status, b1.telegram_message_id, b1.sent_at) == (DeliveryStatus.SENT, 12, later)
    assert a1.message.text == b1.message.text == ""
    assert waiting == {1}  # c1 is still on its way, a2 waits


async def test_claiming_a_row_twice_fails_and_outcomes_are_recorded(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        await uow.outbox.enqueue([delivery(k, i) for i, k in enumerate("abcd")], NOW)
        rows = {row.key: row for row in await uow.outbox.next_pending(NOW, 10)}
        for row in rows.values():
            assert await uow.outbox.mark_sending(row.id, NOW)
        assert not await uow.outbox.mark_sending(rows["a"].id, NOW)
        await uow.outbox.mark_sent(rows["a"].id, 42, NOW)
        await uow.outbox.mark_failed(rows["b"].id, "Message is too long")
        await uow.outbox.mark_unreachable(rows["c"].id, "Forbidden: bot was blocked by the user")
        await uow.outbox.mark_unknown(rows["d"].id, "Timed out")
        sent = await uow.outbox.by_key("a")
        counts = await uow.outbox.counts()
    assert sent is not None
    assert (sent.status, sent.telegram_message_id, sent.sent_at) == (DeliveryStatus.SENT, 42, NOW)
    assert counts == {
        DeliveryStatus.PENDING: 0,
        DeliveryStatus.SENDING: 0,
        DeliveryStatus.SENT: 1,
        DeliveryStatus.FAILED: 1,
        DeliveryStatus.UNREACHABLE: 1,
        DeliveryStatus.UNKNOWN: 1,
        DeliveryStatus.MISSED: 0,
    }


async def test_rows_left_sending_by_a_crash_become_unknown_at_restart(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        await uow.outbox.enqueue([delivery("a", 1), delivery("b", 2)], NOW)
        row = await uow.outbox.by_key("a")
        assert row is not None
        await uow.outbox.mark_sending(row.id, NOW)
    async with uow.transaction():
        assert await uow.outbox.recover_after_restart(NOW) == 1
        assert await uow.outbox.recover_after_restart(NOW) == 0
        recovered = await uow.outbox.by_key("a")
        untouched = await uow.outbox.by_key("b")
    assert recovered is not None
    assert untouched is not None
    assert recovered.status is DeliveryStatus.UNKNOWN
    assert untouched.status is DeliveryStatus.PENDING


async def test_erasing_a_participant_removes_their_queued_messages(
    db: Database, uow: SqliteUnitOfWork
) -> None:
    async with uow.transaction():
        await uow.participants.upsert(7, 7, "Bo", NOW)
        await uow.participants.upsert(8, 8, "Cy", NOW)
        await uow.outbox.enqueue(
            [delivery("bo", 7, user_id=7), delivery("cy", 8, user_id=8), delivery("grp", -5)],
            NOW,
        )
    async with uow.transaction():
        await db.conn.execute("DELETE FROM participants WHERE user_id = ?", (7,))
    async with uow.transaction():
        keys = [row.key for row in await uow.outbox.next_pending(NOW, 10)]
    assert keys == ["cy", "grp"]


async def test_a_participant_can_be_marked_unreachable_and_reachable_again(
    uow: SqliteUnitOfWork,
) -> None:
    async with uow.transaction():
        await uow.participants.upsert(7, 7, "Bo", NOW)
        await uow.participants.mark_unreachable(7, NOW)
        await uow.participants.mark_unreachable(7, NOW + timedelta(hours=1))
        blocked = await uow.participants.get(7)
        await uow.participants.mark_reachable(7)
        back = await uow.participants.get(7)
    assert blocked is not None
    assert back is not None
    assert blocked.unreachable_at == NOW  # when they blocked the bot, not when we noticed again
    assert back.unreachable_at is None


def test_a_payload_survives_json_and_a_bad_one_is_refused() -> None:
    message = OutboxMessage(
        "Hej <i>Åse</i> &amp; co",
        buttons=(
            (("⭐", Moderate(Moderation.STAR, 7)), ("🙈", Moderate(Moderation.HIDE, 7))),
            (("👍 1", RelayReaction(8)),),
        ),
    )
    assert OutboxMessage.from_json(message.to_json()) == message
    with pytest.raises(TypeError):
        OutboxMessage.from_json('["not", "an", "object"]')
    with pytest.raises(TypeError):
        OutboxMessage.from_json('{"text": "Hej", "buttons": [[["Ja", "rsvp:yes"]]]}')


def test_a_payload_stored_before_typed_buttons_reads_the_same() -> None:
    """Rows queued by the version that spelled the data by hand are sent unchanged."""
    stored = '{"text":"Kort","buttons":[[["⭐ 0","v1:mod:star-12"],["🙈","v1:mod:hide-12"]]]}'
    message = OutboxMessage.from_json(stored)
    assert message.buttons == (
        (("⭐ 0", Moderate(Moderation.STAR, 12)), ("🙈", Moderate(Moderation.HIDE, 12))),
    )
    assert message.to_json() == stored
    with pytest.raises(ValueError, match="unknown delivery kind"):
        NewDelivery("k", None, 1, None, "spam", message)


async def test_missed_pushes_are_counted_per_item_of_the_site_with_their_expiry_kept(
    uow: SqliteUnitOfWork,
) -> None:
    until = NOW + timedelta(minutes=10)
    keys = ["push:ev:north:talk:1", "push:ev:north:talk:2", "push:ev:north_x:talk:3"]
    async with uow.transaction():
        await uow.outbox.enqueue(
            [
                NewDelivery(
                    key=key,
                    event_key="ev",
                    chat_id=n,
                    user_id=None,
                    kind="push",
                    message=OutboxMessage("x"),
                    expires_at=until,
                )
                for n, key in enumerate(keys, start=1)
            ],
            NOW,
        )
        rows = {key: await uow.outbox.by_key(key) for key in keys}
        for row in rows.values():
            assert row is not None
            assert row.expires_at == until
            await uow.outbox.mark_missed(row.id, "Bad Gateway")
        found = await uow.agenda.missed_pushes("ev", "north")
    assert found == {"talk": 2}  # the other site's row, sharing a prefix, is not counted
