"""Test and live credentials never mix: sandbox ones never work in production and vice versa.

What a sandbox integration left in a production database can still do, path by path and for
every type (activation, connection check, checkout, webhooks, staff operations...), is in
tests/security/test_test_mode_in_production.py.
"""

from __future__ import annotations

import pytest
from django.core import checks

from integrations import services
from integrations.models import Integration
from integrations.types import Environment, IntegrationType
from tests.factories import create_integration, form_data

pytestmark = pytest.mark.django_db

LIVE_STRIPE = {
    "publishable_key": "pk_live_LivePublishable0001",
    "secret_key": "sk_live_" + "LiveSecretKey000000001",
}


@pytest.fixture
def production(settings):
    settings.IS_PRODUCTION = True
    settings.PAYMENTS_ENVIRONMENT = "production"
    return settings


def _post_new(client, type, **overrides):
    return client.post(
        f"/admin/integrations/new/?type={type}", form_data(type, "Guarded", **overrides)
    )


def test_sandbox_deployment_refuses_live_stripe_keys(admin_client):
    response = _post_new(admin_client, IntegrationType.STRIPE, **LIVE_STRIPE)
    assert response.status_code == 400
    assert "Live keys cannot be used in a sandbox deployment." in response.content.decode()
    assert not Integration.objects.exists()


def test_production_refuses_test_stripe_keys(admin_client, production):
    response = _post_new(admin_client, IntegrationType.STRIPE)
    assert response.status_code == 400
    assert "Test keys cannot be used in a production deployment." in response.content.decode()
    assert not Integration.objects.exists()


def test_production_accepts_live_stripe_keys(admin_client, production):
    response = _post_new(
        admin_client, IntegrationType.STRIPE, **LIVE_STRIPE, webhook_signing_secret=None
    )
    assert response.status_code == 302
    assert Integration.objects.get().environment == Environment.LIVE


@pytest.mark.parametrize(
    ("type", "mode_field"),
    [
        (IntegrationType.PAYFLOW_GATEWAY, "test_mode"),
        (IntegrationType.PAYMENTS_PRO, "test_mode"),
        (IntegrationType.PAYPAL_EXPRESS, "sandbox_mode"),
        (IntegrationType.AUTHORIZE_NET, "test_mode"),
    ],
)
def test_production_saves_a_test_mode_integration_only_inactive(
    admin_client, production, type, mode_field
):
    refused = _post_new(admin_client, type, **{mode_field: True})
    assert refused.status_code == 400
    assert "cannot be active in a production deployment" in refused.content.decode()
    assert not Integration.objects.exists()

    saved = _post_new(admin_client, type, **{mode_field: True, "is_active": None})
    assert saved.status_code == 302
    integration = Integration.objects.get()
    assert (integration.is_active, integration.environment) == (False, Environment.SANDBOX)


@pytest.mark.parametrize(
    ("type", "mode_field"),
    [
        (IntegrationType.PAYFLOW_GATEWAY, "test_mode"),
        (IntegrationType.PAYPAL_EXPRESS, "sandbox_mode"),
    ],
)
def test_sandbox_deployment_refuses_to_activate_a_live_integration(admin_client, type, mode_field):
    response = _post_new(admin_client, type, **{mode_field: None})
    assert response.status_code == 400
    assert "a live integration cannot be active here" in response.content.decode()


def test_offline_integrations_work_in_both_deployments(admin_client, production):
    response = _post_new(admin_client, IntegrationType.MONEY_ORDER)
    assert response.status_code == 302
    assert Integration.objects.get().environment == Environment.OFFLINE


def test_production_hides_and_ignores_the_endpoint_override(admin_client, production):
    page = admin_client.get("/admin/integrations/new/?type=stripe").content.decode()
    assert "api_base_url" not in page


def test_production_refuses_to_turn_off_payflow_ssl_verification(admin_client, production):
    response = _post_new(
        admin_client,
        IntegrationType.PAYFLOW_GATEWAY,
        test_mode=None,
        enable_ssl_verification=None,
    )
    assert response.status_code == 400
    assert "SSL verification cannot be turned off" in response.content.decode()


def test_system_check_reports_active_integrations_the_deployment_forbids(settings, admin_user):
    integration = create_integration(IntegrationType.STRIPE, name="Leftover test Stripe")
    assert not [m for m in checks.run_checks() if m.id == "integrations.W001"]
    settings.IS_PRODUCTION = True
    messages = [m for m in checks.run_checks() if m.id == "integrations.W001"]
    assert len(messages) == 1
    assert "Leftover test Stripe" in messages[0].msg
    services.integration_set_active(integration=integration, active=False, actor=admin_user)
    assert not [m for m in checks.run_checks() if m.id == "integrations.W001"]
