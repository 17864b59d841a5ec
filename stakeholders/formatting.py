"""How a number or a time is written for a person, decided once: kW to one decimal, % to one,
dollars whole, times in the utility's own zone with the zone shown. The portal's template
filters (|kw, |pct, |usd, |local_time) and the admin's columns both call these."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

NOT_MEASURED = "not measured yet"
DASH = "–"


def _missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def number(value, digits: int = 1) -> str:
    """A plain number with thousands separators, `digits` after the point."""
    if _missing(value):
        return DASH
    return f"{float(value):,.{digits}f}"


def kw(value, digits: int = 1) -> str:
    """Power: '1,234.5 kW'; above 10 MW it reads in MW ('12.3 MW')."""
    if _missing(value):
        return DASH
    value = float(value)
    if abs(value) >= 10_000:
        return f"{value / 1000:,.1f} MW"
    return f"{value:,.{digits}f} kW"


def kwh(value) -> str:
    """Energy: '123.4 kWh'; above 10 MWh it reads in MWh."""
    if _missing(value):
        return DASH
    value = float(value)
    if abs(value) >= 10_000:
        return f"{value / 1000:,.1f} MWh"
    return f"{value:,.1f} kWh"


def pct(value, digits: int = 1) -> str:
    """A percentage already in % ('12.3 %')."""
    if _missing(value):
        return DASH
    return f"{float(value):,.{digits}f} %"


def share(value, digits: int = 1) -> str:
    """A share in 0..1 written as a percentage (0.953 -> '95.3 %')."""
    if _missing(value):
        return DASH
    return pct(float(value) * 100.0, digits)


def usd(value) -> str:
    """Dollars, whole: '$1,235'; negative as '-$12'."""
    if _missing(value):
        return DASH
    value = round(float(value))
    return f"-${-value:,}" if value < 0 else f"${value:,}"


def kg(value) -> str:
    """Mass of CO2: '123 kg', above 10 t in tonnes."""
    if _missing(value):
        return DASH
    value = float(value)
    if abs(value) >= 10_000:
        return f"{value / 1000:,.1f} t"
    return f"{value:,.0f} kg"


def probability(value) -> str:
    """A probability in 0..1 as a percentage with one decimal."""
    return share(value)


def local_time(value: datetime | None, timezone: str, fmt: str = "%a %d %b %H:%M") -> str:
    """`value` in the zone `timezone`, with the zone's abbreviation: 'Tue 01 Dec 16:00 PST'."""
    if value is None:
        return DASH
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(ZoneInfo(timezone))
    return f"{local.strftime(fmt)} {local.tzname()}"


def local_hour(value: datetime | str | None, timezone: str) -> str:
    """Just the local hour and minute with the zone: '16:00 PST'."""
    return local_time(value, timezone, "%H:%M")


def local_window(starts_at, ends_at, timezone: str) -> str:
    """An event's window: 'Tue 01 Dec 16:00–19:00 PST' (the end day named when it differs)."""
    if starts_at is None or ends_at is None:
        return DASH
    if isinstance(starts_at, str):
        starts_at = datetime.fromisoformat(starts_at)
    if isinstance(ends_at, str):
        ends_at = datetime.fromisoformat(ends_at)
    zone = ZoneInfo(timezone)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    same_day = start.date() == end.date() or (end.hour == 0 and end.minute == 0)
    end_text = end.strftime("%H:%M") if same_day else end.strftime("%a %d %b %H:%M")
    return f"{start.strftime('%a %d %b %H:%M')}–{end_text} {end.tzname()}"


def local_day(value: date | str | None) -> str:
    if value is None:
        return DASH
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%a %d %b %Y")
