"""What a building is asked to do at a depth, in words a facility manager can act on, and what
it is worth. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass

COMMERCIAL = {"office", "retail", "school", "hospital", "hotel", "restaurant"}


@dataclass(frozen=True)
class Advice:
    actions: list[dict]
    setpoint_raise_c: float
    comfort_impact: str
    guidance: str


def advise(
    *, building_type: str, depth_pct: float, hours: float, max_setpoint_change_c: float
) -> Advice:
    """Actions for a depth: a setpoint raise of depth/10 degC (within the occupants' limit),
    pre-cooling before the window, and the loads that can wait."""
    raise_c = round(min(depth_pct / 10.0, max_setpoint_change_c), 1)
    pre_cool_h = 2 if building_type in COMMERCIAL else 1
    actions = [
        {
            "action": "pre-cool",
            "detail": f"cool 1 °C below the usual setpoint for {pre_cool_h} h before the window",
        },
        {
            "action": "setpoint raise",
            "detail": f"raise the cooling setpoint by {raise_c} °C during the window",
        },
    ]
    if building_type in COMMERCIAL and depth_pct >= 20:
        actions.append(
            {"action": "lighting dim", "detail": "dim common-area and perimeter lighting by 30 %"}
        )
    deferrable = {
        "residential": "EV charging, pool pump, dishwasher and laundry",
        "warehouse": "forklift charging and non-urgent refrigeration defrost",
    }.get(building_type, "EV charging and flexible process loads")
    actions.append(
        {"action": "defer flexible loads", "detail": f"move {deferrable} outside the window"}
    )
    if raise_c <= 1:
        impact = f"low: +{raise_c} °C for {hours:g} h"
    elif raise_c <= 2:
        impact = f"moderate: +{raise_c} °C for {hours:g} h"
    else:
        impact = f"noticeable: +{raise_c} °C for {hours:g} h"
    guidance = (
        "Start pre-cooling on time, then raise the setpoint at the window's start and hold it to "
        "the end; return to normal gradually over 30 minutes to avoid a rebound peak. "
        + ("Tell occupants beforehand. " if building_type in COMMERCIAL else "")
        + "Decline before the window if the building cannot take part: others will be asked."
    )
    return Advice(
        actions=actions, setpoint_raise_c=raise_c, comfort_impact=impact, guidance=guidance
    )


def depth_limit_pct(max_setpoint_change_c: float) -> float:
    """The deepest level a building's comfort limit allows: 10 % per °C of setpoint change."""
    return min(30.0, 10.0 * max_setpoint_change_c)
