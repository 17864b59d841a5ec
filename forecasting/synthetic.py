"""Synthetic portfolios built from real load profiles (DATA.md, "From 17 homes to 100,000
buildings"): each synthetic building takes one real home's profile, scaled to its size, shifted
by up to two hours and given multiplicative noise. Pure numpy; everything it makes is synthetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# Building types with the share of the portfolio and the range of their size relative to a home.
TYPE_MIX = (
    ("residential", 0.70, (0.6, 1.6)),
    ("office", 0.12, (15.0, 80.0)),
    ("retail", 0.08, (8.0, 40.0)),
    ("school", 0.05, (10.0, 50.0)),
    ("warehouse", 0.05, (5.0, 30.0)),
)
MAX_SHIFT_H = 2
NOISE_SD = 0.12
MAX_BLEND = 8


@dataclass(frozen=True)
class SyntheticSpec:
    """How each synthetic building is made from the real profiles."""

    source: np.ndarray  # (n,) index of the real profile
    scale: np.ndarray  # (n,) multiplier of that profile
    shift_h: np.ndarray  # (n,) hours the profile is moved by
    building_type: list[str]


def synthetic_spec(count: int, *, profiles: int, seed: int) -> SyntheticSpec:
    rng = np.random.default_rng(seed)
    names = [name for name, _, _ in TYPE_MIX]
    shares = np.array([share for _, share, _ in TYPE_MIX])
    types = rng.choice(len(names), size=count, p=shares / shares.sum())
    low = np.array([TYPE_MIX[t][2][0] for t in types])
    high = np.array([TYPE_MIX[t][2][1] for t in types])
    return SyntheticSpec(
        source=rng.integers(0, profiles, size=count),
        scale=np.exp(rng.uniform(np.log(low), np.log(high))),
        shift_h=rng.integers(-MAX_SHIFT_H, MAX_SHIFT_H + 1, size=count),
        building_type=[names[t] for t in types],
    )


def synthetic_loads(
    profiles: np.ndarray,
    spec: SyntheticSpec,
    *,
    first_hour: int,
    hours: int,
    chunk: int = 10_000,
    seed: int = 0,
    blend_large: bool = False,
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (building slice, (k, hours) float32 kWh) chunks for hours [first_hour, +hours).

    `profiles` is (p, H) hourly kWh; the window must leave MAX_SHIFT_H hours on each side.
    With `blend_large`, a building s times a home averages min(ceil(s / 5), MAX_BLEND) profiles
    (a large building is many loads, so smoother than one home scaled up).
    """
    if first_hour < MAX_SHIFT_H or first_hour + hours + MAX_SHIFT_H > profiles.shape[1]:
        raise ValueError("the window must leave room for the time shift on both sides")
    rng = np.random.default_rng(seed)
    offsets = np.arange(hours)
    count = spec.source.shape[0]
    for begin in range(0, count, chunk):
        part = slice(begin, min(begin + chunk, count))
        starts = first_hour + spec.shift_h[part]
        window = profiles[spec.source[part][:, None], starts[:, None] + offsets[None, :]]
        if blend_large:
            blends = np.clip(np.ceil(spec.scale[part] / 5), 1, MAX_BLEND).astype(int)
            window = window.copy()
            for extra in range(1, MAX_BLEND):
                more = np.flatnonzero(blends > extra)
                if not more.size:
                    break
                source = (spec.source[part][more] + extra) % profiles.shape[0]
                shift = np.clip(starts[more] + (extra % 3) - 1, MAX_SHIFT_H - 1, None)
                window[more] += profiles[source[:, None], shift[:, None] + offsets[None, :]]
            window /= blends[:, None]
        noise = rng.normal(1.0, NOISE_SD, size=window.shape).clip(0.5, 1.5)
        yield part, (window * spec.scale[part][:, None] * noise).astype(np.float32)
