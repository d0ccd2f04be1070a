"""Back-office pages for payment rules (System › Payment Rules); the simulator is elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_countries import countries

from backoffice.audit import audit_entries_for
from backoffice.roles import backoffice_view
from rules import selectors, services
from rules.destination_forms import DestinationFormSet, region_label, subdivisions_by_country
from rules.forms import RuleFilterForm, RuleForm
from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod
from rules.presentation import method_note

PAGE_SIZE = 25
COLUMNS = [
    ("name", "Name"),
    ("enabled", "Enabled"),
    ("sort_order", "Sort order"),
    ("currency", "Currency"),
    ("stop_processing", "Stops"),
    ("methods", "Payment methods"),
    ("destinations", "Destinations"),
    ("expression", "Expression"),
]


@dataclass(frozen=True)
class MethodCell:
    label: str
    integration: str
    note: str
    enabled: bool


@dataclass(frozen=True)
class RuleRow:
    rule: PaymentRule
    methods: list[MethodCell]
    destinations: list[str]


def _method_cell(rule_method: PaymentRuleMethod) -> MethodCell:
    method = rule_method.method
    return MethodCell(
        label=method.admin_label,
        # Demo-style admin labels often repeat the integration's name; say it only when new.
        integration=""
        if method.integration.name in method.admin_label
        else method.integration.name,
        note=method_note(method, rule_method),
        enabled=rule_method.enabled,
    )


def _destination_text(destination: PaymentRuleDestination) -> str:
    parts = [str(countries.name(str(destination.country)))]
    if destination.region:
        parts.append(region_label(destination.region))
    text = " › ".join(parts)
    return f"{text}: {destination.postal_codes}" if destination.postal_codes else text


@backoffice_view("rules.view_paymentrule")
def rule_list(request: HttpRequest) -> HttpResponse:
    filters = RuleFilterForm(request.GET)
    filters.is_valid()
    # cleaned_data holds only the values that validated: a bad one is dropped, not fatal.
    values: dict[str, Any] = filters.cleaned_data
    sort = values.get("sort") or "sort_order"
    ids = selectors.parse_ids(values.get("ids", ""))
    integration = values.get("integration")
    enabled = {"yes": True, "no": False}.get(values.get("enabled", ""))
    rules = selectors.rule_list(
        search=values.get("q", "").strip(),
        enabled=enabled,
        currency=values.get("currency", ""),
        integration_id=int(integration) if integration else None,
        ids=ids,
        sort=sort,
    )
    page = Paginator(rules, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        RuleRow(
            rule=rule,
            methods=[_method_cell(rm) for rm in rule.methods.all()],
            destinations=[_destination_text(d) for d in rule.destinations.all()],
        )
        for rule in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    return render(
        request,
        "rules/list.html",
        {
            "page": page,
            "rows": rows,
            "filters": filters,
            "sort": sort,
            "query": query.urlencode(),
            "sort_query": sort_query.urlencode(),
            "columns": COLUMNS,
            "narrowed_by_ids": bool(ids),
            "filtered": any(values.get(k) for k in ("q", "enabled", "currency", "integration"))
            or bool(ids),
        },
    )


@backoffice_view("rules.add_paymentrule")
def rule_create(request: HttpRequest) -> HttpResponse:
    return _rule_form(request, rule=None)


@backoffice_view("rules.change_paymentrule")
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_form(request, rule=get_object_or_404(selectors.rule_for_edit(pk=pk)))


def _rule_form(request: HttpRequest, *, rule: PaymentRule | None) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = RuleForm(data, rule=rule)
    initial = (
        [
            {"country": str(d.country), "region": d.region, "postal_codes": d.postal_codes}
            for d in rule.destinations.all()
        ]
        if rule
        else []
    )
    destinations = DestinationFormSet(data, initial=initial)
    if data is not None:
        # Validate both, so every field's problem shows at once; save only when both are clean.
        form_ok, destinations_ok = form.is_valid(), destinations.is_valid()
        if form_ok and destinations_ok:
            try:
                saved = services.rule_save(
                    rule=rule,
                    data=form.rule_data(destinations.destinations()),
                    actor=request.user,  # type: ignore[arg-type]
                )
            except services.RuleError as error:
                form.add_error(None, str(error))
            else:
                verb = "Saved" if rule else "Created"
                messages.success(request, f"{verb} the payment rule “{saved.name}”.")
                return redirect("rules:edit", pk=saved.pk)
    invalid = data is not None and bool(
        form.errors or destinations.total_error_count() or destinations.non_form_errors()
    )
    return render(
        request,
        "rules/form.html",
        {
            "form": form,
            "destinations": destinations,
            "method_rows": form.method_rows(),
            "rule": rule,
            "audit_entries": audit_entries_for(target=rule) if rule else [],
            "subdivisions": subdivisions_by_country(),
        },
        status=400 if invalid else 200,
    )


@require_POST
@backoffice_view("rules.change_paymentrule")
def rule_set_enabled(request: HttpRequest, pk: int, enabled: bool) -> HttpResponse:
    rule = get_object_or_404(PaymentRule, pk=pk)
    services.rules_set_enabled(
        rule_ids=[rule.pk],
        enabled=enabled,
        actor=request.user,  # type: ignore[arg-type]
    )
    state = "Enabled" if enabled else "Disabled"
    messages.success(request, f"{state} the payment rule “{rule.name}”.")
    return redirect(_next_url(request))


@require_POST
@backoffice_view("rules.change_paymentrule")
def rule_bulk_enable(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    ids = selectors.parse_ids(",".join(request.POST.getlist("ids")))
    if action not in ("enable", "disable"):
        messages.error(request, "Choose “Enable selected” or “Disable selected”.")
    elif not ids:
        messages.warning(request, "Select at least one payment rule first.")
    else:
        changed = services.rules_set_enabled(
            rule_ids=ids,
            enabled=action == "enable",
            actor=request.user,  # type: ignore[arg-type]
        )
        state = "Enabled" if action == "enable" else "Disabled"
        unchanged = len(set(ids)) - changed
        note = f" ({unchanged} already {state.lower()} or not found)" if unchanged > 0 else ""
        messages.success(
            request, f"{state} {changed} payment rule{'' if changed == 1 else 's'}{note}."
        )
    return redirect(_next_url(request))


def _next_url(request: HttpRequest) -> str:
    """Back to the list page the action came from (filters kept), else the plain list."""
    next_url = request.POST.get("next", "")
    list_url = reverse("rules:list")
    if next_url.startswith(list_url) and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return list_url
