"""The compliance predictor learns from outcomes only; the season loop runs the three
strategies on the same days."""

from dataclasses import replace

import numpy as np
import pytest

from forecasting import compliance
from optimization import mv, portfolio
from optimization.pages import _on_the_day
from optimization.policy import calls
from optimization.policy.calls import Z90
from optimization.policy.plan import DAY_AHEAD_HOUR
from optimization.simulator import (
    FORECAST_DAY_SD,
    REFERENCE,
    RELIABILITY,
    STRATEGIES,
    BehaviorParams,
    Forecast,
    Season,
    SeasonResult,
    _Learnt,
    season_figures,
    true_compliance,
)
from optimization.windows import peak_window, runs_next_to


def events(n: int, seed: int, *, with_outcome: bool = True) -> compliance.Events:
    rng = np.random.default_rng(seed)
    types = rng.choice(["residential", "office"], size=n)
    depth = rng.choice([10.0, 20.0, 30.0], size=n)
    past = rng.integers(0, 10, size=n).astype(float)
    reliability = np.where(types == "office", 0.85, 0.5)
    rows = compliance.Events(
        building_type=types, curtailable_kw=rng.uniform(1, 50, n), past_asked=past,
        past_complied=np.round(past * reliability), events_30d=rng.integers(0, 4, n).astype(float),
        notice_h=np.full(n, 18.0), temperature_c=rng.uniform(25, 40, n), start_hour=np.full(n, 16.0),
        duration_h=np.full(n, 3.0), depth_pct=depth, incentive_usd_per_kwh=np.full(n, 0.5),
    )  # fmt: skip
    if with_outcome:
        p = true_compliance(
            reliability, rows.events_30d, depth, rows.temperature_c, 0.5, 18.0, BehaviorParams()
        )
        rows.complied = rng.random(n) < p
    return rows


def test_metrics_by_hand():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.1, 0.4, 0.6])
    # pairs (positive, negative): (0.9,0.1) (0.9,0.6) (0.4,0.1) win, (0.4,0.6) loses -> 3/4
    assert compliance.auc(y, p) == pytest.approx(0.75)
    # ((0.1)^2 + 0.1^2 + 0.6^2 + 0.6^2) / 4 = 0.185
    assert compliance.brier(y, p) == pytest.approx(0.185)
    table = compliance.calibration_table(y, p, bins=2)
    assert table == [
        {"bin": "0.0-0.5", "count": 2, "predicted": 0.25, "observed": 0.5},
        {"bin": "0.5-1.0", "count": 2, "predicted": 0.75, "observed": 0.5},
    ]


def test_the_model_learns_reliability_from_outcomes():
    model = compliance.fit(events(4000, 1))
    held_out = events(2000, 2)
    predicted = compliance.predict(model, held_out)
    assert compliance.auc(held_out.complied, predicted) > 0.7
    assert compliance.brier(held_out.complied, predicted) < 0.22
    # offices (more reliable in the data) come out more likely to comply than homes
    office = held_out.building_type == "office"
    assert predicted[office].mean() > predicted[~office].mean() + 0.1


def test_without_a_model_a_building_starts_from_the_prior_and_its_record():
    rows = events(3, 4, with_outcome=False)
    rows.past_asked[:] = [0, 10, 10]
    rows.past_complied[:] = [0, 10, 0]
    p = compliance.predict(None, rows)
    assert p[0] == pytest.approx(compliance.PRIOR_A / (compliance.PRIOR_A + compliance.PRIOR_B))
    assert p[1] > p[0] > p[2]


def test_fit_refuses_outcomes_of_one_kind():
    rows = events(50, 5)
    rows.complied = np.ones(50, bool)
    with pytest.raises(ValueError, match="both kinds"):
        compliance.fit(rows)


def test_model_round_trips_through_bytes():
    rows = events(500, 6)
    model = compliance.fit(rows)
    again = compliance.ComplianceModel.from_bytes(model.to_bytes())
    np.testing.assert_allclose(compliance.predict(again, rows), compliance.predict(model, rows))


