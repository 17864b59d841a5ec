"""Public holidays for the calendar features, from the `holidays` package by a utility's country
and region (subdivision), plus the days its program adds by hand. Pure Python."""

from collections.abc import Iterable
from datetime import date

import holidays


def holiday_dates(
    years: Iterable[int], *, country: str, region: str = "", extra: Iterable[date] = ()
) -> set[date]:
    """Every public holiday of `country` (and `region`, where given) in `years`, with `extra`."""
    calendar = holidays.country_holidays(country, subdiv=region or None, years=sorted(set(years)))
    return set(calendar) | set(extra)
