"""Snapshots of a utility's figures (a day, or one event) and what the portals record."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from optimization.models import DemandResponseEvent
from stakeholders.models import Building, Organization, Utility


class StakeholderReport(models.Model):
    """One snapshot of a utility's figures, for a day or for one event: every role's page,
    report and export renders from it. Kept with the versions behind its figures and what they
    were computed from, so that any number on a page can be traced."""

    class Kind(models.TextChoices):
        DAY = "day", "Utility day"
        EVENT = "event", "DR event"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="reports")
    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="reports")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    day = models.DateField(help_text="The utility's local day the figures are for.")
    event = models.ForeignKey(
        DemandResponseEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="reports"
    )
    data = models.JSONField(help_text="The figures, as computed once for every audience.")
    model_versions = models.JSONField(
        default=dict, blank=True,
        help_text="Forecast model, compliance model and optimization run behind the figures.",
    )  # fmt: skip
    source_key = models.CharField(
        max_length=64, help_text="A digest of what the figures were computed from."
    )
    simulated = models.BooleanField(default=False, help_text="Figures come from simulated data.")
    data_label = models.CharField(
        max_length=200, blank=True, help_text="Where the data comes from, when not metered."
    )
    build_s = models.FloatField(default=0.0, help_text="Seconds it took to compute.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["utility", "kind", "day", "-created_at"]),
            models.Index(fields=["event", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="day", event__isnull=True) | Q(kind="event", event__isnull=False),
                name="report_event_matches_kind",
            )
        ]

    def __str__(self) -> str:
        if self.event_id:
            return f"Event #{self.event_id} report, {self.utility}"
        return f"{self.utility} report for {self.day}"


class ReportBuildingLine(models.Model):
    """One building's program figures in a day snapshot (season to date): what owners,
    energy managers and facility managers read."""

    report = models.ForeignKey(StakeholderReport, on_delete=models.CASCADE, related_name="lines")
    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    events = models.PositiveIntegerField(help_text="Events it was asked in and verified.")
    asked_kwh = models.FloatField()
    delivered_kwh = models.FloatField()
    cost_saved_usd = models.FloatField()
    carbon_saved_kg = models.FloatField()
    incentive_usd = models.FloatField()
    complied = models.PositiveIntegerField(help_text="Events it was verified as complying in.")

    class Meta:
        ordering = ["report", "-delivered_kwh"]
        # An owner's lines, most energy shed first: the owner's page reads a page of them.
        indexes = [models.Index(fields=["report", "owner", "-delivered_kwh"])]
        constraints = [
            models.UniqueConstraint(fields=["report", "building"], name="reportline_unique")
        ]

    def __str__(self) -> str:
        return f"{self.building_id} in report {self.report_id}"


class ProtocolCheck(models.Model):
    """An emergency team member's acknowledgement of one step of the CRITICAL protocol for an
    event, or of the alert itself (step 0)."""

    event = models.ForeignKey(
        DemandResponseEvent, on_delete=models.CASCADE, related_name="protocol_checks"
    )
    step = models.PositiveSmallIntegerField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "step"]
        constraints = [models.UniqueConstraint(fields=["event", "step"], name="protocolcheck_once")]

    def __str__(self) -> str:
        return f"Event #{self.event_id} step {self.step}"


class RequestTiming(models.Model):
    """One request the site answered: its route (the URL pattern, never the ids in it), method,
    status and server time. Written by portal.timing's middleware; the technical report reads
    latency, throughput and error rate from these."""

    route = models.CharField(max_length=200, help_text="URL pattern, or '(no route)'.")
    method = models.CharField(max_length=8)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField(help_text="Server time from the view's middleware inwards.")
    at = models.DateTimeField(help_text="When the request arrived.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="requesttiming_at")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_ms__gte=0), name="requesttiming_duration_nonnegative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.route} {self.status} {self.duration_ms:.0f} ms"
