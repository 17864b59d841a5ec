"""Request timings: how long the server took to answer each page and API call, recorded so
that the technical report can give latency, throughput and error rate from what happened rather
than from a benchmark."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.utils import timezone

from .models import RequestTiming

logger = logging.getLogger(__name__)

# Paths not worth a row: static files and the load balancer's probe, asked every few seconds.
SKIPPED_PREFIXES = ("/healthz", "/favicon.ico")
NO_ROUTE = "(no route)"


def _skipped(path: str) -> bool:
    static = settings.STATIC_URL or "/static/"
    if not static.startswith("/"):
        static = "/" + static
    return path.startswith(static) or path.startswith(SKIPPED_PREFIXES)


class RequestTimingMiddleware:
    """Times the rest of the stack and writes one small row per request after answering: the
    URL pattern that matched (never the ids or query string), method, status and milliseconds.
    A failed write is logged and never turns into a failed request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _skipped(request.path):
            return self.get_response(request)
        at = timezone.now()
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000.0
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else NO_ROUTE
        try:
            RequestTiming.objects.create(
                route=(route or NO_ROUTE)[:200], method=request.method[:8],
                status=response.status_code, duration_ms=duration_ms, at=at,
            )  # fmt: skip
        except Exception as exc:  # a timing row is never worth a failed request
            logger.debug("request timing not recorded: %s", exc)
        return response
