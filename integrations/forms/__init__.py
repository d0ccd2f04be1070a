"""One settings form per integration type.

Each form knows which of its fields are secrets (encrypted, write-only: an empty field keeps the
stored value) and lays its fields out in titled sections. `integration_values()` hands the
service what to store.
"""

from __future__ import annotations

from integrations.forms.authorize_net import AuthorizeNetForm
from integrations.forms.base import NAME_TAKEN, IntegrationForm
from integrations.forms.offline import MoneyOrderForm, PaymentTermForm
from integrations.forms.paypal import PayflowForm, PaymentsProForm, PayPalExpressForm
from integrations.forms.stripe import StripeForm, stripe_key_mode

__all__ = ["FORMS", "NAME_TAKEN", "IntegrationForm", "form_class_for", "stripe_key_mode"]

FORMS: dict[str, type[IntegrationForm]] = {
    form.type: form
    for form in (
        MoneyOrderForm,
        PaymentTermForm,
        PayflowForm,
        PaymentsProForm,
        PayPalExpressForm,
        AuthorizeNetForm,
        StripeForm,
    )
}


def form_class_for(type: str) -> type[IntegrationForm]:
    return FORMS[type]
