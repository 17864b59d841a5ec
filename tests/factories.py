"""factory_boy factories for the domain, one per model people create in tests."""

from datetime import date, timedelta

import factory
from django.contrib.auth import get_user_model

from forecasting.models import MeterDay
from projects.models import KPI, Milestone, Program, Risk, Sprint, Task, UserStory
from stakeholders.models import (
    Building,
    BuildingType,
    DataOrigin,
    Feeder,
    Membership,
    Organization,
    Role,
    Utility,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass-123-word")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    kind = Organization.Kind.BUILDING_OWNER


class UtilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Utility

    organization = factory.SubFactory(OrganizationFactory, kind=Organization.Kind.UTILITY)
    name = factory.Sequence(lambda n: f"Utility {n}")
    capacity_kw = 1000.0
    timezone = "America/Los_Angeles"
    country = "US"


class FeederFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feeder

    utility = factory.SubFactory(UtilityFactory)
    name = factory.Sequence(lambda n: f"F{n}")
    capacity_kw = 500.0


class BuildingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Building

    owner = factory.SubFactory(OrganizationFactory)
    utility = factory.SubFactory(UtilityFactory)
    feeder = factory.SubFactory(FeederFactory, utility=factory.SelfAttribute("..utility"))
    code = factory.Sequence(lambda n: f"B{n:04d}")
    name = factory.Sequence(lambda n: f"Building {n}")
    building_type = BuildingType.OFFICE
    floor_area_m2 = 1200.0
    tariff_usd_per_kwh = 0.25
    carbon_kg_per_kwh = 0.2
    curtailable_kw = 40.0
    origin = DataOrigin.UPLOADED


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.FACILITY_MANAGER


class MeterDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MeterDay

    building = factory.SubFactory(BuildingFactory)
    day = factory.Sequence(lambda n: date(2026, 1, 1) + timedelta(days=n))
    kwh = factory.LazyFunction(lambda: bytes(96))
    total_kwh = 0.0
    peak_kw = 0.0
    origin = DataOrigin.UPLOADED


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    organization = factory.SubFactory(OrganizationFactory, kind=Organization.Kind.PROGRAM_TEAM)
    name = factory.Sequence(lambda n: f"Program {n}")
    starts_on = date(2026, 11, 1)
    ends_on = date(2027, 3, 1)


class SprintFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sprint

    program = factory.SubFactory(ProgramFactory)
    number = factory.Sequence(lambda n: n + 1)
    goal = "Ship it"
    starts_on = date(2026, 11, 1)
    ends_on = date(2026, 11, 14)
    capacity_points = 30


class UserStoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserStory

    program = factory.SubFactory(ProgramFactory)
    sprint = None
    title = factory.Sequence(lambda n: f"Story {n}")
    points = 5
    team = "engineering"


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Milestone {n}")
    target_date = date(2026, 12, 15)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    milestone = factory.SubFactory(MilestoneFactory)
    title = factory.Sequence(lambda n: f"Task {n}")


class RiskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Risk

    program = factory.SubFactory(ProgramFactory)
    title = factory.Sequence(lambda n: f"Risk {n}")
    nature = Risk.Nature.TECHNICAL
    category = Risk.Category.PERFORMANCE
    probability = 3
    impact = 4
    mitigation = "Measure it."
    contingency = "Fall back."
    owner = "Lead"
    next_review = date(2026, 12, 1)


class KPIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KPI

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"KPI {n}")
    category = KPI.Category.TECHNICAL
    unit = "%"
    target = 10.0
    direction = KPI.Direction.LOWER
