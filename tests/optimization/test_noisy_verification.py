"""Learning from what verification can see: single buildings are measured against baselines
whose error is often as large as the ask, and the shared forecast error of the day must come
out of the counterfactual before anyone is judged."""

import numpy as np
import pytest
from scipy import special

from forecasting import compliance
from optimization import mv
from optimization.portfolio import (
    COMFORT_USD_PER_KW_AT_30PCT,
    SYSTEMATIC_SHARE_PRIOR,
    build_problem,
    comfort_penalty_usd,
    expected_kw,
    synthetic_candidates,
    track_record,
)
from optimization.solver import solve_fast


def asks(n: int, seed: int) -> tuple[compliance.Events, np.ndarray]:
    """n asks with a known P(complies) (homes less reliable than offices, deeper asks less
    likely) and no outcome yet."""
    rng = np.random.default_rng(seed)
    types = rng.choice(["residential", "office"], size=n)
    depth = rng.choice([10.0, 20.0, 30.0], size=n)
    logit = np.where(types == "office", 1.5, 0.0) - 0.08 * (depth - 20.0)
    rows = compliance.Events(
        building_type=types, curtailable_kw=rng.uniform(1, 50, n), past_asked=np.zeros(n),
        past_complied=np.zeros(n), events_30d=np.zeros(n), notice_h=np.full(n, 18.0),
        temperature_c=np.full(n, 30.0), start_hour=np.full(n, 16.0), duration_h=np.full(n, 3.0),
        depth_pct=depth, incentive_usd_per_kwh=np.full(n, 0.5),
    )  # fmt: skip
    return rows, special.expit(logit)


def verify_noisily(rows, p_true, seed, noise_per_ask):
    """What M&V sees: a complying building delivers its ask, one that does not delivers
    nothing, and each is measured with a normal error of `noise_per_ask` asks."""
    rng = np.random.default_rng(seed)
    complied = rng.random(len(p_true)) < p_true
    measured = complied + rng.normal(0, noise_per_ask, size=len(p_true))
    rows.complied = measured >= mv.COMPLY_SHARE
    rows.label_q0, rows.label_q1 = compliance.label_noise(
        np.ones(len(p_true)), np.full(len(p_true), noise_per_ask),
        comply_share=mv.COMPLY_SHARE, delivery_share=1.0,
    )  # fmt: skip
    return complied


def test_label_noise_by_hand():
    q0, q1 = compliance.label_noise(
        np.array([1.0, 1.0]), np.array([1e-6, 1.0]), comply_share=0.8, delivery_share=0.9
    )
    # a perfect measurement tells compliers (0.9 >= 0.8) from the rest (0 < 0.8) exactly
    assert (q0[0], q1[0]) == pytest.approx((0.0, 1.0))
    # an error as large as the ask: P(0.9 + e >= 0.8) and P(e >= 0.8), e ~ N(0, 1)
    assert q1[1] == pytest.approx(special.ndtr(0.1))
    assert q0[1] == pytest.approx(special.ndtr(-0.8))


def test_noisy_outcomes_corrected_give_back_the_true_compliance():
    # given: asks whose verification errs by 0.6 of the ask, so that labels are mostly noise
    rows, p_true = asks(20_000, 1)
    verify_noisily(rows, p_true, 2, noise_per_ask=0.6)
    # when: the same regression learns with and without the known noise rates
    corrected = compliance.fit(rows)
    naive_rows = compliance.take(rows, np.arange(len(p_true)))
    naive_rows.label_q0 = naive_rows.label_q1 = None
    naive = compliance.fit(naive_rows)
    # then: the corrected model predicts the true P(complies); the naive one the label rate
    fresh, truth = asks(5_000, 3)
    assert compliance.predict(corrected, fresh).mean() == pytest.approx(truth.mean(), abs=0.04)
    assert abs(compliance.predict(naive, fresh).mean() - truth.mean()) > 0.1
    assert np.corrcoef(compliance.predict(corrected, fresh), truth)[0, 1] > 0.9
    # and the share that complied, by the method of moments
    assert compliance.corrected_rate(rows) == pytest.approx(p_true.mean(), abs=0.03)


