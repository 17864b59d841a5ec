"""Every portal route, gathered from the audience modules (namespace `portal`)."""

from .views import home

app_name = "portal"

urlpatterns = [
    *home.urlpatterns,
]
