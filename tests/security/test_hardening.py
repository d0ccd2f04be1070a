"""Response headers (Content-Security-Policy and friends) and the production settings."""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"

PROVIDER_SCRIPTS = {
    "https://js.stripe.com",
    "https://js.authorize.net",
    "https://jstest.authorize.net",
}
LOOPBACK = {"http://127.0.0.1:*", "http://localhost:*"}


def policy(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def _production_env(**extra: str) -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "DEBUG"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="backoffice.settings",
        PAYMENTS_ENVIRONMENT="production",
        SECRET_KEY="".join(secrets.choice(alphabet) for _ in range(50)),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="example.com",
        **extra,
    )
    return env


def _run(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# --- every response carries the policy --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/login/", "/", "/healthz", "/no-such-page/", "/static/css/app.css", "/static/js/app.js"],
)
def test_every_response_carries_the_security_headers(client, url):
    response = client.get(url)
    assert "Content-Security-Policy" in response
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    if response.get("Content-Type", "").startswith("text/html"):
        assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_back_office_pages_carry_the_policy(admin_client):
    response = admin_client.get("/admin/integrations/")
    assert response.status_code == 200
    assert "script-src" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_sandbox_policy_allows_our_origin_the_providers_and_loopback_simulators(client):
    directives = policy(client.get("/login/")["Content-Security-Policy"])

    assert directives["default-src"] == ["'self'"]
    assert set(directives["script-src"]) == {"'self'", *PROVIDER_SCRIPTS, *LOOPBACK}
    assert directives["style-src"] == ["'self'"]
    assert set(directives["frame-src"]) == {
        "https://js.stripe.com",
        "https://hooks.stripe.com",
        *LOOPBACK,
    }
    assert set(directives["connect-src"]) == {
        "'self'",
        "https://api.stripe.com",
        "https://api2.authorize.net",
        "https://apitest.authorize.net",
        *LOOPBACK,
    }
    assert set(directives["form-action"]) == {
        "'self'",
        "https://payflowlink.paypal.com",
        "https://pilot-payflowlink.paypal.com",
        "https://www.paypal.com",
        "https://www.sandbox.paypal.com",
        *LOOPBACK,
    }
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]


@pytest.mark.django_db
def test_no_directive_allows_inline_code_or_eval(client):
    header = client.get("/login/")["Content-Security-Policy"]
    for keyword in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "data:"):
        for name, sources in policy(header).items():
            if name == "img-src" and keyword == "data:":
                continue
            assert keyword not in sources, f"{name} allows {keyword}"


# --- our templates need no inline code --------------------------------------------------------

INLINE = {
    "an inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "an inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "a style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "a <style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
}


@pytest.mark.parametrize("what", list(INLINE))
def test_templates_hold_no_inline_code_or_style(what):
    found = [
        str(path.relative_to(ROOT))
        for path in sorted(TEMPLATES.rglob("*.html"))
        if INLINE[what].search(path.read_text())
    ]
    assert not found, f"{what} in {found}: the Content-Security-Policy blocks it"


# --- production -------------------------------------------------------------------------------

DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in [
    "DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE", "SESSION_COOKIE_AGE",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE", "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY", "CONTENT_SECURITY_POLICY"]}))
"""


def test_production_settings_are_hardened(tmp_path):
    result = _run("-c", DUMP, env=_production_env(), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])

    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SESSION_COOKIE_AGE"] == 8 * 60 * 60
    assert values["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    # No loopback simulator in production: only our origin and the providers' own hosts.
    directives = values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    assert set(directives["script-src"]) == {"'self'", *PROVIDER_SCRIPTS}
    everything = [source for sources in directives.values() for source in sources]
    assert not [source for source in everything if "127.0.0.1" in source or "localhost" in source]


def test_check_deploy_reports_no_issues_in_production(tmp_path):
    result = _run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=_production_env(),
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_sandbox_keeps_working_over_plain_http_on_loopback():
    # The test run is the sandbox deployment: nothing forces https or secure-only cookies.
    assert settings.PAYMENTS_ENVIRONMENT == "sandbox"
    assert not settings.SECURE_SSL_REDIRECT
    assert not settings.SESSION_COOKIE_SECURE
    assert not settings.CSRF_COOKIE_SECURE
    assert not settings.SECURE_HSTS_SECONDS
