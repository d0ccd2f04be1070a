"""The payment rule simulator page: a GET form, so a simulated checkout is a shareable URL."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from backoffice.models import Order
from backoffice.roles import backoffice_view
from rules.simulator import simulate as run_simulation
from rules.simulator_forms import SimulationForm, order_query


@backoffice_view("rules.view_paymentrule")
def simulate(request: HttpRequest) -> HttpResponse:
    """Show the methods a described checkout would get, and every rule's outcome."""
    submitted = any(name in request.GET for name in SimulationForm.base_fields)
    order_number = request.GET.get("order", "").strip()[:32]
    order_error = ""
    if order_number and not submitted:
        order = (
            Order.objects.select_related("billing_address", "shipping_address")
            .prefetch_related("lines")
            .filter(number=order_number)
            .first()
        )
        if order is not None:
            return redirect(f"{reverse('rules:simulate')}?{urlencode(order_query(order))}#result")
        order_error = f"No order has the number “{order_number}”."
    form = SimulationForm(request.GET if submitted else None, initial={"currency": "USD"})
    simulation = run_simulation(form.checkout()) if submitted and form.is_valid() else None
    return render(
        request,
        "rules/simulate.html",
        {
            "form": form,
            "simulation": simulation,
            "order_number": order_number,
            "order_error": order_error,
        },
        status=400 if (form.is_bound and form.errors) or order_error else 200,
    )
