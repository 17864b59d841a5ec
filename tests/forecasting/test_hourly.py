"""Packing days of hourly values: pure numpy, no database."""

import numpy as np
import pytest

from forecasting.hourly import DAY_BYTES, FULL_MASK, HOURS, pack_day, pack_days, unpack_days


def day_with_gaps() -> np.ndarray:
    values = np.arange(HOURS, dtype=np.float64) * 0.5 + 0.25  # exact in float32
    values[[0, 5, 23]] = np.nan
    return values


def test_pack_day_round_trip_keeps_values_and_gaps():
    # given
    values = day_with_gaps()
    # when
    blob, mask = pack_day(values)
    [back] = unpack_days([blob], [mask])
    # then
    assert len(blob) == DAY_BYTES
    assert mask == FULL_MASK & ~((1 << 0) | (1 << 5) | (1 << 23))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(back), np.isnan(values))
    np.testing.assert_array_equal(back[~np.isnan(back)], values[~np.isnan(values)])


def test_missing_hours_are_stored_as_zero_with_their_bit_clear():
    values = np.full(HOURS, np.nan)
    values[12] = 7.5
    blob, mask = pack_day(values)
    assert mask == 1 << 12
    stored = np.frombuffer(blob, dtype="<f4")
    assert stored[12] == 7.5
    assert (np.delete(stored, 12) == 0).all()
    assert not np.isnan(stored).any()


def test_full_day_has_the_full_mask():
    blob, mask = pack_day(np.ones(HOURS))
    assert mask == FULL_MASK == 2**24 - 1
    assert unpack_days([blob], [mask]).tolist() == [[1.0] * HOURS]


def test_pack_days_equals_pack_day_row_by_row():
    # given: three days, one full, one with gaps, one empty
    rng = np.random.default_rng(7)
    values = rng.uniform(0, 5, size=(3, HOURS))
    values[1, [2, 3, 17]] = np.nan
    values[2, :] = np.nan
    # when
    blobs, masks = pack_days(values)
    # then
    for row, blob, mask in zip(values, blobs, masks.tolist(), strict=True):
        assert (blob, mask) == pack_day(row)
    assert masks.tolist() == [FULL_MASK, FULL_MASK & ~(0b11 << 2 | 1 << 17), 0]
    back = unpack_days(blobs, masks)
    assert back.shape == (3, HOURS)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(values))
    np.testing.assert_allclose(back[0], values[0], rtol=1e-6)


def test_unpack_days_of_nothing_is_an_empty_table():
    assert unpack_days([], []).shape == (0, HOURS)


@pytest.mark.parametrize("shape", [(23,), (25,), (1, HOURS), ()])
def test_pack_day_refuses_a_wrong_shape(shape):
    with pytest.raises(ValueError, match="a day holds 24 hourly values"):
        pack_day(np.zeros(shape))


@pytest.mark.parametrize("shape", [(HOURS,), (2, 23), (2, HOURS, 1)])
def test_pack_days_refuses_a_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"expected shape \(n, 24\)"):
        pack_days(np.zeros(shape))
