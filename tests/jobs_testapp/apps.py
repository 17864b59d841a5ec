from django.apps import AppConfig


class JobsTestAppConfig(AppConfig):
    """Job kinds that exist to test the job machinery; installed by the test settings only."""

    name = "tests.jobs_testapp"
    label = "jobs_testapp"
