"""Forms for Sales › Orders: the list filters and the payment row actions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms

from backoffice.models import Website
from payments import order_selectors
from payments.money import MoneyError, parse_amount
from payments.status import STATUS_LABELS


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        label="Payment status",
        choices=[("", "Any status"), *((s.value, label) for s, label in STATUS_LABELS.items())],
    )
    method = forms.CharField(
        required=False,
        max_length=255,
        label="Method",
        widget=forms.TextInput(attrs={"placeholder": "Admin label or method ID"}),
    )
    website = forms.ModelChoiceField(
        required=False, queryset=Website.objects.all(), empty_label="Any website"
    )
    awaiting_capture = forms.BooleanField(required=False, label="Authorized — awaiting capture")
    expires_within = forms.IntegerField(
        required=False, min_value=0, max_value=365, label="Authorization expires within (days)"
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, key) for name in order_selectors.SORTS for key in (name, f"-{name}")],
    )


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class PaymentActionForm(forms.Form):
    """A row action: the key is made when the page renders, so a double submit acts once."""

    idempotency_key = forms.CharField(max_length=128, widget=forms.HiddenInput)

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("idempotency_key", new_idempotency_key())
        initial.setdefault("currency", currency)
        super().__init__(*args, **kwargs)
        self.payment_currency = currency


class AmountMixin(forms.Form):
    amount = forms.CharField(max_length=32, label="Amount")
    # The currency the page showed; the service refuses an amount meant for another one.
    currency = forms.CharField(required=False, max_length=3, widget=forms.HiddenInput)

    payment_currency: str

    def clean_amount(self) -> Decimal:
        try:
            return parse_amount(self.cleaned_data["amount"], self.payment_currency)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None


class NoteMixin(forms.Form):
    note = forms.CharField(max_length=1000, label="Note", widget=forms.Textarea(attrs={"rows": 2}))

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("This field is required.")
        return note


class CaptureForm(AmountMixin, PaymentActionForm):
    # Set by the confirmation step ("Yes, capture"); without it the view asks first.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class CancelForm(NoteMixin, PaymentActionForm):
    pass


class RefundForm(AmountMixin, NoteMixin, PaymentActionForm):
    field_order = ["amount", "note", "idempotency_key"]


class MarkReceivedForm(PaymentActionForm):
    pass
