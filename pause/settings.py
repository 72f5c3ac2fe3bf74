"""Settings for Pause, the same file everywhere: every difference is an environment variable.

Unset variables give the embedded default (SQLite, in-memory channel layer, console email);
see the configuration table in README.md. Production sets DJANGO_SECRET_KEY, DATABASE_URL,
REDIS_URL and DJANGO_ALLOWED_HOSTS.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string in production, "
            "or set DJANGO_DEBUG=true for a local development run."
        )
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production-5f0c2a"

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
DATA_DIR = Path(env.str("PAUSE_DATA_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "allauth",
    "allauth.account",
    "rooms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "rooms.middleware.UserLanguageMiddleware",
]

ROOT_URLCONF = "pause.urls"
WSGI_APPLICATION = "pause.wsgi.application"
ASGI_APPLICATION = "pause.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: PostgreSQL when DATABASE_URL is set, else SQLite in WAL mode. IMMEDIATE
# transactions take the write lock at BEGIN, so two writers queue instead of failing
# with "database is locked" half-way through a service.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "pause.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                ),
            },
            # A file, not :memory:, so a daphne process started by the browser tests
            # sees the same test database.
            # Per process, so test runs side by side do not share one file.
            "TEST": {"NAME": str(DATA_DIR / f"test-pause-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: Redis (pub/sub) across processes when REDIS_URL is set, else in memory,
# which only works inside one process.
REDIS_URL = env.str("REDIS_URL", default="")
# Redis pub/sub channels are shared by every database number of a server: deployments (or
# test runs) sharing one Redis need different prefixes.
PAUSE_REDIS_PREFIX = env.str("PAUSE_REDIS_PREFIX", default="pause")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{PAUSE_REDIS_PREFIX}.asgi"},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": PAUSE_REDIS_PREFIX,
        }
    }
else:
    # In-process, one process only: Channels' in-memory layer without its per-send
    # sweeps, tasks and deep copies (rooms/layers.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "rooms.layers.LocalChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "pause_cache",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env.bool("PAUSE_TEST_FAST_PASSWORD_HASHER", default=False):
    # Test runs only (pytest.ini sets it): MD5 makes creating and logging in users cheap.
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Accounts (django-allauth): email login, mandatory verification.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SIGNUP_FORM_CLASS = "rooms.forms.SignupExtraForm"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Pause] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
LOGIN_REDIRECT_URL = "rooms:home"
LOGIN_URL = "account_login"
AUTH_USER_MODEL = "rooms.User"

EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Absolute address of the site, for links in emails sent outside a request.
PAUSE_SITE_URL = env.str("PAUSE_SITE_URL", default="http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Pause <pause@localhost>")

LANGUAGE_CODE = env.str("DEFAULT_LANGUAGE", default="fr")
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The board's production build (frontend/, `npm run build`), read through its Vite manifest.
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
if FRONTEND_DIST.exists():
    STATICFILES_DIRS.append(("board", FRONTEND_DIST))
PAUSE_VITE_DEV = env.str("PAUSE_VITE_DEV", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG and env.bool("PAUSE_MANIFEST_STATIC", default=True)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True

# Security. Production (DEBUG off) gets HTTPS-only cookies and HSTS; a TLS-terminating
# proxy must set X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

if PAUSE_VITE_DEV:
    # `make dev`: scripts and hot reload come from Vite's dev server, which injects styles.
    _vite_ws = PAUSE_VITE_DEV.replace("http", "ws", 1)
    SECURE_CSP["script-src"] = [*SECURE_CSP["script-src"], PAUSE_VITE_DEV]
    SECURE_CSP["connect-src"] = [*SECURE_CSP["connect-src"], PAUSE_VITE_DEV, _vite_ws]
    SECURE_CSP["style-src"] = [*SECURE_CSP["style-src"], PAUSE_VITE_DEV, CSP.UNSAFE_INLINE]

# Live protocol limits (see docs/protocol.md).
PAUSE_WS_MAX_FRAME_BYTES = 64 * 1024
PAUSE_RATE_LIMIT_PER_SECOND = env.float("PAUSE_RATE_LIMIT_PER_SECOND", default=10.0)
PAUSE_RATE_LIMIT_BURST = env.int("PAUSE_RATE_LIMIT_BURST", default=20)
PAUSE_EVENT_RETENTION = env.int("PAUSE_EVENT_RETENTION", default=10000)
PAUSE_PRESENCE_TTL = env.int("PAUSE_PRESENCE_TTL", default=30)
# A socket may have this many frames waiting to be written before it is closed as too slow
# (closing{slow_consumer}; the client resumes by seq), and its writer waits while the
# server's own buffer for it holds more than this many bytes.
PAUSE_WS_SEND_QUEUE = env.int("PAUSE_WS_SEND_QUEUE", default=1000)
PAUSE_WS_WRITE_HIGH_WATER = env.int("PAUSE_WS_WRITE_HIGH_WATER", default=256 * 1024)
PAUSE_WS_SEND_QUEUE_BYTES = env.int("PAUSE_WS_SEND_QUEUE_BYTES", default=8 * 2**20)
# Threads (one database connection each) for the sockets' database work on PostgreSQL
# (rooms/hub.py): connects, snapshots, resumes and the grouped commands (rooms/writer.py).
PAUSE_DB_THREADS = env.int("PAUSE_DB_THREADS", default=4)
# The connect path's statements as prepared statements on PostgreSQL (rooms/sql.py): each
# planned once per connection. Off for a pooler that cannot keep them (PgBouncer in
# transaction mode before 1.21, or without max_prepared_statements).
PAUSE_PG_PREPARED = env.bool("PAUSE_PG_PREPARED", default=True)
# Batches of commands written at once per process on PostgreSQL (rooms/writer.py).
PAUSE_WRITE_BATCHES = env.int("PAUSE_WRITE_BATCHES", default=2)
# Batches of sockets' connects opened at once per process on PostgreSQL (rooms/opener.py).
PAUSE_CONNECT_BATCHES = env.int("PAUSE_CONNECT_BATCHES", default=1)
# The garbage collector's thresholds in the web processes (pause/asgi.py, tune_gc): three
# integers, or empty for Python's own (700,10,10). Collecting less often keeps the full
# collections, a pause of the whole process, rare.
PAUSE_GC_THRESHOLD = tuple(env.list("PAUSE_GC_THRESHOLD", cast=int, default=[10000, 50, 100]))
if PAUSE_GC_THRESHOLD and len(PAUSE_GC_THRESHOLD) != 3:
    raise ImproperlyConfigured("PAUSE_GC_THRESHOLD is three integers (e.g. 10000,50,100).")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"daphne": {"level": "WARNING"}},
}
