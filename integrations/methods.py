"""The payment methods each integration yields, derived from its settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integrations.types import IntegrationType, PaymentAction


@dataclass(frozen=True)
class MethodSpec:
    identifier: str
    kind: str
    label: str
    short_label: str
    admin_label: str
    payment_action: str


def method_specs(
    *, type: str, integration_id: int, name: str, settings: dict[str, Any]
) -> list[MethodSpec]:
    """Every method the integration offers now. Identifiers are stable: `<prefix>_<id>`."""

    def spec(prefix: str, kind: str, label_key: str, admin_label: str, action: str) -> MethodSpec:
        return MethodSpec(
            identifier=f"{prefix}_{integration_id}",
            kind=kind,
            label=settings.get(f"{label_key}label", ""),
            short_label=settings.get(f"{label_key}short_label", ""),
            admin_label=admin_label,
            payment_action=action,
        )

    if type == IntegrationType.MONEY_ORDER:
        return [spec("money_order", "money_order", "", name, PaymentAction.PENDING)]
    if type == IntegrationType.PAYMENT_TERM:
        return [spec("payment_term", "payment_term", "", name, PaymentAction.INVOICE)]
    if type in (IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO):
        return [
            spec(
                f"{type}_credit_card",
                "credit_card",
                "credit_card_",
                name,
                settings.get("credit_card_payment_action", PaymentAction.CHARGE),
            ),
            spec(
                f"{type}_express_checkout",
                "express_checkout",
                "express_checkout_",
                settings.get("express_checkout_name", ""),
                settings.get("express_checkout_payment_action", PaymentAction.CHARGE),
            ),
        ]
    if type == IntegrationType.PAYPAL_EXPRESS:
        return [
            spec(
                "paypal_express",
                "paypal_express",
                "",
                name,
                settings.get("payment_action", PaymentAction.CHARGE),
            )
        ]
    if type == IntegrationType.AUTHORIZE_NET:
        card = spec(
            "authorize_net",
            "credit_card",
            "credit_card_",
            name,
            settings.get("payment_action", PaymentAction.CHARGE),
        )
        if not settings.get("echeck_enabled"):
            return [card]
        # eCheck is always a charge: a bank debit cannot be authorized for later.
        return [
            card,
            spec("authorize_net_echeck", "echeck", "echeck_", f"{name} (eCheck)", "charge"),
        ]
    if type == IntegrationType.STRIPE:
        action = (
            PaymentAction.AUTHORIZE
            if settings.get("payment_action") == "manual"
            else PaymentAction.CHARGE
        )
        return [spec("stripe_payment", "credit_card", "", name, action)]
    raise ValueError(f"unknown integration type {type!r}")
