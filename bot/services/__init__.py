"""Use cases without Telegram or SQL; `Services` is what the composition root gives handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.event import Event
from bot.health import LoopMonitor
from bot.i18n import Catalogue
from bot.ports import Clock
from bot.services.access import AccessService
from bot.services.agenda import AgendaEngine
from bot.services.alerts import AlertService
from bot.services.broadcast import BroadcastService
from bot.services.checkin import CheckInService
from bot.services.console import ConsoleService
from bot.services.delivery import DeliveryWorker
from bot.services.export import ExportService
from bot.services.inbox import InboxService
from bot.services.inputs import InputService
from bot.services.live import LiveBus
from bot.services.lostchats import LostChatService
from bot.services.pace import PaceGate
from bot.services.privacy import PrivacyService
from bot.services.relay import RelayService
from bot.services.roles import RoleService
from bot.services.walls import WallService


@dataclass(frozen=True, slots=True)
class Services:
    event: Event
    texts: Catalogue
    clock: Clock
    access: AccessService
    checkin: CheckInService
    privacy: PrivacyService
    agenda: AgendaEngine
    broadcast: BroadcastService
    delivery: DeliveryWorker
    inputs: InputService
    export: ExportService
    relay: RelayService
    inbox: InboxService
    monitor: LoopMonitor
    alerts: AlertService
    roles: RoleService
    lost_chats: LostChatService
    walls: WallService
    console: ConsoleService
    pace: PaceGate
    # Every committed change, published once after its commit, for what shows it live.
    live: LiveBus = field(default_factory=LiveBus)
