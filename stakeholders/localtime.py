"""A utility's local hours, the one rule for every reading, forecast and page. Pure Python.

Hourly values are kept per local day in 24 wall-clock slots (slot h starts at h:00 local). On the
spring-forward day the skipped hour's slot stays empty (a 23-hour day); on the fall-back day the
repeated hour is slot h twice: its first pass in the slot, its second (`repeated`) beside it (a
25-hour day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HOURS = 24
YEARS = (1990, 2100)  # the years a reading or forecast can belong to


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The local day's first moment, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def hour_starts(day: date, tz: ZoneInfo) -> list[tuple[int, datetime]]:
    """Every hour that happens on the local day, in order: (wall-clock slot, start in UTC).

    23 entries on the spring-forward day, 25 on the fall-back day (its repeated slot twice).
    """
    start = local_midnight(day, tz)
    end = local_midnight(day + timedelta(days=1), tz)
    hours = []
    moment = start
    while moment < end:
        hours.append((moment.astimezone(tz).hour, moment))
        moment += timedelta(hours=1)
    return hours


def day_length_h(day: date, tz: ZoneInfo) -> int:
    """23, 24 or 25."""
    return int(
        (local_midnight(day + timedelta(days=1), tz) - local_midnight(day, tz))
        // timedelta(hours=1)
    )


def slot_of(moment: datetime, tz: ZoneInfo) -> tuple[date, int, bool]:
    """The local day, wall-clock slot and whether it is the second pass of a repeated hour."""
    local = moment.astimezone(tz)
    return local.date(), local.hour, bool(local.fold) and _is_ambiguous(local)


def slot_start(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """The UTC start of wall-clock `hour` of `day` (its first pass; for the skipped hour of the
    spring-forward day, the moment the clocks jumped to). `hour` 24 is the next day's 00:00."""
    if hour == HOURS:
        return local_midnight(day + timedelta(days=1), tz)
    wall = datetime.combine(day, time(hour), tzinfo=tz)
    if not _exists(wall):
        return wall.replace(fold=1).astimezone(UTC)
    return wall.astimezone(UTC)


def window_of(day: date, start_hour: int, end_hour: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local window [start_hour:00, end_hour:00) of `day` as UTC moments (end 24 = midnight)."""
    return slot_start(day, start_hour, tz), slot_start(day, end_hour, tz)


def parse_local_hour(text: str, tz: ZoneInfo) -> tuple[date, int, bool]:
    """An ISO timestamp on the hour, read by the zone's rules: (local day, slot, repeated).

    With an offset (or Z) it names one instant. Without one it is local wall-clock time: an hour
    that does not exist (the spring-forward gap) is refused, and so is the fall-back day's
    repeated hour, which only an offset can tell apart.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"timestamp {text!r} is not a date and hour (use YYYY-MM-DD HH:00, optionally with "
            "its UTC offset, e.g. 2026-11-01T01:00-06:00)"
        ) from None
    if moment.minute or moment.second or moment.microsecond:
        raise ValueError(f"timestamp {text!r} is not on the hour")
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise ValueError(f"timestamp {text!r} is outside the years {YEARS[0]}-{YEARS[1]}")
    if moment.tzinfo is not None:
        local = moment.astimezone(tz)
        if local.minute:
            raise ValueError(
                f"timestamp {text!r} is {local:%H:%M} in {tz.key}, not on the local hour"
            )
        return slot_of(moment, tz)
    wall = moment.replace(tzinfo=tz)
    if not _exists(wall):
        raise ValueError(
            f"{moment:%Y-%m-%d %H:00} does not exist in {tz.key} (the clocks skip that hour)"
        )
    if _is_ambiguous(wall):
        first, second = (wall.replace(fold=fold).strftime("%z") for fold in (0, 1))
        raise ValueError(
            f"{moment:%Y-%m-%d %H:00} happens twice in {tz.key}; write it with its offset "
            f"({first[:3]}:{first[3:]} or {second[:3]}:{second[3:]}) or in UTC"
        )
    return moment.date(), moment.hour, False


def _exists(wall: datetime) -> bool:
    """Whether the wall-clock time happens (it round-trips through UTC)."""
    back = wall.astimezone(UTC).astimezone(wall.tzinfo)
    return back.replace(tzinfo=None, fold=0) == wall.replace(tzinfo=None, fold=0)


def _is_ambiguous(wall: datetime) -> bool:
    return wall.replace(fold=0).utcoffset() != wall.replace(fold=1).utcoffset() and _exists(
        wall.replace(fold=0)
    )
