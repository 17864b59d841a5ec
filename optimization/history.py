"""What the DR policy reads of a utility's past to call, plan and verify its events:
selectors, set-based (by utility, forecast run or day, never lists of every building's id),
each past day read once per job (PastDays)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from forecasting import compliance
from forecasting.models import BuildingForecast, ForecastRun, GridStatusHour
from forecasting.services.windows import readings_window
from stakeholders.models import Building

from .models import ACTIVE_ANSWERS, DemandResponseEvent, EventStatus, Recommendation
from .policy.record import Outcomes, building_record, plans_record, training_rows
from .portfolio import TrackRecord

# The utility's last days are read from up to this many of its buildings (sampled_buildings).
HISTORY_SAMPLE = 4_000


def local_window(event: DemandResponseEvent) -> tuple[date, int, int]:
    """(the local day, its first hour, the hour after its last) of the event's window."""
    tz = ZoneInfo(event.utility.timezone)
    start, end = event.starts_at.astimezone(tz), event.ends_at.astimezone(tz)
    last_hour = (end - timedelta(microseconds=1)).hour + 1 if end.date() == start.date() else 24
    return start.date(), start.hour, last_hour


def local_midnight(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day's first moment and the next day's."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = day + timedelta(days=1)
    return midnight, datetime(following.year, following.month, following.day, tzinfo=tz)


def latest_run(utility, day: date) -> ForecastRun | None:
    """The utility's latest complete forecast run of `day`."""
    return (
        ForecastRun.objects.filter(utility=utility, day=day, status=ForecastRun.Status.COMPLETE)
        .order_by("-created_at")
        .first()
    )


def _blobs(values: list, hours: int = 24) -> np.ndarray:
    """(n, hours) float kW of stored float32 day blobs, NaN where a blob is short."""
    out = np.full((len(values), hours), np.nan)
    whole = [i for i, value in enumerate(values) if len(value) >= 4 * hours]
    if whole:
        joined = b"".join(bytes(values[i])[: 4 * hours] for i in whole)
        out[whole] = np.frombuffer(joined, "<f4").reshape(len(whole), hours)
    return out


def run_quantiles(run: ForecastRun | None, ids: np.ndarray):
    """(P10, P50, P90), each (n, 24) kW, of the buildings `ids` in forecast `run` (the whole
    run read at once); NaN where a building has none."""
    ids = np.asarray(ids, dtype=np.int64)
    out = [np.full((ids.size, 24), np.nan) for _ in range(3)]
    if run is None or not ids.size:
        return tuple(out)
    rows = list(
        BuildingForecast.objects.filter(run=run)
        .order_by()
        .values_list("building_id", "p10_kw", "p50_kw", "p90_kw")
    )
    if not rows:
        return tuple(out)
    found = np.array([row[0] for row in rows], dtype=np.int64)
    at = np.searchsorted(ids, found)
    hit = (at < ids.size) & (ids[np.minimum(at, ids.size - 1)] == found)
    for column in range(3):
        values = _blobs([row[column + 1] for row, keep in zip(rows, hit, strict=True) if keep])
        out[column][at[hit]] = values
    return tuple(out)


def forecast_and_readings(utility, day, building_ids=None):
    """(ids, P50, readings) of the buildings (only `building_ids`, where given) with a P50 for
    `day` in the day's latest complete forecast run of the utility: ids sorted, P50 and
    readings (n, 24) kW, NaN where an hour is not read. Empty without a run."""
    run = latest_run(utility, day)
    rows = (
        BuildingForecast.objects.none() if run is None else BuildingForecast.objects.filter(run=run)
    )
    if building_ids is not None:
        rows = rows.filter(building_id__in=[int(i) for i in building_ids])
    found = sorted(rows.order_by().values_list("building_id", "p50_kw"))
    ids = np.array([row[0] for row in found], dtype=np.int64)
    if not ids.size:
        return ids, np.zeros((0, 24)), np.zeros((0, 24))
    predicted = _blobs([row[1] for row in found])
    actual = readings_window(building_ids=ids, first_day=day, days=1)[:, 0].astype(float)
    return ids, predicted, actual


def sampled_buildings(utility) -> np.ndarray:
    """The ids of up to HISTORY_SAMPLE of the utility's buildings, sorted: a random sample (the
    same for the utility each time) that reads what the utility's last days say of its
    forecast."""
    ids = np.array(
        Building.objects.filter(utility=utility).order_by("pk").values_list("pk", flat=True)
    )
    if ids.size <= HISTORY_SAMPLE:
        return ids
    return np.sort(np.random.default_rng(utility.pk).choice(ids, HISTORY_SAMPLE, replace=False))


@dataclass(frozen=True)
class PastDay:
    day: date
    ids: np.ndarray
    predicted: np.ndarray  # (n, 24) P50 kW
    actual: np.ndarray  # (n, 24) readings kW, NaN where not read


class PastDays:
    """The utility's days before `before`, latest first, each read once (on first use): the
    P50 and readings of sampled_buildings that nobody was asked that (local) day, none of them
    read on a building curtailing, pre-cooling or rebounding."""

    def __init__(self, utility, before: date) -> None:
        self.utility, self.before = utility, before
        self._days: list[PastDay] = []
        self._sample: np.ndarray | None = None

    def latest(self, count: int) -> list[PastDay]:
        if self._sample is None:
            self._sample = sampled_buildings(self.utility)
        while len(self._days) < count:
            day = self.before - timedelta(days=len(self._days) + 1)
            asked = np.fromiter(asked_on(self.utility, day), dtype=np.int64)
            quiet = self._sample[~np.isin(self._sample, asked)]
            self._days.append(PastDay(day, *forecast_and_readings(self.utility, day, quiet)))
        return self._days[:count]


def asked_on(utility, day: date) -> set[int]:
    """The buildings with an ask standing in any event of the utility that was not cancelled,
    on its local `day`."""
    start, end = local_midnight(day, ZoneInfo(utility.timezone))
    return set(
        Recommendation.objects.filter(
            event__utility=utility, status__in=ACTIVE_ANSWERS, event__starts_at__gte=start,
            event__starts_at__lt=end,
        )
        .exclude(event__status=EventStatus.CANCELLED)
        .values_list("building_id", flat=True)
    )  # fmt: skip


def asked_that_day(event: DemandResponseEvent) -> set[int]:
    """The buildings with an ask standing in any event of the utility on `event`'s local day
    (`event` included): their pre-cooling or rebound may reach into another event's window,
    so verification reads none of them as a comparison."""
    return asked_on(event.utility, local_window(event)[0])


def asks_between(utility, ids: np.ndarray, first: datetime, before: datetime) -> np.ndarray:
    """(n,) per building of `ids` (sorted): its asks standing in the utility's events that
    were not cancelled and start in [first, before)."""
    counts = np.zeros(len(ids))
    rows = np.array(
        Recommendation.objects.filter(
            event__utility=utility, status__in=ACTIVE_ANSWERS, event__starts_at__gte=first,
            event__starts_at__lt=before,
        )
        .exclude(event__status=EventStatus.CANCELLED)
        .values_list("building_id", flat=True),
        dtype=np.int64,
    )  # fmt: skip
    at, hit = _positions(ids, rows)
    np.add.at(counts, at[hit], 1)
    return counts


def _positions(ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of `values` is in the sorted `ids`, and whether it is there at all."""
    ids = np.asarray(ids, dtype=np.int64)
    if not ids.size:
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    at = np.searchsorted(ids, values)
    hit = (at < ids.size) & (ids[np.minimum(at, ids.size - 1)] == values)
    return np.minimum(at, ids.size - 1), hit


def _verified(utility, before: datetime | None = None):
    rows = Recommendation.objects.filter(
        event__utility=utility, complied__isnull=False, delivered_kw__isnull=False,
        requested_kw__gt=0,
    )  # fmt: skip
    if before is not None:
        rows = rows.filter(event__starts_at__lt=before)
    return rows.order_by("event__starts_at", "pk")


def _outcomes(rows: list, building: np.ndarray) -> Outcomes:
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    return Outcomes(
        building=building,
        probability=np.array(columns[1], dtype=float),
        complied=np.array(columns[2], dtype=bool),
        requested_kw=np.array(columns[3], dtype=float),
        delivered_kw=np.array(columns[4], dtype=float),
        baseline_sd_kw=np.array([sd or 0.0 for sd in columns[5]], dtype=float),
    )


OUTCOME_COLUMNS = (
    "building_id", "compliance_probability", "complied", "requested_kw", "delivered_kw",
    "baseline_sd_kw",
)  # fmt: skip


def records_of(utility, ids: np.ndarray, before: datetime):
    """policy.record.building_record of the buildings `ids` (sorted) after every ask of the
    utility's verified before `before` (everyone's share from all of them)."""
    rows = list(_verified(utility, before).values_list(*OUTCOME_COLUMNS))
    found = np.array([row[0] for row in rows], dtype=np.int64)
    at, hit = _positions(ids, found)
    # Asks of buildings not among `ids` count for everyone's share only: an extra slot.
    record = building_record(_outcomes(rows, np.where(hit, at, len(ids))), len(ids) + 1)
    return type(record)(
        past_asked=record.past_asked[:-1], past_complied=record.past_complied[:-1],
        share_sum=record.share_sum[:-1], share_weight=record.share_weight[:-1],
        population_share=record.population_share,
    )  # fmt: skip


def training_outcomes(utility) -> compliance.Events | None:
    """Every verified ask of the utility's buildings, oldest first, as the compliance model
    learns from them (policy.record.training_rows); None without any."""
    rows = list(_verified(utility).exclude(features={}).values_list(*OUTCOME_COLUMNS, "features"))
    if not rows:
        return None
    features = [row[-1] for row in rows]
    columns = {
        name: np.array(
            [one.get(name) for one in features],
            dtype=object if name == "building_type" else float,
        )
        for name in compliance.FEATURE_FIELDS
        if all(name in one for one in features)
    }
    columns["building_type"] = columns["building_type"].astype(str)
    outcomes = _outcomes([row[:-1] for row in rows], np.zeros(len(rows), dtype=np.int64))
    return training_rows(compliance.Events(**columns), outcomes)


def utility_plans_record(utility) -> TrackRecord:
    """How the utility's verified events' plans compared with what was delivered, each against
    what the compliance model expected of it (policy.record.plans_record): only plans a
    trained model made."""
    rows = list(
        DemandResponseEvent.objects.filter(
            utility=utility, status=EventStatus.VERIFIED, model_expected_kw__gt=0,
            delivered_kw__isnull=False,
        )
        .order_by("starts_at", "pk")
        .values_list("model_expected_kw", "delivered_kw", "own_sd_kw")
    )  # fmt: skip
    expected, delivered, own = zip(*rows, strict=True) if rows else ((), (), ())
    return plans_record(expected, delivered, [sd or 0.0 for sd in own])


def feeder_excess(event: DemandResponseEvent, run) -> dict[int, float]:
    """Per feeder, the most kW above HIGH its grid status in `run` has over the event's window."""
    excess: dict[int, float] = {}
    if run is None:
        return excess
    for feeder_id, kw in GridStatusHour.objects.filter(
        run=run, feeder__isnull=False, starts_at__gte=event.starts_at, starts_at__lt=event.ends_at
    ).values_list("feeder_id", "kw_above_high"):
        excess[feeder_id] = max(excess.get(feeder_id, 0.0), kw)
    return excess


@dataclass(frozen=True)
class Candidates:
    """The buildings an event may ask, sorted by id: (n,) arrays."""

    ids: np.ndarray
    building_type: np.ndarray
    curtailable_kw: np.ndarray
    max_setpoint_change_c: np.ndarray
    max_events_per_month: np.ndarray
    feeder_id: np.ndarray  # 0 where none
    tariff_usd_per_kwh: np.ndarray
    carbon_kg_per_kwh: np.ndarray


CANDIDATE_COLUMNS = (
    "pk", "building_type", "curtailable_kw", "max_setpoint_change_c", "max_events_per_month",
    "feeder_id", "tariff_usd_per_kwh", "carbon_kg_per_kwh",
)  # fmt: skip


def event_candidates(event: DemandResponseEvent, leave_out: set[int]) -> Candidates:
    """The enrolled buildings with curtailable load that the event may ask (on its feeder,
    where it has one), less `leave_out` (those that declined)."""
    rows = Building.objects.filter(utility=event.utility, enrolled=True, curtailable_kw__gt=0)
    if event.feeder_id:
        rows = rows.filter(feeder_id=event.feeder_id)
    found = [
        row
        for row in rows.order_by("pk").values_list(*CANDIDATE_COLUMNS)
        if row[0] not in leave_out
    ]
    columns = list(zip(*found, strict=True)) if found else [()] * len(CANDIDATE_COLUMNS)
    return Candidates(
        ids=np.array(columns[0], dtype=np.int64),
        building_type=np.array(columns[1], dtype=object).astype(str),
        curtailable_kw=np.array(columns[2], dtype=float),
        max_setpoint_change_c=np.array(columns[3], dtype=float),
        max_events_per_month=np.array(columns[4], dtype=float),
        feeder_id=np.array([f or 0 for f in columns[5]], dtype=np.int64),
        tariff_usd_per_kwh=np.array(columns[6], dtype=float),
        carbon_kg_per_kwh=np.array(columns[7], dtype=float),
    )


def event_asks(event: DemandResponseEvent) -> dict[int, tuple]:
    """The event's recommendations: building id -> (pk, status, depth %, created_at)."""
    return {
        building_id: (pk, status, depth, created)
        for pk, building_id, status, depth, created in event.recommendations.order_by().values_list(
            "pk", "building_id", "status", "depth_pct", "created_at"
        )
    }
