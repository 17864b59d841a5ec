"""Running the season simulator from the product, for demos and program reviews."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from forecasting.services.citylearn_import import citylearn_load

from ..models import SeasonRun
from ..simulator import STRATEGIES, citylearn_season, season_figures

MAX_BUILDINGS = 20_000


def season_simulate(
    *, buildings: int, seed: int = 3, job=None, progress: Callable[[float, str], None] | None = None
) -> SeasonRun:
    """Simulate a season of the whole loop for each strategy on the same synthetic utility."""
    if not 10 <= buildings <= MAX_BUILDINGS:
        raise ValueError(f"A simulated season takes between 10 and {MAX_BUILDINGS:,} buildings.")
    season, info = citylearn_season(citylearn_load(), buildings=buildings, seed=seed)
    results = {}
    for done, strategy in enumerate(STRATEGIES):
        if progress:
            progress(100 * done / len(STRATEGIES), f"simulating the {strategy} strategy")
        results[strategy] = season.run(strategy)
    return SeasonRun.objects.create(
        buildings=buildings,
        seed=seed,
        first_day=date.fromisoformat(info["first_day"]),
        days=info["days"],
        capacity_kw=info["capacity_kw"],
        figures=season_figures([results]),
        strategies={
            name: {
                "events": result.events,
                "target_met_share": round(result.target_met_share, 3),
                "true_target_met_share": round(result.true_met_share, 3),
                "peak_reduction_pct": round(result.peak_reduction_pct, 2),
                "cost_usd": round(result.cost_usd, 2),
                "comfort_usd": round(result.comfort_usd, 2),
                "delivered_kwh": round(result.delivered_kwh, 1),
            }
            for name, result in results.items()
        },
        series={
            "daily_peak_without_kw": _rounded(results["compliance"].daily_peak_without_kw),
            "daily_peak_kw": {
                name: _rounded(result.daily_peak_with_kw) for name, result in results.items()
            },
            "events": {
                name: [
                    {
                        key: round(value, 1) if isinstance(value, float) else value
                        for key, value in row.items()
                    }
                    for row in result.event_log
                ]
                for name, result in results.items()
            },
        },  # fmt: skip
        job=job,
    )


def _rounded(values) -> list[float]:
    return [round(float(value), 1) for value in values]