def small_season(seed: int) -> Season:
    rng = np.random.default_rng(0)
    days, n = 60, 120
    shape = 1 + 0.8 * np.sin(np.linspace(0, np.pi, 24)) ** 4
    load = (
        rng.uniform(1, 5, size=(n, 1, 1))
        * shape[None, None, :]
        * rng.normal(1, 0.05, size=(n, days, 24))
    )
    load[:, 40:45] *= 1.3  # a hot spell
    temperature = np.full((days, 24), 32.0)
    types = rng.choice(list(RELIABILITY), size=n)
    capacity = float(load.sum(axis=0)[14:].max(axis=1).max()) / 1.05 / 0.9
    return Season(
        load, temperature, types, rng.integers(0, 4, size=n), capacity_kw=capacity, seed=seed
    )


def test_season_runs_each_strategy_on_the_same_events_and_cuts_the_peak():
    season = small_season(seed=1)
    results = {name: season.run(name) for name in ("compliance", "blind", "largest")}
    assert results["compliance"].events > 0
    for result in results.values():
        assert result.peak_with_kw <= result.peak_without_kw
        assert result.cost_usd > 0
        assert 0 <= result.target_met_share <= 1


def test_the_first_plan_does_not_depend_on_the_hidden_behaviour():
    # Two seasons that differ only in the behaviour's hidden parameters: before any outcome the
    # strategy knows nothing of them, so its first predictions are the same.
    first = small_season(seed=1).run("compliance")
    other = small_season(seed=1)
    other.reliability = np.clip(other.reliability[::-1] * 0.5, 0.01, 0.99)
    second = other.run("compliance")
    np.testing.assert_allclose(first.predictions[0], second.predictions[0])


def test_a_regression_that_cannot_beat_the_priors_is_not_served():
    # given: behaviour that flips between the learning and the held-out outcomes
    rows = events(4000, 7)
    shallow = rows.depth_pct < 20
    rows.complied = np.where(np.arange(4000) < 3000, shallow, ~shallow)
    # when
    model, metrics = compliance.fit_if_better(rows)
    # then: the priors serve, and the scores say why
    assert metrics["kept"] == "priors"
    assert model.coef.size == 0
    assert metrics["brier"] >= metrics["prior_brier"]


def test_a_regression_that_beats_the_priors_is_served():
    model, metrics = compliance.fit_if_better(events(4000, 9))
    assert metrics["kept"] == "model"
    assert model.coef.size > 0
    assert metrics["brier"] < metrics["prior_brier"]
    assert metrics["auc"] > metrics["prior_auc"]


def test_features_far_outside_the_training_range_do_not_saturate_predictions():
    model = compliance.fit(events(2000, 10))
    far = events(5, 11, with_outcome=False)
    far.temperature_c[:] = 80.0  # far hotter than anything it learnt from
    far.duration_h[:] = 8.0
    p = compliance.predict(model, far)
    assert ((p > 0.001) & (p < 0.999)).all()


def test_the_season_keeps_each_event_and_each_days_peak():
    result = small_season(seed=1).run("compliance")
    log = result.event_log
    assert len(log) == result.events > 0
    assert sum(row["cost_usd"] for row in log) == pytest.approx(result.cost_usd)
    assert sum(row["verified_kw"] >= row["target_kw"] for row in log) == result.targets_met
    for row in log:
        assert 0 < row["asked"] <= 120
        assert 0 <= row["start_hour"] < row["end_hour"] <= 24
        assert row["requested_kw"] >= row["expected_kw"] >= 0
    # each day's peak, without and with the program; the season's peaks are their maxima
    assert result.daily_peak_with_kw.shape == result.daily_peak_without_kw.shape == (60 - 14,)
    assert (result.daily_peak_with_kw <= result.daily_peak_without_kw + 1e-9).all()
    assert result.peak_with_kw == pytest.approx(result.daily_peak_with_kw.max())