def test_metrics_judge_the_probability_of_being_verified_as_complied():
    rows, p_true = asks(4_000, 4)
    verify_noisily(rows, p_true, 5, noise_per_ask=0.6)
    seen = compliance.verified_probability(rows, p_true)
    assert seen == pytest.approx(rows.label_q0 + (rows.label_q1 - rows.label_q0) * p_true)
    # the truth, pushed through the noise, is calibrated against the labels
    assert seen.mean() == pytest.approx(rows.complied.mean(), abs=0.02)


def shares_that_follow_the_line(events: int) -> tuple[compliance.Events, np.ndarray, object]:
    """6,000 asks over `events` events, a model whose P(complies) varies, and verified shares
    that follow 0.1 + 0.8 p, each measured with an error of half the ask."""
    rows, _ = asks(6_000, 6)
    rng = np.random.default_rng(7)
    rows.start_hour = 12.0 + rng.integers(0, events, len(rows.depth_pct))  # one hour per event
    rows.past_asked = rng.integers(0, 10, len(rows.depth_pct)).astype(float)
    rows.past_complied = np.round(rows.past_asked * rng.uniform(0, 1, len(rows.depth_pct)))
    model = compliance.priors_only(rows)
    p = compliance.predict(model, rows)
    rows.delivered_share = 0.1 + 0.8 * p + rng.normal(0, 0.5, len(p))
    rows.delivered_share_sd = np.full(len(p), 0.5)
    return rows, p, model


def test_the_response_model_puts_predictions_on_the_scale_of_delivered_kw():
    # given: verified shares on the line 0.1 + 0.8 p, from twenty events
    rows, p, model = shares_that_follow_the_line(20)
    assert compliance.event_count(rows) == 20
    # when
    model.response = compliance.fit_response(model, rows)
    # then: it gives back the line, where the data was
    expected = compliance.expected_share(model, rows, p, default=0.9)
    assert np.abs(expected - (0.1 + 0.8 * p)).mean() < 0.03
    # and it survives the trip through bytes
    again = compliance.ComplianceModel.from_bytes(model.to_bytes())
    np.testing.assert_allclose(compliance.expected_share(again, rows, p, default=0.9), expected)
    # without verified kW there is no response model: P(complies) x the default share
    assert compliance.expected_share(None, rows, p, default=0.9) == pytest.approx(0.9 * p)


def test_one_events_slopes_are_held_towards_none_its_level_halfway_to_the_assumed_delivery():
    # given: the same line, all from one event (whose plan chose who got which depth)
    rows, p, model = shares_that_follow_the_line(1)
    # when
    model.response = compliance.fit_response(model, rows)
    expected = compliance.expected_share(model, rows, p, default=0.9)
    # then: the slope on P(complies) is about halved (a prior worth one event's data), and so
    # is the level's distance from DELIVERY_SHARE x P(complies)
    slope = np.polyfit(p, expected, 1)[0]
    assert 0.25 < slope < 0.6
    halfway = (rows.delivered_share.mean() + compliance.DELIVERY_SHARE * p.mean()) / 2
    assert expected.mean() == pytest.approx(halfway, abs=0.02)


def test_one_event_read_below_nothing_does_not_predict_that_nobody_delivers():
    # given: one event whose verification read every ask low (its baseline's shared error)
    rows, p, model = shares_that_follow_the_line(1)
    rows.delivered_share = rows.delivered_share - rows.delivered_share.mean() - 0.3
    # when
    model.response = compliance.fit_response(model, rows)
    expected = compliance.expected_share(model, rows, p, default=0.9)
    # then: the next plan still expects something (halfway between -0.3 and the assumed
    # delivery), not zero
    halfway = (-0.3 + compliance.DELIVERY_SHARE * p.mean()) / 2
    assert halfway > 0.05
    assert expected.mean() >= halfway - 0.01
    # while twenty such events would speak for themselves
    many, p_many, model_many = shares_that_follow_the_line(20)
    many.delivered_share = many.delivered_share - many.delivered_share.mean() - 0.3
    model_many.response = compliance.fit_response(model_many, many)
    assert compliance.expected_share(model_many, many, p_many, default=0.9).mean() < 0.1


