"""DR season benchmark: a synthetic utility scaled from the 17 real CityLearn load profiles runs
a whole season of the loop (forecast, events on HIGH strain, selection, dispatch, simulated
response, 10-of-10 verification, weekly retraining), for three strategies on the same days and
the same behaviour: compliance-aware optimization, compliance-blind optimization (one average
compliance for everyone) and largest-first.

    python bench/season.py [--quick]

Everything here is synthetic (the load shapes are real). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from _common import ROOT

sys.path.insert(0, str(ROOT))

from forecasting import citylearn, compliance  # noqa: E402
from forecasting.synthetic import synthetic_loads, synthetic_spec  # noqa: E402
from optimization.simulator import RELIABILITY, Season  # noqa: E402

SEASON_FIRST_DAY = 242  # the last 122 days of the CityLearn year: April to July 2017
FEEDERS = 20
WORST_DAY_CUT = 0.06


def build_season(buildings: int, seed: int = 3) -> tuple[Season, dict]:
    data = citylearn.read(citylearn.wheel_path(Path.home() / ".cache" / "energyrec"))
    spec = synthetic_spec(buildings, profiles=citylearn.HOMES, seed=seed)
    types = np.array([t if t in RELIABILITY else "office" for t in spec.building_type])
    first_hour = 1 + 24 * (SEASON_FIRST_DAY - 14)
    days = 122 + 14 - 1
    loads = np.concatenate(
        [
            part
            for _, part in synthetic_loads(
                data.load_kwh,
                spec,
                first_hour=first_hour,
                hours=days * 24,
                seed=seed,
                blend_large=True,
            )
        ]
    )
    loads = loads.reshape(buildings, days, 24).astype(np.float64)
    temperature = data.temperature_c[first_hour : first_hour + days * 24].reshape(days, 24)
    first = citylearn.START.date() + timedelta(days=1 + SEASON_FIRST_DAY - 14)
    weekend = np.array([(first + timedelta(days=d)).weekday() >= 5 for d in range(days)])
    daily_peaks = loads.sum(axis=0).max(axis=1)[14:]
    # Capacity: the HIGH threshold (90 %) sits WORST_DAY_CUT below the season's highest peak,
    # so the worst day needs that cut and milder hot days less.
    capacity = float(daily_peaks.max()) / (1 + WORST_DAY_CUT) / 0.90
    rng = np.random.default_rng(seed)
    season = Season(
        loads, temperature, types, rng.integers(0, FEEDERS, size=buildings),
        capacity_kw=capacity, weekend=weekend, seed=seed,
    )  # fmt: skip
    return season, {
        "capacity_kw": capacity,
        "days": days - 14,
        "first_day": str(first + timedelta(days=14)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 buildings instead of 5,000")
    parser.add_argument("--buildings", type=int)
    args = parser.parse_args()
    buildings = args.buildings or (1_000 if args.quick else 5_000)
    season, info = build_season(buildings)
    results = {}
    for strategy in ("compliance", "blind", "largest"):
        started = time.perf_counter()
        results[strategy] = season.run(strategy)
        results[strategy].seconds = time.perf_counter() - started
    ours = results["compliance"]
    trained = np.concatenate(
        [
            flag * np.ones(len(o), bool)
            for flag, o in zip(ours.predictor_trained, ours.outcomes, strict=True)
        ]
    )
    predicted = np.concatenate(ours.predictions)[trained]
    observed = np.concatenate(ours.outcomes)[trained]
    auc = compliance.auc(observed, predicted)
    brier = compliance.brier(observed, predicted)
    print(
        f"Season on a synthetic utility (synthetic data from real load shapes): {buildings:,} buildings, "
        f"{info['days']} days from {info['first_day']}, capacity {info['capacity_kw']:,.0f} kW"
    )
    print(
        f"{'strategy':<26}{'events':>7}{'met (M&V)':>12}{'met (true)':>11}{'peak cut':>10}{'cost $':>11}{'MWh':>8}{'s':>7}"
    )
    labels = {
        "compliance": "compliance-aware (ours)",
        "blind": "compliance-blind",
        "largest": "largest-first",
    }
    for name, result in results.items():
        print(
            f"{labels[name]:<26}{result.events:>7}{result.target_met_share:>11.1%}{result.true_met_share:>11.1%}"
            f"{result.peak_reduction_pct:>9.2f}%{result.cost_usd:>11,.0f}{result.delivered_kwh / 1000:>8.2f}{result.seconds:>7.1f}"
        )
    print(
        f"Compliance predictions made before each outcome by a trained model: {predicted.size:,}; "
        f"AUC {auc:.3f}, Brier {brier:.3f}"
    )
    for row in compliance.calibration_table(observed, predicted):
        print(
            f"  predicted {row['bin']}: {row['count']:>6} asks, mean prediction {row['predicted']:.3f}, observed {row['observed']:.3f}"
        )
    print(
        json.dumps(
            {
                "buildings": buildings,
                "events": ours.events,
                "peak_reduction_pct": round(ours.peak_reduction_pct, 2),
                "target_met_share": round(ours.target_met_share, 3),
                "cost": round(ours.cost_usd, 2),
                "cost_largest_first": round(results["largest"].cost_usd, 2),
                "cost_compliance_blind": round(results["blind"].cost_usd, 2),
                "compliance_auc": round(auc, 3),
                "compliance_brier": round(brier, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
