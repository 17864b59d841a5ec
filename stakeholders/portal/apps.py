from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The communications layer: portals, snapshots and reports. It sits on the directory and
    reads forecasting and optimization through their selectors; nothing below imports it."""

    name = "stakeholders.portal"
    label = "portal"
    verbose_name = "Portals and reports"

    def ready(self) -> None:
        # Each audience module registers its dashboard when imported: do it at start-up, so
        # that a report rendered outside a request (a command, a job) finds every one.
        from . import urls  # noqa: F401
