"""How rule methods, currencies and regions read on the rule pages."""

from __future__ import annotations

from functools import cache

import pycountry

from integrations.models import PaymentMethod
from rules.models import PaymentRuleMethod


@cache
def currency_choices() -> list[tuple[str, str]]:
    """ISO 4217 currencies as ("USD", "USD — US Dollar"), by code."""
    return sorted(
        (currency.alpha_3, f"{currency.alpha_3} — {currency.name}")
        for currency in pycountry.currencies
    )


def method_label(method: PaymentMethod) -> str:
    """Admin labels repeat across integrations ("Credit Card"); the integration tells them apart."""
    integration = method.integration
    kind = integration.get_type_display()
    if method.admin_label == integration.name:  # integration names are unique already
        return f"{method.admin_label} ({kind})"
    return f"{method.admin_label} — {integration.name} ({kind})"


def method_note(method: PaymentMethod, rule_method: PaymentRuleMethod | None = None) -> str:
    """Why a method in a rule is not offered at checkout ('' when nothing stands in its way)."""
    integration = method.integration
    if rule_method is not None and not rule_method.enabled:
        return rule_method.disabled_reason or "disabled in this rule"
    if integration.is_deleted:
        return "integration deleted"
    if not integration.is_active:
        return "integration inactive"
    if not method.is_offered:
        return "no longer offered by its integration"
    return ""
