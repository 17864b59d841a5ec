"""The pieces every section of a day snapshot shares: its context and the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from forecasting.services.citylearn_import import DEMO_UTILITY, REPLAY_LABEL
from optimization.selectors import VerifiedAsks, verified_asks
from stakeholders.models import Utility

from ..models import ReportBuildingLine

# A snapshot older than this is built again even if nothing it reads has changed (job
# timings, request latency and the like move on their own).
MAX_AGE = timedelta(minutes=15)
SIMULATED_LABEL = (
    "Includes simulated events: their buildings' responses were simulated, not metered."
)


@dataclass
class DayContext:
    """What a section reads and writes while a day snapshot is built."""

    utility: Utility
    day: date
    now: datetime
    data: dict = field(default_factory=dict)  # the sections built so far, by name
    versions: dict = field(default_factory=dict)  # model versions behind the figures
    lines: list[ReportBuildingLine] = field(default_factory=list)  # per building (owners)
    simulated: bool = False
    _verified: VerifiedAsks | None = None

    def verified(self) -> VerifiedAsks:
        """Every verified ask of the utility before now, loaded once for all sections."""
        if self._verified is None:
            self._verified = verified_asks(utility=self.utility, until=self.now)
        return self._verified

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.utility.timezone)


SECTIONS: list[tuple[str, Callable[[DayContext], dict]]] = []


def section(name: str):
    """Register a day snapshot section: `fn(ctx) -> dict` of JSON values, kept as data[name].
    Sections run in the order they are registered; a later one may read ctx.data."""

    def register(fn: Callable[[DayContext], dict]):
        SECTIONS.append((name, fn))
        return fn

    return register


def data_label(utility: Utility) -> str:
    """Where the utility's data comes from, when it is not plainly metered ("" when it is)."""
    return REPLAY_LABEL if utility.name == DEMO_UTILITY else ""


def local_today(utility: Utility, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(ZoneInfo(utility.timezone)).date()
