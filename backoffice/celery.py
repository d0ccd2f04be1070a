"""The Celery app: background work shared by app servers and workers when CELERY_BROKER_URL is set.

Run a worker with `celery -A backoffice worker` and the schedule with `celery -A backoffice beat`.
Without a broker nothing here is used: the same work runs in-process (payments/tasks.py).
"""

from __future__ import annotations

import os
from logging.config import dictConfig
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(**_: Any) -> None:
    """Workers log as Django's LOGGING says (the SDKs' secret-bearing DEBUG lines stay off),
    instead of celery's own root-logger set-up."""
    from django.conf import settings

    dictConfig(settings.LOGGING)


def celery_enabled() -> bool:
    """Whether background work goes to the broker (else it runs in-process)."""
    from django.conf import settings

    return bool(settings.CELERY_BROKER_URL)
