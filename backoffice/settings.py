"""Settings, read from the environment through django-environ (documented in `.env.example`).

Without any variable set the app runs as a local sandbox with a development key. With
`PAYMENTS_ENVIRONMENT=production` it refuses to start without real keys.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

PAYMENTS_ENVIRONMENT = env.str("PAYMENTS_ENVIRONMENT", default="sandbox")
if PAYMENTS_ENVIRONMENT not in {"sandbox", "production"}:
    raise ImproperlyConfigured("PAYMENTS_ENVIRONMENT must be 'sandbox' or 'production'.")
IS_PRODUCTION = PAYMENTS_ENVIRONMENT == "production"


def _development_fernet_key(label: str) -> str:
    # A fixed, clearly non-secret key so a sandbox works with no configuration at all.
    return base64.urlsafe_b64encode(hashlib.sha256(label.encode()).digest()).decode()


if IS_PRODUCTION:
    missing = [name for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS") if not env.str(name, "")]
    if missing:
        raise ImproperlyConfigured(
            f"A production deployment needs {' and '.join(missing)} set in the environment."
        )

SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-development-only-" + "x" * 32)
FIELD_ENCRYPTION_KEYS: list[str] = env.list(
    "FIELD_ENCRYPTION_KEYS", default=[_development_fernet_key("development-only-encryption-key")]
)

DEBUG = env.bool("DEBUG", default=not IS_PRODUCTION)
ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",
    "csp",
    "axes",
    "backoffice",
    "integrations",
    "rules",
    "payments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise, so static files carry the policy too: every response has it.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the login form's message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

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
                "backoffice.context_processors.deployment",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep a worker's connection between requests: opening one costs more than a checkout page's
# queries. Checked before reuse, so a restarted database costs one failed check, not an error.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # PostgreSQL plans a query once per connection instead of once per execution: the checkout
    # page's order query joins nine tables, and planning it cost more than running it. Turn off
    # behind a transaction-pooling PgBouncer, which cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=2
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a lock instead of failing at once when the dev server and a command overlap.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The throttling backend comes first: it refuses a locked-out username+address before any
# password is checked (see backoffice/login_throttle.py and SECURITY.md).
AUTHENTICATION_BACKENDS = [
    "backoffice.login_throttle.ThrottlingBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "backoffice.login_throttle.lockout_response"
# Sign-in failures are the audit we need; a row per successful sign-in is not.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "backoffice.login_throttle.client_address"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not IS_PRODUCTION

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_COOKIE_SAMESITE = "Lax"
# A back-office session ends with the browser (and after SESSION_COOKIE_AGE in any case).
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto and appends X-Forwarded-For.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # The load balancer's health check may speak plain HTTP to the app itself.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if BEHIND_TLS_PROXY:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp) on every response: no inline script or style, and beside
# our own origin only the hosts the providers' browser steps need. SECURITY.md explains each.
CSP_SCRIPT_HOSTS = [
    "https://js.stripe.com",
    "https://js.authorize.net",
    "https://jstest.authorize.net",
]
# Stripe.js runs the card element and the 3-D Secure challenge in frames of its own.
CSP_FRAME_HOSTS = ["https://js.stripe.com", "https://hooks.stripe.com"]
# The APIs the providers' scripts call from the buyer's browser.
CSP_CONNECT_HOSTS = [
    "https://api.stripe.com",
    "https://api2.authorize.net",
    "https://apitest.authorize.net",
]
# Payflow's transparent redirect posts the card form there; PayPal's approval page is reached
# by a redirect that follows our checkout form's POST, and browsers hold such redirects to
# form-action too.
CSP_FORM_HOSTS = [
    "https://payflowlink.paypal.com",
    "https://pilot-payflowlink.paypal.com",
    "https://www.paypal.com",
    "https://www.sandbox.paypal.com",
]
# A sandbox deployment may point integrations at local simulators (the sandbox-only endpoint
# override; the demo uses 127.0.0.1:8470-8473, tests pick free ports), whose stand-in scripts,
# APIs and pages then play the providers' part. Any loopback port is allowed rather than the
# origins of today's integrations: those change with every edit, and a production deployment
# never gets these sources.
CSP_SANDBOX_HOSTS = [] if IS_PRODUCTION else ["http://127.0.0.1:*", "http://localhost:*"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *CSP_SCRIPT_HOSTS, *CSP_SANDBOX_HOSTS],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *CSP_CONNECT_HOSTS, *CSP_SANDBOX_HOSTS],
        "frame-src": [*CSP_FRAME_HOSTS, *CSP_SANDBOX_HOSTS],
        "form-action": ["'self'", *CSP_FORM_HOSTS, *CSP_SANDBOX_HOSTS],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# Background work (applying verified webhooks, reconciliation, the authorization sweep, the
# provider clean-up after an integration is deleted) runs on Celery when a broker is set, so
# several app servers and workers share it; without one it runs in-process as it always has (see
# backoffice/celery.py and payments/tasks.py).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Acknowledged once done, so a worker lost mid-task leaves it to another: every task is idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "reconcile-payments": {
        "task": "payments.tasks.reconcile_payments_task",
        "schedule": timedelta(minutes=5),
    },
    "sweep-authorizations": {
        "task": "payments.tasks.sweep_authorizations_task",
        "schedule": timedelta(hours=1),
    },
}

# Outgoing calls to providers never wait longer than this (seconds).
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=15.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Both SDKs log whole requests at DEBUG: paypalrestsdk the Basic client_id:secret header,
        # authorizenet the XML with the transaction key. Their warnings and errors carry none.
        "paypalrestsdk": {"level": "WARNING"},
        "authorizenet.sdk": {"level": "WARNING"},
        # stripe logs every request at INFO; nothing secret, but noise beside our own log.
        "stripe": {"level": "WARNING"},
        # django-axes logs every sign-in at INFO; failures and lockouts come at WARNING.
        "axes": {"level": "WARNING"},
    },
}
