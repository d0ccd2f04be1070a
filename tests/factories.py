"""factory-boy factories for the test suite."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import Group, User

from backoffice.models import Customer, CustomerGroup, CustomerUser, PaymentTerm, Website
from integrations import services
from integrations.forms import form_class_for
from integrations.models import Integration
from integrations.types import IntegrationType


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pass-word-123")

    @factory.post_generation
    def groups(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        for name in extracted or []:
            self.groups.add(Group.objects.get(name=name))


class PaymentTermFactory(factory.django.DjangoModelFactory[PaymentTerm]):
    class Meta:
        model = PaymentTerm
        django_get_or_create = ("label",)

    label = "Net 30"


class WebsiteFactory(factory.django.DjangoModelFactory[Website]):
    class Meta:
        model = Website

    name = factory.Sequence(lambda n: f"Website {n}")
    code = factory.Sequence(lambda n: f"site{n}")


class CustomerGroupFactory(factory.django.DjangoModelFactory[CustomerGroup]):
    class Meta:
        model = CustomerGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    group = factory.SubFactory(CustomerGroupFactory)


class CustomerUserFactory(factory.django.DjangoModelFactory[CustomerUser]):
    class Meta:
        model = CustomerUser

    user = factory.SubFactory(UserFactory)
    customer = factory.SubFactory(CustomerFactory)


# Valid form data per type: what an administrator would type. Tests override single fields.
VALID_SETTINGS: dict[str, dict[str, Any]] = {
    IntegrationType.MONEY_ORDER: {
        "label": "Check/Money Order",
        "short_label": "Check",
        "pay_to": "Acme Inc.",
        "send_to": "1 Main St\nSpringfield",
    },
    IntegrationType.PAYMENT_TERM: {"label": "Payment Terms", "short_label": "Terms"},
    IntegrationType.PAYFLOW_GATEWAY: {
        "credit_card_label": "Credit Card",
        "credit_card_short_label": "Card",
        "allowed_card_types": ["visa", "mastercard"],
        "partner": "PayPal",
        "vendor": "acme",
        "user": "acme",
        "password": "payflow-secret-1",
        "test_mode": True,
        "credit_card_payment_action": "authorize",
        "require_cvv": True,
        "enable_ssl_verification": True,
        "express_checkout_name": "Payflow Express",
        "express_checkout_label": "PayPal",
        "express_checkout_short_label": "PayPal",
        "express_checkout_payment_action": "charge",
    },
    IntegrationType.PAYPAL_EXPRESS: {
        "label": "PayPal",
        "short_label": "PayPal",
        "client_id": "SandboxClientId",
        "client_secret": "paypal-client-secret-1",
        "sandbox_mode": True,
        "payment_action": "authorize",
    },
    IntegrationType.AUTHORIZE_NET: {
        "credit_card_label": "Credit Card",
        "credit_card_short_label": "Card",
        "allowed_card_types": ["visa"],
        "api_login_id": "login123",
        "transaction_key": "TxnKey0123456789",
        "client_key": "PublicClientKey123",
        "test_mode": True,
        "payment_action": "charge",
        "require_cvv": True,
    },
    IntegrationType.STRIPE: {
        "label": "Credit Card",
        "short_label": "Card",
        "publishable_key": "pk_test_TestPublishable0001",
        "secret_key": "sk_test_TestSecretKey000000001",
        "webhook_signing_secret": "whsec_TestSigning0001",
        "payment_action": "manual",
    },
}
VALID_SETTINGS[IntegrationType.PAYMENTS_PRO] = {
    **VALID_SETTINGS[IntegrationType.PAYFLOW_GATEWAY],
    "express_checkout_name": "Payments Pro Express",
}


def form_data(type: str, name: str = "Test integration", **overrides: Any) -> dict[str, Any]:
    """POST data for the integration form of `type`; a value of None drops the field."""
    data = {"name": name, "is_active": True, **VALID_SETTINGS[type], **overrides}
    if type in (IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO):
        data.setdefault("express_checkout_name", f"{name} Express")
        if "express_checkout_name" not in overrides:
            data["express_checkout_name"] = f"{name} Express"
    return {key: value for key, value in data.items() if value is not None and value is not False}


def create_integration(
    type: str = IntegrationType.STRIPE,
    name: str = "Test integration",
    actor: User | None = None,
    **overrides: Any,
) -> Integration:
    """Create an integration through its form and service, as the back-office does."""
    form = form_class_for(type)(data=form_data(type, name, **overrides))
    assert form.is_valid(), form.errors
    return services.integration_create(
        type=type,
        actor=actor or UserFactory(groups=["Administrators"]),
        **form.integration_values(),
    )


def create_rule_with_methods(
    name: str,
    methods: list[Any],
    *,
    currency: str = "USD",
    sort_order: int = 0,
    enabled: bool = True,
    disabled_methods: tuple[Any, ...] = (),
) -> Any:
    """A payment rule using `methods` (PaymentMethod rows); those in `disabled_methods` are off."""
    from rules.models import PaymentRule, PaymentRuleMethod

    rule = PaymentRule.objects.create(
        name=name, currency=currency, sort_order=sort_order, enabled=enabled
    )
    PaymentRuleMethod.objects.bulk_create(
        PaymentRuleMethod(rule=rule, method=method, enabled=method not in disabled_methods)
        for method in methods
    )
    return rule


def create_rule(
    name: str = "Test rule",
    *,
    methods: list[Any] | None = None,
    actor: User | None = None,
    **overrides: Any,
) -> Any:
    """Create a payment rule through rules.services.rule_save, as the back-office does.

    `methods` are PaymentMethods (enabled) or (PaymentMethod, enabled) pairs; without them the
    rule gets the credit card method of a new Stripe integration.
    """
    from rules.models import PaymentRule
    from rules.services import DestinationData, RuleData, RuleMethodData, rule_save

    acting_user: Any = actor or UserFactory(groups=["Administrators"])
    if methods is None:
        integration = create_integration(
            IntegrationType.STRIPE, name=f"{name} Stripe", actor=acting_user
        )
        methods = list(integration.methods.all())
    fields: dict[str, Any] = {"name": name, "currency": "USD", **overrides}
    fields["destinations"] = tuple(
        d if isinstance(d, DestinationData) else DestinationData(*d)
        for d in fields.get("destinations", ())
    )
    fields["methods"] = tuple(
        RuleMethodData(*m) if isinstance(m, tuple) else RuleMethodData(m) for m in methods
    )
    rule: PaymentRule = rule_save(rule=None, data=RuleData(**fields), actor=acting_user)
    return rule
