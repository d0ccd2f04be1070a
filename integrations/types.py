"""The vocabulary of integrations: their types, environments and payment actions."""

from __future__ import annotations

from django.db import models


class IntegrationType(models.TextChoices):
    MONEY_ORDER = "money_order", "Check/Money Order"
    PAYMENT_TERM = "payment_term", "Payment Terms"
    PAYFLOW_GATEWAY = "paypal_payflow_gateway", "PayPal Payflow Gateway"
    PAYMENTS_PRO = "paypal_payments_pro", "PayPal Payments Pro"
    PAYPAL_EXPRESS = "paypal_express", "PayPal Express"
    AUTHORIZE_NET = "authorize_net", "Authorize.Net"
    STRIPE = "stripe", "Stripe"


OFFLINE_TYPES = frozenset({IntegrationType.MONEY_ORDER, IntegrationType.PAYMENT_TERM})
PAYFLOW_TYPES = frozenset({IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO})

TYPE_DESCRIPTIONS: dict[str, str] = {
    IntegrationType.MONEY_ORDER: "Buyers pay by check or money order; staff mark it received.",
    IntegrationType.PAYMENT_TERM: "Invoice customers that have a payment term such as Net 30.",
    IntegrationType.PAYFLOW_GATEWAY: "Cards through Payflow Pro, plus PayPal Express Checkout.",
    IntegrationType.PAYMENTS_PRO: "Cards through Payments Pro, plus PayPal Express Checkout.",
    IntegrationType.PAYPAL_EXPRESS: "Buyers approve the payment on PayPal (REST API).",
    IntegrationType.AUTHORIZE_NET: "Cards tokenized with Accept.js, and optional eCheck.",
    IntegrationType.STRIPE: "Cards through Stripe PaymentIntents and Stripe.js.",
}


class Environment(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox"
    LIVE = "live", "Live"
    OFFLINE = "offline", "Offline"


class PaymentAction(models.TextChoices):
    AUTHORIZE = "authorize", "Authorize"
    CHARGE = "charge", "Charge"
    PENDING = "pending", "Pending until received"
    INVOICE = "invoice", "Invoice"


def deployment_is_production() -> bool:
    from django.conf import settings

    return bool(settings.IS_PRODUCTION)


def environment_allowed(environment: str) -> bool:
    """Whether an integration in `environment` may be active in this deployment.

    Sandbox credentials never work in production, and live ones never in a sandbox.
    """
    if environment == Environment.OFFLINE:
        return True
    wanted = Environment.LIVE if deployment_is_production() else Environment.SANDBOX
    return environment == wanted


def environment_refusal(environment: str) -> str:
    """The reason an integration in `environment` cannot be active here ('' when it can)."""
    if environment_allowed(environment):
        return ""
    if deployment_is_production():
        return "A sandbox (test mode) integration cannot be active in a production deployment."
    return (
        "This is a sandbox deployment: a live integration cannot be active here. "
        "Use test/sandbox credentials."
    )
