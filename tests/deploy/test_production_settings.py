"""Production mode (``TAEM_PRODUCTION=1``) in a fresh interpreter, with only the variables
docs/operations.md marks as required: ``manage.py check --deploy`` reports nothing, HTTPS is on
(redirect, HSTS, Secure-only session and CSRF cookies), logs are JSON; and the same check does
fail when HTTPS is switched off, so a regression cannot pass unnoticed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "TAEM_", "LINE_", "CELERY_", "LOG_", "LIFF_", "CACHE_"))}
    env.update({
        "TAEM_PRODUCTION": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "loyalty.example.com",
        "SITE_URL": "https://loyalty.example.com",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
        "TAEM_VAR_DIR": str(tmp_path),
    })
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_in_production_mode(production_env):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_fails_when_https_is_switched_off(production_env):
    production_env["DJANGO_HTTPS"] = "0"
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_production_mode_refuses_to_start_without_a_secret_key(production_env):
    del production_env["DJANGO_SECRET_KEY"]
    result = run(["manage.py", "check"], production_env)
    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr


PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "debug": s.DEBUG, "session_secure": s.SESSION_COOKIE_SECURE, "csrf_secure": s.CSRF_COOKIE_SECURE,
    "redirect": s.SECURE_SSL_REDIRECT, "exempt": s.SECURE_REDIRECT_EXEMPT, "hsts": s.SECURE_HSTS_SECONDS,
    "proxy": s.SECURE_PROXY_SSL_HEADER, "log_format": s.LOGGING["handlers"]["console"]["formatter"],
    "middleware": s.MIDDLEWARE[:3],
}))
"""


def test_production_settings_values(production_env):
    production_env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    production_env["DJANGO_BEHIND_PROXY"] = "1"
    result = run(["-c", PROBE], production_env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "debug": False, "session_secure": True, "csrf_secure": True, "redirect": True, "exempt": ["^healthz$"],
        "hsts": 31536000, "proxy": ["HTTP_X_FORWARDED_PROTO", "https"], "log_format": "json",
        "middleware": ["config.health.HealthCheckMiddleware", "config.request_id.RequestIdMiddleware",
                       "django.middleware.security.SecurityMiddleware"],
    }
    # Development keeps text logs and plain-HTTP cookies.
    for key in ("TAEM_PRODUCTION", "DJANGO_BEHIND_PROXY"):
        del production_env[key]
    development = json.loads(run(["-c", PROBE], production_env).stdout.strip().splitlines()[-1])
    assert (development["log_format"], development["session_secure"], development["redirect"]) == ("text", False, False)
