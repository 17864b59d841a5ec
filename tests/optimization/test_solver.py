"""The structured portfolio solver against brute force and HiGHS on small problems."""

import itertools

import numpy as np
import pytest
from scipy import special

from optimization.portfolio import build_problem, synthetic_candidates
from optimization.solver import Problem, linearisation_of, solve_fast, solve_milp


def small_problem(
    seed: int, n: int = 6, feeders: int = 2, share: float = 0.35, feeder_share: float = 0.0
):
    candidates = synthetic_candidates(n, feeders=feeders, seed=seed)
    probe = build_problem(
        candidates, target_kw=1.0, eps=0.1, duration_h=2.0, incentive_usd_per_kwh=0.5,
        feeder_target_kw=np.zeros(feeders),
    )  # fmt: skip
    best = (probe.mean_kw * probe.allowed).max(axis=1)
    feeder_target = feeder_share * np.bincount(probe.feeder, weights=best, minlength=feeders)
    return build_problem(
        candidates, target_kw=share * best.sum(), eps=0.1, duration_h=2.0,
        incentive_usd_per_kwh=0.5, feeder_target_kw=feeder_target,
    )  # fmt: skip


def brute_force(problem: Problem) -> tuple[float, np.ndarray | None]:
    """The cheapest plan meeting the true chance constraint and the feeders, by enumeration."""
    n, k = problem.mean_kw.shape
    best_cost, best_level = np.inf, None
    for combo in itertools.product(range(k + 1), repeat=n):
        level = np.array(combo)
        if any(lv and not problem.allowed[i, lv - 1] for i, lv in enumerate(level)):
            continue
        rows = np.flatnonzero(level)
        mean = problem.mean_kw[rows, level[rows] - 1]
        var = problem.var_kw2[rows, level[rows] - 1].sum()
        if (
            var <= 0
            or special.ndtr((mean.sum() - problem.target_kw) / np.sqrt(var)) < 1 - problem.eps
        ):
            continue
        feeders = np.bincount(
            problem.feeder[rows], weights=mean, minlength=problem.feeder_target_kw.size
        )
        if (feeders < problem.feeder_target_kw - 1e-9).any():
            continue
        cost = problem.cost[rows, level[rows] - 1].sum()
        if cost < best_cost:
            best_cost, best_level = cost, level
    return best_cost, best_level


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("feeder_share", [0.0, 0.3])
def test_fast_plan_is_feasible_and_close_to_the_brute_force_optimum(seed, feeder_share):
    problem = small_problem(seed, feeder_share=feeder_share)
    optimum, _ = brute_force(problem)
    plan = solve_fast(problem)
    if not np.isfinite(optimum):
        assert not plan.feasible
        return
    assert plan.feasible
    assert plan.p_target_met >= 1 - problem.eps - 1e-9
    # The normal approximation's square root is linearised: a few percent above the optimum
    # is the price on six buildings; it shrinks with portfolio size (bench/optimize.py).
    assert plan.objective <= optimum * 1.25 + 1e-9
    assert plan.objective >= optimum - 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_milp_on_the_same_linearisation_is_never_dearer(seed):
    problem = small_problem(seed, n=40, feeders=4, feeder_share=0.2)
    plan = solve_fast(problem)
    beta, need = linearisation_of(problem, plan)
    exact = solve_milp(problem, beta=beta, need=need)
    assert exact is not None
    assert exact.feasible
    assert exact.objective <= plan.objective + 1e-6


def test_levels_respect_the_limits():
    problem = small_problem(3, n=200, feeders=5)
    plan = solve_fast(problem)
    chosen = np.flatnonzero(plan.level)
    assert problem.allowed[chosen, plan.level[chosen] - 1].all()
    assert not plan.level[~problem.allowed.any(axis=1)].any()


def test_an_infeasible_target_gives_the_best_plan_there_is_and_its_probability():
    problem = small_problem(1, n=50, feeders=2, share=1.5)
    plan = solve_fast(problem)
    assert not plan.feasible
    assert plan.p_target_met < 0.5
    # the best it can do: everyone who may be asked is asked
    assert (plan.level > 0).sum() == problem.allowed.any(axis=1).sum()


def test_a_stricter_risk_costs_more():
    loose = solve_fast(small_problem(2, n=300, feeders=5))
    strict_problem = small_problem(2, n=300, feeders=5)
    strict = solve_fast(Problem(**{**strict_problem.__dict__, "eps": 0.01}))
    assert strict.objective > loose.objective
    assert strict.p_target_met >= 0.99 - 1e-9


def test_plan_figures_are_consistent():
    problem = small_problem(5, n=500, feeders=10, feeder_share=0.1)
    plan = solve_fast(problem)
    rows = np.flatnonzero(plan.level)
    assert plan.expected_kw == pytest.approx(problem.mean_kw[rows, plan.level[rows] - 1].sum())
    assert plan.p10_kw == pytest.approx(plan.expected_kw - 1.2815515655446004 * plan.std_kw)
    assert plan.p_target_met == pytest.approx(
        special.ndtr((plan.expected_kw - problem.target_kw) / plan.std_kw)
    )
