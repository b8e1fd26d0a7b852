"""Taem settings, read from environment variables with safe defaults.

With nothing set, the embedded defaults are: SQLite under ``var/``, Celery tasks run
eagerly in-process, DEBUG off. ``DATABASE_URL`` selects PostgreSQL (the test suite
requires it), ``CELERY_BROKER_URL`` selects a real broker.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TAEM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """DJANGO_SECRET_KEY from the environment, else one generated once per installation
    and kept in var/ (git-ignored), so a fresh checkout never shares a key."""
    from_env = os.environ.get("DJANGO_SECRET_KEY")
    if from_env:
        return from_env
    if env_bool("TAEM_PRODUCTION"):
        # Secrets in the database are encrypted with a key derived from it: it must be stable.
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (and keep it) in production.")
    key_file = VAR_DIR / "secret_key"
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another process created it first: use theirs
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Production mode: HTTPS on (redirect, HSTS, Secure cookies) and JSON logs unless told otherwise;
# `manage.py check --deploy` is clean with the variables docs/operations.md marks as required.
PRODUCTION = env_bool("TAEM_PRODUCTION")
# Key for secrets stored encrypted in the database (LINE channel secrets, tokens).
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.line",
    "members",
    "loyalty",
    "loyalty.claims",
    "loyalty.receipts",
    "loyalty.orders",
    "loyalty.activity",
    "campaigns",
    "campaigns.missions",
    "campaigns.draws",
    "campaigns.leaderboards",
    "campaigns.coupons",
    "campaigns.segments",
    "campaigns.broadcasts",
    "campaigns.analytics",
    "consent",
    "messaging",
    "liff_frontend",
]

MIDDLEWARE = [
    "config.health.HealthCheckMiddleware",  # /healthz for probes: any Host, plain HTTP, not logged
    "config.request_id.RequestIdMiddleware",  # X-Request-ID in, out and on every log line
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        # Persistent connections: opening one per request costs ~7 ms (see BENCHMARKS.md).
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Django's backend, with a health check that needs no round trip while the socket is quiet.
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    # A database host that drops packets fails a request (and /healthz) in 5 s instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # The hot path's statements (config.rows.cursor: server-side binding) are prepared once per
    # connection after this many runs; "off" behind a pooler that cannot keep prepared statements
    # (PgBouncer < 1.21 in transaction mode). The ORM's cursors bind client-side and never prepare.
    _prepare = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None if _prepare in {"off", "none", ""} else int(_prepare)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Thai first, English second; money in THB, display and period boundaries in Bangkok time.
LANGUAGE_CODE = "th"
LANGUAGES = [("th", _("Thai")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Bangkok"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("DJANGO_MANIFEST_STATIC", False)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "members.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["members.api.permissions.IsBrandClient"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Taem loyalty API",
    "DESCRIPTION": (
        "Versioned REST API for POS, e-commerce and other integrations. Authenticate with "
        "`Authorization: Api-Key <key>`. Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from the bundled sidecar: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: a real broker when CELERY_BROKER_URL is set, otherwise tasks run eagerly.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"  # kombu's Redis transport, one client per channel
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless this is set:
# a new PostgreSQL connection (a server process forked, a SCRAM handshake) per task cost the worker more
# CPU than most tasks themselves (bench/pos_load.py). Workers keep connections as web processes do;
# config/celery.py applies Django's own rule (CONN_MAX_AGE, health checks) at each task's start and end.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Nightly loyalty jobs (Bangkok time), set-based, idempotent per day (loyalty.services.expiry / .tiers).
    "expire-points": {"task": "loyalty.expiry_tasks.expire_points", "schedule": crontab(hour=0, minute=5)},
    "review-tiers": {"task": "loyalty.tasks.review_tiers", "schedule": crontab(hour=0, minute=30)},
    # 10:00 Bangkok: remind members whose points expire soon (per currency; one reminder per expiry day).
    "remind-expiring-points": {"task": "loyalty.expiry_tasks.remind_expiring_points",
                               "schedule": crontab(hour=10, minute=0)},
    "award-birthday-points": {"task": "loyalty.activity.tasks.award_birthdays", "schedule": crontab(hour=8, minute=0)},
    "award-tier-birthday-bonuses": {"task": "loyalty.tasks.award_tier_birthdays", "schedule": crontab(hour=8, minute=5)},
    # Campaigns: draws at their draw time, races closed at period end (both idempotent, every few minutes).
    "run-due-lucky-draws": {"task": "campaigns.draws.tasks.run_due_draws", "schedule": crontab(minute="*/5")},
    "close-due-races": {"task": "campaigns.leaderboards.tasks.close_due_races", "schedule": crontab(minute="*/5")},
    "issue-birthday-coupons": {"task": "campaigns.coupons.tasks.issue_birthday_coupons",
                               "schedule": crontab(hour=8, minute=10)},
    # Scheduled broadcasts start when due (also queued with eta; this is the safety net).
    "start-due-broadcasts": {"task": "campaigns.broadcasts.tasks.start_due_broadcasts", "schedule": crontab(minute="*")},
    # 01:00 Bangkok: member statistics and RFM scores for segments, set-based.
    "rebuild-member-stats": {"task": "campaigns.segments.tasks.rebuild_member_stats",
                             "schedule": crontab(hour=1, minute=0)},
    # 02:30 Bangkok: rebuild the dashboard's daily facts of the last days (late uploads, refunds).
    "rebuild-daily-facts": {"task": "campaigns.analytics.tasks.facts_rebuild_nightly",
                            "schedule": crontab(hour=2, minute=30)},
    # LINE events whose processing task was lost (broker down at the webhook, worker crash)
    "sweep-line-events": {"task": "messaging.tasks.sweep_line_events", "schedule": crontab(minute="*")},
    # domain events of purchases, refunds and postings parked while the broker was down
    # The domain events' outbox (purchases and refunds write theirs in their own transaction).
    "resend-parked-events": {"task": "loyalty.tasks.events_resend", "schedule": 1.0,
                             "options": {"expire_seconds": 30}},
    # hourly safety net for a registration that raced an order
    "sweep-pending-orders": {"task": "loyalty.orders.tasks.sweep_pending_orders", "schedule": crontab(minute=20)},
}

# Sessions, cookies and HTTPS. DJANGO_HTTPS (default: on in production) = the site is served over
# HTTPS: plain-HTTP requests are redirected (except /healthz, probed over HTTP inside the network),
# HSTS is sent and the session and CSRF cookies are Secure-only.
HTTPS = env_bool("DJANGO_HTTPS", PRODUCTION)
SESSION_COOKIE_HTTPONLY = True
# "None" (with DJANGO_HTTPS=1) lets the embedded member card keep its session inside a brand's site.
SESSION_COOKIE_SAMESITE = os.environ.get("DJANGO_SESSION_COOKIE_SAMESITE", "Lax")
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", HTTPS and not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients): trust it.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY") else None
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# One year by default; start lower (e.g. 3600) on a new domain, raise once HTTPS is proven.
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (config/csp.py): the strict policy (self-hosted scripts, LINE's LIFF
# origins only) on the member, cashier and LINE Login pages; a baseline (no plugins, no framing)
# everywhere else.
CSP_STRICT_PATHS = ("/liff/", "/cashier/", "/accounts/")

# django-allauth (LINE Login for members outside the LINE app)
SITE_ID = 1
ACCOUNT_LOGIN_METHODS = {"username"}
SOCIALACCOUNT_PROVIDERS = {
    "line": {
        "SCOPE": ["profile", "openid"],
        "OAUTH_PKCE_ENABLED": True,
        "APP": {
            "client_id": os.environ.get("LINE_LOGIN_CHANNEL_ID", ""),
            "secret": os.environ.get("LINE_LOGIN_CHANNEL_SECRET", ""),
        },
    }
}

# LINE: every host is a setting. LINE_API_BASE unset = the SDK's own hosts (production);
# `make run` and the tests point all three at the project's fake LINE server.
LINE_API_BASE = os.environ.get("LINE_API_BASE") or None
LINE_LOGIN_API_BASE = os.environ.get("LINE_LOGIN_API_BASE", "https://api.line.me")
LINE_ACCESS_BASE = os.environ.get("LINE_ACCESS_BASE", "https://access.line.me")
# The brand that members signing in with LINE Login on the web (django-allauth) belong to.
LINE_LOGIN_BRAND = os.environ.get("LINE_LOGIN_BRAND", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Development/tests only: LIFF pages use @line/liff-mock (no LINE app needed). Refused without DEBUG
# unless LINE_API_BASE points at a fake (see messaging.checks).
LIFF_MOCK = env_bool("LIFF_MOCK", False)
SOCIALACCOUNT_ADAPTER = "members.allauth_adapter.LineMemberAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
LOGIN_REDIRECT_URL = "/"

SMS_BACKEND = os.environ.get("SMS_BACKEND", "members.sms.ConsoleBackend")

# Cashier page
CASHIER_VOID_WINDOW_MINUTES = int(os.environ.get("CASHIER_VOID_WINDOW_MINUTES", "30"))
CASHIER_LOOKUPS_PER_10_MINUTES = int(os.environ.get("CASHIER_LOOKUPS_PER_10_MINUTES", "30"))
CLAIM_WRONG_CODES_PER_HOUR = int(os.environ.get("CLAIM_WRONG_CODES_PER_HOUR", "10"))
# Seconds a process keeps a brand's earn rules, policy, promotions and tier-program state for
# purchases (loyalty.services.earn_config); a change saved in the same process applies at once.
EARN_CONFIG_TTL = 5
# Seconds a process keeps an API key it found, with its brand and branch (members.api.authentication):
# a revocation or a deactivated brand reaches the other processes within this time.
API_KEY_CACHE_TTL = 1

# Shared cache (rate limits): Redis when CACHE_URL is set, else per-process memory.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["CACHE_URL"]}
          if os.environ.get("CACHE_URL") else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Messages (e.g. a new API key shown once) live in the session, not in a readable cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# Logs go to stderr, one line per record: JSON (config/logging_json.py) with LOG_FORMAT=json (the
# default in production), else text; both carry the request id (config/request_id.py) and redact
# credentials. Celery workers and beat use the same configuration (no root-logger hijack).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if PRODUCTION else "text").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.request_id.RequestIdFilter"}},
    "formatters": {"json": {"()": "config.logging_json.JsonFormatter"},
                   "text": {"()": "config.logging_json.TextFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}, "taem.security": {"level": "WARNING"},
                # Django's own console handler would print the same records a second time.
                "django": {"handlers": [], "propagate": True},
                "django.server": {"handlers": ["console"], "propagate": False}},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
