"""The one in-process publication of committed changes.

A service publishes a typed event here AFTER its transaction has committed, once; whoever
shows the state live (the walls now, the facilitators' console later) subscribes. The chat
keeps its own path (the outbox): this is not a queue, nothing is stored or replayed. A page
that reconnects asks for the current state, never for the events it missed.

Subscribers are plain callables run synchronously inside `publish()`: they must only note
what changed and return (a web hub schedules its own rendering), so a slow page never holds
up the service that published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

log = logging.getLogger(__name__)


class InputChange(StrEnum):
    ADDED = "added"
    EDITED = "edited"
    HIDDEN = "hidden"
    SHOWN = "shown"
    WITHDRAWN = "withdrawn"
    STARRED = "starred"  # a star given or taken back
    VOTED = "voted"
    ERASED = "erased"  # a person's data erased: their inputs are gone


class AgendaChange(StrEnum):
    STARTED = "started"  # an item started (on time, by /next, or after a pause)
    DELAYED = "delayed"
    PAUSED = "paused"
    RESUMED = "resumed"
    ADHOC = "adhoc"  # an ad-hoc prompt opened or closed


@dataclass(frozen=True, slots=True)
class InputChanged:
    """An input of `site_key` changed (`input_id` None: several, as after an erasure)."""

    change: InputChange
    site_key: str | None
    input_id: int | None = None


@dataclass(frozen=True, slots=True)
class Relayed:
    """Highlights were relayed to `to_site`."""

    to_site: str


@dataclass(frozen=True, slots=True)
class AgendaChanged:
    change: AgendaChange
    site_key: str


@dataclass(frozen=True, slots=True)
class CheckinsChanged:
    site_key: str | None


@dataclass(frozen=True, slots=True)
class WallsRotated:
    """A wall token changed: `site_key` None is the all-sites wall; open pages on it close."""

    site_key: str | None


LiveEvent = InputChanged | Relayed | AgendaChanged | CheckinsChanged | WallsRotated


class Publisher(Protocol):
    def publish(self, event: LiveEvent) -> None: ...


class _Nobody:
    def publish(self, event: LiveEvent) -> None:
        pass


NOBODY: Publisher = _Nobody()  # the default of every service: nothing is live


class LiveBus:
    """Publish after commit; subscribers are told in the order they subscribed."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[LiveEvent], None]] = []
        self.published = 0  # events published since start (a figure for health and tests)

    def subscribe(self, subscriber: Callable[[LiveEvent], None]) -> Callable[[], None]:
        """Returns the function that unsubscribes."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: LiveEvent) -> None:
        self.published += 1
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                # A broken page never breaks the service that committed the change.
                log.exception("a live subscriber failed on %s", type(event).__name__)
