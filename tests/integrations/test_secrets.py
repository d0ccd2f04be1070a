"""Secrets: encrypted at rest, masked, never echoed, never logged, never audited, rotatable."""

from __future__ import annotations

import io
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from backoffice.models import AuditEntry
from integrations import secrets
from integrations.models import Integration
from integrations.types import IntegrationType
from tests.factories import VALID_SETTINGS, create_integration, form_data

SECRET_VALUES = {
    IntegrationType.STRIPE: ["sk_test_TestSecretKey000000001", "whsec_TestSigning0001"],
    IntegrationType.PAYFLOW_GATEWAY: ["payflow-secret-1"],
    IntegrationType.PAYPAL_EXPRESS: ["paypal-client-secret-1"],
    IntegrationType.AUTHORIZE_NET: ["TxnKey0123456789"],
}

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("type", list(SECRET_VALUES))
def test_raw_table_holds_no_plaintext_secret(type):
    create_integration(type)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, settings, encrypted_secrets FROM integrations_integration")
        raw = " ".join(str(value) for row in cursor.fetchall() for value in row)
    for secret in SECRET_VALUES[type]:
        assert secret not in raw
    assert Integration.objects.get().get_secrets()  # and yet it decrypts


@pytest.mark.parametrize("type", list(SECRET_VALUES))
def test_detail_page_masks_secrets_and_edit_form_never_echoes_them(admin_client, type):
    integration = create_integration(type)
    detail = admin_client.get(f"/admin/integrations/{integration.pk}/").content.decode()
    edit = admin_client.get(f"/admin/integrations/{integration.pk}/edit/").content.decode()
    for secret in SECRET_VALUES[type]:
        assert secret not in detail
        assert secret not in edit
    masked = secrets.mask(SECRET_VALUES[type][0])
    assert masked in detail
    assert f"Stored: {masked}" in edit


def test_mask_shows_only_the_last_four_characters_of_a_long_secret():
    assert secrets.mask("sk_test_abcdefgh1234") == "••••1234"
    # Too short to hide the rest behind 4 visible characters: show nothing of it.
    assert secrets.mask("short-pw") == "••••"


def test_empty_secret_on_edit_keeps_the_stored_one(admin_client):
    integration = create_integration(IntegrationType.STRIPE, name="Shop Stripe")
    data = form_data(IntegrationType.STRIPE, "Shop Stripe", secret_key="", label="Cards")
    response = admin_client.post(f"/admin/integrations/{integration.pk}/edit/", data)
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.settings["label"] == "Cards"
    assert integration.get_secrets()["secret_key"] == "sk_test_TestSecretKey000000001"


def test_secrets_never_reach_the_logs_or_the_audit_trail(admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    admin_client.post(
        "/admin/integrations/new/?type=stripe", form_data(IntegrationType.STRIPE, "Logged")
    )
    integration = Integration.objects.get(name="Logged")
    new_secret = "sk_test_ReplacedSecret0000000002"
    admin_client.post(
        f"/admin/integrations/{integration.pk}/edit/",
        form_data(IntegrationType.STRIPE, "Logged", secret_key=new_secret),
    )
    assert (
        integration.__class__.objects.get(pk=integration.pk).get_secrets()["secret_key"]
        == new_secret
    )
    audit = " ".join(str(entry.changes) for entry in AuditEntry.objects.all())
    for secret in [*SECRET_VALUES[IntegrationType.STRIPE], new_secret]:
        assert secret not in caplog.text
        assert secret not in audit
    updated = AuditEntry.objects.get(action="integration.updated")
    assert updated.changes["secret_key"] == "changed"


def test_rejected_form_does_not_echo_the_submitted_secret(admin_client):
    data = form_data(IntegrationType.PAYFLOW_GATEWAY, "Bad", vendor="", password="payflow-secret-9")
    response = admin_client.post("/admin/integrations/new/?type=paypal_payflow_gateway", data)
    assert response.status_code == 400
    assert "payflow-secret-9" not in response.content.decode()


def test_rotation_re_encrypts_with_the_first_key_and_old_keys_can_then_go(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    integration = create_integration(IntegrationType.STRIPE)
    before = Integration.objects.get(pk=integration.pk).encrypted_secrets

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert Integration.objects.get(pk=integration.pk).get_secrets()  # both keys decrypt
    call_command("rotate_secrets", stdout=io.StringIO())
    after = Integration.objects.get(pk=integration.pk).encrypted_secrets
    assert after != before

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert (
        Integration.objects.get(pk=integration.pk).get_secrets()["secret_key"]
        == VALID_SETTINGS[IntegrationType.STRIPE]["secret_key"]
    )
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    with pytest.raises(ImproperlyConfigured):
        Integration.objects.get(pk=integration.pk).get_secrets()


def test_a_malformed_encryption_key_is_a_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured):
        secrets.encrypt({"a": "b"})