def test_a_building_seen_once_stays_near_everyone_seen_often_speaks_for_itself():
    population = 0.6
    weight = compliance.share_weight(np.array([3.0]))  # one very noisy measurement
    once = compliance.shrunk_share(weight * 1.0, weight, population)
    often = compliance.shrunk_share(
        np.array([200 * 6.25 * 0.2]), np.array([200 * 6.25]), population
    )
    assert abs(once[0] - population) < 0.02
    assert often[0] == pytest.approx(0.2, abs=0.01)
    assert compliance.shrunk_share(np.zeros(1), np.zeros(1), population)[0] == population


def test_the_comparison_group_recovers_the_days_shared_forecast_error():
    rng = np.random.default_rng(8)
    truth = rng.lognormal(1.0, 1.2, size=(4_000, 6))  # a few very large buildings
    shared = 1.04  # the day's forecast is 4 % high for everyone
    forecast = truth * shared * (1 + rng.normal(0, 0.25, size=truth.shape))
    ratio = mv.comparison_ratio(forecast, truth)
    assert ratio == pytest.approx(1 / shared, abs=0.005)
    # one building's meter fault does not move it; per-building totals work the same
    faulty = truth.copy()
    faulty[0] = 1e6
    assert mv.comparison_ratio(forecast, faulty) == pytest.approx(ratio, abs=0.002)
    totals = mv.comparison_ratio(forecast.sum(axis=1), truth.sum(axis=1))
    assert totals == pytest.approx(ratio, abs=1e-9)
    # nothing to compare with: no correction
    assert mv.comparison_ratio(np.zeros((3, 2)), np.ones((3, 2))) == 1.0


def test_the_track_record_corrects_a_bias_and_keeps_the_spread_as_risk():
    assert track_record([], []).systematic_share == pytest.approx(SYSTEMATIC_SHARE_PRIOR)
    assert track_record([], []).bias == 0.0
    # plans that promised 10 % too much, every time
    record = track_record([100.0] * 8, [90.0] * 8)
    assert record.bias == pytest.approx(-0.1 * 8 / 10)
    assert record.systematic_share < SYSTEMATIC_SHARE_PRIOR
    # plans that missed both ways by 20 %
    wild = track_record([100.0] * 8, [80.0, 120.0] * 4)
    assert wild.bias == pytest.approx(0.0)
    assert wild.systematic_share > 0.15
    # the same misses, where each plan already knew of an sd of 20 % (its buildings' own
    # compliance and baselines): none of the spread is common, only the prior's remains
    known = track_record([100.0] * 8, [80.0, 120.0] * 4, [20.0] * 8)
    assert known.systematic_share == pytest.approx(SYSTEMATIC_SHARE_PRIOR * np.sqrt(2 / 10))
    # half of it known: the other part is common
    half = track_record([100.0] * 8, [80.0, 120.0] * 4, [np.sqrt(200.0)] * 8)
    assert half.systematic_share == pytest.approx(np.sqrt((2 * 0.01 + 8 * 0.02) / 10))


def test_a_record_read_against_the_models_expectation_corrects_its_whole_bias():
    # given: a compliance model that expects 100 kW of every plan, which then delivers 80
    def corrected_after(events: int, read_against_model: bool) -> float:
        expected, verified = [], []
        for _ in range(events):
            plan = 100.0 * (1 + track_record(expected, verified).bias)
            expected.append(100.0 if read_against_model else plan)
            verified.append(80.0)
        return 100.0 * (1 + track_record(expected, verified).bias)

    # then: read against the model, the corrected plan comes to what is delivered
    assert corrected_after(40, read_against_model=True) == pytest.approx(80.0, abs=1.0)
    # read against the corrected plans, only half of the bias would ever be corrected
    assert corrected_after(40, read_against_model=False) == pytest.approx(90.0, abs=1.0)
    # and an expectation of the model is what a plan adds up: each ask by its P(complies)
    level = np.array([0, 1, 3])
    compliance = np.array([[0.5, 0.5, 0.5], [0.8, 0.7, 0.6], [0.9, 0.8, 0.5]])
    assert expected_kw(np.array([10.0, 20.0, 40.0]), compliance, level) == pytest.approx(
        0.9 * (0.8 * 2.0 + 0.5 * 12.0)
    )


