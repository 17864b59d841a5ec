"""DR season benchmark: synthetic utilities scaled from the 17 real CityLearn load profiles run
a whole season of the loop (forecast, events on HIGH strain, selection, dispatch, simulated
response, verification, retraining after each event), for three strategies on the same days and
the same behaviour: compliance-aware optimization, compliance-blind optimization (one average
compliance for everyone) and largest-first.

One season holds under a dozen events, too few to tell strategies apart or to read a share of
targets met from; the benchmark runs thirty-two seasons (synthetic utilities drawn with
different seeds) and adds them up.

    python bench/season.py [--quick] [--buildings N] [--seasons K] [--jobs J]

Seasons run in J processes at once (default: the machine's cores, at most 12), each on one
BLAS thread; the figures do not depend on J.

Everything here is synthetic (the load shapes are real). Prints a table, then one JSON line.
"""

from __future__ import annotations

import os

# One BLAS thread per season process (they run side by side).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import ROOT  # noqa: E402

sys.path.insert(0, str(ROOT))

from forecasting import citylearn  # noqa: E402
from optimization.simulator import (  # noqa: E402
    PEAK_CUT_TARGET_PCT,
    REFERENCE,
    STRATEGIES,
    SeasonConfig,
    citylearn_season,
    season_figures,
)

FIRST_SEED = 3
# Thirty-two seasons, some 230 events (one sd of the share of targets met about 1.4 %). Until
# 2026-11-27 the benchmark ran seeds 3-18, on which the plans of the time met 97.4 % of their
# targets; on seeds 19-34, which no choice had been made on, they met 88.7 %. Choices are
# since made on 3-18 and checked on all 32.
SEASONS = 32
# Largest-first meets fewer targets than it plans for (it asks the same large buildings until
# they tire). For a comparison at equal reliability it is also run with a smaller allowed risk
# per plan, each of these, and the loosest that met >= 95 % of targets over all seasons is
# shown: tuned with hindsight, which favours the baseline.
STRICTER_EPS = (0.03, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001)
RELIABLE_SHARE = 0.95
LABELS = {
    "compliance": "compliance-aware (ours)",
    "blind": "compliance-blind",
    "largest": "largest-first",
    REFERENCE: "perfect knowledge (reference)",
}


def build_season(
    buildings: int,
    seed: int = FIRST_SEED,
    eps: float = SeasonConfig.eps,
    day_of: int | None = SeasonConfig.day_of_hour,
):
    data = citylearn.read(citylearn.wheel_path(Path.home() / ".cache" / "energyrec"))
    config = SeasonConfig(eps=eps, day_of_hour=day_of, x_of_y_check=True)
    return citylearn_season(data, buildings=buildings, seed=seed, config=config)


