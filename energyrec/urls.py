from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from jobs.views import health

admin.site.site_header = "energyrec back office"
admin.site.site_title = "energyrec"
admin.site.index_title = "Demand-response program"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home"), name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("portal/", include("stakeholders.portal.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
    path("api/jobs/", include("jobs.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
]
