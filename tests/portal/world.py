"""A utility as its people meet it in the portal: readings for three weeks up to today,
forecast runs for today and tomorrow with HIGH and CRITICAL hours, and events in every state;
members of each role in the utility and in a building owner, and a second utility whose ids
nobody of the first may reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.utils import timezone

from forecasting.models import BuildingForecast, ForecastRun
from forecasting.services.forecasts import forecast_aggregate
from forecasting.services.readings import meter_days_upsert
from optimization.services.events import (
    event_activate,
    event_complete,
    event_dispatch,
    event_propose,
)
from optimization.services.planning import event_optimize, recommendation_accept
from optimization.services.verification import event_verify
from stakeholders.models import BuildingType, Organization, Role
from tests.factories import (
    BuildingFactory,
    FeederFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UtilityFactory,
)

TZ = "America/Los_Angeles"
HISTORY_DAYS = 21
PASSWORD = "pass-123-word"
UTILITY_ROLES = [
    Role.GRID_OPERATOR, Role.ENERGY_TRADER, Role.SYSTEM_ENGINEER, Role.EMERGENCY_TEAM,
    Role.EXECUTIVE, Role.DATA_SCIENCE,
]  # fmt: skip
OWNER_ROLES = [Role.BUILDING_OWNER, Role.ENERGY_MANAGER, Role.FACILITY_MANAGER, Role.TENANT]


def profile(scale: float) -> np.ndarray:
    hours = np.arange(24)
    return scale * (1.0 + 0.9 * np.exp(-((hours - 17) ** 2) / 6.0))


@dataclass
class World:
    utility: object
    owner: object
    buildings: list
    members: dict = field(default_factory=dict)  # role -> user
    events: dict = field(default_factory=dict)  # state -> event

    @property
    def utility_zone(self) -> ZoneInfo:
        return ZoneInfo(self.utility.timezone)


def _forecast(utility, buildings, day, factor: float) -> ForecastRun:
    run = ForecastRun.objects.create(
        utility=utility, day=day, status=ForecastRun.Status.RUNNING, chunks_total=1, chunks_done=1
    )
    for b in buildings:
        p50 = (profile(b.curtailable_kw) * factor).astype("<f4")
        BuildingForecast.objects.create(
            run=run, building=b, method=BuildingForecast.Method.LSTM,
            p10_kw=(p50 * 0.9).tobytes(), p50_kw=p50.tobytes(), p90_kw=(p50 * 1.1).tobytes(),
            mean_kw=p50.tobytes(), peak_p50_kw=float(p50.max()),
        )  # fmt: skip
    forecast_aggregate(run=run)
    run.refresh_from_db()
    return run


def build_world(name: str, *, with_events: bool = True) -> World:
    utility = UtilityFactory(name=f"{name} Power", timezone=TZ, capacity_kw=1000.0)
    feeder = FeederFactory(utility=utility, capacity_kw=800.0)
    owner = OrganizationFactory(name=f"{name} Properties", kind=Organization.Kind.BUILDING_OWNER)
    buildings = [
        BuildingFactory(
            utility=utility, owner=owner, feeder=feeder, curtailable_kw=8.0 + i,
            building_type=BuildingType.OFFICE if i % 2 else BuildingType.RESIDENTIAL,
            enrolled=True, enrolled_on=datetime(2026, 1, 1).date(), consent_by="owner",
            code=f"{name[:3].upper()}-{i:02d}", name=f"{name} building {i}",
        )
        for i in range(10)
    ]  # fmt: skip
    zone = ZoneInfo(TZ)
    today = timezone.now().astimezone(zone).date()
    days = [today - timedelta(days=d) for d in range(HISTORY_DAYS, 0, -1)]
    rng = np.random.default_rng(7)
    for b in buildings:
        load = profile(b.curtailable_kw)[None, :] * rng.normal(1.0, 0.02, (len(days), 24))
        meter_days_upsert(
            building_ids=np.full(len(days), b.pk), days=days, kwh=load, origin="uploaded"
        )
    total_peak = sum(profile(b.curtailable_kw) for b in buildings).max()
    # The utility's thresholds sit so that tomorrow's peak (forecast 1.3x usual) is CRITICAL
    # for an hour or two and HIGH around it; today's (1.0x) stays NORMAL.
    utility.capacity_kw = total_peak * 1.3 / 0.97
    utility.save()
    _forecast(utility, buildings, today, 1.0)
    _forecast(utility, buildings, today + timedelta(days=1), 1.3)
    world = World(utility=utility, owner=owner, buildings=buildings)
    for role in UTILITY_ROLES:
        world.members[role] = MembershipFactory(
            user=UserFactory(username=f"{name.lower()}-{role}"),
            organization=utility.organization, role=role,
        ).user  # fmt: skip
    for role in OWNER_ROLES:
        membership = MembershipFactory(
            user=UserFactory(username=f"{name.lower()}-{role}"), organization=owner, role=role
        )
        if role == Role.FACILITY_MANAGER:
            membership.buildings.set(buildings[:6])
        if role == Role.TENANT:
            membership.buildings.set(buildings[:1])
        world.members[role] = membership.user
    if with_events:
        _events(world, today)
    return world


def _window(day, start: int, end: int):
    zone = ZoneInfo(TZ)
    return (
        datetime.combine(day, time(start), tzinfo=zone),
        datetime.combine(day, time(end), tzinfo=zone),
    )


def _events(world: World, today) -> None:
    utility, operator = world.utility, world.members[Role.GRID_OPERATOR]
    tomorrow = today + timedelta(days=1)
    starts, ends = _window(tomorrow, 16, 19)
    dispatched = event_propose(
        utility=utility, starts_at=starts, ends_at=ends, target_kw=20.0, user=operator
    )
    event_optimize(event=dispatched, user=operator)
    event_dispatch(event=dispatched, user=operator)
    starts, ends = _window(tomorrow, 20, 21)
    proposed = event_propose(
        utility=utility, starts_at=starts, ends_at=ends, target_kw=5.0, user=operator
    )
    # A past event, simulated: accepted, run, and verified on readings that show the cut.
    yesterday = today - timedelta(days=1)
    starts, ends = _window(yesterday, 16, 19)
    past = event_propose(
        utility=utility, starts_at=starts, ends_at=ends, target_kw=10.0, simulated=True, user=operator
    )  # fmt: skip
    event_optimize(event=past, user=operator)
    event_dispatch(event=past, user=operator)
    for rec in past.recommendations.filter(status="pending"):
        recommendation_accept(recommendation=rec, user=world.members[Role.FACILITY_MANAGER])
    event_activate(event=past, user=operator)
    event_complete(event=past, user=operator)
    cut = {rec.building_id: rec.requested_kw for rec in past.recommendations.all()}
    for b in world.buildings:
        day = profile(b.curtailable_kw).copy()
        day[16:19] -= cut.get(b.pk, 0.0)
        meter_days_upsert(
            building_ids=np.array([b.pk]), days=[yesterday], kwh=day[None, :], origin="uploaded"
        )
    event_verify(event=past, user=operator)
    world.events = {"dispatched": dispatched, "proposed": proposed, "verified": past}


@pytest.fixture
def world(db) -> World:
    return build_world("Alpha")


@pytest.fixture
def live_world(transactional_db) -> World:
    """The same utility, committed, for a live server and a browser."""
    return build_world("Alpha")


@pytest.fixture
def other_world(db) -> World:
    return build_world("Beta", with_events=True)


@pytest.fixture
def signed_in(client):
    """Sign `user` in (as the login page would) and return the client."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
