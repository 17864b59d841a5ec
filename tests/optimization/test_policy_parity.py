"""One DR policy: a small season run through the season simulator and through the product's
services, on a fixed clock, makes the same decisions (windows, targets, buildings asked and
their depths). The world (truth, forecasts, behaviour) is the simulator's in both; only the
decisions differ in where they are taken: optimization.policy over arrays, or the services
over the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from forecasting.grid import Quantiles
from forecasting.models import BuildingForecast, ForecastRun, SeriesDay
from forecasting.services.forecasts import forecast_aggregate, forecast_chunk_store
from forecasting.services.readings import meter_days_upsert, series_days_upsert
from optimization.models import ACTIVE_ANSWERS, DemandResponseEvent, EventStatus
from optimization.policy import calls
from optimization.portfolio import DEPTH_LEVELS_PCT
from optimization.services.events import (
    event_activate,
    event_complete,
    event_dispatch,
    event_propose_from_grid,
)
from optimization.services.planning import event_optimize
from optimization.services.revisit import day_of_call, event_revisit
from optimization.services.verification import event_verify
from optimization.simulator import RELIABILITY, Season, SeasonConfig, stored
from tests.factories import BuildingFactory, OrganizationFactory, UtilityFactory

pytestmark = pytest.mark.django_db

BUILDINGS, WARMUP, DAYS = 60, 14, 10
FIRST_DAY = date(2027, 6, 1)  # the season's first (warm-up) day; the clock is fixed on each


def season() -> Season:
    """60 buildings, 14 days of warm-up and 10 of season, the last five a hot spell."""
    rng = np.random.default_rng(5)
    days = WARMUP + DAYS
    shape = 0.6 + np.exp(-0.5 * ((np.arange(24) - 15) / 3.0) ** 2)
    load = (
        rng.uniform(1, 5, size=(BUILDINGS, 1, 1))
        * shape[None, None, :]
        * rng.normal(1, 0.05, size=(BUILDINGS, days, 24))
    )
    load[:, WARMUP:] *= (1.0 + 0.05 * rng.random(DAYS))[None, :, None]
    temperature = np.full((days, 24), 30.0) + np.linspace(0, 8, days)[:, None]
    types = rng.choice(list(RELIABILITY), size=BUILDINGS)
    capacity = float(load.sum(axis=0)[WARMUP:].max(axis=1).max()) / 1.04 / 0.9
    config = SeasonConfig(warmup_days=WARMUP, day_of_hour=10)
    return Season(
        load, temperature, types, np.zeros(BUILDINGS, dtype=int), capacity_kw=capacity,
        config=config, seed=4,
    )  # fmt: skip


def simulated(world: Season) -> list[tuple]:
    """The simulator's decisions: (day, start, end, target kW, {building: depth %})."""
    decisions = []
    play = Season._play

    def spy(self, strategy, plans, *args):
        day = args[3]
        for plan in plans:
            if not plan.level.any():
                continue  # nothing to dispatch: no event (the product's dispatch refuses it)
            decisions.append(
                _decision(day, plan.call.start, plan.call.end, plan.call.target_kw, plan.level)
            )
        return play(self, strategy, plans, *args)

    Season._play = spy
    try:
        world.run("compliance")
    finally:
        Season._play = play
    return decisions


def _decision(day, start, end, target, level) -> tuple:
    asked = {int(i): DEPTH_LEVELS_PCT[int(level[i]) - 1] for i in np.flatnonzero(level)}
    return (day, start, end, round(float(target), 2), asked)


def at(day: int, hour: int) -> datetime:
    return datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), tzinfo=UTC) + (
        timedelta(hours=hour)
    )


def dispatch(event) -> None:
    """Dispatch a planned event, as the operator would; one whose plan asks nobody has nothing
    to send and stays planned."""
    if event.recommendations.filter(status__in=ACTIVE_ANSWERS).exists():
        event_dispatch(event=event)


