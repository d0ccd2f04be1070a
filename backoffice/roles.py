"""The back-office roles and the permissions each holds.

Groups are created and given their permissions by migrations (backoffice 0002_roles and
0004_payment_roles), so a superuser can adjust them later in the database; code checks
permissions, never group names.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

ADMINISTRATORS = "Administrators"
SALES = "Sales"
ACCESS_BACKOFFICE = "backoffice.access_backoffice"

View = Callable[..., HttpResponse]


def backoffice_view(*permissions: str) -> Callable[[View], View]:
    """Let in back-office users holding `permissions`: anonymous → login, anyone else → 403."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user.has_perms([ACCESS_BACKOFFICE, *permissions]):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def is_backoffice_user(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_perm(ACCESS_BACKOFFICE))