def test_every_strategy_holds_a_comparison_group_out_of_each_plan(monkeypatch):
    monkeypatch.setattr(portfolio, "COMPARISON_GROUP_SIZES", (30, 15, 8))
    season = small_season(seed=1)
    asked_in_group = []
    dispatch = Season._dispatch

    def spy(self, day, plan, rng, actual):
        asked_in_group.append(int(plan.comparison[plan.level > 0].sum()))
        return dispatch(self, day, plan, rng, actual)

    monkeypatch.setattr(Season, "_dispatch", spy)
    for strategy in ("compliance", "largest"):
        log = season.run(strategy).event_log
        assert log
        assert all(0 < row["comparison_group"] <= 30 for row in log)
        assert all(row["asked"] + row["comparison_group"] <= 120 for row in log)
    assert asked_in_group
    assert not any(asked_in_group)


def test_every_strategy_learns_only_from_what_was_verified():
    # the hidden reliability is drawn once; what the predictor was told per ask is the verified
    # outcome and its noise, never the truth (kept apart for the simulator's own scoring)
    result = small_season(seed=2).run("compliance")
    for seen, truth in zip(result.outcomes, result.true_outcomes, strict=True):
        assert seen.shape == truth.shape
    verified = np.concatenate(result.outcomes)
    complied = np.concatenate(result.true_outcomes)
    assert (verified != complied).any()  # the meters' noise is real


def test_the_reference_plans_with_the_hidden_behaviour_and_expects_what_is_delivered():
    result = small_season(seed=1).run("oracle")
    assert result.events > 0
    expected = sum(row["expected_kw"] for row in result.event_log)
    delivered = sum(row["delivered_kw"] for row in result.event_log)
    assert expected == pytest.approx(delivered, rel=0.1)


def revisited_day(forecast_off_by: float, high_share: float = 0.97, day_of_hour: int | None = 6):
    """Day 42 of a season whose plans are revisited at `day_of_hour` (6:00; its peak is at
    noon; None: never), with the HIGH threshold at `high_share` of that day's true peak: the
    season, the day, its truth, its forecast (`forecast_off_by` off everywhere, P10-P90 +-10 %)
    and what the season has learnt of its last ten days: forecasts FORECAST_DAY_SD off, either
    way by turns, all day (so that the morning's readings show all of a day's error)."""
    season = small_season(seed=1)
    season.config = replace(season.config, day_of_hour=day_of_hour)
    day = 42
    truth = season.load[:, day]
    season.capacity_kw = truth.sum(axis=0).max() * high_share / (season.config.high_pct / 100)
    learnt = _Learnt(len(truth), season.load.shape[1])
    for back in range(10):
        off = FORECAST_DAY_SD if back % 2 else -FORECAST_DAY_SD
        learnt.days.appendleft((truth, truth * (1 + off), np.ones(len(truth), dtype=bool)))
    p50 = truth * (1 + forecast_off_by)
    return season, day, truth, Forecast(0.9 * p50, p50, 1.1 * p50), learnt


def plans_of(season, day, forecast, learnt, result=None):
    """The day's plans as the season makes them, the day-ahead call and the morning's revisit."""
    result = result or SeasonResult("blind", 0, 0, 0.0, 0.0, 0.0, 0.0)
    return season.plans_of_day("blind", learnt, forecast, season.load.copy(), day, 0.05, result)


def day_ahead_plans(forecast_off_by: float, high_share: float = 0.97):
    """The plans that the day before makes of revisited_day's day, before any revisit."""
    season, day, _, forecast, learnt = revisited_day(forecast_off_by, high_share, None)
    return plans_of(season, day, forecast, learnt)


def requested_kw(season, plan) -> float:
    """The kW a plan asks for, all its asks together."""
    asked = np.flatnonzero(plan.level)
    depths = np.array(portfolio.DEPTH_LEVELS_PCT)[plan.level[asked] - 1]
    return float((season.curtailable_kw[asked] * depths / 100).sum())


