# Loaded with Django, so tasks queued by the app servers go to the configured broker.
from backoffice.celery import app as celery_app

__all__ = ["celery_app"]
