"""Back-office pages for integrations (System › Integrations › Manage Integrations)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from backoffice.audit import audit_entries_for
from backoffice.roles import backoffice_view
from integrations import deletion, selectors, services
from integrations.adapters import has_remote_api
from integrations.forms import FORMS, NAME_TAKEN, IntegrationForm, form_class_for
from integrations.models import Integration
from integrations.presentation import settings_sections
from integrations.types import TYPE_DESCRIPTIONS, IntegrationType

PAGE_SIZE = 25


class IntegrationFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=255, label="Name")
    type = forms.ChoiceField(required=False, choices=[("", "All types"), *IntegrationType.choices])
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), ("active", "Active"), ("inactive", "Inactive")]
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, key) for name in selectors.SORTS for key in (name, f"-{name}")],
    )


def _live_integration(pk: int) -> Integration:
    return get_object_or_404(Integration.objects.alive(), pk=pk)


@backoffice_view("integrations.view_integration")
def integration_list(request: HttpRequest) -> HttpResponse:
    filters = IntegrationFilterForm(request.GET)
    values = filters.cleaned_data if filters.is_valid() else {}
    sort = values.get("sort") or "name"
    integrations = selectors.integration_list(
        type=values.get("type", ""),
        status=values.get("status", ""),
        search=values.get("q", "").strip(),
        sort=sort,
    )
    page = Paginator(integrations, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    return render(
        request,
        "integrations/list.html",
        {
            "page": page,
            "filters": filters,
            "sort": sort,
            "query": query.urlencode(),
            "sort_query": sort_query.urlencode(),
            "columns": [
                ("name", "Name"),
                ("type", "Type"),
                ("status", "Status"),
                ("environment", "Environment"),
                ("methods", "Payment methods"),
                ("rules", "Payment rules"),
            ],
        },
    )


@sensitive_post_parameters()
@backoffice_view("integrations.add_integration")
def integration_create(request: HttpRequest) -> HttpResponse:
    type = request.GET.get("type", "")
    if type not in FORMS:
        choices = [
            (value, label, TYPE_DESCRIPTIONS[value]) for value, label in IntegrationType.choices
        ]
        return render(request, "integrations/choose_type.html", {"types": choices})
    form_class = form_class_for(type)
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            integration = services.integration_create(
                type=type,
                actor=request.user,  # type: ignore[arg-type]
                **form.integration_values(),
            )
        except IntegrityError:
            # Another administrator saved the same name between validation and commit.
            form.add_error("name", NAME_TAKEN)
        else:
            messages.success(request, f"Created the integration “{integration.name}”.")
            return redirect("integrations:detail", pk=integration.pk)
    return _render_form(request, form, type_label=IntegrationType(type).label, integration=None)


@sensitive_post_parameters()
@backoffice_view("integrations.change_integration")
def integration_edit(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _live_integration(pk)
    form = form_class_for(integration.type)(request.POST or None, instance=integration)
    if request.method == "POST" and form.is_valid():
        try:
            services.integration_update(
                integration=integration,
                actor=request.user,  # type: ignore[arg-type]
                **form.integration_values(),
            )
        except IntegrityError:
            form.add_error("name", NAME_TAKEN)
        else:
            messages.success(request, f"Saved the integration “{form.cleaned_data['name']}”.")
            return redirect("integrations:detail", pk=integration.pk)
    return _render_form(
        request, form, type_label=integration.get_type_display(), integration=integration
    )


def _render_form(
    request: HttpRequest, form: IntegrationForm, *, type_label: str, integration: Integration | None
) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "integrations/form.html",
        {"form": form, "type_label": type_label, "integration": integration},
        status=status,
    )


@backoffice_view("integrations.view_integration")
def integration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _live_integration(pk)
    return render(
        request,
        "integrations/detail.html",
        {
            "integration": integration,
            "sections": settings_sections(integration),
            "methods": selectors.integration_methods(integration=integration),
            "audit_entries": audit_entries_for(target=integration),
            "can_check_connection": has_remote_api(integration),
            "webhook_url": _webhook_url(request, integration),
        },
    )


# Providers that sign webhooks we verify (Payflow has none; offline methods need none).
_WEBHOOK_TYPES = frozenset(
    {IntegrationType.STRIPE, IntegrationType.PAYPAL_EXPRESS, IntegrationType.AUTHORIZE_NET}
)


def _webhook_url(request: HttpRequest, integration: Integration) -> str:
    if integration.type not in _WEBHOOK_TYPES:
        return ""
    return request.build_absolute_uri(reverse("payments:webhook", args=[integration.webhook_token]))


@require_POST
@backoffice_view("integrations.change_integration")
def integration_set_active(request: HttpRequest, pk: int, active: bool) -> HttpResponse:
    integration = _live_integration(pk)
    try:
        services.integration_set_active(
            integration=integration,
            active=active,
            actor=request.user,  # type: ignore[arg-type]
        )
    except services.IntegrationError as error:
        messages.error(request, str(error))
    else:
        state = "Activated" if active else "Deactivated"
        messages.success(request, f"{state} the integration “{integration.name}”.")
    return redirect(_next_url(request, integration))


@require_POST
@backoffice_view("integrations.change_integration")
def integration_check_connection(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _live_integration(pk)
    if not has_remote_api(integration):
        raise Http404("This integration has no remote API.")
    result = services.integration_check_connection(integration=integration)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect("integrations:detail", pk=integration.pk)


def _next_url(request: HttpRequest, integration: Integration) -> str:
    """Back to the list page the action came from (filters kept), else the integration's page."""
    next_url = request.POST.get("next", "")
    list_url = reverse("integrations:list")
    if next_url.startswith(list_url) and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}
    ):
        return next_url
    return integration.get_absolute_url()


