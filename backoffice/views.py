"""Shell pages (home, health check) and the payment terms of the sales context."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from backoffice import services
from backoffice.forms import PaymentTermForm
from backoffice.models import PaymentTerm
from backoffice.roles import backoffice_view, is_backoffice_user
from payments.storefront_views import buyer_of, storefront_home


def home(request: HttpRequest) -> HttpResponse:
    """Staff go to the back-office; buyers see their customer account's orders."""
    if is_backoffice_user(request.user):
        return redirect("integrations:list")
    # LoginRequiredMiddleware guarantees a signed-in user here.
    return storefront_home(request, buyer_of(request))


@backoffice_view()
def backoffice_start(request: HttpRequest) -> HttpResponse:
    """`/admin/`: the integrations list; a buyer gets 403 here already, not one redirect later."""
    return redirect("integrations:list")


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


@backoffice_view("backoffice.view_paymentterm")
def payment_term_list(request: HttpRequest) -> HttpResponse:
    terms = PaymentTerm.objects.prefetch_related("customers", "groups")
    return render(request, "backoffice/payment_terms.html", {"terms": terms})


@backoffice_view("backoffice.add_paymentterm")
def payment_term_create(request: HttpRequest) -> HttpResponse:
    return _payment_term_form(request, term=None)


@backoffice_view("backoffice.change_paymentterm")
def payment_term_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _payment_term_form(request, term=get_object_or_404(PaymentTerm, pk=pk))


def _payment_term_form(request: HttpRequest, *, term: PaymentTerm | None) -> HttpResponse:
    form = PaymentTermForm(request.POST or None, instance=term)
    if request.method == "POST" and form.is_valid():
        saved = services.payment_term_save(
            term=term,
            label=form.cleaned_data["label"],
            customers=form.cleaned_data["customers"],
            groups=form.cleaned_data["groups"],
            actor=request.user,  # type: ignore[arg-type]
        )
        messages.success(request, f"Saved the payment term “{saved.label}”.")
        return redirect("payment_terms")
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "backoffice/payment_term_form.html", {"form": form, "term": term}, status=status
    )
