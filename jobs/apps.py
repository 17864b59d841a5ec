from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Every process that creates jobs (web, commands, beat) must know the job kinds, not
        # only the worker, which imports them on its own.
        autodiscover_modules("tasks")
