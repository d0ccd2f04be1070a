"""Stripe: keys must be of the kind and the mode this deployment accepts."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from integrations.forms.base import (
    IntegrationForm,
    _secret,
    _text,
)
from integrations.types import (
    Environment,
    IntegrationType,
    deployment_is_production,
)

STRIPE_KEY_PATTERNS = {
    "publishable_key": re.compile(r"^pk_(test|live)_[A-Za-z0-9]{8,247}$"),
    "secret_key": re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,247}$"),
    "webhook_signing_secret": re.compile(r"^whsec_[A-Za-z0-9+/=]{8,249}$"),
}


def stripe_key_mode(key: str) -> str:
    """'test' or 'live' for a Stripe API key ('' when it is neither)."""
    match = re.match(r"^(?:pk|sk|rk)_(test|live)_", key)
    return match.group(1) if match else ""


class StripeForm(IntegrationForm):
    type = IntegrationType.STRIPE
    secret_fields = ("secret_key", "webhook_signing_secret")
    optional_secret_fields = ("webhook_signing_secret",)

    label = _text("Label", initial="Credit Card (Stripe)", help_text="Shown to buyers at checkout.")
    short_label = _text("Short label", initial="Credit Card", help_text="Shown in order history.")
    publishable_key = forms.CharField(
        label="Publishable key", max_length=255, help_text="Starts with pk_test_ or pk_live_."
    )
    secret_key = _secret(
        "Secret key", help_text="Starts with sk_test_ or sk_live_ (or rk_ for a restricted key)."
    )
    webhook_signing_secret = _secret(
        "Webhook signing secret",
        help_text="Starts with whsec_. Optional until webhooks are set up.",
    )
    payment_action = forms.ChoiceField(
        label="Payment action",
        choices=[("manual", "Manual (authorize)"), ("automatic", "Automatic (capture)")],
        initial="automatic",
    )
    fieldsets = [
        ("Display", ["label", "short_label"]),
        ("Integration", ["publishable_key", "secret_key", "webhook_signing_secret"]),
        ("Advanced", ["payment_action"]),
    ]

    def _clean_key(self, field: str, kind: str) -> str:
        key: str = (self.cleaned_data.get(field) or "").strip()
        if not key:
            return key
        if not STRIPE_KEY_PATTERNS[field].match(key):
            raise forms.ValidationError(f"This is not a Stripe {kind}.")
        mode = stripe_key_mode(key)
        if mode == "test" and deployment_is_production():
            raise forms.ValidationError("Test keys cannot be used in a production deployment.")
        if mode == "live" and not deployment_is_production():
            raise forms.ValidationError("Live keys cannot be used in a sandbox deployment.")
        return key

    def clean_publishable_key(self) -> str:
        return self._clean_key("publishable_key", "publishable key (pk_test_… or pk_live_…)")

    def clean_secret_key(self) -> str:
        return self._clean_key("secret_key", "secret key (sk_test_… or sk_live_…)")

    def clean_webhook_signing_secret(self) -> str:
        return self._clean_key("webhook_signing_secret", "webhook signing secret (whsec_…)")

    def environment(self) -> str:
        mode = stripe_key_mode(self.cleaned_data.get("publishable_key", ""))
        return Environment.LIVE if mode == "live" else Environment.SANDBOX

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        publishable = cleaned.get("publishable_key", "")
        secret = cleaned.get("secret_key") or (
            self.instance.get_secrets().get("secret_key", "") if self.instance else ""
        )
        if publishable and secret and stripe_key_mode(publishable) != stripe_key_mode(secret):
            self.add_error(
                "secret_key",
                "The secret key and the publishable key must both be test or both live.",
            )
        return cleaned
