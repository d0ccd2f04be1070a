"""Shell pages: the home redirect, the buyer's start page and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from backoffice.models import CustomerUser
from backoffice.roles import is_backoffice_user


def home(request: HttpRequest) -> HttpResponse:
    """Staff go to the back-office; buyers see their storefront start page."""
    if is_backoffice_user(request.user):
        return redirect("integrations:list")
    # LoginRequiredMiddleware guarantees a signed-in user here.
    customer_user = (
        CustomerUser.objects.select_related(
            "customer__group__payment_term", "customer__payment_term"
        )
        .filter(user_id=int(request.user.pk or 0))
        .first()
    )
    return render(request, "storefront/home.html", {"customer_user": customer_user})


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "up"})