def test_a_day_the_forecast_missed_is_called_on_the_day_at_short_notice():
    # given: a day whose day-ahead forecast runs 8 % low everywhere, with the HIGH threshold
    # 3 % under its true peak: the day-ahead P90 (of the last days' 3 % error) does not reach it
    season, day, truth, forecast, learnt = revisited_day(-0.08)
    assert calls.error_sd(learnt.day_errors(calls.ERROR_HOURS)) == pytest.approx(FORECAST_DAY_SD)
    assert forecast.p50.sum(axis=0).max() * (1 + Z90 * FORECAST_DAY_SD) < season.high_kw
    assert day_ahead_plans(-0.08) == []
    # when: the morning's readings come in at 6:00
    (plan,) = plans_of(season, day, forecast, learnt)
    # then: the event is called, for the corrected forecast's excess (the morning showed all of
    # the error: none is still to come), its asks with the hours left before the window as notice
    assert plan.call.start > 6
    assert plan.level.any()
    np.testing.assert_allclose(plan.notice, plan.call.start - 6)
    assert plan.call.target_kw == pytest.approx(0.03 * truth.sum(axis=0).max(), abs=1e-3)


def test_a_day_the_forecast_overstated_replans_the_asks_made_the_day_before_freely():
    # given: a day-ahead plan on a forecast 8 % high everywhere
    (ahead,) = day_ahead_plans(0.08)
    season, day, truth, forecast, learnt = revisited_day(0.08)
    # when: the morning shows the forecast 8 % high
    (plan,) = plans_of(season, day, forecast, learnt)
    # then: the same window, with the corrected forecast's smaller target
    assert (plan.call.start, plan.call.end) == (ahead.call.start, ahead.call.end)
    assert plan.call.target_kw == pytest.approx(0.03 * truth.sum(axis=0).max(), abs=1e-3)
    assert plan.call.target_kw < ahead.call.target_kw
    # met by planning the asks again from scratch: nothing was reserved or accepted, so an ask
    # is not held at its depth; asked shallower, the buildings are asked for less
    before, now = ahead.level > 0, plan.level > 0
    assert (plan.level[before & now] < ahead.level[before & now]).any()
    assert requested_kw(season, plan) < requested_kw(season, ahead)
    assert plan.withdrawn == int((before & ~now).sum())
    # each keeps the notice of its first ask (the day before, at DAY_AHEAD_HOUR)
    np.testing.assert_allclose(plan.notice[before], ahead.call.start + 24 - DAY_AHEAD_HOUR)


def test_a_day_the_forecast_understated_asks_more_at_the_notice_that_is_left():
    # given: a day-ahead plan on a forecast 5 % low everywhere
    (ahead,) = day_ahead_plans(-0.05)
    season, day, _, forecast, learnt = revisited_day(-0.05)
    # when: the morning shows it
    (plan,) = plans_of(season, day, forecast, learnt)
    # then: a larger target, for which more buildings are asked
    assert plan.call.target_kw > ahead.call.target_kw
    before, now = ahead.level > 0, plan.level > 0
    assert (now & ~before).any()
    # those asked the day before with the notice of their first ask, the others with the hours
    # left before the window
    np.testing.assert_allclose(plan.notice[before], plan.call.start + 24 - DAY_AHEAD_HOUR)
    np.testing.assert_allclose(plan.notice[~before], plan.call.start - 6)


def test_an_event_the_morning_finds_not_needed_is_cancelled_at_no_cost():
    # given: a day-ahead plan on a forecast 8 % high everywhere, of a day that stays 3 % under
    # the HIGH threshold
    (ahead,) = day_ahead_plans(0.08, high_share=1.03)
    assert ahead.level.any()
    season, day, _, forecast, learnt = revisited_day(0.08, high_share=1.03)
    result = SeasonResult("blind", 0, 0, 0.0, 0.0, 0.0, 0.0)
    # when: the morning shows the forecast 8 % high
    plans = plans_of(season, day, forecast, learnt, result)
    # then: the event is cancelled; nothing was reserved, so nothing is paid, and its asks no
    # longer count towards anyone's monthly limit
    assert plans == []
    assert result.cancelled == 1
    assert result.cost_usd == 0.0
    assert not learnt.asks_between(0, 24 * season.load.shape[1]).any()


