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
    *,
    building_type: str,
    depth_pct: float,
    hours: float,
    max_setpoint_change_c: float,
    continues_from: str | None = None,
    continues_to: str | None = None,
) -> Advice:
    """Actions for a depth: a setpoint raise of depth/10 degC (within the occupants' limit),
    pre-cooling before the window, and the loads that can wait. Back to back with another ask
    of the building's that day: `continues_from` (the earlier window's start, local "HH:MM")
    where this window follows straight on from it, which leaves no time to pre-cool and none
    is wanted (it would undo the cut); `continues_to` (the later window's end) where another
    follows straight on, so the setpoint is held to its end, not returned to normal."""
    raise_c = round(min(depth_pct / 10.0, max_setpoint_change_c), 1)
    pre_cool_h = 2 if building_type in COMMERCIAL else 1
    first = (
        {
            "action": "hold",
            "detail": f"keep the setpoint raised and loads deferred from the {continues_from} "
            "window straight on: no pre-cooling in between",
        }
        if continues_from
        else {
            "action": "pre-cool",
            "detail": f"cool 1 °C below the usual setpoint for {pre_cool_h} h before the window",
        }
    )
    actions = [
        first,
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
    start = (
        f"This window follows straight on from the {continues_from} one: do not pre-cool, keep "
        "the setpoint raised"
        if continues_from
        else "Start pre-cooling on time, then raise the setpoint at the window's start"
    )
    end = (
        f"hold it through the next window, to {continues_to}, and only then return to normal "
        "gradually over 30 minutes"
        if continues_to
        else "hold it to the end; return to normal gradually over 30 minutes"
    )
    guidance = (
        f"{start} and {end} to avoid a rebound peak. "
        + ("Tell occupants beforehand. " if building_type in COMMERCIAL else "")
        + "Decline before the window if the building cannot take part: others will be asked."
    )
    return Advice(
        actions=actions, setpoint_raise_c=raise_c, comfort_impact=impact, guidance=guidance
    )


def depth_limit_pct(max_setpoint_change_c: float) -> float:
    """The deepest level a building's comfort limit allows: 10 % per °C of setpoint change."""
    return min(30.0, 10.0 * max_setpoint_change_c)
