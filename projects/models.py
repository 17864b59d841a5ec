"""The program's delivery records: sprints, stories, milestones, tasks, deliverables, risks,
QA runs and KPIs, with an audit history of changes to risks and milestones."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from stakeholders.models import Organization, Utility


class Team(models.TextChoices):
    DATA_SCIENCE = "data_science", "Data science"
    ENGINEERING = "engineering", "Engineering"
    PRODUCT = "product", "Product"
    OPERATIONS = "operations", "Operations"
    SECURITY = "security", "Security"


class Program(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="programs"
    )
    utility = models.ForeignKey(
        Utility, on_delete=models.SET_NULL, null=True, blank=True, related_name="programs",
        help_text="The utility whose DR program this is: its executives read its risks and "
        "milestones. Blank: not linked to one utility.",
    )  # fmt: skip
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField()

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gt=F("starts_on")), name="program_dates")
        ]

    def __str__(self) -> str:
        return self.name


class Sprint(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="sprints")
    number = models.PositiveSmallIntegerField()
    goal = models.CharField(max_length=300)
    starts_on = models.DateField()
    ends_on = models.DateField()
    capacity_points = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PLANNED)

    class Meta:
        ordering = ["program", "number"]
        constraints = [
            models.UniqueConstraint(fields=["program", "number"], name="sprint_number_unique"),
            models.CheckConstraint(condition=Q(ends_on__gt=F("starts_on")), name="sprint_dates"),
        ]

    def __str__(self) -> str:
        return f"Sprint {self.number}: {self.goal}"


class UserStory(models.Model):
    class Priority(models.IntegerChoices):
        MUST = 1, "Must"
        SHOULD = 2, "Should"
        COULD = 3, "Could"
        WONT = 4, "Won't (this time)"

    class Status(models.TextChoices):
        BACKLOG = "backlog", "Backlog"
        TODO = "todo", "To do"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="stories")
    sprint = models.ForeignKey(
        Sprint, on_delete=models.SET_NULL, null=True, blank=True, related_name="stories"
    )
    title = models.CharField(max_length=300)
    narrative = models.TextField(blank=True, help_text="As a ..., I want ..., so that ...")
    points = models.PositiveSmallIntegerField()
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.SHOULD)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BACKLOG)
    team = models.CharField(max_length=20, choices=Team.choices)

    class Meta:
        verbose_name_plural = "user stories"
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gte=1) & Q(points__lte=40), name="story_points_range"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Milestone(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        ON_TRACK = "on_track", "On track"
        AT_RISK = "at_risk", "At risk"
        LATE = "late", "Late"
        DONE = "done", "Done"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="milestones")
    sprint = models.ForeignKey(
        Sprint, on_delete=models.SET_NULL, null=True, blank=True, related_name="milestones"
    )
    name = models.CharField(max_length=200)
    target_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    completed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["target_date"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done") | Q(completed_on__isnull=False),
                name="milestone_done_has_date",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    class Status(models.TextChoices):
        TODO = "todo", "To do"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="tasks")
    story = models.ForeignKey(
        UserStory, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.TODO)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    estimate_h = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["milestone", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(estimate_h__isnull=True) | Q(estimate_h__gt=0),
                name="task_estimate_positive",
            )
        ]

    def __str__(self) -> str:
        return self.title


class Deliverable(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        IN_QA = "in_qa", "In QA"
        ACCEPTED = "accepted", "Accepted"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="deliverables")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliverables"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    due_date = models.DateField()
    owner = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["due_date"]

    def __str__(self) -> str:
        return self.name


class Level(models.IntegerChoices):
    VERY_LOW = 1, "Very low"
    LOW = 2, "Low"
    MEDIUM = 3, "Medium"
    HIGH = 4, "High"
    VERY_HIGH = 5, "Very high"


class Risk(models.Model):
    class Nature(models.TextChoices):
        TECHNICAL = "technical", "Technical"
        BUSINESS = "business", "Business"

    class Category(models.TextChoices):
        PERFORMANCE = "performance", "Performance"
        SCALABILITY = "scalability", "Scalability"
        INTEGRATION = "integration", "Integration"
        DATA_QUALITY = "data_quality", "Data quality"
        MARKET = "market", "Market"
        REGULATORY = "regulatory", "Regulatory"
        COMPETITIVE = "competitive", "Competitive"
        ADOPTION = "adoption", "Adoption"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MITIGATING = "mitigating", "Mitigating"
        CLOSED = "closed", "Closed"
        OCCURRED = "occurred", "Occurred"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="risks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    nature = models.CharField(max_length=10, choices=Nature.choices)
    category = models.CharField(max_length=14, choices=Category.choices)
    probability = models.PositiveSmallIntegerField(choices=Level.choices)
    impact = models.PositiveSmallIntegerField(choices=Level.choices)
    score = models.GeneratedField(
        expression=F("probability") * F("impact"),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    mitigation = models.TextField()
    contingency = models.TextField()
    owner = models.CharField(max_length=100)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    next_review = models.DateField()

    class Meta:
        ordering = ["-score", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=1)
                & Q(probability__lte=5)
                & Q(impact__gte=1)
                & Q(impact__lte=5),
                name="risk_levels_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return self.title


class QARun(models.Model):
    class Kind(models.TextChoices):
        FUNCTIONAL = "functional", "Functional"
        PERFORMANCE = "performance", "Performance"
        SECURITY = "security", "Security"
        INTEGRATION = "integration", "Integration"

    class Comparison(models.TextChoices):
        AT_MOST = "lte", "at most"
        AT_LEAST = "gte", "at least"

    deliverable = models.ForeignKey(Deliverable, on_delete=models.CASCADE, related_name="qa_runs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    run_at = models.DateTimeField()
    measured_value = models.FloatField()
    threshold = models.FloatField()
    comparison = models.CharField(max_length=3, choices=Comparison.choices)
    unit = models.CharField(max_length=20)
    passed = models.BooleanField()
    evidence = models.TextField(help_text="The command, the log or the report behind the figure.")

    class Meta:
        verbose_name = "QA run"
        ordering = ["-run_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(comparison="lte", passed=True, measured_value__lte=F("threshold"))
                | Q(comparison="lte", passed=False, measured_value__gt=F("threshold"))
                | Q(comparison="gte", passed=True, measured_value__gte=F("threshold"))
                | Q(comparison="gte", passed=False, measured_value__lt=F("threshold")),
                name="qarun_passed_matches_threshold",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} QA of {self.deliverable}"


class KPI(models.Model):
    class Category(models.TextChoices):
        TECHNICAL = "technical", "Technical"
        BUSINESS = "business", "Business"
        PROJECT = "project", "Project"
        TEAM = "team", "Team"

    class Direction(models.TextChoices):
        HIGHER = "higher", "Higher is better"
        LOWER = "lower", "Lower is better"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="kpis")
    name = models.CharField(max_length=200)
    metric_key = models.SlugField(
        max_length=80,
        blank=True,
        help_text="Set when the system measures it (e.g. forecast-median-cvrmse-pct).",
    )
    category = models.CharField(max_length=10, choices=Category.choices)
    unit = models.CharField(max_length=20)
    target = models.FloatField()
    direction = models.CharField(max_length=6, choices=Direction.choices)

    class Meta:
        verbose_name = "KPI"
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="kpi_name_unique"),
            models.UniqueConstraint(
                fields=["program", "metric_key"],
                condition=~Q(metric_key=""),
                name="kpi_metric_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_met(self, value: float) -> bool:
        return (
            value >= self.target
            if self.direction == self.Direction.HIGHER
            else value <= self.target
        )


class KPIMeasurement(models.Model):
    class Source(models.TextChoices):
        SYSTEM = "system", "Measured by the system"
        MANUAL = "manual", "Entered by hand"

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="measurements")
    value = models.FloatField()
    measured_at = models.DateTimeField()
    source = models.CharField(max_length=6, choices=Source.choices)
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "KPI measurement"
        ordering = ["kpi", "-measured_at"]
        indexes = [models.Index(fields=["kpi", "-measured_at"])]

    def __str__(self) -> str:
        return f"{self.kpi}: {self.value} {self.kpi.unit}"


class ChangeRecord(models.Model):
    """Audit history of the delivery records people edit: who changed which fields, and when."""

    object_type = models.CharField(max_length=40)
    object_id = models.PositiveBigIntegerField()
    object_label = models.CharField(max_length=300)
    changes = models.JSONField(help_text="{field: [before, after]}")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.object_type} #{self.object_id} at {self.changed_at:%Y-%m-%d %H:%M}"
