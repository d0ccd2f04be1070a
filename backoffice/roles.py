"""The back-office roles and the permissions each holds.

Groups are created and given their permissions by migrations (backoffice 0002_roles and
0004_payment_roles), so a superuser can adjust them later in the database; code checks
permissions, never group names.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q
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
    """Whether `user` holds ACCESS_BACKOFFICE, as `user.has_perm()` answers it.

    One query instead of the two `has_perm()` makes to load every permission the user holds:
    storefront pages ask it of every buyer, on every request. Remembered on the user object,
    which lives for one request.
    """
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    known: bool | None = getattr(user, "_backoffice_access", None)
    if known is None:
        app_label, codename = ACCESS_BACKOFFICE.split(".")
        known = (
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .filter(Q(user=user) | Q(group__user=user))
            .exists()
        )
        user._backoffice_access = known
    return known
