"""Every portal route, gathered from the audience modules (namespace `portal`, mounted at
/portal/ by energyrec/urls.py together with the program team's executive pages)."""

from .views import emergency, engineering, events, facility, home, market, operator, owners, reports

app_name = "portal"

urlpatterns = [
    *home.urlpatterns,
    *reports.urlpatterns,
    *operator.urlpatterns,
    *events.urlpatterns,
    *facility.urlpatterns,
    *owners.urlpatterns,
    *emergency.urlpatterns,
    *market.urlpatterns,
    *engineering.urlpatterns,
]
