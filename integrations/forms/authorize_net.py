"""Authorize.Net: cards tokenized by Accept.js, and optional eCheck."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator

from integrations.forms.base import (
    AUTHORIZE_NET_CARD_TYPES,
    CARD_ACTIONS,
    ECHECK_ACCOUNT_TYPES,
    IntegrationForm,
    _card_types,
    _flag,
    _secret,
    _text,
)
from integrations.types import (
    IntegrationType,
    PaymentAction,
)


class AuthorizeNetForm(IntegrationForm):
    type = IntegrationType.AUTHORIZE_NET
    secret_fields = ("transaction_key", "signature_key")
    optional_secret_fields = ("signature_key",)
    sandbox_flag = "test_mode"

    credit_card_label = _text("Credit card label", initial="Credit Card")
    credit_card_short_label = _text("Credit card short label", initial="Credit Card")
    allowed_card_types = _card_types(AUTHORIZE_NET_CARD_TYPES)
    api_login_id = forms.CharField(
        label="API login ID",
        max_length=25,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "Letters and digits only.")],
    )
    transaction_key = forms.CharField(
        label="Transaction key",
        required=False,
        max_length=16,
        min_length=16,
        validators=[
            RegexValidator(r"^[A-Za-z0-9]+$", "A transaction key is 16 letters and digits.")
        ],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="16 characters.",
    )
    client_key = forms.CharField(
        label="Client key",
        max_length=255,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "Letters and digits only.")],
        help_text="The public client key Accept.js uses in the buyer's browser.",
    )
    signature_key = _secret(
        "Signature key",
        help_text="Verifies Authorize.Net's webhook notifications (Account › Settings › API "
        "Credentials & Keys). Optional until webhooks are set up.",
    )
    test_mode = _flag("Test mode", help_text="Use the Authorize.Net sandbox.")
    payment_action = forms.ChoiceField(
        label="Payment action", choices=CARD_ACTIONS, initial=PaymentAction.CHARGE
    )
    require_cvv = _flag("Require CVV entry", initial=True)
    echeck_enabled = _flag(
        "Enable eCheck", help_text="Offer payment from a bank account (charge only)."
    )
    echeck_label = _text("eCheck label", initial="eCheck", required=False)
    echeck_short_label = _text("eCheck short label", initial="eCheck", required=False)
    echeck_account_types = forms.MultipleChoiceField(
        label="eCheck account types",
        choices=ECHECK_ACCOUNT_TYPES,
        initial=["checking", "savings"],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    echeck_confirmation_text = forms.CharField(
        label="eCheck confirmation text",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The debit authorization the buyer accepts.",
    )
    fieldsets = [
        ("Display", ["credit_card_label", "credit_card_short_label", "allowed_card_types"]),
        (
            "Integration",
            ["api_login_id", "transaction_key", "client_key", "signature_key", "test_mode"],
        ),
        ("Advanced", ["payment_action", "require_cvv"]),
        (
            "eCheck",
            [
                "echeck_enabled",
                "echeck_label",
                "echeck_short_label",
                "echeck_account_types",
                "echeck_confirmation_text",
            ],
        ),
    ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("echeck_enabled"):
            for field in ("echeck_label", "echeck_short_label", "echeck_account_types"):
                if not cleaned.get(field) and field not in self.errors:
                    self.add_error(field, "Required when eCheck is enabled.")
        return cleaned
