"""The audit trail: who created, changed, activated or deactivated an integration, and when."""

from __future__ import annotations

import pytest

from backoffice.models import AuditEntry
from integrations.models import Integration
from integrations.types import IntegrationType
from tests.factories import form_data

pytestmark = pytest.mark.django_db


def test_every_change_is_audited_and_shown_on_the_integration_page(admin_client, admin_user):
    admin_client.post(
        "/admin/integrations/new/?type=money_order",
        form_data(IntegrationType.MONEY_ORDER, "Checks"),
    )
    integration = Integration.objects.get(name="Checks")
    admin_client.post(
        f"/admin/integrations/{integration.pk}/edit/",
        form_data(IntegrationType.MONEY_ORDER, "Checks by mail", pay_to="Acme Holdings"),
    )
    admin_client.post(f"/admin/integrations/{integration.pk}/deactivate/")
    admin_client.post(f"/admin/integrations/{integration.pk}/activate/")

    entries = list(AuditEntry.objects.filter(object_id=integration.pk).order_by("id"))
    assert [e.action for e in entries] == [
        "integration.created",
        "integration.updated",
        "integration.deactivated",
        "integration.activated",
    ]
    assert all(e.actor == admin_user for e in entries)
    assert entries[1].changes["name"] == ["Checks", "Checks by mail"]
    assert entries[1].changes["pay_to"] == ["Acme Inc.", "Acme Holdings"]
    assert "label" not in entries[1].changes  # unchanged fields are not listed

    page = admin_client.get(f"/admin/integrations/{integration.pk}/").content.decode()
    for text in ("Created", "Updated", "Deactivated", "Activated", "Acme Inc. → Acme Holdings"):
        assert text in page


def test_saving_without_changes_adds_no_entry(admin_client):
    admin_client.post(
        "/admin/integrations/new/?type=payment_term",
        form_data(IntegrationType.PAYMENT_TERM, "Terms"),
    )
    integration = Integration.objects.get()
    admin_client.post(
        f"/admin/integrations/{integration.pk}/edit/",
        form_data(IntegrationType.PAYMENT_TERM, "Terms"),
    )
    assert AuditEntry.objects.filter(object_id=integration.pk).count() == 1


def test_activating_an_active_integration_changes_nothing(admin_client):
    admin_client.post(
        "/admin/integrations/new/?type=payment_term",
        form_data(IntegrationType.PAYMENT_TERM, "Terms"),
    )
    integration = Integration.objects.get()
    response = admin_client.post(f"/admin/integrations/{integration.pk}/activate/")
    assert response.status_code == 302
    assert AuditEntry.objects.filter(object_id=integration.pk).count() == 1
