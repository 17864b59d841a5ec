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
from pathlib import Path

from _common import ROOT

sys.path.insert(0, str(ROOT))

from forecasting import citylearn  # noqa: E402
from optimization.simulator import citylearn_season, season_figures  # noqa: E402


def build_season(buildings: int, seed: int = 3):
    data = citylearn.read(citylearn.wheel_path(Path.home() / ".cache" / "energyrec"))
    return citylearn_season(data, buildings=buildings, seed=seed)


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
    figures = season_figures(results)
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
        f"Compliance on predictions made before each outcome: AUC {figures['compliance_auc']}, Brier {figures['compliance_brier']}"
    )
    for row in figures.pop("calibration"):
        print(
            f"  predicted {row['bin']}: {row['count']:>6} asks, mean prediction {row['predicted']:.3f}, observed {row['observed']:.3f}"
        )
    figures.pop("true_target_met_share")
    print(json.dumps({"buildings": buildings, **figures}))


if __name__ == "__main__":
    main()