@backoffice_view("integrations.delete_integration")
def integration_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the impact, as a page or (for the in-page dialog) a fragment. POST: delete."""
    integration = get_object_or_404(Integration, pk=pk)
    if integration.is_deleted:
        if request.method == "POST":  # a second click, a retried request
            messages.info(request, f"{integration.name} has already been deleted.")
            return redirect("integrations:list")
        raise Http404("This integration has been deleted.")
    if request.method == "POST":
        try:
            report = deletion.integration_delete(
                integration=integration,
                actor=request.user,  # type: ignore[arg-type]
            )
        except deletion.DeletionError as error:
            messages.error(request, str(error))
            return redirect("integrations:list")
        messages.success(request, _deletion_summary(report, integration))
        return redirect("integrations:list")
    return _confirmation(request, integration, action="delete")


@backoffice_view("integrations.change_integration")
def integration_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what deactivating would take out of checkout. POST: deactivate."""
    if request.method == "POST":
        return integration_set_active(request, pk, active=False)
    return _confirmation(request, _live_integration(pk), action="deactivate")


def _confirmation(request: HttpRequest, integration: Integration, *, action: str) -> HttpResponse:
    impact = deletion.deletion_impact(integration=integration)
    context = {
        "integration": integration,
        "impact": impact,
        "action": action,
        "review_url": _rules_url(impact.affected_rule_ids, integration),
        "next": request.GET.get("next", ""),
    }
    if request.GET.get("partial") == "1":
        return render(request, "integrations/_confirm_body.html", context)
    return render(request, "integrations/confirm.html", context)


def _rules_url(rule_ids: list[int], integration: Integration) -> str:
    base = reverse("rules:list")
    if rule_ids:
        return f"{base}?ids={','.join(str(pk) for pk in rule_ids)}"
    return f"{base}?integration={integration.pk}"


def _deletion_summary(report: deletion.DeletionReport, integration: Integration) -> str:
    started = report.started_checkouts
    cancelled = (
        f" {started} started checkout{pluralize(started)} {pluralize(started, 'is,are')} being "
        "cancelled at the provider; nothing is taken."
        if started
        else ""
    )
    if not report.rules_affected:
        return f"Deleted {report.name}.{cancelled}"
    text = (
        f"Deleted {report.name}. Disabled {report.rule_methods_disabled} payment "
        f"method{pluralize(report.rule_methods_disabled)} in {report.rules_affected} "
        f"rule{pluralize(report.rules_affected)}; {report.rules_disabled} "
        f"rule{pluralize(report.rules_disabled)} disabled.{cancelled}"
    )
    return format_html(
        '{} <a href="{}" target="_blank" rel="noopener">Review the affected payment rules</a>',
        text,
        _rules_url(report.affected_rule_ids, integration),
    )