def test_high_hours_next_to_a_revisited_window_get_events_of_their_own():
    # given: day-ahead windows of the peak hour alone, on days HIGH for several hours (and a
    # monthly limit that three events a day do not reach: the limit is not what is checked)
    season = small_season(seed=1)
    season.config = replace(season.config, day_of_hour=6, max_window_h=1, max_events_per_month=30)
    # when
    log = season.run("compliance").event_log
    # then: the hours either side are events of their own, asked at short notice, not
    # overlapping the day-ahead one (the one whose asks of the day before keep their notice)
    days = {}
    for row in log:
        days.setdefault(row["day"], []).append(row)
    extra = [rows for rows in days.values() if len(rows) > 1]
    assert extra
    for rows in extra:
        (ahead,) = [row for row in rows if row["short_notice"] < row["asked"]]
        assert ahead["end_hour"] - ahead["start_hour"] == 1
        for row in rows:
            if row is not ahead:
                assert row["end_hour"] == ahead["start_hour"] or (
                    row["start_hour"] == ahead["end_hour"]
                )
                assert row["end_hour"] - row["start_hour"] <= calls.MAX_DURATION_H
                assert row["short_notice"] == row["asked"] > 0


def test_in_a_hot_spell_the_10_of_10_baseline_reads_far_less_than_was_delivered():
    # given: events in a hot spell 30 % above the days before, whose day-of adjustment is
    # capped at 20 %
    season = small_season(seed=1)
    season.config = replace(season.config, x_of_y_check=True)
    log = season.run("compliance").event_log
    assert log
    delivered = np.array([row["delivered_kw"] for row in log])
    # then: the 10-of-10 baseline reads well under half of it, the corrected forecast about it
    assert (np.array([row["x_of_y_kw"] for row in log]) < 0.5 * delivered).all()
    assert np.mean([row["verified_kw"] for row in log] / delivered) == pytest.approx(1.0, abs=0.2)


def test_runs_next_to_a_window():
    excess = np.array([-1, 2, 3, -1, 5, 5, 5, 1, 2, -3, 4, 4], float)
    assert runs_next_to(excess, 5, 6) == [(4, 5), (6, 9)]
    assert runs_next_to(excess, 5, 6, earliest=5) == [(6, 9)]
    assert runs_next_to(excess, 1, 3) == []  # -1 either side
    assert runs_next_to(excess, 10, 12) == []  # the day's end


def test_the_window_grows_from_the_peak_on_its_higher_side():
    excess = np.array([-1, 0, 3, 2, 6, 4, 1, -2, 9, -1], float)
    # the day's peak alone: nothing either side is at or above HIGH
    assert peak_window(excess, 4) == (8, 9)
    # from 07:00 on: the same peak
    assert peak_window(excess, 4, earliest=7) == (8, 9)
    assert peak_window(excess[:8], 4) == (2, 6)  # 6, then 4 (> 2), then 3 (> 1), then 2
    assert peak_window(excess[:8], 6) == (1, 7)  # an hour exactly at HIGH counts
    assert peak_window(excess[:8], 6, earliest=3) == (3, 7)  # not before `earliest`
    assert peak_window(excess[:8], 4, earliest=7) is None  # nothing left at or above HIGH


def test_a_revisited_season_books_every_cost():
    # given: a season revisited at 6:00, some of whose events the morning calls off
    season = small_season(seed=1)
    season.config = replace(season.config, day_of_hour=6)
    result = season.run("compliance")
    assert result.events > 0
    # then: what it paid is what its events' verified deliveries earned: an event called off
    # on the day costs nothing (nothing was reserved), and a withdrawn ask nothing either
    assert sum(row["cost_usd"] for row in result.event_log) == pytest.approx(result.cost_usd)
    for row in result.event_log:
        assert 0 <= row["short_notice"] <= row["asked"]
        assert row["withdrawn"] >= 0


