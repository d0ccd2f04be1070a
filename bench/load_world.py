"""The load run's data: a Stripe integration on the simulator, buyers' orders, sales staff.

Built through the same services and forms the back-office uses (integration form and
`integration_create`, `rule_save`, the demo's `create_demo_order`), so the data obeys every
rule; buyers and clerks are signed in with `Client.force_login`, whose session rows the
server's workers read, as a browser's cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.stripe import StripeSimulator

BUYER_ACCOUNTS = 8
OFFLINE_EVERY = 5  # every fifth order is paid by Check/Money Order


@dataclass(frozen=True)
class OrderToPay:
    number: str
    pk: int
    method_pk: int
    session_cookie: tuple[str, str]


@dataclass(frozen=True)
class World:
    orders: list[OrderToPay]
    sales_cookies: list[tuple[str, str]]


def _session_cookie(user: Any) -> tuple[str, str]:
    """A session row the server's workers read, as a signed-in browser's cookie."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return name, client.cookies[name].value


def _integration(spec_name: str, admin: Any, **settings: Any) -> Any:
    """The demo integration `spec_name`, created through its form as an administrator would."""
    from backoffice.management.commands.seed_demo import DEMO_INTEGRATIONS
    from integrations import services
    from integrations.forms import form_class_for

    spec = next(s for s in DEMO_INTEGRATIONS if s["name"] == spec_name)
    values = {"name": spec_name, "is_active": True, **spec["settings"], **spec["secrets"]}
    form = form_class_for(spec["type"])(data={**values, **settings})
    assert form.is_valid(), form.errors
    return services.integration_create(type=spec["type"], actor=admin, **form.integration_values())


def build_world(simulator: StripeSimulator, port: int, orders: int, sales: int) -> World:
    """The integrations, rule, orders and people; the simulator learns the keys and webhook."""
    from django.contrib.auth.models import Group, User

    from backoffice.management.commands.seed_demo import create_demo_order
    from backoffice.models import Customer, CustomerGroup, CustomerUser, Website
    from backoffice.roles import SALES
    from rules.services import RuleData, RuleMethodData, rule_save

    admin = User.objects.create_superuser("load-admin", "load-admin@example.com", None)
    stripe = _integration("Demo Stripe", admin, api_base_url=simulator.url)
    card = stripe.methods.get(kind="credit_card")
    offline = _integration("Demo Check/Money Order", admin).methods.get(kind="money_order")
    simulator.secret_keys.add(stripe.get_secrets()["secret_key"])
    simulator.publishable_keys.add(stripe.settings["publishable_key"])
    simulator.register_webhook(
        f"http://127.0.0.1:{port}/webhooks/{stripe.webhook_token}/",
        secret=stripe.get_secrets()["webhook_signing_secret"],
    )
    Website.objects.get_or_create(code="us", defaults={"name": "Load US Store"})
    rule = RuleData(
        name="Load run: card and check",
        sort_order=1,
        currency="USD",
        methods=(RuleMethodData(method=card), RuleMethodData(method=offline)),
    )
    rule_save(rule=None, data=rule, actor=admin)
    group = CustomerGroup.objects.create(name="Load wholesale")
    buyers = []
    for n in range(BUYER_ACCOUNTS):
        user = User.objects.create(username=f"load-buyer-{n}", email=f"buyer{n}@example.com")
        customer = Customer.objects.create(name=f"Load Customer {n}", group=group)
        buyers.append((CustomerUser.objects.create(user=user, customer=customer), user))
    cookies = [_session_cookie(user) for _, user in buyers]
    to_pay = []
    for n in range(orders):
        buyer, _ = buyers[n % BUYER_ACCOUNTS]
        order = create_demo_order(_order_spec(n), buyer)
        method = offline if n % OFFLINE_EVERY == OFFLINE_EVERY - 1 else card
        to_pay.append(OrderToPay(order.number, order.pk, method.pk, cookies[n % BUYER_ACCOUNTS]))
    sales_group = Group.objects.get(name=SALES)
    sales_cookies = []
    for n in range(sales):
        clerk = User.objects.create(username=f"load-sales-{n}", email=f"sales{n}@example.com")
        clerk.groups.add(sales_group)
        sales_cookies.append(_session_cookie(clerk))
    return World(orders=to_pay, sales_cookies=sales_cookies)


def _order_spec(n: int) -> dict[str, Any]:
    return {
        "number": f"LOAD-{n:05d}",
        "website": "us",
        "currency": "USD",
        "address": {
            "street": f"{100 + n} Market St",
            "city": "San Francisco",
            "postal_code": "94105",
            "region": "US-CA",
            "country": "US",
        },
        "lines": [
            ("BOLT-M8", "M8 hex bolts, box of 100", 1 + n % 4, f"{12 + n % 37}.{n % 100:02d}"),
            ("PUMP-300", "Industrial pump", 1, f"{180 + n % 53}.50"),
        ],
    }
