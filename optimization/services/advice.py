"""What a building is told when its asks of the day meet: a building asked in two windows
back to back holds its cut from the first straight through the second."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db.models import Q

from ..models import ACTIVE_ANSWERS, OPEN, DemandResponseEvent, Recommendation
from ..recommend import advise


def neighbours(event: DemandResponseEvent):
    """The utility's other open events whose window ends as `event`'s starts, or starts as it
    ends."""
    return (
        DemandResponseEvent.objects.filter(utility=event.utility, status__in=OPEN)
        .filter(Q(ends_at=event.starts_at) | Q(starts_at=event.ends_at))
        .exclude(pk=event.pk)
    )


def back_to_back(event: DemandResponseEvent) -> tuple[dict[int, str], dict[int, str]]:
    """The buildings with an ask standing in a window right next to `event`'s: those in the
    one before (id -> its start, local "HH:MM") and those in the one after (id -> its end)."""
    tz = ZoneInfo(event.utility.timezone)
    before, after = {}, {}
    for building_id, starts_at, ends_at in Recommendation.objects.filter(
        event__in=neighbours(event), status__in=ACTIVE_ANSWERS
    ).values_list("building_id", "event__starts_at", "event__ends_at"):
        if ends_at == event.starts_at:
            before[building_id] = f"{starts_at.astimezone(tz):%H:%M}"
        else:
            after[building_id] = f"{ends_at.astimezone(tz):%H:%M}"
    return before, after


def advice_refresh(*, event: DemandResponseEvent) -> int:
    """Bring the guidance of the asks standing in the events right next to `event` in line
    with who is asked now (after `event` is planned, re-planned or cancelled): a building
    asked back to back holds its cut rather than pre-cooling in between. Returns how many
    changed."""
    changed = 0
    for neighbour in neighbours(event):
        before, after = back_to_back(neighbour)
        for rec in neighbour.recommendations.filter(status__in=ACTIVE_ANSWERS).select_related(
            "building"
        ):
            advice = advise(
                building_type=rec.building.building_type, depth_pct=rec.depth_pct,
                hours=neighbour.duration_h,
                max_setpoint_change_c=rec.building.max_setpoint_change_c,
                continues_from=before.get(rec.building_id),
                continues_to=after.get(rec.building_id),
            )  # fmt: skip
            if advice.guidance != rec.guidance or advice.actions != rec.actions:
                Recommendation.objects.filter(pk=rec.pk).update(
                    actions=advice.actions, guidance=advice.guidance
                )
                changed += 1
    return changed
