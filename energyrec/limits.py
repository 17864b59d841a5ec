"""A request body over the upload limit is refused before it is read, in words (413)."""

from django.conf import settings
from django.http import HttpResponse
from django.utils.html import escape

# Room for the form's other fields and the multipart framing beside the file itself.
MARGIN_BYTES = 2**20


class RequestSizeLimitMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.UPLOAD_MAX_MB * 2**20 + MARGIN_BYTES:
            message = (
                f"The upload is {length / 2**20:,.0f} MB, over the {settings.UPLOAD_MAX_MB} MB a "
                "page accepts. Import larger files with the manage.py import commands "
                "(import_buildings, import_readings, import_weather)."
            )
            return HttpResponse(
                f"<!doctype html><title>Too large</title><h1>Too large</h1><p>{escape(message)}</p>",
                status=413,
            )
        return self.get_response(request)
