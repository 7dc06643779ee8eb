"""Project settings, read from the environment with django-environ.

With nothing configured the app runs on a SQLite file with tasks in-process, so
`make run` works on a fresh clone. With DEBUG off every secret must be given:
start-up stops with a clear message instead of falling back to a default.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

# Development-only fallbacks; refused when DEBUG is off (see _require_secrets).
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZC0="


def _require_secrets() -> None:
    missing = [name for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS") if not env.str(name, default="")]
    if missing:
        raise ImproperlyConfigured(
            f"DEBUG is off and {', '.join(missing)} is not set. "
            "Set it in the environment (or .env); see README.md, section Settings."
        )


if not DEBUG:
    _require_secrets()

SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_DEV_FIELD_KEY])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
USE_X_FORWARDED_FOR = env.bool("USE_X_FORWARDED_FOR", default=False)

INSTALLED_APPS = [
    "core.admin_site.PlatformAdminConfig",  # django.contrib.admin, branded, with the staff dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: /api/docs/ works offline
    "django_filters",
    "guardian",
    "csp",
    "core",
    "accounts",
    "audit",
    "tenancy",
    "payments",
    "trading",
]

MIDDLEWARE = [
    "core.middleware.RequestContextMiddleware",  # request id for the logs, latency per view for /metrics
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.DeviceSessionMiddleware",
    "tenancy.middleware.TenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.error_pages.StyledMethodNotAllowedMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side parameters let psycopg prepare a statement run repeatedly (prepare_threshold), so PostgreSQL
    # plans it once: planning joins over RLS-protected tables costs milliseconds, more than running them.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("server_side_binding", env.bool("DATABASE_SERVER_SIDE_BINDING", default=True))
    _threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="5").strip().lower()
    # "off" (PgBouncer in transaction mode: a prepared statement would not survive the pooled connection).
    _options.setdefault("prepare_threshold", None if _threshold in ("off", "none", "") else int(_threshold))
    # PgBouncer in transaction mode (docs/operations.md): the tenant setting is sent inside every transaction
    # (tenancy.scoping), no statement is prepared and no server-side cursor is kept across transactions.
    if env.bool("DATABASE_TRANSACTION_POOLING", default=False):
        DATABASES["default"]["TRANSACTION_POOLING"] = True
        _options["prepare_threshold"] = None
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Email is unique case-insensitively through a functional constraint (users_email_ci_unique).
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTHENTICATION_BACKENDS = [
    "tenancy.authz.backend.AuthorizationBackend",  # answers every has_perm (flags, roles, guardian); see its docstring
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

SESSION_ENGINE = "accounts.session_store"  # the database keeps a digest of each session key, not the key
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)

# HTTPS. With DEBUG off: every request redirected to HTTPS and HSTS for a year with subdomains; preload is a
# promise to browsers' lists, so it is opt-in. Behind a proxy that ends TLS, SECURE_PROXY_SSL_HEADER names the
# header the proxy sets ("HTTP_X_FORWARDED_PROTO=https"); without it every request looks plain and redirects.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics$"]  # load balancers and Prometheus on the internal network
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
_PROXY_SSL_HEADER = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _PROXY_SSL_HEADER and (_PROXY_SSL_HEADER.count("=") != 1 or not _PROXY_SSL_HEADER.startswith("HTTP_")):
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER is HEADER=value, e.g. HTTP_X_FORWARDED_PROTO=https.")
SECURE_PROXY_SSL_HEADER = tuple(_PROXY_SSL_HEADER.split("=")) if _PROXY_SSL_HEADER else None
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp) on every page, in development too so a violation shows early: scripts
# only from our own static files, never inline. Styles allow inline attributes (Django admin and Swagger UI
# set them); no script can run from them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# Email: console by default so verification links show in the terminal.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@p2p-platform.local")

# SMS: a dotted path to a backend class (console, file outbox, or your gateway).
SMS_BACKEND = env.str("SMS_BACKEND", default="accounts.sms.ConsoleSmsBackend")
SMS_OUTBOX_DIR = env.str("SMS_OUTBOX_DIR", default=str(BASE_DIR / "sms_outbox"))

# Identity policy
EMAIL_VERIFICATION_TTL = timedelta(hours=24)
PASSWORD_RESET_TTL = timedelta(hours=1)
OTP_TTL = timedelta(minutes=5)
OTP_MAX_ATTEMPTS = 5
OTP_RESEND_COOLDOWN = timedelta(seconds=env.int("OTP_RESEND_COOLDOWN_SECONDS", default=60))
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=15)
MFA_ISSUER = env.str("MFA_ISSUER", default="P2P Platform")
API_ACCESS_TOKEN_TTL = timedelta(minutes=env.int("API_ACCESS_TOKEN_MINUTES", default=15))
API_REFRESH_TOKEN_TTL = timedelta(days=env.int("API_REFRESH_TOKEN_DAYS", default=30))

# Celery: Redis as broker when configured, otherwise tasks run in-process.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With late acks a task running when the broker connection drops is redelivered anyway; cancel it
# rather than let it finish twice (Celery 6's default). Assignment is idempotent either way.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Keep a worker's database connection for this many tasks instead of reconnecting for each one.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=200)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# The broker never holds anything up for long. kombu's defaults wait without limit: no socket timeouts (a Redis
# that accepts connections but does not answer is waited for forever) and connection retries. So every
# connection attempt and every socket read or write gives up after a few seconds, in web processes and
# workers alike (socket_timeout stays above the 1 s of the workers' BRPOP; their event loop is not affected).
# Web requests do not even wait that long: they hand messages to a background publisher that drops them when
# the broker is away (core.messaging.hints); the sweepers of CELERY_BEAT_SCHEDULE resend them.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT_SECONDS", default=2.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT_SECONDS", default=5.0),
    "socket_keepalive": True,
}
# Redis Sentinel (docs/operations.md): CELERY_BROKER_URL=sentinel://s1:26379;sentinel://s2:26379;… and the
# name of the monitored primary here.
if env.str("CELERY_BROKER_SENTINEL_MASTER", default=""):
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = env.str("CELERY_BROKER_SENTINEL_MASTER")
# Workers and beat keep trying to reach the broker, at start and after losing it, for as long as it takes
# (Celery's default gives up after 100 tries, about 50 minutes), so they come back by themselves with Redis.
# The background publisher writes Celery's message straight onto the Redis list (core.messaging.redis_wire:
# a fifth of kombu's CPU per message) on the plain redis:// setup; off: every message goes through kombu.
BROKER_REDIS_WIRE = env.bool("BROKER_REDIS_WIRE", default=True)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_RETRY = True
# Workers retry a lost broker at once and then at most this often (core.worker_consumer), not Celery's 2-4-6-8 s.
CELERY_WORKER_CONSUMER = "core.worker_consumer:Consumer"
CELERY_BROKER_RECONNECT_MAX_SECONDS = env.float("CELERY_BROKER_RECONNECT_MAX_SECONDS", default=1.0)
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Queues (issue 15): assignment, store callbacks and the periodic sweeps each have their own, so slow store
# endpoints never delay assignment and a backlog never delays the sweepers; everything else goes to the
# default queue `celery`. A worker started without -Q (`make worker`) serves all four; see the README for
# one worker per queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name) for name in ("celery", "assignment", "callbacks", "sweeps")]
CELERY_TASK_ROUTES = {
    "payments.assign_incoming_order": {"queue": "assignment"},
    "payments.assign_incoming_orders": {"queue": "assignment"},
    "payments.deliver_callback": {"queue": "callbacks"},
    "payments.sweep_due_orders": {"queue": "sweeps"},
    "payments.sweep_due_callbacks": {"queue": "sweeps"},
    "payments.expire_due_orders": {"queue": "sweeps"},
}
CELERY_BEAT_SCHEDULE = {
    "payments.sweep_due_orders": {
        "task": "payments.sweep_due_orders",
        "schedule": env.float("ASSIGNMENT_SWEEP_SECONDS", default=2),
    },
    "payments.load_exchange_rates": {
        "task": "payments.load_exchange_rates",
        "schedule": env.float("EXCHANGE_RATE_REFRESH_SECONDS", default=300),
    },
    "payments.expire_due_orders": {
        "task": "payments.expire_due_orders",
        "schedule": env.float("ORDER_EXPIRY_SWEEP_SECONDS", default=60),
    },
    "payments.sweep_due_callbacks": {
        "task": "payments.sweep_due_callbacks",
        "schedule": env.float("CALLBACK_SWEEP_SECONDS", default=5),
    },
    "payments.purge_idempotency_keys": {"task": "payments.purge_idempotency_keys", "schedule": 3600},
}
# With no broker (the zero-setup `make run`), `manage.py runserver` runs the beat schedule above in a thread
# of its own (core.in_process_beat), so retries, expiry and callback retries happen in the demo too.
IN_PROCESS_BEAT = env.bool("IN_PROCESS_BEAT", default=CELERY_TASK_ALWAYS_EAGER)

# Exchange rates (payments): provider class, its local file, and how old a rate intake still accepts.
EXCHANGE_RATE_PROVIDER = env.str("EXCHANGE_RATE_PROVIDER", default="payments.exchange_rates.FileExchangeRateProvider")
EXCHANGE_RATE_FILE = env.str("EXCHANGE_RATE_FILE", default=str(BASE_DIR / "payments/fixtures/exchange_rates.json"))
EXCHANGE_RATE_MAX_AGE = timedelta(seconds=env.int("EXCHANGE_RATE_MAX_AGE_SECONDS", default=3600))

# Assignment (payments.services.assignment): tries per order before `failed`, the growing, jittered delay
# between tries (kept in incoming_orders.next_attempt_at), requisites tried within one attempt, and how long
# the customer (PayIn) or the trader (PayOut) has to pay once an order is assigned. The two leases (see
# payments/services/dispatch.py): a message handed to the broker owns its order for the dispatch lease
# (and is re-sent after it only while the queue is short: behind a backlog it is most likely still
# waiting); a worker that starts the order owns it for the much shorter claim lease, so the rows of a
# worker killed mid-work come back within seconds.
ASSIGNMENT_MAX_ATTEMPTS = env.int("ASSIGNMENT_MAX_ATTEMPTS", default=10)
ASSIGNMENT_RETRY_BASE_DELAY = timedelta(seconds=env.float("ASSIGNMENT_RETRY_BASE_SECONDS", default=5))
ASSIGNMENT_RETRY_MAX_DELAY = timedelta(seconds=env.float("ASSIGNMENT_RETRY_MAX_SECONDS", default=300))
ASSIGNMENT_MAX_CANDIDATES = env.int("ASSIGNMENT_MAX_CANDIDATES", default=5)
ASSIGNMENT_DISPATCH_LEASE_SECONDS = env.float("ASSIGNMENT_DISPATCH_LEASE_SECONDS", default=10)
ASSIGNMENT_CLAIM_LEASE_SECONDS = env.float("ASSIGNMENT_CLAIM_LEASE_SECONDS", default=5)
ASSIGNMENT_SWEEP_BATCH = env.int("ASSIGNMENT_SWEEP_BATCH", default=1000)
# The sweeper re-sends orders whose message may be lost in the broker only while at most this many assignment
# messages wait in it; behind a longer backlog their messages are most likely still queued.
ASSIGNMENT_SWEEP_QUEUE_SLACK = env.int("ASSIGNMENT_SWEEP_QUEUE_SLACK", default=100)
ORDER_PAYMENT_WINDOW = timedelta(minutes=env.int("ORDER_PAYMENT_MINUTES", default=30))

# Order execution (payments.services.execution): how long a trader has to confirm once the customer says
# they have paid, the largest receipt upload, and how far below zero a new trader fiat balance may go
# (PayOuts paid ahead of PayIns; the column balance_traders.fiat_credit_limit holds it per balance).
ORDER_CONFIRMATION_WINDOW = timedelta(minutes=env.int("ORDER_CONFIRMATION_MINUTES", default=30))
ORDER_RECEIPT_MAX_BYTES = env.int("ORDER_RECEIPT_MAX_BYTES", default=5 * 1024 * 1024)
PAYMENTS_TRADER_FIAT_CREDIT_LIMIT = env.str("PAYMENTS_TRADER_FIAT_CREDIT_LIMIT", default="0.00")

# Callbacks to stores (payments.callbacks; docs/callbacks.md): HTTP timeouts, the retry
# schedule (exponential backoff with jitter, for CALLBACK_RETRY_WINDOW from the event), when a failing
# endpoint is flagged to its merchant, and how long the previous secret still signs after a rotation.
CALLBACK_CONNECT_TIMEOUT = env.float("CALLBACK_CONNECT_TIMEOUT_SECONDS", default=3.0)
CALLBACK_READ_TIMEOUT = env.float("CALLBACK_READ_TIMEOUT_SECONDS", default=10.0)
CALLBACK_RETRY_BASE_DELAY = timedelta(seconds=env.int("CALLBACK_RETRY_BASE_SECONDS", default=30))
CALLBACK_RETRY_MAX_DELAY = timedelta(seconds=env.int("CALLBACK_RETRY_MAX_DELAY_SECONDS", default=6 * 3600))
CALLBACK_RETRY_JITTER = env.float("CALLBACK_RETRY_JITTER", default=0.2)  # ± this share of each delay
CALLBACK_RETRY_WINDOW = timedelta(hours=env.int("CALLBACK_RETRY_HOURS", default=72))
CALLBACK_FLAG_AFTER_FAILURES = env.int("CALLBACK_FLAG_AFTER_FAILURES", default=10)
CALLBACK_FLAG_AFTER = timedelta(minutes=env.int("CALLBACK_FLAG_AFTER_MINUTES", default=30))
CALLBACK_SECRET_GRACE = timedelta(hours=env.int("CALLBACK_SECRET_GRACE_HOURS", default=24))
# The two leases of a delivery, as for assignment: a message handed to the broker and not yet taken, and a
# worker's claim while it POSTs (renewed every third of it for as long as the POST lasts).
CALLBACK_DISPATCH_LEASE_SECONDS = env.float("CALLBACK_DISPATCH_LEASE_SECONDS", default=20)
CALLBACK_CLAIM_LEASE_SECONDS = env.float("CALLBACK_CLAIM_LEASE_SECONDS", default=10)
CALLBACK_SWEEP_QUEUE_SLACK = env.int("CALLBACK_SWEEP_QUEUE_SLACK", default=100)
CALLBACK_ALLOW_PRIVATE_HOSTS = env.list("CALLBACK_ALLOW_PRIVATE_HOSTS", default=[])  # hosts/CIDRs past the SSRF guard

# Signal trading (trading/): exchange calls (timeout, retries of network errors with backoff), how long a
# process keeps an exchange's market list, the window in which the same webhook body is a duplicate, the
# prefix of our client order ids, and the reconciliation and stale-signal sweep intervals.
TRADING_EXCHANGE_TIMEOUT_MS = env.int("TRADING_EXCHANGE_TIMEOUT_MS", default=10_000)
TRADING_EXCHANGE_RETRIES = env.int("TRADING_EXCHANGE_RETRIES", default=3)
TRADING_EXCHANGE_RETRY_BASE_SECONDS = env.float("TRADING_EXCHANGE_RETRY_BASE_SECONDS", default=0.5)
TRADING_MARKETS_CACHE_SECONDS = env.float("TRADING_MARKETS_CACHE_SECONDS", default=3600)
TRADING_SIGNAL_DUPLICATE_WINDOW_SECONDS = env.int("TRADING_SIGNAL_DUPLICATE_WINDOW_SECONDS", default=60)
TRADING_CLIENT_ORDER_PREFIX = env.str("TRADING_CLIENT_ORDER_PREFIX", default="p2p")
TRADING_RECONCILE_SECONDS = env.float("TRADING_RECONCILE_SECONDS", default=30)
TRADING_SIGNAL_CLAIM_LEASE_SECONDS = env.float("TRADING_SIGNAL_CLAIM_LEASE_SECONDS", default=120)
TRADING_SIGNAL_SWEEP_SECONDS = env.float("TRADING_SIGNAL_SWEEP_SECONDS", default=15)
# The paper exchange (trading.exchanges.paper): the seed of its price series, how long one price step lasts,
# a new paper book's balance (USDT), and how often beat catches every paper book up (fires stops/TPs).
TRADING_PAPER_SEED = env.str("TRADING_PAPER_SEED", default="p2p-paper")
TRADING_PAPER_STEP_SECONDS = env.float("TRADING_PAPER_STEP_SECONDS", default=5)
TRADING_PAPER_BALANCE = env.str("TRADING_PAPER_BALANCE", default="10000")
TRADING_PAPER_TICK_SECONDS = env.float("TRADING_PAPER_TICK_SECONDS", default=TRADING_PAPER_STEP_SECONDS)


# Telegram bot (trading.telegram): the Bot API's base URL (a local fake in tests), the bot's token and
# username (for the t.me link), the secret of the inbound webhook (Telegram's secret-token header; the
# webhook's path is derived from it), Telegram's rate limits (a message per chat per interval, messages per
# second in all), the delivery retries (backoff from a base, doubled per try), the HTTP timeout and the
# lifetime of a link code. With no token the outbox rows stay pending (nothing is sent).
TELEGRAM_BOT_API_URL = env.str("TELEGRAM_BOT_API_URL", default="https://api.telegram.org")
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
# The local stand-in for Telegram (trading.telegram.local_stand_in), which `make run` turns on: with no real
# token, the bot talks to a fake Bot API on this port in the serving process, which prints its messages.
TELEGRAM_LOCAL_FAKE_PORT = env.int("TELEGRAM_LOCAL_FAKE_PORT", default=0)
if TELEGRAM_LOCAL_FAKE_PORT and not TELEGRAM_BOT_TOKEN:
    TELEGRAM_BOT_TOKEN = "100001:local-stand-in"  # noqa: S105 - the fake's, not a secret
    TELEGRAM_BOT_API_URL = f"http://127.0.0.1:{TELEGRAM_LOCAL_FAKE_PORT}"
    TELEGRAM_BOT_USERNAME = TELEGRAM_BOT_USERNAME or "local_demo_bot"
else:
    TELEGRAM_LOCAL_FAKE_PORT = 0
TELEGRAM_CHAT_INTERVAL_SECONDS = env.float("TELEGRAM_CHAT_INTERVAL_SECONDS", default=1.0)
TELEGRAM_GLOBAL_PER_SECOND = env.int("TELEGRAM_GLOBAL_PER_SECOND", default=30)
TELEGRAM_MAX_ATTEMPTS = env.int("TELEGRAM_MAX_ATTEMPTS", default=8)
TELEGRAM_RETRY_BASE_SECONDS = env.float("TELEGRAM_RETRY_BASE_SECONDS", default=2.0)
TELEGRAM_TIMEOUT_SECONDS = env.float("TELEGRAM_TIMEOUT_SECONDS", default=10.0)
TELEGRAM_LINK_CODE_MINUTES = env.int("TELEGRAM_LINK_CODE_MINUTES", default=15)
TELEGRAM_SWEEP_SECONDS = env.float("TELEGRAM_SWEEP_SECONDS", default=10)

# Copy trading: the EA TCP server (trading/copytrade/, docs/copytrade-protocol.md).
COPYTRADE_REDIS_URL = env.str("COPYTRADE_REDIS_URL", default=REDIS_URL)
COPYTRADE_MAX_LINE_BYTES = env.int("COPYTRADE_MAX_LINE_BYTES", default=1024)
COPYTRADE_AUTH_TIMEOUT_SECONDS = env.float("COPYTRADE_AUTH_TIMEOUT_SECONDS", default=10)
COPYTRADE_HEARTBEAT_SECONDS = env.float("COPYTRADE_HEARTBEAT_SECONDS", default=10)
REAUTH_MINUTES = env.int("REAUTH_MINUTES", default=5)
COPYTRADE_MAX_ERRORS = env.int("COPYTRADE_MAX_ERRORS", default=20)
COPYTRADE_DB_THREADS = env.int("COPYTRADE_DB_THREADS", default=8)
COPYTRADE_RECHECK_SECONDS = env.float("COPYTRADE_RECHECK_SECONDS", default=5)
COPYTRADE_RESEND_SECONDS = env.float("COPYTRADE_RESEND_SECONDS", default=2)
COPYTRADE_SQL_FAST_PATH = env.bool("COPYTRADE_SQL_FAST_PATH", default=True)
CELERY_TASK_ROUTES.update({"trading.process_signal": {"queue": "trading"},
                           "trading.paper_tick": {"queue": "sweeps"},
                           "trading.reconcile_account": {"queue": "trading"},
                           "trading.reconcile_active_accounts": {"queue": "sweeps"},
                           "trading.sweep_stale_signals": {"queue": "sweeps"},
                           "trading.deliver_notification": {"queue": "trading"},
                           "trading.sweep_notifications": {"queue": "sweeps"}})
CELERY_TASK_QUEUES.append(Queue("trading"))
CELERY_BEAT_SCHEDULE.update({
    "trading.reconcile_active_accounts": {"task": "trading.reconcile_active_accounts",
                                          "schedule": TRADING_RECONCILE_SECONDS},
    "trading.sweep_stale_signals": {"task": "trading.sweep_stale_signals", "schedule": TRADING_SIGNAL_SWEEP_SECONDS},
    "trading.paper_tick": {"task": "trading.paper_tick", "schedule": TRADING_PAPER_TICK_SECONDS},
    "trading.sweep_notifications": {"task": "trading.sweep_notifications", "schedule": TELEGRAM_SWEEP_SECONDS},
})

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.AccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "P2P Platform API",
    "DESCRIPTION": "Store API (payins, payouts, orders, balance) and API-client authentication.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "TAGS": [{"name": "Store API", "description": (BASE_DIR / "payments/api/store_api.md").read_text()}],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Cache: Redis when REDIS_URL is set (shared by all web processes, e.g. the store API rate limit),
# else per-process memory.
CACHES = {
    "default": ({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
                if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}),
}

# Store API (payments/api): requests per store ("<n>/<sec|min|hour|day>"), and idempotency keys.
STORE_API_RATE_LIMIT = env.str("STORE_API_RATE_LIMIT", default="600/min")
STORE_API_IDEMPOTENCY_TTL_HOURS = env.int("STORE_API_IDEMPOTENCY_TTL_HOURS", default=24)
STORE_API_IDEMPOTENCY_LOCK_SECONDS = env.int("STORE_API_IDEMPOTENCY_LOCK_SECONDS", default=60)
# Each web process keeps a store of a key, and the rates / payment methods intake reads, this many seconds
# (core.local_cache): a store disabled or a key rotated in another process stops working within it. 0 = off.
STORE_API_CACHE_SECONDS = env.float("STORE_API_CACHE_SECONDS", default=2.0)
# Which currency codes are crypto (payments.currency_codes, for showing 4 places rather than 2): each process
# keeps an operator's crypto currency codes this many seconds; a coin added in another process shows at crypto
# precision within it. 0 = off (a query per amount shown).
CURRENCY_CODES_CACHE_SECONDS = env.float("CURRENCY_CODES_CACHE_SECONDS", default=300.0)
# Long lists page ids first with a capped count (core.pagination); False: Django's paginator (exact counts).
LARGE_LIST_PAGINATION = env.bool("LARGE_LIST_PAGINATION", default=True)
# Dashboards read closed days from kept rows (payments.cabinet.day_figures); False: every day counted live.
DASHBOARD_DAY_FIGURES = env.bool("DASHBOARD_DAY_FIGURES", default=True)

# Logs (core/logs.py): JSON lines in production, readable lines in development; each with the request id
# (or Celery task), tenant, order and account where known; secrets redacted on the handler.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT is json or text.")
from core.logs import logging_config  # noqa: E402 (needs LOG_FORMAT)

LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)

# Operations (docs/operations.md). /metrics: with METRICS_TOKEN only for `Authorization: Bearer <token>`,
# without it only to a client on this machine through no proxy. Processes add their counts to Redis every
# METRICS_FLUSH_SECONDS. Heartbeats: beat sends one to every queue every HEALTH_HEARTBEAT_SECONDS and
# /health/ready wants each seen within HEALTH_HEARTBEAT_MAX_AGE_SECONDS. The ledger is verified (and the
# result shown in /metrics) every LEDGER_VERIFY_SECONDS (0: only by `manage.py verify_ledger`).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=2.0)
HEALTH_HEARTBEAT_SECONDS = env.float("HEALTH_HEARTBEAT_SECONDS", default=15)
HEALTH_HEARTBEAT_MAX_AGE_SECONDS = env.float("HEALTH_HEARTBEAT_MAX_AGE_SECONDS", default=90)
HEALTH_DB_TIMEOUT_MS = env.int("HEALTH_DB_TIMEOUT_MS", default=2000)
LEDGER_VERIFY_SECONDS = env.float("LEDGER_VERIFY_SECONDS", default=3600)
CELERY_BEAT_SCHEDULER = "core.heartbeat:BeatScheduler"  # beat writes its own heartbeat as it ticks
CELERY_TASK_ROUTES["payments.verify_ledger"] = {"queue": "sweeps"}
for _queue in CELERY_TASK_QUEUES:
    CELERY_BEAT_SCHEDULE[f"core.heartbeat.{_queue.name}"] = {
        "task": "core.heartbeat", "schedule": HEALTH_HEARTBEAT_SECONDS, "args": (_queue.name,),
        "options": {"queue": _queue.name, "expires": HEALTH_HEARTBEAT_SECONDS * 4}}
if LEDGER_VERIFY_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["payments.verify_ledger"] = {"task": "payments.verify_ledger",
                                                      "schedule": LEDGER_VERIFY_SECONDS}

# Error reporting (optional): with SENTRY_DSN set, unhandled errors of web requests, tasks and commands go
# to Sentry (no personal data: send_default_pii off).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(dsn=SENTRY_DSN, integrations=[DjangoIntegration(), CeleryIntegration()],
                    environment=env.str("SENTRY_ENVIRONMENT", default="production"),
                    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
                    send_default_pii=False)

ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous user row
