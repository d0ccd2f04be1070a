from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from backoffice.roles import is_backoffice_user


def deployment(request: HttpRequest) -> dict[str, Any]:
    return {
        "is_production": settings.IS_PRODUCTION,
        "is_backoffice_user": is_backoffice_user(request.user),
    }
