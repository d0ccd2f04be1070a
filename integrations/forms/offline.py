"""Check/Money Order and Payment Terms: no remote API."""

from __future__ import annotations

from django import forms

from integrations.forms.base import (
    IntegrationForm,
    _text,
)
from integrations.types import (
    Environment,
    IntegrationType,
)


class MoneyOrderForm(IntegrationForm):
    type = IntegrationType.MONEY_ORDER
    has_remote_api = False
    label = _text("Label", initial="Check/Money Order", help_text="Shown to buyers at checkout.")
    short_label = _text(
        "Short label", initial="Check/Money Order", help_text="Shown in order history."
    )
    pay_to = _text("Pay to", help_text="Whom the check or money order is made out to.")
    send_to = forms.CharField(
        label="Send to",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The address and directions shown to the buyer with the payment instructions.",
    )
    fieldsets = [("Display", ["label", "short_label"]), ("Instructions", ["pay_to", "send_to"])]

    def environment(self) -> str:
        return Environment.OFFLINE


class PaymentTermForm(IntegrationForm):
    type = IntegrationType.PAYMENT_TERM
    has_remote_api = False
    label = _text("Label", initial="Payment Terms", help_text="Shown to buyers at checkout.")
    short_label = _text("Short label", initial="Payment Terms", help_text="Shown in order history.")
    fieldsets = [("Display", ["label", "short_label"])]

    def environment(self) -> str:
        return Environment.OFFLINE
