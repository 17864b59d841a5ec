"""Settings shared by every profile. Everything that differs between machines comes from the
environment (see env.py); the profiles local, test and production only change defaults."""

from pathlib import Path

from celery.schedules import crontab

from .env import env_bool, env_broker_url, env_database, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("ENERGYREC_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "axes",
    "jobs",
    "stakeholders",
    "forecasting",
    "optimization",
    "stakeholders.portal",
    "projects",
]

# The largest CSV a page accepts; the import commands take any size.
UPLOAD_MAX_MB = 50

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "energyrec.limits.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "stakeholders.portal.access.ActiveMembershipMiddleware",
    "stakeholders.portal.timing.RequestTimingMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "energyrec.urls"
WSGI_APPLICATION = "energyrec.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "stakeholders.portal.access.portal_context",
            ],
        },
    },
]

# Database: DATABASE_URL, or an SQLite file under var/ so that `make run` needs no server.
DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'energyrec.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web server and the worker write to one file: WAL lets readers through while one
    # process writes, and IMMEDIATE transactions queue writers instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Everyone signs in at /accounts/login/ and lands on their role's dashboard.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username + address before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: a failing username *from one address* is locked out, never the username
# everywhere (nobody can lock a colleague out) nor the address for everyone behind it.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1) / 60  # hours
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Password reset mails: the console locally, SMTP (EMAIL_URL-style settings) in production.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "energyrec <noreply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "stakeholders.api.pagination.ApiPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "energyrec API",
    "DESCRIPTION": "Demand-response forecasts, grid status, events and recommendations.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery. The broker is CELERY_BROKER_URL or REDIS_URL; without either, a folder on disk that
# needs no server (the embedded default for `make run`). Tasks and their arguments are JSON only.
CELERY_BROKER_URL = env_broker_url(("CELERY_BROKER_URL", "REDIS_URL"), "filesystem://")
JOB_TIME_LIMIT_S = env_int("JOB_TIME_LIMIT_S", 3600, minimum=10)
# A job is delivered at most this many times (worker lost, time limit) before it is marked failed.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 8, minimum=1)
# A running job's delivery says it is alive every JOB_HEARTBEAT_S; one silent for
# JOB_STALE_AFTER_S was lost with its worker, and the reconciler sends the job again.
JOB_HEARTBEAT_S = env_int("JOB_HEARTBEAT_S", 10, minimum=1)
JOB_STALE_AFTER_S = env_int("JOB_STALE_AFTER_S", 60, minimum=2)
# A queued job not claimed this long after it was sent is sent again (its message was lost
# with a broker restart); a job never sent (the broker was down) is sent at the next round.
JOB_UNCLAIMED_AFTER_S = env_int("JOB_UNCLAIMED_AFTER_S", 120, minimum=1)
# The reconciler's round (celery beat), and once at each worker's start.
JOB_RECONCILE_EVERY_S = env_int("JOB_RECONCILE_EVERY_S", 60, minimum=1)
# A job that meets the database or the broker out of reach is tried again after a backoff
# that doubles from the floor to the ceiling, JOB_RETRY_MAX times: some 16 minutes in all.
JOB_RETRY_FLOOR_S = env_int("JOB_RETRY_FLOOR_S", 5, minimum=1)
JOB_RETRY_CEILING_S = env_int("JOB_RETRY_CEILING_S", 120, minimum=1)
JOB_RETRY_MAX = env_int("JOB_RETRY_MAX", 12, minimum=0)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # a job's outcome is its JobRun row
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TIME_LIMIT = JOB_TIME_LIMIT_S
CELERY_TASK_SOFT_TIME_LIMIT = JOB_TIME_LIMIT_S - 5
CELERY_TASK_DEFAULT_QUEUE = "default"
# Torch work has its own queue so that CPU-heavy training never starves short jobs.
CELERY_TASK_ROUTES = {
    "forecasting.train*": {"queue": "ml"},
    "forecasting.forecast*": {"queue": "ml"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's exchange bindings; without this they land in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # An unacknowledged message comes back only after this long: keep it above the time limit,
    # or a long job would be handed to a second worker while the first still runs it.
    # Lost workers' jobs are found sooner by their heartbeats (the reconciler). A broker out of
    # reach answers a send within seconds, not a user's whole request.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": JOB_TIME_LIMIT_S + 600,
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
    }
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint narrates each step of a PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Downloaded data packages (the CityLearn wheel), shared by every checkout of this user.
DATA_CACHE_DIR = Path(env_str("ENERGYREC_DATA_CACHE", str(Path.home() / ".cache" / "energyrec")))

# The hour (in each utility's own time) from which the day's planned events are revisited with
# the morning's readings.
EVENT_REVISIT_HOUR = env_int("EVENT_REVISIT_HOUR", 10, minimum=0)

# The schedule (celery beat, or `make run`'s embedded one): each entry records a job.
CELERY_BEAT_SCHEDULE = {
    # Jobs whose message or worker was lost are sent again; runs whose parts all ended are
    # finished (jobs.services.job_reconcile). Not a job itself: it would record one a minute.
    "reconcile-jobs": {"task": "jobs.reconcile", "schedule": float(JOB_RECONCILE_EVERY_S)},
    # Day-ahead forecasts, issued before midnight for the next day (times in TIME_ZONE).
    "forecast-daily": {
        "task": "jobs.enqueue",
        "schedule": crontab(hour=env_int("FORECAST_HOUR", 22, minimum=0), minute=30),
        "args": ["forecasting.forecast_daily"],
    },
    # Each hour: the day's planned events whose utility has reached EVENT_REVISIT_HOUR in its
    # own time are revisited with the morning's readings, and a day without one is checked
    # with them once (optimization.revisit_due).
    "revisit-events-hourly": {
        "task": "jobs.enqueue",
        "schedule": crontab(minute=5),
        "args": ["optimization.revisit_due"],
    },
    "prune-request-timings-daily": {
        "task": "jobs.enqueue",
        "schedule": crontab(hour=4, minute=45),
        "args": ["portal.prune_request_timings"],
    },
    "measure-kpis-daily": {
        "task": "jobs.enqueue",
        "schedule": crontab(hour=5, minute=30),
        "args": ["projects.measure_kpis"],
    },
}