def test_a_column_that_varies_only_by_rounding_is_not_learnt_from():
    # given: outcomes from one event whose temperature differs between rows only by rounding
    rows = events(2000, 12)
    rows.temperature_c = np.where(np.arange(2000) % 2 == 0, 31.0, 31.000000000000004)
    model = compliance.fit(rows)
    # then: the next event's real difference in temperature is not read as a huge one
    fresh = events(50, 13, with_outcome=False)
    fresh.temperature_c[:] = 31.0
    hotter = compliance.take(fresh, np.arange(50))
    hotter.temperature_c = np.full(50, 36.0)
    np.testing.assert_allclose(compliance.predict(model, hotter), compliance.predict(model, fresh))


def test_the_comparison_ratios_error_is_read_from_two_halves_of_the_quiet_buildings():
    # given: 4,000 quiet buildings a day whose forecasts err by 25 % an hour each
    rng = np.random.default_rng(21)
    truth = rng.lognormal(1.0, 1.0, size=(4_000, 1)) * np.ones((1, 24))
    days = [(truth * (1 + 0.25 * rng.normal(size=truth.shape)), truth) for _ in range(60)]

    def comparison_error(hours: float, days=days):
        return calls.comparison_error(days, hours, np.random.default_rng(0))

    # then: the error of the whole group's reading over the afternoon, as repeated days show it
    afternoon = truth[:, calls.ERROR_HOURS]
    readings = [
        mv.comparison_ratio(afternoon * (1 + 0.25 * rng.normal(size=afternoon.shape)), afternoon)
        for _ in range(200)
    ]
    sd, group = comparison_error(8)
    assert sd == pytest.approx(np.std(readings), rel=0.3)
    assert group == 4_000  # for a group of that size
    # a one-hour window reads the day from an eighth of the readings: about sqrt(8) x the error
    assert comparison_error(1)[0] == pytest.approx(np.sqrt(8) * sd, rel=0.3)
    assert comparison_error(12)[0] == sd  # no longer than was measured
    assert comparison_error(4, days=[]) == (0.0, 1.0)  # nothing seen yet
    assert comparison_error(4, days=days[:1]) == (0.0, 1.0)  # one day tells nothing


def test_the_season_page_says_what_each_mornings_revisit_changed():
    assert _on_the_day({"short_notice": 12, "withdrawn": 1340}) == (
        "12 asked at short notice, 1,340 withdrawn"
    )
    assert _on_the_day({"short_notice": 0, "withdrawn": 0}) == "-"
    # a season run when asks released on the day kept their reservation
    assert _on_the_day({"short_notice": 3, "released": 5}) == "3 asked at short notice, 5 released"
    assert _on_the_day({}) == "-"  # a season run before plans were revisited


def test_the_headline_peak_cut_is_the_mean_season_with_the_worst_beside_it():
    def result(strategy: str, cut_pct: float) -> SeasonResult:
        # one event, that asked two of three buildings
        return SeasonResult(
            strategy, 1, 1, 100.0, 100.0 - cut_pct, 10.0, 5.0, event_log=[{"asked": 2}],
            asks_by_building=np.array([1, 0, 1]),
        )  # fmt: skip

    seasons = [
        {name: result(name, cut) for name in (*STRATEGIES, REFERENCE)} for cut in (6.0, 7.0, 4.0)
    ]
    figures = season_figures(seasons)
    assert figures["peak_reduction_pct"] == pytest.approx(17.0 / 3, abs=0.005)
    assert figures["peak_reduction_pct_worst"] == pytest.approx(4.0)
    assert figures["seasons_reaching_peak_target"] == 2  # 6 and 7 reach 5.4 %, 4 does not
    assert figures["target_met_share"] == 1.0
    assert figures["cost"] == figures["cost_largest_first"] == pytest.approx(30.0)
    assert figures["asked_per_event"] == 2.0
    assert figures["asks_per_building"] == pytest.approx(0.67)
    assert figures["asks_per_building_max"] == 1
