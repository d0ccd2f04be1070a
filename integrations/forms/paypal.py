"""PayPal Payflow Gateway, PayPal Payments Pro (same protocol and form) and PayPal Express."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from integrations.forms.base import (
    CARD_ACTIONS,
    CARD_TYPES,
    PAYFLOW_PARTNERS,
    IntegrationForm,
    _card_types,
    _flag,
    _secret,
    _text,
)
from integrations.models import Integration
from integrations.types import (
    IntegrationType,
    PaymentAction,
    deployment_is_production,
)


class PayflowForm(IntegrationForm):
    """PayPal Payflow Gateway; PayPal Payments Pro uses the same protocol and form."""

    type = IntegrationType.PAYFLOW_GATEWAY
    secret_fields = ("password",)
    sandbox_flag = "test_mode"

    credit_card_label = _text("Credit card label", initial="Credit Card")
    credit_card_short_label = _text("Credit card short label", initial="Credit Card")
    allowed_card_types = _card_types(CARD_TYPES)
    partner = forms.CharField(
        label="Partner",
        max_length=64,
        initial="PayPal",
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "Letters and digits only, e.g. PayPal.")],
        help_text="PayPal if you bought Payflow directly from PayPal; otherwise your reseller's ID "
        f"({', '.join(PAYFLOW_PARTNERS)}).",
    )
    vendor = _text("Vendor", help_text="Your merchant login ID.")
    user = _text("User", help_text="The API user; the same as the vendor unless you set up users.")
    password = _secret("Password", min_length=7, help_text="7 to 255 characters.")
    test_mode = _flag("Test mode", help_text="Use PayPal's pilot (sandbox) servers.")
    credit_card_payment_action = forms.ChoiceField(
        label="Credit card payment action", choices=CARD_ACTIONS, initial=PaymentAction.CHARGE
    )
    require_cvv = _flag("Require CVV entry", initial=True)
    zero_amount_authorization = _flag(
        "Zero amount authorization", help_text="Verify cards with a $0 authorization."
    )
    authorization_for_required_amount = _flag(
        "Authorization for required amount",
        help_text="Also authorize the order amount; needs zero amount authorization and the "
        "Authorize action.",
    )
    debug_mode = _flag("Debug mode", help_text="Ask PayPal for verbose responses.")
    use_proxy = _flag("Use proxy")
    proxy_host = _text("Proxy host", required=False)
    proxy_port = forms.IntegerField(
        label="Proxy port", required=False, min_value=1, max_value=65535
    )
    enable_ssl_verification = _flag("Enable SSL verification", initial=True)
    express_checkout_name = _text(
        "Express checkout name",
        help_text="How administrators see the express checkout method; must differ from the name.",
    )
    express_checkout_label = _text("Express checkout label", initial="PayPal")
    express_checkout_short_label = _text("Express checkout short label", initial="PayPal")
    express_checkout_payment_action = forms.ChoiceField(
        label="Express checkout payment action", choices=CARD_ACTIONS, initial=PaymentAction.CHARGE
    )

    fieldsets = [
        ("Display", ["credit_card_label", "credit_card_short_label", "allowed_card_types"]),
        ("Integration", ["partner", "vendor", "user", "password", "test_mode"]),
        (
            "Advanced",
            [
                "credit_card_payment_action",
                "require_cvv",
                "zero_amount_authorization",
                "authorization_for_required_amount",
                "debug_mode",
            ],
        ),
        ("Connection", ["use_proxy", "proxy_host", "proxy_port", "enable_ssl_verification"]),
        (
            "Express checkout",
            [
                "express_checkout_name",
                "express_checkout_label",
                "express_checkout_short_label",
                "express_checkout_payment_action",
            ],
        ),
    ]

    def clean_proxy_host(self) -> str:
        host: str = self.cleaned_data.get("proxy_host", "")
        if host and not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", host):
            raise forms.ValidationError("Enter a host name or IP address, without a scheme.")
        return host

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("use_proxy"):
            for field in ("proxy_host", "proxy_port"):
                if not cleaned.get(field) and field not in self.errors:
                    self.add_error(field, "Required when a proxy is used.")
        if cleaned.get("authorization_for_required_amount") and not (
            cleaned.get("zero_amount_authorization")
            and cleaned.get("credit_card_payment_action") == PaymentAction.AUTHORIZE
        ):
            self.add_error(
                "authorization_for_required_amount",
                "Needs zero amount authorization on and the Authorize payment action.",
            )
        if not cleaned.get("enable_ssl_verification") and deployment_is_production():
            self.add_error(
                "enable_ssl_verification",
                "SSL verification cannot be turned off in a production deployment.",
            )
        express_name = (cleaned.get("express_checkout_name") or "").strip()
        if express_name:
            cleaned["express_checkout_name"] = express_name
            if express_name.lower() == (cleaned.get("name") or "").lower():
                self.add_error("express_checkout_name", "Must differ from the integration's name.")
            elif self._express_name_taken(express_name):
                self.add_error(
                    "express_checkout_name",
                    "Another integration already uses this express checkout name.",
                )
        return cleaned

    def _express_name_taken(self, express_name: str) -> bool:
        others = Integration.objects.alive().filter(
            type__in=[IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO],
            settings__express_checkout_name__iexact=express_name,
        )
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        return others.exists()


class PaymentsProForm(PayflowForm):
    type = IntegrationType.PAYMENTS_PRO


class PayPalExpressForm(IntegrationForm):
    type = IntegrationType.PAYPAL_EXPRESS
    secret_fields = ("client_secret",)
    sandbox_flag = "sandbox_mode"

    label = _text("Label", initial="PayPal", help_text="Shown to buyers at checkout.")
    short_label = _text("Short label", initial="PayPal", help_text="Shown in order history.")
    client_id = forms.CharField(
        label="Client ID",
        max_length=255,
        validators=[RegexValidator(r"^[A-Za-z0-9_\-]+$", "This is not a PayPal client ID.")],
    )
    client_secret = _secret("Client secret")
    sandbox_mode = _flag("Sandbox mode", help_text="Use PayPal's sandbox.")
    payment_action = forms.ChoiceField(
        label="Payment action", choices=CARD_ACTIONS, initial=PaymentAction.CHARGE
    )
    webhook_id = forms.CharField(
        label="Webhook ID",
        max_length=64,
        required=False,
        validators=[RegexValidator(r"^[A-Za-z0-9\-]+$", "This is not a PayPal webhook ID.")],
        help_text="The ID PayPal shows for the webhook pointing at this site; PayPal checks "
        "each notification's signature against it. Leave empty to refuse webhooks.",
    )
    fieldsets = [
        ("Display", ["label", "short_label"]),
        ("Integration", ["client_id", "client_secret", "sandbox_mode", "webhook_id"]),
        ("Advanced", ["payment_action"]),
    ]
