"""Facilitator chats the bot can no longer write to, and where their cards go instead.

`check` cannot know whether the bot is in a site's `facilitator_chat`; the running bot learns
it from Telegram's answer to the first card: "chat not found", "bot was kicked", "bot is not a
member" (the delivery worker reports these as `Unreachable`), or "group chat was upgraded to a
supergroup" (`ChatMoved`, with the new id). Then, at once and once:

- the chat is recorded as lost in the database (a restart remembers), or as moved;
- the card that failed and every card still waiting for that chat are queued again to where
  the site's facilitators can read them: the supergroup the group became, or else each
  facilitator's private chat; the cards that follow go there from the start
  (`facilitator_group`, which every decision about a site's facilitator chat asks);
- the organisers and the site's facilitators are told, in their language, through the
  outbox; `/health` names the chat.

Telegram's `my_chat_member` update when the bot is added to the chat again clears the record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from bot.event import Event, Site
from bot.i18n import Catalogue, pick_language
from bot.models import LostChat, NewDelivery, OutboxMessage, OutboxRow
from bot.ports import ChatMoved, Clock, DeliveryError, UnitOfWork, Unreachable
from bot.services.access import AccessService

log = logging.getLogger(__name__)

_MAX_HOPS = 8  # a group moved, and moved again: never a loop
# Why a chat was given up when Telegram said the bot left it (not an answer to a send, whose
# own description is kept): /health says it in the reader's language.
REMOVED_FROM_GROUP: Final = "the bot was removed from the group"


def resolve(chat_id: int, lost: dict[int, LostChat]) -> int | None:
    """Where a message meant for `chat_id` can go now: the chat itself, the supergroup it
    became (followed), or None when the bot can no longer write there."""
    for _ in range(_MAX_HOPS):
        found = lost.get(chat_id)
        if found is None:
            return chat_id
        if found.moved_to is None:
            return None
        chat_id = found.moved_to
    return None


def _passes(start: int, chat_id: int, lost: dict[int, LostChat]) -> bool:
    """Whether messages meant for `start` were going to `chat_id` (the chat or a move)."""
    current: int | None = start
    for _ in range(_MAX_HOPS):
        if current is None:
            return False
        if current == chat_id:
            return True
        found = lost.get(current)
        current = found.moved_to if found is not None else None
    return False


async def facilitator_group(uow: UnitOfWork, site: Site) -> int | None:
    """The site's facilitator chat as the bot can reach it now (inside a transaction): its
    `facilitator_chat`, the supergroup it became, or None when there is none or it is lost
    (then the site's facilitators are reached in their private chats)."""
    if site.facilitator_chat is None:
        return None
    return resolve(site.facilitator_chat, await uow.lost_chats.all())


def _rekey(key: str, old: int, new: int) -> str:
    """The key of a copy for another chat: keys that end in the chat get the new one (so a
    card already queued to that chat is not queued twice); others are marked as moved."""
    suffix = f":{old}"
    if key.endswith(suffix):
        return f"{key[: -len(suffix)]}:{new}"
    return f"{key}>{new}"


class LostChatService:
    def __init__(
        self,
        event: Event,
        uow: UnitOfWork,
        clock: Clock,
        texts: Catalogue,
        access: AccessService,
        *,
        ui_languages: Sequence[str],
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._event = event
        self._uow = uow
        self._clock = clock
        self._texts = texts
        self._access = access
        self._ui_languages = tuple(ui_languages)
        self._on_queued = on_queued  # wakes the delivery worker

    async def send_failed(self, row: OutboxRow, error: DeliveryError) -> int:
        """The delivery worker wrote that `row` could not be delivered (`Unreachable` or
        `ChatMoved`). If its chat is (or was moving to) a site's facilitator chat, handle
        the loss as the module says; return how many messages were queued."""
        if not isinstance(error, Unreachable | ChatMoved):
            return 0
        chat = row.chat_id
        now = self._clock.now()
        async with self._uow.transaction():
            lost = await self._uow.lost_chats.all()
            sites = [
                site
                for site in self._event.sites
                if site.facilitator_chat is not None and _passes(site.facilitator_chat, chat, lost)
            ]
            if not sites:
                return 0
            moved_to = error.new_chat_id if isinstance(error, ChatMoved) else None
            new = await self._uow.lost_chats.mark(chat, error.reason, moved_to, now)
            lost = await self._uow.lost_chats.all()
            targets: list[int] = []
            for site in sites:
                for target in await self._fallback(site, lost):
                    if target not in targets and target != chat:
                        targets.append(target)
            waiting = await self._uow.outbox.pending_to(chat)
            rows = [row, *(r for r in waiting if r.id != row.id)]
            # An edit or deletion names a message in the lost chat: nothing to move there.
            movable = [
                r for r in rows if r.message.edit_of is None and r.message.delete_of is None
            ]
            copies = [
                NewDelivery(
                    key=_rekey(r.key, chat, target),
                    event_key=r.event_key,
                    chat_id=target,
                    user_id=None,
                    kind=r.kind,
                    message=r.message,
                    priority=r.priority,
                    expires_at=r.expires_at,
                )
                for r in movable
                for target in targets
            ]
            queued = await self._uow.outbox.enqueue(copies, now)
            if targets:
                await self._uow.outbox.mark_rerouted([r.id for r in waiting], error.reason)
            else:
                # No facilitator of the site has written to the bot: nowhere to go. Failed
                # here, rather than each tried in the lost chat; the organisers are told.
                for r in waiting:
                    await self._uow.outbox.mark_failed(r.id, f"{error.reason}; no facilitator")
            if new:
                queued += await self._warn(sites, chat, moved_to, now)
        if new:
            log.warning(
                "facilitator chat %d of %s %s: %s",
                chat,
                ", ".join(site.key for site in sites),
                f"moved to {moved_to}" if moved_to is not None else "is lost",
                error.reason,
            )
        if queued:
            self._on_queued()
        return queued

    async def back(self, chat_id: int) -> bool:
        """Telegram says the bot is a member of the chat again: it is no longer lost."""
        async with self._uow.transaction():
            cleared = await self._uow.lost_chats.clear(chat_id)
        if cleared:
            log.info("chat %d can be written to again", chat_id)
        return cleared

    async def gone(self, chat_id: int, reason: str) -> bool:
        """Telegram says the bot was removed from the chat. If it is a site's facilitator
        chat, it is lost at once, before a card fails there."""
        async with self._uow.transaction():
            lost = await self._uow.lost_chats.all()
            sites = [
                site
                for site in self._event.sites
                if site.facilitator_chat is not None
                and _passes(site.facilitator_chat, chat_id, lost)
            ]
            if not sites:
                return False
            new = await self._uow.lost_chats.mark(chat_id, reason, None, self._clock.now())
            queued = await self._warn(sites, chat_id, None, self._clock.now()) if new else 0
            waiting = await self._uow.outbox.pending_to(chat_id)
        if waiting:
            # Cards already queued there are moved as the first of them would be.
            await self.send_failed(waiting[0], Unreachable(reason))
        if queued:
            self._on_queued()
        return new

    async def lost(self) -> list[tuple[Site, LostChat]]:
        """The sites' facilitator chats that are lost or moved now, with their site."""
        async with self._uow.transaction():
            lost = await self._uow.lost_chats.all()
        found = []
        for site in self._event.sites:
            chat = site.facilitator_chat
            for _ in range(_MAX_HOPS):
                record = lost.get(chat) if chat is not None else None
                if record is None:
                    break
                found.append((site, record))
                chat = record.moved_to
        return found

    async def _fallback(self, site: Site, lost: dict[int, LostChat]) -> list[int]:
        group = resolve(site.facilitator_chat, lost) if site.facilitator_chat else None
        if group is not None:
            return [group]
        return await self._uow.agenda.facilitator_chats(self._event.key, site.key)

    async def _warn(
        self, sites: Sequence[Site], chat: int, moved_to: int | None, now: datetime
    ) -> int:
        """Tell the organisers and the sites' facilitators, each once, in their language."""
        people = set(self._access.organiser_ids)
        for site in sites:
            people.update(await self._uow.agenda.facilitator_chats(self._event.key, site.key))
        deliveries = []
        for person in sorted(people):
            participant = await self._uow.participants.get(person)
            lang = pick_language(
                participant.language if participant is not None else None,
                participant.telegram_language if participant is not None else None,
                self._ui_languages,
                self._event.default_language,
            )
            names = ", ".join(site.name.get(lang, self._event.default_language) for site in sites)
            text = (
                self._texts(lang, "lost_chat.moved", site=names, chat=str(chat), new=str(moved_to))
                if moved_to is not None
                else self._texts(lang, "lost_chat.lost", site=names, chat=str(chat))
            )
            deliveries.append(
                NewDelivery(
                    key=f"lost-chat:{self._event.key}:{chat}:{now.isoformat()}:{person}",
                    event_key=self._event.key,
                    chat_id=person,  # a private chat has the person's id
                    user_id=None,
                    kind="notice",
                    message=OutboxMessage(text),
                    priority=-1,
                )
            )
        return await self._uow.outbox.enqueue(deliveries, now)
