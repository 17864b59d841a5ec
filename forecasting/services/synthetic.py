"""Synthetic buildings and readings for scale tests and the simulator, labelled synthetic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
from django.db import transaction

from stakeholders.models import Building, DataOrigin, Organization, Utility
from stakeholders.services import feeder_ensure, organization_ensure

from ..synthetic import SyntheticSpec, synthetic_loads
from .readings import meter_days_upsert

BUILDING_BATCH = 10_000


@transaction.atomic
def synthetic_buildings_create(
    *,
    utility: Utility,
    spec: SyntheticSpec,
    feeders: int,
    tariff_usd_per_kwh: float,
    carbon_kg_per_kwh: float,
    mean_kw: np.ndarray,
) -> list[int]:
    """Create one synthetic building per spec entry, spread over `feeders` feeders.

    Feeder capacity is the sum of its buildings' mean load times 2.5 (a typical peak-to-mean
    ratio with headroom); curtailable kW is 30 % of each building's mean load.
    """
    count = spec.source.shape[0]
    owner = organization_ensure(
        name=f"{utility.name} synthetic owners", kind=Organization.Kind.BUILDING_OWNER
    )
    feeder_of = np.arange(count) % feeders
    feeder_ids = []
    for index in range(feeders):
        load = float(mean_kw[feeder_of == index].sum())
        feeder_ids.append(
            feeder_ensure(
                utility=utility, name=f"SYN-F{index + 1:03d}", capacity_kw=max(load * 2.5, 1.0)
            ).pk
        )
    start = Building.objects.filter(utility=utility, code__startswith="SYN-").count()
    enrolled_on = date.today()
    buildings = (
        Building(
            owner=owner,
            utility=utility,
            feeder_id=feeder_ids[feeder_of[i]],
            code=f"SYN-{start + i:06d}",
            name=f"Synthetic {spec.building_type[i]} {start + i}",
            building_type=spec.building_type[i],
            tariff_usd_per_kwh=tariff_usd_per_kwh,
            carbon_kg_per_kwh=carbon_kg_per_kwh,
            curtailable_kw=round(0.3 * float(mean_kw[i]), 3),
            enrolled=True,
            enrolled_on=enrolled_on,
            consent_by="synthetic portfolio",
            origin=DataOrigin.SYNTHETIC,
        )
        for i in range(count)
    )
    created = Building.objects.bulk_create(buildings, batch_size=BUILDING_BATCH)
    return [building.pk for building in created]


def synthetic_readings_write(
    *,
    building_ids: list[int],
    spec: SyntheticSpec,
    profiles: np.ndarray,
    first_day: date,
    first_hour: int,
    days: int,
    chunk: int = 5_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write `days` days of synthetic readings for each building, chunk by chunk."""
    ids = np.asarray(building_ids)
    calendar = [first_day + timedelta(days=d) for d in range(days)]
    written = 0
    for part, loads in synthetic_loads(
        profiles, spec, first_hour=first_hour, hours=days * 24, chunk=chunk
    ):
        rows = loads.reshape(-1, 24)
        written += meter_days_upsert(
            building_ids=np.repeat(ids[part], days),
            days=calendar * (part.stop - part.start),
            kwh=rows,
            origin=DataOrigin.SYNTHETIC,
        )
        if progress:
            progress(written)
    return written