def test_the_comfort_penalty_grows_with_the_square_of_the_depth():
    penalty = comfort_penalty_usd(np.array([10.0, 10.0, 10.0]), np.array([10.0, 20.0, 30.0]), 2.0)
    np.testing.assert_allclose(
        penalty, COMFORT_USD_PER_KW_AT_30PCT * 10.0 * 2.0 * np.array([1, 4, 9]) / 9
    )


def test_a_common_error_is_planned_for_and_reported():
    candidates = synthetic_candidates(3_000, feeders=10, seed=9)
    common = {
        "target_kw": 2_000.0, "eps": 0.05, "duration_h": 3.0, "incentive_usd_per_kwh": 0.5,
        "feeder_target_kw": np.zeros(10),
    }  # fmt: skip
    plain = solve_fast(build_problem(candidates, **common))
    problem = build_problem(candidates, systematic_share=0.08, **common)
    careful = solve_fast(problem)
    assert careful.feasible
    assert careful.p_target_met >= 0.95 - 1e-9
    # its reported spread holds the common error, and it asks for more to cover it
    assert careful.std_kw > 0.08 * careful.expected_kw
    assert careful.expected_kw > plain.expected_kw * 1.1
    assert careful.objective > plain.objective
    # and no more than it needs: the common error is in the linearised constraint itself, so
    # the plan sits at 95 % (through the target T / (1 - z s) it sat at 98 %)
    assert careful.p_target_met < 0.955
    # a common error that alone rules the target out gives the best plan, marked infeasible
    hopeless = solve_fast(build_problem(candidates, systematic_share=0.7, **common))
    assert not hopeless.feasible
    assert hopeless.p_target_met < 0.95


def test_platt_scaling_finds_an_overconfident_model_and_folds_into_it():
    # given: a model whose logits are twice what the outcomes bear out, outcomes measured with
    # an error of 0.4 of the ask
    rows, p_true = asks(30_000, 11)
    verify_noisily(rows, p_true, 12, noise_per_ask=0.4)
    model = compliance.fit(rows)
    model.coef = model.coef * 2.0
    # when
    intercept, slope = compliance.platt(model, rows)
    # then: the slope takes the doubling back, through the label noise
    assert slope == pytest.approx(0.5, abs=0.08)
    before = compliance.predict(model, rows)
    after = compliance.predict(compliance.recalibrated(model, intercept, slope), rows)
    np.testing.assert_allclose(
        after, special.expit(intercept + slope * special.logit(before)), rtol=1e-6
    )
    assert np.abs(after - p_true).mean() < np.abs(before - p_true).mean()


def test_the_held_out_outcomes_start_at_an_event():
    rows, p_true = asks(1_000, 13)
    rows.start_hour = np.repeat([12.0, 13.0, 14.0, 15.0], 250)  # four events, oldest first
    verify_noisily(rows, p_true, 14, noise_per_ask=0.3)
    _, metrics = compliance.fit_if_better(rows, held_out_share=0.3)
    assert metrics["held_out"] == 250  # the last event, the boundary nearest to 30 %
    assert "calibration_slope" in metrics or metrics["kept"] == "priors"


def test_verifications_common_error_is_planned_for():
    candidates = synthetic_candidates(3_000, feeders=10, seed=9)
    common = {
        "target_kw": 2_000.0, "eps": 0.05, "duration_h": 3.0, "incentive_usd_per_kwh": 0.5,
        "feeder_target_kw": np.zeros(10), "comfort_usd_per_kw_at_30pct": 0.6,
    }  # fmt: skip
    load = candidates.curtailable_kw / 0.75  # the load each baseline rests on
    plain = solve_fast(build_problem(candidates, **common))
    problem = build_problem(candidates, common_load_kw=load, common_sd_share=0.003, **common)
    careful = solve_fast(problem)
    # then: its reported spread holds the common error, and it meets the target at 95 %
    asked_load = load[careful.level > 0].sum()
    assert careful.feasible
    assert careful.p_target_met == pytest.approx(0.95, abs=0.005)
    assert careful.std_kw > 0.003 * asked_load
    # and it asks for more to cover it
    assert careful.expected_kw > plain.expected_kw
    # the plain plan, judged with that error, falls short of 95 %
    plain_var = (plain.std_kw**2) + (0.003 * load[plain.level > 0].sum()) ** 2
    assert special.ndtr((plain.expected_kw - 2_000.0) / np.sqrt(plain_var)) < 0.95
