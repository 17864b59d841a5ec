import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energyrec.settings.production")

from django.core.asgi import get_asgi_application  # noqa: E402

from energyrec.settings.env import exit_on_bad_settings  # noqa: E402

exit_on_bad_settings()
application = get_asgi_application()
