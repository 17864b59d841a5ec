"""US federal holidays by rule (fixed dates observed on the nearest weekday, and the n-th or
last weekday of a month), for the calendar features. Pure Python."""

from datetime import date, timedelta


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def us_holidays(years) -> set[date]:
    days = set()
    for year in years:
        days |= {
            _observed(date(year, 1, 1)),
            _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
            _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
            _last_weekday(year, 5, 0),  # Memorial Day
            _observed(date(year, 6, 19)) if year >= 2021 else None,
            _observed(date(year, 7, 4)),
            _nth_weekday(year, 9, 0, 1),  # Labor Day
            _nth_weekday(year, 10, 0, 2),  # Columbus Day
            _observed(date(year, 11, 11)),
            _nth_weekday(year, 11, 3, 4),  # Thanksgiving
            _observed(date(year, 12, 25)),
        }
    days.discard(None)
    return days
