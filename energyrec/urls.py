from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from jobs.views import health
from projects import portal as projects_portal
from stakeholders.portal import urls as portal_urls

admin.site.site_header = "energyrec back office"
admin.site.site_title = "energyrec"
admin.site.index_title = "Demand-response program"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home"), name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("portal/", include(([*portal_urls.urlpatterns, *projects_portal.urlpatterns], "portal"))),
    path("admin/", admin.site.urls),
    path("healthz", health, name="health"),
    path("api/jobs/", include("jobs.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
]
