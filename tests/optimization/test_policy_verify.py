"""Verification's own correction: each asked building's error of the day, read from its
morning (optimization.policy.verify.own_adjustment)."""

import numpy as np
import pytest

from optimization import mv
from optimization.policy import verify

START, END = 15, 18


def a_day(n=2000, seed=5):
    """n buildings' true loads, forecasts off by a shared 3 % and by each building's own error
    that runs on over the whole day (sd 6 %, inside the cap for nearly all)."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(5, 50, (n, 1)) * (1 + 0.3 * np.sin(np.arange(24) / 24 * np.pi))[None, :]
    own = 1 + 0.06 * rng.normal(size=(n, 1))
    forecast = truth * 1.03 * own
    return truth, forecast, own[:, 0]


def test_a_plan_that_picks_buildings_forecast_low_is_read_as_delivered():
    truth, forecast, own = a_day()
    # given: the plan asked the buildings forecast lowest; each sheds 2 kW in the window
    asked = np.argsort(own)[:300]
    readings = truth.copy()
    readings[asked, START:END] -= 2.0
    mask = np.zeros(len(truth), bool)
    mask[asked] = True
    # when: read with and without each building's own error
    own_all = verify.own_adjustment(forecast, readings, START)
    correction = verify.day_correction(forecast, readings, mask, START, END, 0, own_all)
    own_read = own_all[asked]
    with_own = verify.delivered_kw(forecast[asked, START:END], readings[asked, START:END],
                                   correction, own_read)  # fmt: skip
    blind = verify.day_correction(forecast, readings, mask, START, END, 0, np.ones(len(mask)))
    without = verify.delivered_kw(forecast[asked, START:END], readings[asked, START:END],
                                  blind, np.ones(asked.size))  # fmt: skip
    # then: without it the delivery reads far below the 2 kW each shed, with it close to it
    assert without.mean() < 0.0
    assert with_own.mean() == pytest.approx(2.0, abs=0.15)


def test_the_own_correction_is_capped_and_is_1_where_the_morning_is_not_read():
    truth, forecast, _ = a_day(n=50)
    readings = truth.copy()
    readings[0] *= 3.0  # a meter three times its forecast
    readings[1, :10] = np.nan  # no morning read
    own = verify.own_adjustment(forecast, readings, START)
    assert own[0] == pytest.approx(1 + mv.ADJUST_CAP)
    assert own[1] == 1.0
    # and a building whose forecast erred only by the shared part is left as it is
    truth2, forecast2, _ = a_day(n=50)
    even = verify.own_adjustment(truth2 * 1.03, truth2, START)
    np.testing.assert_allclose(even, 1.0, atol=1e-9)
