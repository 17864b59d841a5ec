"""Every portal route, gathered from the audience modules (namespace `portal`, mounted at
/portal/ by energyrec/urls.py together with the program team's executive pages)."""

from .views import emergency, events, facility, home, operator, owners, reports

app_name = "portal"

urlpatterns = [
    *home.urlpatterns,
    *reports.urlpatterns,
    *operator.urlpatterns,
    *events.urlpatterns,
    *facility.urlpatterns,
    *owners.urlpatterns,
    *emergency.urlpatterns,
]
