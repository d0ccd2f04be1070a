"""The payment rule simulator page: a GET form, so a simulated checkout is a shareable URL."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backoffice.roles import backoffice_view
from rules.simulator import simulate as run_simulation
from rules.simulator_forms import SimulationForm


@backoffice_view("rules.view_paymentrule")
def simulate(request: HttpRequest) -> HttpResponse:
    """Show the methods a described checkout would get, and every rule's outcome."""
    submitted = any(name in request.GET for name in SimulationForm.base_fields)
    form = SimulationForm(request.GET if submitted else None, initial={"currency": "USD"})
    simulation = run_simulation(form.checkout()) if submitted and form.is_valid() else None
    return render(
        request,
        "rules/simulate.html",
        {"form": form, "simulation": simulation},
        status=400 if form.is_bound and form.errors else 200,
    )
