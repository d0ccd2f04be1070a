"""Create the demo users, sales context and one sandbox integration of every type (idempotent)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from backoffice.demo import (
    DemoPaymentError,
    demo_method,
    pay_demo_order,
    simulator_url,
    simulators_reachable,
)
from backoffice.models import (
    Address,
    Customer,
    CustomerGroup,
    CustomerUser,
    Order,
    OrderLine,
    PaymentTerm,
    Website,
)
from integrations import services
from integrations.forms import form_class_for
from integrations.models import Integration
from integrations.types import IntegrationType
from rules.models import PaymentRule
from rules.services import DestinationData, RuleData, RuleMethodData, rule_save

DEMO_USERS = [
    # username, password, first name, last name, group
    ("admin", "admin-demo", "Ada", "Admin", "Administrators"),
    ("sales", "sales-demo", "Sam", "Sales", "Sales"),
]

# Recognisable sandbox credentials; none of them works against a real provider.
DEMO_INTEGRATIONS: list[dict[str, Any]] = [
    {
        "type": IntegrationType.MONEY_ORDER,
        "name": "Demo Check/Money Order",
        "settings": {
            "label": "Check/Money Order",
            "short_label": "Check/Money Order",
            "pay_to": "Acme Industrial Supply, Inc.",
            "send_to": "Accounts Receivable\n1200 Harbor Blvd\nOakland, CA 94607",
        },
        "secrets": {},
    },
    {
        "type": IntegrationType.PAYMENT_TERM,
        "name": "Demo Payment Terms",
        "settings": {"label": "Payment Terms", "short_label": "Payment Terms"},
        "secrets": {},
    },
    {
        "type": IntegrationType.PAYFLOW_GATEWAY,
        "name": "Demo Payflow Gateway",
        "settings": {
            "api_base_url": simulator_url("payflow"),
            "credit_card_label": "Credit Card (Payflow)",
            "credit_card_short_label": "Credit Card",
            "allowed_card_types": ["visa", "mastercard"],
            "partner": "PayPal",
            "vendor": "acmedemo",
            "user": "acmedemo",
            "test_mode": True,
            "credit_card_payment_action": "authorize",
            "require_cvv": True,
            "zero_amount_authorization": False,
            "authorization_for_required_amount": False,
            "debug_mode": False,
            "use_proxy": False,
            "proxy_host": "",
            "enable_ssl_verification": True,
            "express_checkout_name": "Demo Payflow Express Checkout",
            "express_checkout_label": "PayPal (via Payflow)",
            "express_checkout_short_label": "PayPal",
            "express_checkout_payment_action": "charge",
        },
        "secrets": {"password": "demo-payflow-password"},
    },
    {
        "type": IntegrationType.PAYMENTS_PRO,
        "name": "Demo Payments Pro",
        "settings": {
            "api_base_url": simulator_url("payflow"),
            "credit_card_label": "Credit Card (Payments Pro)",
            "credit_card_short_label": "Credit Card",
            "allowed_card_types": ["visa", "mastercard", "american_express"],
            "partner": "PayPal",
            "vendor": "acmepro",
            "user": "acmepro",
            "test_mode": True,
            "credit_card_payment_action": "charge",
            "require_cvv": True,
            "zero_amount_authorization": False,
            "authorization_for_required_amount": False,
            "debug_mode": False,
            "use_proxy": False,
            "proxy_host": "",
            "enable_ssl_verification": True,
            "express_checkout_name": "Demo Payments Pro Express Checkout",
            "express_checkout_label": "PayPal (via Payments Pro)",
            "express_checkout_short_label": "PayPal",
            "express_checkout_payment_action": "charge",
        },
        "secrets": {"password": "demo-payments-pro-password"},
    },
    {
        "type": IntegrationType.PAYPAL_EXPRESS,
        "name": "Demo PayPal Express",
        "settings": {
            "api_base_url": simulator_url("paypal"),
            "label": "PayPal",
            "short_label": "PayPal",
            "client_id": "DemoSandboxClientId",
            "sandbox_mode": True,
            "payment_action": "authorize",
        },
        "secrets": {"client_secret": "DemoSandboxClientSecret0001"},
    },
    {
        "type": IntegrationType.AUTHORIZE_NET,
        "name": "Demo Authorize.Net",
        "settings": {
            "api_base_url": simulator_url("authorize_net"),
            "credit_card_label": "Credit Card (Authorize.Net)",
            "credit_card_short_label": "Credit Card",
            "allowed_card_types": ["visa", "mastercard", "discover"],
            "api_login_id": "DemoLogin01",
            "client_key": "DemoPublicClientKey0000000000000001",
            "test_mode": True,
            "payment_action": "authorize",
            "require_cvv": True,
            "echeck_enabled": True,
            "echeck_label": "eCheck",
            "echeck_short_label": "eCheck",
            "echeck_account_types": ["checking", "savings"],
            "echeck_confirmation_text": "I authorize this one-time debit from my bank account.",
        },
        "secrets": {"transaction_key": "DemoTxnKey000001"},
    },
    {
        "type": IntegrationType.STRIPE,
        "name": "Demo Stripe",
        "settings": {
            "api_base_url": simulator_url("stripe"),
            "label": "Credit Card (Stripe)",
            "short_label": "Credit Card",
            "publishable_key": "pk_test_DemoPublishableKey0000000001",
            "payment_action": "manual",
        },
        "secrets": {
            "secret_key": "sk_test_DemoSecretKey000000000000001",
            "webhook_signing_secret": "whsec_DemoSigningSecret0000000001",
        },
    },
]


class Command(BaseCommand):
    help = "Create demo users, customers and one sandbox integration of every type (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--pay-through-simulators",
            action="store_true",
            help="Also create orders paid by card and PayPal and awaiting capture, paying them "
            "through the running provider simulators (`make run` does).",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            help="Seconds to wait for the simulators to start (with --pay-through-simulators).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo is refused in a production deployment.")
        with transaction.atomic():
            admin = self._users()
            self._sales_context()
            created = self._integrations(admin)
            rules_created = self._rules(admin)
            self._orders()
        if options["pay_through_simulators"]:
            self._authorized_orders(wait=options["wait"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({created} integrations, {rules_created} payment rules created). "
                "Sign in as admin / admin-demo, "
                "sales / sales-demo or buyer / buyer-demo."
            )
        )

    def _users(self) -> User:
        for username, password, first, last, group_name in DEMO_USERS:
            user = self._user(username, password, first, last)
            user.groups.add(Group.objects.get(name=group_name))
        return User.objects.get(username="admin")

    def _user(self, username: str, password: str, first: str, last: str) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
        )
        if created:
            user.set_password(password)
            user.save()
        return user

    def _sales_context(self) -> None:
        for name, code in [("Acme US Store", "us"), ("Acme EU Store", "eu")]:
            Website.objects.get_or_create(code=code, defaults={"name": name})
        net30, _ = PaymentTerm.objects.get_or_create(label="Net 30")
        net60, _ = PaymentTerm.objects.get_or_create(label="Net 60")
        wholesale, _ = CustomerGroup.objects.get_or_create(
            name="Wholesale", defaults={"payment_term": net30}
        )
        CustomerGroup.objects.get_or_create(name="Retail")
        government, _ = CustomerGroup.objects.get_or_create(
            name="Government", defaults={"payment_term": net60}
        )
        buyer_company, _ = Customer.objects.get_or_create(
            name="Northwind Traders", defaults={"group": wholesale}
        )
        Customer.objects.get_or_create(name="City of Springfield", defaults={"group": government})
        Customer.objects.get_or_create(
            name="Globex Retail", defaults={"group": CustomerGroup.objects.get(name="Retail")}
        )
        buyer = self._user("buyer", "buyer-demo", "Bea", "Buyer")
        CustomerUser.objects.get_or_create(user=buyer, defaults={"customer": buyer_company})

    def _integrations(self, admin: User) -> int:
        created = 0
        for spec in DEMO_INTEGRATIONS:
            existing = Integration.objects.alive().filter(name=spec["name"]).first()
            if existing is not None:
                self._point_at_simulator(existing, spec)
                continue
            # Through the same form an administrator uses, so demo data obeys every rule.
            form = form_class_for(spec["type"])(
                data={
                    "name": spec["name"],
                    "is_active": True,
                    **spec["settings"],
                    **spec["secrets"],
                }
            )
            if not form.is_valid():
                raise CommandError(
                    f"Demo integration {spec['name']} is invalid: {form.errors.as_text()}"
                )
            services.integration_create(
                type=spec["type"],
                actor=admin,
                **form.integration_values(),
            )
            created += 1
        return created

    def _point_at_simulator(self, integration: Integration, spec: dict[str, Any]) -> None:
        """Demo databases seeded before the simulators existed get their endpoint override."""
        url = spec["settings"].get("api_base_url")
        if url and not integration.settings.get("api_base_url"):
            integration.settings["api_base_url"] = url
            integration.save(update_fields=["settings", "updated_at"])

    def _rules(self, admin: User) -> int:
        def method(integration_name: str, kind: str) -> RuleMethodData:
            integration = Integration.objects.alive().get(name=integration_name)
            return RuleMethodData(method=integration.methods.get(kind=kind))

        created = 0
        for spec in DEMO_RULES:
            if PaymentRule.objects.filter(name=spec["name"]).exists():
                continue
            data = RuleData(
                name=spec["name"],
                sort_order=spec["sort_order"],
                currency=spec["currency"],
                stop_processing=spec.get("stop_processing", False),
                expression=spec.get("expression", ""),
                websites=tuple(Website.objects.filter(code__in=spec.get("websites", []))),
                customer_groups=tuple(
                    CustomerGroup.objects.filter(name__in=spec.get("groups", []))
                ),
                destinations=tuple(DestinationData(*d) for d in spec.get("destinations", [])),
                methods=tuple(method(*m) for m in spec["methods"]),
            )
            rule_save(rule=None, data=data, actor=admin)
            created += 1
        return created

    def _orders(self) -> None:
        """Orders of the demo buyer awaiting payment, in two currencies on both websites."""
        buyer = CustomerUser.objects.select_related("customer").get(user__username="buyer")
        for spec in DEMO_ORDERS:
            if not Order.objects.filter(number=spec["number"]).exists():
                create_demo_order(spec, buyer)

    def _authorized_orders(self, *, wait: float) -> None:
        """Orders paid by card and PayPal and only authorized, for sales staff to capture.

        They are paid through the demo simulators as a buyer would pay them, so the simulators
        hold the authorizations a capture then asks for; without the simulators they wait.
        """
        buyer = CustomerUser.objects.select_related("customer").get(user__username="buyer")
        missing = [
            spec
            for spec in DEMO_AUTHORIZED_ORDERS
            if not Order.objects.filter(number=spec["number"]).exists()
        ]
        if not missing:
            return
        urls = [str(demo_method(spec).integration.settings.get("api_base_url")) for spec in missing]
        if not simulators_reachable(urls, timeout_seconds=wait):
            self.stdout.write(
                self.style.WARNING(
                    "The provider simulators are not running, so the authorized demo orders "
                    "were not created (`make run` starts the simulators and creates them)."
                )
            )
            return
        for spec in missing:
            try:
                pay_demo_order(spec, buyer)
            except DemoPaymentError as error:
                self.stdout.write(self.style.WARNING(f"{spec['number']} not created: {error}"))


def create_demo_order(spec: dict[str, Any], buyer: CustomerUser) -> Order:
    """An order of the demo buyer from `spec` (number, website, currency, address, lines)."""
    address = Address.objects.create(name="Bea Buyer", **spec["address"])
    lines = [
        OrderLine(sku=sku, name=name, quantity=qty, price=Decimal(price))
        for sku, name, qty, price in spec["lines"]
    ]
    total = sum((line.price * line.quantity for line in lines), Decimal(0))
    order = Order.objects.create(
        number=spec["number"],
        customer=buyer.customer,
        customer_user=buyer,
        website=Website.objects.get(code=spec["website"]),
        currency=spec["currency"],
        subtotal=total,
        total=total,
        billing_address=address,
        shipping_address=address,
    )
    for line in lines:
        line.order = order
    OrderLine.objects.bulk_create(lines)
    return order


DEMO_ORDERS: list[dict[str, Any]] = [
    {
        "number": "SO-1001",
        "website": "us",
        "currency": "USD",
        "address": {
            "street": "350 5th Ave",
            "city": "New York",
            "postal_code": "10001",
            "region": "US-NY",
            "country": "US",
        },
        "lines": [
            ("BOLT-M8", "M8 hex bolts, box of 100", 4, "12.50"),
            ("WASH-M8", "M8 washers, box of 200", 2, "7.25"),
        ],
    },
    {
        "number": "SO-1002",
        "website": "us",
        "currency": "USD",
        "address": {
            "street": "1 Market St",
            "city": "San Francisco",
            "postal_code": "94105",
            "region": "US-CA",
            "country": "US",
        },
        "lines": [("PUMP-300", "Industrial pump 300 l/min", 2, "4200.00")],
    },
    {
        "number": "SO-1003",
        "website": "eu",
        "currency": "EUR",
        "address": {
            "street": "Unter den Linden 1",
            "city": "Berlin",
            "postal_code": "10117",
            "region": "DE-BE",
            "country": "DE",
        },
        "lines": [("VALVE-50", "Ball valve DN50", 10, "35.00")],
    },
]

# Paid by card or PayPal and only authorized: for the sales demo (capture, cancel, refund).
DEMO_AUTHORIZED_ORDERS: list[dict[str, Any]] = [
    {
        "number": "SO-1004",
        "website": "us",
        "currency": "USD",
        "address": {
            "street": "2200 Ross Ave",
            "city": "Dallas",
            "postal_code": "75201",
            "region": "US-TX",
            "country": "US",
        },
        "lines": [
            ("GEAR-12", "Gearbox 12:1", 1, "1180.00"),
            ("SEAL-KIT", "Seal kit", 3, "23.50"),
        ],
        "method": ("Demo Stripe", "credit_card"),
    },
    {
        "number": "SO-1005",
        "website": "us",
        "currency": "USD",
        "address": {
            "street": "600 Congress Ave",
            "city": "Austin",
            "postal_code": "78701",
            "region": "US-TX",
            "country": "US",
        },
        "lines": [
            ("CONV-2M", "Belt conveyor 2 m", 2, "1240.00"),
            ("MOTOR-1K", "Drive motor 1 kW", 2, "180.00"),
        ],
        "method": ("Demo PayPal Express", "paypal_express"),
    },
]

DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "Government: invoice only",
        "sort_order": 1,
        "currency": "USD",
        "groups": ["Government"],
        "stop_processing": True,
        "methods": [("Demo Payment Terms", "payment_term")],
    },
    {
        "name": "US cards",
        "sort_order": 10,
        "currency": "USD",
        "destinations": [("US", "", "")],
        "methods": [("Demo Stripe", "credit_card")],
    },
    {
        "name": "Wholesale: terms, checks and cards",
        "sort_order": 20,
        "currency": "USD",
        "groups": ["Wholesale"],
        "methods": [
            ("Demo Payment Terms", "payment_term"),
            ("Demo Check/Money Order", "money_order"),
            ("Demo Stripe", "credit_card"),
        ],
    },
    {
        "name": "California and New York: Payflow",
        "sort_order": 30,
        "currency": "USD",
        "destinations": [("US", "US-CA", "90*, 94*, 95*"), ("US", "US-NY", "100*, 10001")],
        "methods": [
            ("Demo Payflow Gateway", "credit_card"),
            ("Demo Payflow Gateway", "express_checkout"),
        ],
    },
    {
        "name": "Large orders: bank payments",
        "sort_order": 40,
        "currency": "USD",
        "expression": "total >= 5000.0",
        "methods": [
            ("Demo Authorize.Net", "echeck"),
            ("Demo Check/Money Order", "money_order"),
        ],
    },
    {
        "name": "PayPal under the Payflow limit",
        "sort_order": 50,
        "currency": "USD",
        "expression": "total < 99999.0 && lineItems.all(li, li.quantity >= 1)",
        "methods": [
            ("Demo PayPal Express", "paypal_express"),
            ("Demo Authorize.Net", "credit_card"),
        ],
    },
    {
        "name": "EU store: cards",
        "sort_order": 10,
        "currency": "EUR",
        "websites": ["eu"],
        "destinations": [("DE", "", ""), ("FR", "", ""), ("NL", "", "")],
        "methods": [
            ("Demo Payments Pro", "credit_card"),
            ("Demo Check/Money Order", "money_order"),
        ],
    },
]
