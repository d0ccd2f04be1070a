"""Integration services: methods follow the settings; races on the name end in a form error."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from integrations import services
from integrations.models import Integration
from integrations.types import IntegrationType, PaymentAction
from tests.factories import create_integration, form_data

pytestmark = pytest.mark.django_db


def test_a_concurrently_taken_name_is_a_form_error_not_a_500(admin_client, admin_user, monkeypatch):
    create_integration(IntegrationType.MONEY_ORDER, name="Checks")
    real_create = services.integration_create

    def create_after_the_other_admin(**kwargs):
        # The other administrator's row lands between our validation and our insert.
        kwargs["name"] = "Checks"
        return real_create(**kwargs)

    monkeypatch.setattr(services, "integration_create", create_after_the_other_admin)
    response = admin_client.post(
        "/admin/integrations/new/?type=money_order",
        form_data(IntegrationType.MONEY_ORDER, "Cheques"),
    )
    assert response.status_code == 400
    assert "An integration with this name already exists." in response.content.decode()
    assert Integration.objects.count() == 1


def test_the_database_keeps_live_names_unique_case_insensitively(admin_user):
    create_integration(IntegrationType.MONEY_ORDER, name="Checks")
    with pytest.raises(IntegrityError):
        Integration.objects.create(
            type=IntegrationType.MONEY_ORDER, name="CHECKS", environment="offline"
        )


def test_stripe_payment_action_decides_the_methods_action(admin_user):
    manual = create_integration(IntegrationType.STRIPE, name="Manual", payment_action="manual")
    automatic = create_integration(
        IntegrationType.STRIPE,
        name="Automatic",
        payment_action="automatic",
        publishable_key="pk_test_Other0000001",
    )
    assert manual.methods.get().payment_action == PaymentAction.AUTHORIZE
    assert automatic.methods.get().payment_action == PaymentAction.CHARGE


def test_method_identifiers_are_stable_across_edits(admin_client):
    integration = create_integration(IntegrationType.PAYFLOW_GATEWAY, name="Payflow")
    before = sorted(integration.methods.values_list("pk", "identifier"))
    admin_client.post(
        f"/admin/integrations/{integration.pk}/edit/",
        form_data(IntegrationType.PAYFLOW_GATEWAY, "Payflow renamed", password=""),
    )
    assert sorted(integration.methods.values_list("pk", "identifier")) == before
    assert set(integration.methods.values_list("admin_label", flat=True)) == {
        "Payflow renamed",
        "Payflow renamed Express",
    }


def test_deactivating_from_a_filtered_list_returns_to_that_list(admin_client):
    integration = create_integration(IntegrationType.MONEY_ORDER, name="Checks")
    list_url = "/admin/integrations/?type=money_order&sort=-name&page=1"
    response = admin_client.post(
        f"/admin/integrations/{integration.pk}/deactivate/", {"next": list_url}
    )
    assert response.url == list_url
    elsewhere = admin_client.post(
        f"/admin/integrations/{integration.pk}/activate/",
        {"next": "https://evil.example/admin/integrations/"},
    )
    assert elsewhere.url == f"/admin/integrations/{integration.pk}/"
