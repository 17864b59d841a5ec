from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The communications layer: portals, snapshots and reports. It sits on the directory and
    reads forecasting and optimization through their selectors; nothing below imports it."""

    name = "stakeholders.portal"
    label = "portal"
    verbose_name = "Portals and reports"
