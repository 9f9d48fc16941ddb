"""The rate limiter on a virtual clock: Telegram's three limits, the 429 pause, fairness."""

from __future__ import annotations

import asyncio
import bisect

import pytest

from bot.services.delivery import RateLimiter


class VirtualTime:
    """A monotonic clock that moves only when sleeping tasks are due.

    `sleep` parks the caller until the clock reaches its wake-up time; `advance` moves the
    clock and releases the sleepers that are due. `run_until_idle` plays time forward from
    sleeper to sleeper until nobody sleeps.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        bisect.insort(self._sleepers, (self.now + seconds, self._seq, future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            at, _, future = self._sleepers.pop(0)
            self.now = max(self.now, at)
            future.set_result(None)
            await _settle()
        self.now = target
        await _settle()

    async def run_until_idle(self) -> None:
        await _settle()
        while self._sleepers:
            await self.advance(self._sleepers[0][0] - self.now)


async def _settle() -> None:
    """Let the tasks just released run up to their next virtual sleep. No real time passes
    and none is waited for: each turn of the loop is a step of theirs, in a fixed order, and
    the limiter takes at most a few such steps between two sleeps."""
    for _ in range(5):
        await asyncio.sleep(0)


def max_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(
        bisect.bisect_left(ordered, start + window) - index for index, start in enumerate(ordered)
    )


@pytest.fixture
def vtime() -> VirtualTime:
    return VirtualTime()


def limiter(vtime: VirtualTime, *, margin: float = 0.0) -> RateLimiter:
    return RateLimiter(margin=margin, monotonic=vtime, sleep=vtime.sleep)


async def send_now(limits: RateLimiter, chat_id: int, starts: list[float]) -> None:
    """A send that Telegram answers at once."""
    slot = await limits.acquire(chat_id)
    starts.append(slot.started)
    limits.release(slot)


async def run_sends(vtime: VirtualTime, limits: RateLimiter, chat_ids: list[int]) -> list[float]:
    starts: list[float] = []
    tasks = [asyncio.create_task(send_now(limits, chat_id, starts)) for chat_id in chat_ids]
    await vtime.run_until_idle()
    await asyncio.gather(*tasks)
    assert len(starts) == len(chat_ids)
    return starts


async def test_a_burst_of_200_never_starts_31_sends_in_any_second(vtime: VirtualTime) -> None:
    limits = limiter(vtime)
    starts = await run_sends(vtime, limits, list(range(1, 201)))
    assert max_in_window(starts, 1.0) == 30
    # Not slower than the limit either: 200 sends in 7 full windows and a bit.
    assert max(starts) == pytest.approx(6.0)


async def test_the_window_runs_from_when_telegram_answered(vtime: VirtualTime) -> None:
    limits = limiter(vtime)
    slots = [limits.try_acquire(chat_id) for chat_id in range(1, 31)]
    assert all(slot is not None for slot in slots)
    assert limits.try_acquire(31) is None
    await vtime.advance(0.2)
    for slot in slots:
        assert slot is not None
        limits.release(slot)
    assert limits.global_delay() == pytest.approx(1.0)
    await vtime.advance(1.0)
    assert limits.try_acquire(31) is not None


async def test_a_send_still_on_its_way_holds_its_place_in_the_window(vtime: VirtualTime) -> None:
    limits = limiter(vtime)
    slow = limits.try_acquire(1)
    assert slow is not None
    for chat_id in range(2, 31):
        slot = limits.try_acquire(chat_id)
        assert slot is not None
        limits.release(slot)
    await vtime.advance(3.0)
    # The slow request may reach Telegram at any moment, so it still counts.
    assert limits.try_acquire(31) is None
    assert limits.delay(1) > 0
    limits.release(slow)
    assert limits.global_delay() == pytest.approx(1.0)
    assert limits.delay(1) == pytest.approx(1.0)


async def test_the_safety_margin_widens_the_window(vtime: VirtualTime) -> None:
    limits = limiter(vtime, margin=0.05)
    for chat_id in range(1, 31):
        slot = limits.try_acquire(chat_id)
        assert slot is not None
        limits.release(slot)
    assert limits.delay(31) == pytest.approx(1.05)
    await vtime.advance(1.0)
    assert limits.try_acquire(31) is None
    assert limits.delay(31) == pytest.approx(0.05)


async def test_one_private_chat_gets_at_most_one_send_per_second(vtime: VirtualTime) -> None:
    starts = await run_sends(vtime, limiter(vtime), [42] * 5)
    assert sorted(starts) == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


async def test_a_group_gets_at_most_20_sends_in_any_minute(vtime: VirtualTime) -> None:
    starts = await run_sends(vtime, limiter(vtime), [-100123] * 45)
    assert max_in_window(starts, 60.0) == 20
    assert max_in_window(starts, 1.0) == 1  # the per-chat second applies to groups too
    assert sorted(starts)[20] == pytest.approx(60.0)
    assert sorted(starts)[40] == pytest.approx(120.0)


async def test_pause_holds_every_chat_until_it_ends(vtime: VirtualTime) -> None:
    limits = limiter(vtime)
    first = limits.try_acquire(1)
    assert first is not None
    limits.release(first)
    limits.pause(5.0)
    limits.pause(2.0)  # a shorter pause never cuts a longer one short
    assert limits.global_delay() == pytest.approx(5.0)
    assert limits.try_acquire(2) is None
    assert limits.delay(2) == pytest.approx(5.0)
    assert limits.delay(-3) == pytest.approx(5.0)
    starts: list[float] = []
    tasks = [asyncio.create_task(send_now(limits, chat_id, starts)) for chat_id in (2, 3, -4)]
    await vtime.advance(4.9)
    assert starts == []
    await vtime.run_until_idle()
    await asyncio.gather(*tasks)
    assert starts == pytest.approx([5.0, 5.0, 5.0])


async def test_a_chat_waiting_for_its_slot_does_not_hold_up_other_chats(
    vtime: VirtualTime,
) -> None:
    limits = limiter(vtime)
    first = limits.try_acquire(7)
    assert first is not None
    limits.release(first)
    second_to_seven = asyncio.create_task(limits.acquire(7))
    to_eight = asyncio.create_task(limits.acquire(8))
    to_nine = asyncio.create_task(limits.acquire(-9))
    await _settle()
    assert to_eight.done()
    assert to_nine.done()
    assert not second_to_seven.done()
    assert vtime.now == 0.0
    assert limits.delay(7) == pytest.approx(1.0)
    assert limits.delay(10) == 0.0
    await vtime.advance(1.0)
    assert second_to_seven.done()
    assert second_to_seven.result().started == pytest.approx(1.0)


async def test_free_now_counts_the_sends_the_window_lets_start_and_agrees_with_the_delay(
    vtime: VirtualTime,
) -> None:
    limits = limiter(vtime)
    assert limits.free_now() == 30
    for chat_id in range(1, 11):  # answered at once
        slot = limits.try_acquire(chat_id)
        assert slot is not None
        limits.release(slot)
    await vtime.advance(0.5)
    late = [limits.try_acquire(chat_id) for chat_id in range(11, 31)]
    assert limits.free_now() == 0
    assert limits.global_delay() > 0
    await vtime.advance(0.5)
    for slot in late:  # answered half a second after they started
        assert slot is not None
        limits.release(slot)
    await vtime.advance(0.25)  # the first ten left the window, the other twenty not yet
    assert limits.free_now() == 10
    assert limits.global_delay() == 0.0
    taken = [limits.try_acquire(chat_id) for chat_id in range(31, 41)]
    assert all(slot is not None for slot in taken)
    assert limits.free_now() == 0
    assert limits.try_acquire(41) is None
    limits.pause(3.0)
    await vtime.advance(1.0)
    assert limits.free_now() == 0  # everything left the window, but the pause holds


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(per_second=0)


async def test_an_answer_counts_towards_the_window_and_keeps_its_chats_second() -> None:
    time = VirtualTime()
    limiter = RateLimiter(per_second=3, monotonic=time, sleep=time.sleep)
    # An answer to a chat nobody wrote to lately goes at once.
    first = await limiter.acquire_reply(7)
    limiter.release(first)
    assert first.started == 0.0
    # The next answer to the same chat keeps its distance: Telegram answers a second one
    # within the second with a 429, and a 429 holds up every send of the bot.
    again = asyncio.create_task(limiter.acquire_reply(7))
    await _settle()
    assert not again.done()
    await time.advance(1.0)
    second = await again
    limiter.release(second)
    assert second.started == pytest.approx(1.0)
    # It counts as a send to the chat: the worker's next message keeps its distance …
    assert limiter.delay(7) == pytest.approx(1.0)
    # … and towards the window: with the worker at work (it just asked), answers have two of
    # the three places a second; the second and third fill them, the fourth waits.
    third = await limiter.acquire_reply(8)
    limiter.release(third)
    fourth = asyncio.create_task(limiter.acquire_reply(9))
    await _settle()
    assert not fourth.done()
    await time.advance(1.0)
    assert (await fourth).started == pytest.approx(2.0)


async def test_an_answer_waits_for_a_pause_after_a_429() -> None:
    time = VirtualTime()
    limiter = RateLimiter(monotonic=time, sleep=time.sleep)
    limiter.pause(5)
    answer = asyncio.create_task(limiter.acquire_reply(7))
    await time.run_until_idle()
    assert (await answer).started == pytest.approx(5.0)


async def test_answers_leave_the_worker_a_third_of_each_second_while_it_has_work(
    vtime: VirtualTime,
) -> None:
    limits = limiter(vtime)
    pushes: list[float] = []
    answers: list[float] = []

    async def answer(chat_id: int) -> None:
        slot = await limits.acquire_reply(chat_id)
        answers.append(slot.started)
        limits.release(slot)

    # 300 people wait for an answer, then 90 pushes are queued: answers alone would fill 10 s.
    tasks = [asyncio.create_task(answer(chat)) for chat in range(1001, 1301)]
    await _settle()
    tasks += [asyncio.create_task(send_now(limits, chat, pushes)) for chat in range(1, 91)]
    await vtime.run_until_idle()
    await asyncio.gather(*tasks)
    assert max_in_window(pushes + answers, 1.0) <= 30
    # The worker gets at least its 10 a second: the 90 pushes are out within 10 s …
    assert max(pushes) < 10.0
    # … and the answers never took more than their 20 of a second while it had work …
    busy = [at for at in answers if 0 < at < max(pushes)]
    assert max_in_window(busy, 1.0) <= 20
    # … while the worker is not capped in turn: an idle second goes to whoever asks.
    assert max_in_window(answers, 1.0) == 30


async def test_without_pushes_answers_may_take_every_place(vtime: VirtualTime) -> None:
    limits = limiter(vtime)
    starts: list[float] = []

    async def answer(chat_id: int) -> None:
        slot = await limits.acquire_reply(chat_id)
        starts.append(slot.started)
        limits.release(slot)

    tasks = [asyncio.create_task(answer(chat)) for chat in range(1, 61)]
    await vtime.run_until_idle()
    await asyncio.gather(*tasks)
    assert sorted(starts)[29] == 0.0  # the first 30 at once
