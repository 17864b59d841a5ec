"""Held-out evaluation: scoring a trained model on given days, the comparison rows, and the
rule that decides whether a new model replaces the active one. Pure, no database."""

from dataclasses import asdict
from datetime import date

import numpy as np
import pytest

from forecasting import lstm
from forecasting.evaluation import (
    Scores,
    evaluate,
    held_out_forecast,
    held_out_rows,
    held_out_score,
    make_daily,
    promotion_decision,
)

TINY = lstm.LSTMConfig(epochs=3, hidden=8, head_hidden=16, patience=2, min_steps=10, max_steps=200)
TRAIN_END = 40


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    days = 50
    profile = 1.0 + 0.5 * np.sin(2 * np.pi * np.arange(24) / 24)
    load = np.array([5.0, 20.0])[:, None, None] * profile * (1 + 0.05 * rng.random((2, days, 24)))
    temperature = 10 + 5 * rng.standard_normal((days, 24))
    return make_daily(
        load, temperature, np.roll(temperature, 1, axis=0), np.zeros(2), date(2026, 1, 1),
        holidays={date(2026, 1, 1)}, static_days=TRAIN_END,
    )  # fmt: skip


@pytest.fixture(scope="module")
def evaluation(data):
    return evaluate(data, TINY, train_end=TRAIN_END)


def _scores(median_cvrmse: float) -> Scores:
    return Scores(
        name="lstm",
        per_building_cvrmse=np.array([median_cvrmse]),
        total_cvrmse=median_cvrmse,
        per_building_nmbe=np.zeros(1),
        total_nmbe=0.0,
    )


def test_a_trained_model_scores_the_same_on_the_same_days_as_its_evaluation(data, evaluation):
    again = held_out_score(evaluation.trained, data, train_end=TRAIN_END)
    np.testing.assert_allclose(
        again.per_building_cvrmse, evaluation.scores["lstm"].per_building_cvrmse
    )
    assert again.total_cvrmse == pytest.approx(evaluation.scores["lstm"].total_cvrmse)


def test_a_model_of_another_horizon_cannot_be_scored_day_ahead(data, evaluation):
    two_days = lstm.TrainedModel(
        **{
            **evaluation.trained.__dict__,
            "config": lstm.LSTMConfig(**{**asdict(TINY), "horizon_days": 2}),
        }
    )
    with pytest.raises(ValueError, match="forecasts 48 h"):
        held_out_forecast(two_days, data, train_end=TRAIN_END)


def test_a_model_reading_other_features_cannot_be_scored(data, evaluation):
    other = lstm.TrainedModel(**{**evaluation.trained.__dict__, "known_features": 99})
    with pytest.raises(ValueError, match="features"):
        held_out_forecast(other, data, train_end=TRAIN_END)


def test_held_out_rows_give_each_forecaster_with_the_columns_asked(evaluation):
    rows = held_out_rows(evaluation.scores, temperature_forecast="stand-in")
    assert [row["forecaster"] for row in rows] == ["lstm", "prevday", "prevweek", "mean7"]
    lstm_row = rows[0]
    assert lstm_row["temperature_forecast"] == "stand-in"
    assert lstm_row["median_cvrmse_pct"] == round(evaluation.scores["lstm"].median_cvrmse, 2)
    assert set(lstm_row) == {
        "temperature_forecast", "forecaster", "median_cvrmse_pct", "min_cvrmse_pct",
        "max_cvrmse_pct", "total_cvrmse_pct", "median_nmbe_pct", "total_nmbe_pct",
    }  # fmt: skip


def test_with_no_active_model_the_new_one_is_promoted():
    decision = promotion_decision(candidate=_scores(30.0), active=None, active_version=None)
    assert decision == {"promoted": True, "reason": "No version was active."}


def test_a_better_model_is_promoted():
    decision = promotion_decision(candidate=_scores(20.0), active=_scores(25.0), active_version=3)
    assert decision["promoted"] is True
    assert decision["reason"] == (
        "Median CV(RMSE) 20.00 % beats version 3's 25.00 % on the same held-out days."
    )
    assert (decision["candidate"], decision["active"], decision["active_version"]) == (
        20.0,
        25.0,
        3,
    )


@pytest.mark.parametrize("candidate", [25.0, 26.0])  # a tie keeps the serving model
def test_a_model_no_better_than_the_active_one_is_not_promoted(candidate):
    decision = promotion_decision(
        candidate=_scores(candidate), active=_scores(25.0), active_version=3
    )
    assert decision["promoted"] is False
    assert "does not beat version 3's 25.00 %" in decision["reason"]


def test_an_active_model_that_cannot_be_scored_blocks_the_promotion():
    decision = promotion_decision(
        candidate=_scores(10.0), active=None, active_version=2, why_unscored="it forecasts 48 h"
    )
    assert decision == {
        "promoted": False,
        "reason": (
            "Not compared with version 2 on the same held-out days (it forecasts 48 h): "
            "promote it by hand to replace that one."
        ),
    }
