"""Demand-response events, the recommendations sent for them, and their audit history."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from stakeholders.models import Building, Feeder, Utility

from . import mv


class EventStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    OPTIMIZED = "optimized", "Optimized"
    DISPATCHED = "dispatched", "Dispatched"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    VERIFIED = "verified", "Verified"
    CANCELLED = "cancelled", "Cancelled"


# The states of an event that is still to happen or happening.
OPEN = (EventStatus.PROPOSED, EventStatus.OPTIMIZED, EventStatus.DISPATCHED, EventStatus.ACTIVE)


class DemandResponseEvent(models.Model):
    Status = EventStatus

    class Source(models.TextChoices):
        GRID_STATUS = "grid_status", "Proposed from grid status"
        OPERATOR = "operator", "Called by an operator"

    class Strain(models.TextChoices):
        NORMAL = "NORMAL", "Normal"
        HIGH = "HIGH", "High"
        CRITICAL = "CRITICAL", "Critical"

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="events")
    feeder = models.ForeignKey(
        Feeder, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    status = models.CharField(max_length=12, choices=EventStatus.choices, default="proposed")
    source = models.CharField(max_length=12, choices=Source.choices)
    strain = models.CharField(max_length=8, choices=Strain.choices, default=Strain.HIGH)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    target_kw = models.FloatField(help_text="Reduction the grid needs over the window.")
    risk_eps = models.FloatField(
        default=0.05, help_text="Accepted chance of missing the target (the plan meets it 1-eps)."
    )
    incentive_usd_per_kwh = models.FloatField(default=0.5)
    simulated = models.BooleanField(default=False)
    # What the optimizer promised and what verification found.
    p_target_met = models.FloatField(null=True, blank=True)
    expected_kw = models.FloatField(null=True, blank=True)
    model_expected_kw = models.FloatField(
        null=True, blank=True,
        help_text="What the compliance model expected of the plan before the track record's "
        "correction: the record is read against it (empty where the plan was made from the "
        "priors alone, before a model was trained).",
    )  # fmt: skip
    p10_kw = models.FloatField(null=True, blank=True)
    own_sd_kw = models.FloatField(
        null=True, blank=True,
        help_text="The plan's sd from its buildings' own compliance and baselines, without the "
        "common error (so that the track record does not count it twice).",
    )  # fmt: skip
    delivered_kw = models.FloatField(null=True, blank=True)
    target_met = models.BooleanField(null=True, blank=True)
    revisited_at = models.DateTimeField(
        null=True, blank=True, help_text="When the morning's readings last set its target again."
    )
    comparison_group = models.PositiveIntegerField(
        default=0,
        help_text="Buildings held out of the plan, drawn at random, for verification to read "
        "the day's forecast error from (0: none; the hours before the event stand in).",
    )
    forecast_correction = models.FloatField(
        null=True, blank=True,
        help_text="Actual / forecast load of what the event did not touch (the comparison group).",
    )  # fmt: skip
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["utility", "status", "starts_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="event_window"),
            models.CheckConstraint(condition=Q(target_kw__gt=0), name="event_target_positive"),
            models.CheckConstraint(
                condition=Q(risk_eps__gt=0) & Q(risk_eps__lt=0.5), name="event_risk_eps_range"
            ),
            models.CheckConstraint(
                condition=Q(incentive_usd_per_kwh__gte=0), name="event_incentive_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in EventStatus]),
                name="event_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(p_target_met__isnull=True)
                | (Q(p_target_met__gte=0) & Q(p_target_met__lte=1)),
                name="event_probability_range",
            ),
        ]

    def __str__(self) -> str:
        local = self.starts_at.astimezone(ZoneInfo(self.utility.timezone))
        return f"DR event #{self.pk} {self.utility} {local:%Y-%m-%d %H:%M %Z}"

    @property
    def duration_h(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600


class EventTransition(models.Model):
    """Audit history: every change of an event's status, who made it and why."""

    event = models.ForeignKey(
        DemandResponseEvent, on_delete=models.CASCADE, related_name="transitions"
    )
    from_status = models.CharField(max_length=12, choices=EventStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=EventStatus.choices)
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["event", "at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class Recommendation(models.Model):
    """What one building is asked to do for one event, and how it answered and delivered."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting answer"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn (re-optimized)"

    event = models.ForeignKey(
        DemandResponseEvent, on_delete=models.CASCADE, related_name="recommendations"
    )
    building = models.ForeignKey(Building, on_delete=models.PROTECT, related_name="recommendations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    depth_pct = models.FloatField(help_text="Share of the building's curtailable kW asked.")
    requested_kw = models.FloatField()
    expected_kw = models.FloatField(help_text="Requested kW times the compliance probability.")
    compliance_probability = models.FloatField()
    actions = models.JSONField(default=list, help_text="Ordered steps: pre-cool, setpoint, ...")
    expected_kwh = models.FloatField()
    cost_saved_usd = models.FloatField()
    carbon_saved_kg = models.FloatField()
    comfort_impact = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    incentive_usd = models.FloatField()
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decline_reason = models.CharField(max_length=300, blank=True)
    # Measurement and verification: the X-of-Y baseline settles; the forecast counterfactual
    # (corrected for the day's shared error by a comparison group) is kept beside it.
    baseline_kw = models.FloatField(null=True, blank=True)
    baseline_sd_kw = models.FloatField(
        null=True, blank=True, help_text="How far the baseline is likely off (one sd, kW)."
    )
    delivered_kw = models.FloatField(null=True, blank=True)
    complied = models.BooleanField(null=True, blank=True)
    forecast_baseline_kw = models.FloatField(
        null=True, blank=True, help_text="The forecast counterfactual over the window."
    )
    delivered_vs_forecast_kw = models.FloatField(null=True, blank=True)

    class Settlement(models.TextChoices):  # mv.verify chooses
        FORECAST = (
            mv.SETTLED_ON_FORECAST,
            "Forecast counterfactual, corrected by the comparison group",
        )
        X_OF_Y = mv.SETTLED_ON_X_OF_Y, "10-of-10 baseline with day-of adjustment"

    settled_on = models.CharField(
        max_length=16, choices=Settlement.choices, blank=True,
        help_text="Which baseline delivered kW and compliance were settled on.",
    )  # fmt: skip
    features = models.JSONField(
        default=dict, help_text="What the compliance model saw when it predicted (kept to learn)."
    )
    compliance_model_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "-requested_kw"]
        constraints = [
            models.UniqueConstraint(fields=["event", "building"], name="recommendation_unique"),
            models.CheckConstraint(
                condition=Q(depth_pct__gt=0) & Q(depth_pct__lte=100),
                name="recommendation_depth_range",
            ),
            models.CheckConstraint(
                condition=Q(compliance_probability__gte=0) & Q(compliance_probability__lte=1),
                name="recommendation_probability_range",
            ),
            models.CheckConstraint(
                condition=Q(requested_kw__gt=0) & Q(expected_kw__gte=0) & Q(incentive_usd__gte=0),
                name="recommendation_amounts",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | Q(responded_at__isnull=False),
                name="recommendation_decline_recorded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.building} for event #{self.event_id}"


class OptimizationRun(models.Model):
    """One solve of an event's portfolio, with what the solver promised and what it cost."""

    event = models.ForeignKey(
        DemandResponseEvent, on_delete=models.CASCADE, related_name="optimization_runs"
    )
    solver = models.CharField(max_length=10)
    candidates = models.PositiveIntegerField()
    selected = models.PositiveIntegerField()
    feasible = models.BooleanField()
    objective_usd = models.FloatField()
    bound_usd = models.FloatField()
    gap_pct = models.FloatField()
    p_target_met = models.FloatField()
    expected_kw = models.FloatField()
    p10_kw = models.FloatField()
    solve_s = models.FloatField()
    peak_mb = models.FloatField(
        null=True,
        blank=True,
        help_text="Not measured around the solve (tracing memory slows it 12x); the plan's job keeps its process's peak.",
    )
    excluded = models.JSONField(
        default=list, blank=True, help_text="Buildings left out (declined)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.solver} solve of event #{self.event_id}"


class SeasonRun(models.Model):
    """A simulated DR season on a synthetic utility (real load shapes, simulated behaviour).
    Everything in it is synthetic, and every page that shows it says so."""

    buildings = models.PositiveIntegerField()
    seed = models.PositiveIntegerField(default=3)
    first_day = models.DateField()
    days = models.PositiveIntegerField()
    capacity_kw = models.FloatField()
    figures = models.JSONField(help_text="The compliance-aware plan against the two baselines.")
    strategies = models.JSONField(help_text="Per strategy: events, targets met, peak cut, cost.")
    series = models.JSONField(
        default=dict,
        blank=True,
        help_text="Each day's system peak without and with each strategy, and each event.",
    )
    job = models.ForeignKey(
        "jobs.JobRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(buildings__gte=10), name="seasonrun_buildings")
        ]

    def __str__(self) -> str:
        return (
            f"Simulated season, {self.buildings} synthetic buildings ({self.created_at:%Y-%m-%d})"
        )


# The answers that leave an ask standing.
ACTIVE_ANSWERS = (Recommendation.Status.PENDING, Recommendation.Status.ACCEPTED)