class Product:
    """The product's services over the world's data, on a fixed clock."""

    def __init__(self, world: Season) -> None:
        self.world = world
        self.utility = UtilityFactory(
            timezone="UTC", capacity_kw=world.capacity_kw, high_strain_pct=90.0,
            critical_strain_pct=97.0,
        )  # fmt: skip
        owner = OrganizationFactory()
        self.buildings = [
            BuildingFactory(
                utility=self.utility, owner=owner, building_type=str(world.building_type[i]),
                curtailable_kw=float(world.curtailable_kw[i]), max_setpoint_change_c=3.0,
                max_events_per_month=world.config.max_events_per_month, enrolled=True,
                enrolled_on=FIRST_DAY, consent_by="parity test",
                feeder=None,
            )
            for i in range(BUILDINGS)
        ]  # fmt: skip
        self.ids = np.array([b.pk for b in self.buildings])
        self.index = {int(pk): i for i, pk in enumerate(self.ids)}
        self.actual = world.load.copy()
        days = [FIRST_DAY + timedelta(days=d) for d in range(WARMUP + DAYS)]
        series_days_upsert(
            utility=self.utility, series=SeriesDay.Series.TEMPERATURE_C, days=days,
            values=world.temperature, origin="uploaded",
        )  # fmt: skip
        for d in range(WARMUP):
            self.meter(d)

    def meter(self, day: int, hours: int = 24) -> None:
        kwh = np.full((BUILDINGS, 24), np.nan)
        kwh[:, :hours] = self.actual[:, day, :hours]
        meter_days_upsert(
            building_ids=self.ids, days=[FIRST_DAY + timedelta(days=day)] * BUILDINGS, kwh=kwh,
            origin="uploaded",
        )  # fmt: skip

    def forecast(self, day: int, forecast) -> ForecastRun:
        run = ForecastRun.objects.create(
            utility=self.utility, day=FIRST_DAY + timedelta(days=day), chunks_total=1
        )
        computed = {
            "ids": self.ids,
            "quantiles": Quantiles(
                p10=forecast.p10, p50=forecast.p50, p90=forecast.p90, mean=forecast.p50
            ),
            "method": np.full(BUILDINGS, BuildingForecast.Method.LSTM.value, dtype=object),
            "flag": np.full(BUILDINGS, "", dtype=object),
        }
        forecast_chunk_store(run=run, computed=computed)
        forecast_aggregate(run=run)
        run.refresh_from_db()
        return run

    def day(self, day: int, forecast, rng, decisions: list) -> None:
        run = self.forecast(day, forecast)
        event = event_propose_from_grid(run=run, now=at(day - 1, 22))
        if event is not None:
            event_optimize(event=event, now=at(day - 1, 22))
            dispatch(event)
        self.meter(day, hours=10)  # the morning's readings, nobody curtailed yet
        morning = at(day, 10)
        if event is None:
            called = day_of_call(utility=self.utility, now=morning)
            if called["event_id"]:
                late = DemandResponseEvent.objects.get(pk=called["event_id"])
                event_optimize(event=late, now=morning)
                dispatch(late)
        elif event.starts_at > morning:
            event.refresh_from_db()
            revisited = event_revisit(event=event, now=morning)
            for pk in revisited.get("proposed", []):
                other = DemandResponseEvent.objects.get(pk=pk)
                event_optimize(event=other, now=morning)
                dispatch(other)
        events = list(
            DemandResponseEvent.objects.filter(
                utility=self.utility, status=EventStatus.DISPATCHED,
                starts_at__gte=at(day, 0), starts_at__lt=at(day + 1, 0),
            ).order_by("starts_at")
        )  # fmt: skip
        plans = [self.plan_of(event, day) for event in events]
        for plan in plans:
            decisions.append(
                _decision(day, plan.call.start, plan.call.end, plan.call.target_kw, plan.level)
            )
            self.world._dispatch(day, plan, rng, self.actual)
        self.actual[:, day] = stored(self.actual[:, day])
        self.meter(day)
        for event in events:
            event_activate(event=event, now=event.starts_at)
            event_complete(event=event, now=event.ends_at)
            event_verify(event=event)

    def plan_of(self, event, day: int):
        """An event's asks as the world's behaviour reads a plan."""
        level = np.zeros(BUILDINGS, dtype=np.int64)
        recent, notice = np.zeros(BUILDINGS), np.zeros(BUILDINGS)
        temperature = 0.0
        for building_id, depth, features in event.recommendations.filter(
            status__in=ACTIVE_ANSWERS
        ).values_list("building_id", "depth_pct", "features"):
            i = self.index[building_id]
            level[i] = DEPTH_LEVELS_PCT.index(depth) + 1
            recent[i], notice[i] = features["events_30d"], features["notice_h"]
            temperature = features["temperature_c"]
        start = event.starts_at.hour
        end = start + int(round(event.duration_h))
        return SimpleNamespace(
            call=calls.Call(start, end, event.target_kw), level=level, recent=recent,
            notice=notice, temperature=temperature,
        )  # fmt: skip

    def run(self) -> list[tuple]:
        rng = np.random.default_rng(self.world.seed + 1)
        forecast_rng = np.random.default_rng(self.world.seed + 2)
        decisions: list[tuple] = []
        for day in range(WARMUP, WARMUP + DAYS):
            self.day(day, self.world.forecast(day, forecast_rng), rng, decisions)
        return decisions


def test_the_simulator_and_the_services_make_the_same_decisions():
    world = season()
    expected = simulated(world)
    got = Product(season()).run()
    # the season has events, some of them revisited with events next to them, and asks
    # that are not everyone
    assert len(expected) >= 3
    assert any(len(asked) < BUILDINGS for *_, asked in expected)
    assert [d[:3] for d in got] == [d[:3] for d in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine[3] == pytest.approx(theirs[3], abs=0.05)
        assert mine[4] == theirs[4], f"day {mine[0]} {mine[1]}-{mine[2]}"


def test_a_different_cost_per_ask_changes_the_simulators_decisions():
    # the parity above is not vacuous: the decisions it compares move with the policy's rules
    world = season()
    world.config = replace(world.config, ask_cost_usd=0.0)
    cheap = simulated(world)
    costly = simulated(season())
    assert sum(len(asked) for *_, asked in cheap) > sum(len(asked) for *_, asked in costly)
