"""Production settings: refuse to start without real keys; `check --deploy` is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean_env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "DEBUG", "ALLOWED_HOSTS"}
    }
    clean_env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_its_keys(tmp_path, missing):
    env = {
        "PAYMENTS_ENVIRONMENT": "production",
        "SECRET_KEY": "a-real-secret-" + "k" * 50,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "payments.example.com",
    }
    env.pop(missing)
    result = _manage("check", tmp_path=tmp_path, **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_check_deploy_is_clean_in_production(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        PAYMENTS_ENVIRONMENT="production",
        SECRET_KEY="a-real-secret-" + "k" * 50,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="payments.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_unknown_deployment_environment_is_refused(tmp_path):
    result = _manage("check", tmp_path=tmp_path, PAYMENTS_ENVIRONMENT="staging")
    assert result.returncode != 0
    assert "PAYMENTS_ENVIRONMENT" in result.stderr


def test_seed_demo_is_refused_in_production(tmp_path):
    env = {
        "PAYMENTS_ENVIRONMENT": "production",
        "SECRET_KEY": "a-real-secret-" + "k" * 50,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "payments.example.com",
    }
    assert _manage("migrate", "--noinput", tmp_path=tmp_path, **env).returncode == 0
    result = _manage("seed_demo", tmp_path=tmp_path, **env)
    assert result.returncode != 0
    assert "refused in a production deployment" in result.stderr
