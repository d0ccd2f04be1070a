"""The buyer's checkout form: the chosen method and the key that makes a resubmit harmless."""

from __future__ import annotations

from django import forms


class CheckoutForm(forms.Form):
    # A plain id, not a choice of the methods offered when the page was shown: the rules may
    # have changed since, and checkout_submit answers that with the issue's own message.
    method = forms.IntegerField(
        min_value=1, error_messages={"required": "Please select a payment method."}
    )
    idempotency_key = forms.CharField(
        max_length=128,
        widget=forms.HiddenInput,
        error_messages={
            "required": "This page has expired; please reload it and try again.",
            "max_length": "This page has expired; please reload it and try again.",
        },
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["method"].error_messages["invalid"] = "Please select a payment method."
        self.fields["method"].error_messages["min_value"] = "Please select a payment method."
