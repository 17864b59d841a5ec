from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Program delivery"

    def ready(self):
        # The executive's portal dashboard registers itself on import; the reports pages look
        # it up by slug even before the URLs (which import it too) are loaded.
        from . import portal  # noqa: F401
