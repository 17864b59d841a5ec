from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .selectors import health_checks


@never_cache
@require_GET
def health(request):
    """Liveness for load balancers: the database answers and the broker accepts a connection."""
    checks = health_checks()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503
    )
