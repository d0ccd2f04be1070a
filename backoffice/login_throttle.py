"""Sign-in throttling through django-axes: failures counted per username and client address.

After `AXES_FAILURE_LIMIT` failed sign-ins for one username from one address within
`AXES_COOLOFF_TIME`, that pair is refused (even with the right password) until the cool-off has
passed; the login form says so (429). Another address, or another username, is not affected, so
nobody can lock a colleague out from elsewhere.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme


class ThrottlingBackend(AxesStandaloneBackend):
    """Axes' lockout check, skipped for `authenticate()` calls made without a request.

    Only server-side code (management commands, tests) authenticates without a request; there
    is no client address to count then, and nothing reaches it from the network.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_address(request: HttpRequest) -> str | None:
    """The client's address: the one our TLS proxy appended to X-Forwarded-For, if behind one.

    Only the last entry is the proxy's own; earlier ones are whatever the client sent.
    """
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR")


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        "Too many failed sign-in attempts for this username from your address. "
        f"Sign-in is locked for {minutes} minutes; try again later."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """The login form again, with the lockout explained, as 429 Too Many Requests."""
    username = request.POST.get("username", "") if request.method == "POST" else ""
    form = AuthenticationForm(request, initial={"username": username})
    redirect_field = LoginView.redirect_field_name
    next_url = request.POST.get(redirect_field) or request.GET.get(redirect_field, "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    return render(
        request,
        "registration/login.html",
        {"form": form, "lockout": lockout_message(), "next": next_url},
        status=429,
    )