def _season(job) -> tuple[dict, dict, dict]:
    """One season of every strategy (and largest-first at each stricter eps): its info, its
    results and each strategy's seconds."""
    buildings, seed, eps, day_of = job
    season, info = build_season(buildings, seed, eps, day_of)
    results, seconds = {}, {}
    for strategy in (*STRATEGIES, REFERENCE):
        started = time.perf_counter()
        results[strategy] = season.run(strategy)
        seconds[strategy] = time.perf_counter() - started
    for stricter in STRICTER_EPS:
        results[("largest", stricter)] = season.run("largest", eps=stricter)
    return info, results, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seasons of 1,000 buildings")
    parser.add_argument("--buildings", type=int)
    parser.add_argument("--seasons", type=int)
    parser.add_argument(
        "--eps", type=float, default=SeasonConfig.eps, help="each plan's allowed risk of a miss"
    )
    parser.add_argument(
        "--day-of", type=int, metavar="HOUR", default=SeasonConfig.day_of_hour,
        help="revisit each day's plan at HOUR with the morning's readings (Season._day_of), "
        "as the product does; default %(default)s",
    )  # fmt: skip
    parser.add_argument(
        "--no-revisit", action="store_true", help="keep each day-ahead plan as it was made"
    )
    parser.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 12))
    parser.add_argument(
        "--first-seed", type=int, default=FIRST_SEED,
        help="the first season's seed (to run part of the seasons elsewhere)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.no_revisit:
        args.day_of = None
    buildings = args.buildings or (1_000 if args.quick else 5_000)
    count = args.seasons or (2 if args.quick else SEASONS)
    runs = (*STRATEGIES, REFERENCE)
    seasons, seconds = [], dict.fromkeys(runs, 0.0)
    print(
        f"Simulated seasons on synthetic utilities (synthetic data from real load shapes): "
        f"{count} x {buildings:,} buildings, each plan at P(target met) >= {1 - args.eps:.0%}"
        + ("" if args.day_of is None else f", plans revisited at {args.day_of}:00 on the day")
    )
    seeds = range(args.first_seed, args.first_seed + count)
    jobs = [(buildings, seed, args.eps, args.day_of) for seed in seeds]
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        for seed, (info, results, timing) in zip(seeds, pool.map(_season, jobs), strict=True):
            for strategy in runs:
                seconds[strategy] += timing[strategy]
            seasons.append(results)
            print(
                f"  seed {seed}: {info['days']} days from {info['first_day']}, capacity "
                f"{info['capacity_kw']:,.0f} kW | "
                + " | ".join(
                    f"{name} {r.targets_met}/{r.events} met, {r.peak_reduction_pct:.2f} %, "
                    f"${r.cost_usd:,.0f}"
                    for name, r in results.items()
                    if name in runs
                ),
                flush=True,
            )
    figures = season_figures(seasons)
    print(
        f"\n{'strategy':<30}{'events':>7}{'met (M&V)':>11}{'met (true)':>11}"
        f"{'peak cut':>10}{'worst':>8}{'cost $':>12}{'comfort $':>11}{'MWh':>8}"
        f"{'asked/event':>12}{'asks/bldg':>10}{'s':>7}"
    )
    for name in runs:
        results = [season[name] for season in seasons]
        events = sum(r.events for r in results)
        print(
            f"{LABELS[name]:<30}{events:>7}"
            f"{sum(r.targets_met for r in results) / events:>11.1%}"
            f"{sum(r.true_met for r in results) / events:>11.1%}"
            f"{_peak_cuts(results)}{sum(r.cost_usd for r in results):>12,.0f}"
            f"{sum(r.comfort_usd for r in results):>11,.0f}"
            f"{sum(r.delivered_kwh for r in results) / 1000:>8.1f}{_asks(results)}"
            f"{seconds[name]:>7.1f}"
        )
    cuts = [season["compliance"].peak_reduction_pct for season in seasons]
    print(
        f"Ours, system peak cut per season (peak cut: their mean; worst: the lowest): "
        f"{sum(cut >= PEAK_CUT_TARGET_PCT for cut in cuts)} of {len(cuts)} seasons reach "
        f"{PEAK_CUT_TARGET_PCT} %: " + ", ".join(f"{cut:.2f}" for cut in cuts)
    )
    rows = [row for season in seasons for row in season["compliance"].event_log]
    read = np.array(
        [(r["x_of_y_kw"], r["verified_kw"], r["delivered_kw"], r["target_kw"]) for r in rows]
    )
    print(
        "Ours' events as the 10-of-10 baseline (day-of adjusted) reads them: "
        f"{np.mean(read[:, 0] / read[:, 2]):+.2f} x what was delivered, target met in "
        f"{np.mean(read[:, 0] >= read[:, 3]):.1%} (the corrected forecast, which settles: "
        f"{np.mean(read[:, 1] / read[:, 2]):+.2f} x, met in {np.mean(read[:, 1] >= read[:, 3]):.1%})"
    )
    reliable = _largest_at_equal_reliability(seasons)
    if reliable is None:
        print(f"largest-first met < {RELIABLE_SHARE:.0%} of targets even at eps {STRICTER_EPS[-1]}")
    else:
        eps, results = reliable
        events = sum(r.events for r in results)
        print(
            f"{'largest-first, eps ' + str(eps):<30}{events:>7}"
            f"{sum(r.targets_met for r in results) / events:>11.1%}"
            f"{sum(r.true_met for r in results) / events:>11.1%}"
            f"{_peak_cuts(results)}{sum(r.cost_usd for r in results):>12,.0f}"
            f"{sum(r.comfort_usd for r in results):>11,.0f}"
            f"{sum(r.delivered_kwh for r in results) / 1000:>8.1f}{_asks(results)}"
        )
        print(
            f"  (largest-first at equal reliability: the loosest eps of {STRICTER_EPS} with "
            f">= {RELIABLE_SHARE:.0%} of targets met over all seasons, chosen with hindsight)"
        )
    print(
        "The reference plans with the simulator's hidden behaviour (no program can): the gap "
        "between it and ours is what better learning could still gain."
    )
    print(
        "Compliance, on predictions made before each outcome: against what was verified "
        f"AUC {figures['compliance_auc']}, Brier {figures['compliance_brier']}; against what "
        f"really happened (simulator only) AUC {figures['compliance_truth_auc']}, "
        f"Brier {figures['compliance_truth_brier']}"
    )
    for row in figures.pop("calibration"):
        print(
            f"  predicted {row['bin']}: {row['count']:>6} asks, P(verified) predicted "
            f"{row['predicted']:.3f}, observed {row['observed']:.3f}"
        )
    for key in ("true_target_met_share", "compliance_truth_auc", "compliance_truth_brier"):
        figures.pop(key)
    figures["cost_reference"] = round(sum(season[REFERENCE].cost_usd for season in seasons), 2)
    if reliable is not None:
        figures["cost_largest_first_equal_reliability"] = round(
            sum(r.cost_usd for r in reliable[1]), 2
        )
        figures["largest_first_equal_reliability_eps"] = reliable[0]
    print(json.dumps({"buildings": buildings, **figures}))


def _asks(results) -> str:
    """The table's asks columns: buildings asked per event, and asks per building over a
    season (the mean building's)."""
    events = sum(r.events for r in results)
    asked = sum(row["asked"] for r in results for row in r.event_log)
    per_building = np.mean([r.asks_by_building.mean() for r in results])
    return f"{asked / max(events, 1):>12,.0f}{per_building:>10.2f}"


def _peak_cuts(results) -> str:
    """The table's peak cut columns: the mean season's and the worst season's."""
    cuts = [r.peak_reduction_pct for r in results]
    return f"{np.mean(cuts):>9.2f}%{min(cuts):>7.2f}%"


def _largest_at_equal_reliability(seasons):
    """(eps, results) of the loosest stricter eps at which largest-first met RELIABLE_SHARE of
    its targets (verified) over all seasons; None if none did."""
    for eps in STRICTER_EPS:
        results = [season[("largest", eps)] for season in seasons]
        events = sum(r.events for r in results)
        if events and sum(r.targets_met for r in results) >= RELIABLE_SHARE * events:
            return eps, results
    return None


if __name__ == "__main__":
    main()
