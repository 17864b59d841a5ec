"""Portfolio optimization benchmark: the structured solver on 1k, 10k and 100k synthetic
buildings over 200 feeders, against scipy's HiGHS MILP on the same (linearised) problem where
it finishes, solved side by side in this run.

    python bench/optimize.py [--quick]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc

import numpy as np
from _common import ROOT

sys.path.insert(0, str(ROOT))

from optimization.portfolio import build_problem, synthetic_candidates  # noqa: E402
from optimization.solver import linearisation_of, solve_fast, solve_milp  # noqa: E402

FEEDERS = 200


def problem_for(n: int, seed: int = 1):
    """A synthetic event: the target is 12 % of the portfolio's deepest possible response, and
    a fifth of the feeders (the loaded ones) need a quarter of what their buildings can give."""
    candidates = synthetic_candidates(n, feeders=FEEDERS, seed=seed)
    problem = build_problem(
        candidates, target_kw=1.0, eps=0.05, duration_h=3.0, incentive_usd_per_kwh=0.5,
        feeder_target_kw=np.zeros(FEEDERS),
    )  # fmt: skip
    best = (problem.mean_kw * problem.allowed).max(axis=1)
    per_feeder = np.bincount(problem.feeder, weights=best, minlength=FEEDERS)
    feeder_target = np.where(np.arange(FEEDERS) % 5 == 0, 0.25 * per_feeder, 0.0)
    return build_problem(
        candidates, target_kw=0.12 * float(best.sum()), eps=0.05, duration_h=3.0,
        incentive_usd_per_kwh=0.5, feeder_target_kw=feeder_target,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MILP up to 5,000 buildings only")
    args = parser.parse_args()
    sizes = [1_000, 10_000, 100_000]
    milp_max = 5_000 if args.quick else 10_000
    rows = []
    for n in sizes:
        problem = problem_for(n)
        solve_fast(problem)  # warm-up: imports and first-touch allocations are not the solver's
        # Time without tracing (tracemalloc slows every allocation), then trace a second solve.
        started = time.perf_counter()
        plan = solve_fast(problem)
        seconds = time.perf_counter() - started
        tracemalloc.start()
        solve_fast(problem)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        row = {
            "n": n, "solve_s": seconds, "peak_mb_extra": peak / 2**20, "objective": plan.objective,
            "p_target_met": plan.p_target_met, "feasible": plan.feasible, "asked": int((plan.level > 0).sum()),
            "target_kw": problem.target_kw, "expected_kw": plan.expected_kw, "p10_kw": plan.p10_kw,
            "gap_bound_pct": plan.gap_pct, "iterations": plan.iterations,
        }  # fmt: skip
        milp_n = min(n, milp_max)
        small = problem if milp_n == n else None
        if small is not None:
            beta, need = linearisation_of(problem, plan)
            exact = solve_milp(problem, beta=beta, need=need, time_limit_s=120)
            if exact is not None:
                row.update(
                    milp_s=exact.solve_s, milp_objective=exact.objective,
                    gap_vs_milp_pct=100 * (plan.objective - exact.objective) / exact.objective,
                    speedup=exact.solve_s / seconds,
                )  # fmt: skip
        rows.append(row)
    print(
        f"Synthetic portfolios (synthetic data), {FEEDERS} feeders, eps = 0.05, 3 levels (10/20/30 %)"
    )
    header = f"{'n':>8}{'solve s':>9}{'MB extra':>10}{'asked':>8}{'P(met)':>8}{'gap to bound':>13}{'MILP s':>9}{'gap vs MILP':>12}{'speed-up':>10}"
    print(header)
    for row in rows:
        milp = (
            f"{row['milp_s']:>9.2f}{row['gap_vs_milp_pct']:>11.3f}%{row['speedup']:>9.0f}x"
            if "milp_s" in row
            else f"{'-':>9}{'-':>12}{'-':>10}"
        )
        print(
            f"{row['n']:>8,}{row['solve_s']:>9.3f}{row['peak_mb_extra']:>10.1f}{row['asked']:>8,}"
            f"{row['p_target_met']:>8.4f}{row['gap_bound_pct']:>12.3f}%{milp}"
        )
    largest = rows[-1]
    compared = [row for row in rows if "milp_s" in row][-1]
    print(
        f"100k: target {largest['target_kw']:,.0f} kW, expected {largest['expected_kw']:,.0f} kW, "
        f"P10 {largest['p10_kw']:,.0f} kW, {largest['iterations']} linearisation rounds"
    )
    print(
        json.dumps(
            {
                "n": largest["n"],
                "feeders": FEEDERS,
                "solve_s": round(largest["solve_s"], 3),
                "peak_mb_extra": round(largest["peak_mb_extra"], 1),
                "milp_n": compared["n"],
                "gap_vs_milp_pct": round(compared["gap_vs_milp_pct"], 4),
                "speedup_vs_milp": round(compared["speedup"], 1),
                "p_target_met": round(largest["p_target_met"], 4),
            }
        )
    )


if __name__ == "__main__":
    main()
