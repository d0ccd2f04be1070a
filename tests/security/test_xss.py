"""Markup and script typed into any free-text field reaches every page only escaped.

For each payload, one world is built through the real forms and services: an integration of
every type whose name and labels (and pay-to/send-to) are the payload, a payment term labelled
with it (the back-office form), rules named with it whose expression compares a string holding
it and whose destination's postal code pattern is it, a customer, customer group, buyer, address
and order line named with it, and payments made as the buyer would (Check/Money Order at
checkout, Stripe through its simulator), then captured, refunded and cancelled by sales through
the order page's forms with the payload as the note. Every page that shows these is rendered and
read with an HTML parser: no element may carry an event-handler (`on*`) attribute, no script may
hold the payload, no link, frame or form may point at `javascript:`, and the raw HTML may not hold
the payload's markup unescaped. Each page must show the payload (escaped), so a field that stops
reaching its page is noticed rather than passing in silence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

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
from integrations.adapters.base import CheckoutUrls
from integrations.models import Integration, PaymentMethod
from integrations.types import IntegrationType
from payments.browser_checkout import checkout_complete, checkout_step, return_token
from payments.checkout_services import checkout_submit
from payments.models import PaymentTransaction, State
from rules.models import PaymentRule
from rules.services import DestinationData, RuleData, RuleMethodData, rule_save
from simulators.demo_buyer import pay
from tests.factories import (
    VALID_SETTINGS,
    CustomerUserFactory,
    UserFactory,
    create_integration,
)
from tests.security.support import PageReader, Simulators, payment_action

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "<b onclick=alert(1)>",  # 20 characters: fits a postal code whole
]
# Settings that are free text an administrator types, per integration type.
TEXT_SETTINGS = (
    "label",
    "short_label",
    "pay_to",
    "send_to",
    "credit_card_label",
    "credit_card_short_label",
    "express_checkout_name",
    "express_checkout_label",
    "express_checkout_short_label",
)
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "xlink:href", "poster")


@dataclass
class World:
    payload: str
    admin: Client
    sales: Client
    buyer: Client
    integrations: list[Integration] = field(default_factory=list)
    rules: list[PaymentRule] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    term: PaymentTerm | None = None
    pay_page: str = ""


@pytest.fixture
def simulators(
    stripe_simulator, paypal_simulator, payflow_simulator, authorize_net_simulator
) -> Simulators:
    return Simulators(
        stripe_simulator, paypal_simulator, payflow_simulator, authorize_net_simulator
    )


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _integrations(payload: str, simulators: Simulators, admin: User) -> list[Integration]:
    made = []
    for index, type in enumerate(IntegrationType.values):
        if type not in VALID_SETTINGS:
            continue
        texts = {key: payload for key in TEXT_SETTINGS if key in VALID_SETTINGS[type]}
        if "express_checkout_name" in texts:
            texts["express_checkout_name"] = f"{payload} express {index}"
        url = simulators.url_for(type)
        made.append(
            create_integration(
                type,
                name=f"{payload} {index}",
                actor=admin,
                **texts,
                **({"api_base_url": url} if url else {}),
            )
        )
    return made


def _order(customer_user: CustomerUser, payload: str, number: str) -> Order:
    address = Address.objects.create(
        name=payload,
        street=payload,
        city=payload,
        postal_code=payload[:20],
        country="US",
    )
    order = Order.objects.create(
        number=number,
        customer=customer_user.customer,
        customer_user=customer_user,
        website=Website.objects.get_or_create(code="xss", defaults={"name": payload})[0],
        currency="USD",
        subtotal=Decimal("50.00"),
        total=Decimal("50.00"),
        billing_address=address,
        shipping_address=address,
    )
    OrderLine.objects.create(order=order, sku=payload[:64], name=payload, quantity=1, price="50.00")
    return order


def _method(integrations: list[Integration], type: str) -> PaymentMethod:
    return next(i for i in integrations if i.type == type).methods.order_by("pk").first()


def _paid_by_card(order: Order, method: PaymentMethod, buyer: CustomerUser) -> PaymentTransaction:
    """Authorized through the Stripe simulator, as the buyer's browser would."""

    def urls(row: PaymentTransaction) -> CheckoutUrls:
        token = return_token(row)
        return CheckoutUrls(
            return_url=f"http://testserver/payment/return/{token}/",
            cancel_url=f"http://testserver/payment/cancel/{token}/",
            notify_url=f"http://testserver/payment/notify/{token}/",
        )

    row = checkout_submit(
        order=order,
        method=method,
        customer_user=buyer,
        idempotency_key=f"xss-{order.number}",
        urls_for=urls,
    )
    row = checkout_complete(row=row, params=pay(checkout_step(row=row, urls=urls(row))))
    assert row.state == State.SUCCEEDED, row.message
    return row


def _build(payload: str, simulators: Simulators) -> World:
    admin_user = UserFactory(groups=["Administrators"], first_name=payload, last_name=payload)
    sales_user = UserFactory(groups=["Sales"], first_name=payload)
    group = CustomerGroup.objects.create(name=payload)
    customer_user = CustomerUserFactory(
        customer=Customer.objects.create(name=payload, group=group),
        user__first_name=payload,
        user__last_name=payload,
        user__email="buyer@example.com",
    )
    world = World(payload, _client(admin_user), _client(sales_user), _client(customer_user.user))
    world.integrations = _integrations(payload, simulators, admin_user)
    response = world.admin.post(
        reverse("payment_term_create"),
        {"label": payload, "customers": [customer_user.customer.pk], "groups": [group.pk]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    world.term = PaymentTerm.objects.get(label=payload)
    methods = tuple(
        RuleMethodData(method=m)
        for m in PaymentMethod.objects.filter(integration__in=world.integrations)
    )
    quote = '"' if "'" in payload else "'"
    for index, (expression, destinations) in enumerate(
        [
            (f"currency != {quote}{payload}{quote}", ()),
            ("", (DestinationData("US", "", payload[:20]),)),
        ]
    ):
        data = RuleData(
            name=f"{payload} {index}",
            sort_order=index,
            currency="USD",
            expression=expression,
            destinations=destinations,
            methods=methods,
        )
        world.rules.append(rule_save(rule=None, data=data, actor=admin_user))
    for name in ("offline", "unpaid", "refunded", "cancelled"):
        world.orders[name] = _order(customer_user, payload, f"XSS-{name}")

    # The buyer pays one order by Check/Money Order at checkout (the done page shows pay-to).
    money_order = _method(world.integrations, IntegrationType.MONEY_ORDER)
    response = world.buyer.post(
        reverse("payments:checkout", args=["XSS-offline"]),
        {"method": money_order.pk, "idempotency_key": "xss-offline"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # ... starts a card payment on another and leaves it on the payment page ...
    stripe = _method(world.integrations, IntegrationType.STRIPE)
    response = world.buyer.post(
        reverse("payments:checkout", args=["XSS-unpaid"]),
        {"method": stripe.pk, "idempotency_key": "xss-unpaid"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    world.pay_page = response["Location"]
    # ... and pays two by card; sales capture and refund one, cancel the other, with notes.
    _paid_by_card(world.orders["refunded"], stripe, customer_user)
    _paid_by_card(world.orders["cancelled"], stripe, customer_user)
    assert payment_action(world.sales, world.orders["refunded"], "capture")
    assert payment_action(
        world.sales, world.orders["refunded"], "refund", note=payload, amount="10.00"
    )
    assert payment_action(world.sales, world.orders["cancelled"], "cancel", note=payload)
    return world


def _pages(world: World) -> list[tuple[Client, str]]:
    admin, sales, buyer = world.admin, world.sales, world.buyer
    pages: list[tuple[Client, str]] = [
        (admin, reverse("integrations:list")),
        (sales, reverse("integrations:list")),
        (admin, reverse("rules:list")),
        (sales, reverse("rules:list")),
        (admin, reverse("orders:list")),
        (sales, reverse("orders:list")),
        (admin, reverse("payment_terms")),
        (admin, reverse("payment_term_edit", args=[world.term.pk])),
        (buyer, reverse("home")),
        (buyer, reverse("payments:checkout", args=["XSS-offline"])),
        (buyer, reverse("payments:checkout_done", args=["XSS-offline"])),
        (buyer, reverse("payments:checkout", args=["XSS-refunded"])),
        (buyer, world.pay_page),
    ]
    for integration in world.integrations:
        pages += [
            (admin, reverse("integrations:detail", args=[integration.pk])),
            (sales, reverse("integrations:detail", args=[integration.pk])),
            (admin, reverse("integrations:edit", args=[integration.pk])),
            (admin, reverse("integrations:delete", args=[integration.pk])),
            (admin, f"{reverse('rules:list')}?integration={integration.pk}"),
        ]
    for rule in world.rules:
        pages.append((admin, reverse("rules:edit", args=[rule.pk])))
    pages.append((admin, f"{reverse('rules:list')}?ids={','.join(str(r.pk) for r in world.rules)}"))
    customer = Customer.objects.get(name=world.payload)
    simulation = {
        "currency": "USD",
        "total": "50.00",
        "customer": customer.pk,
        "billing_country": "US",
        "billing_postal_code": world.payload[:20],
        "billing_city": world.payload,
        "line_items": f"{world.payload}, 1, 50.00",
    }
    valid = {"currency": "USD", "total": "50.00", "customer": customer.pk, "billing_country": "US"}
    pages.append((admin, reverse("rules:simulate") + "?" + urlencode(valid)))  # the trace
    pages.append((sales, reverse("rules:simulate") + "?" + urlencode(valid)))
    # Input the simulator refuses is shown again with its error (400): escaped too.
    pages.append((admin, reverse("rules:simulate") + "?" + urlencode(simulation)))
    for order in world.orders.values():
        pages.append((sales, reverse("orders:detail", args=[order.pk])))
    pages.append((sales, f"{reverse('orders:list')}?method={quote(world.payload)}"))
    return pages


def _problems(payload: str, html: str) -> list[str]:
    """What would run the payload: event handlers, scripts, javascript: URLs, raw markup."""
    reader = PageReader.read("http://testserver/", html)
    found = []
    for element in reader.elements:
        for name, value in element.attributes.items():
            if name.lower().startswith("on"):
                found.append(f"<{element.tag} {name}={value!r}> (event handler)")
            if name.lower() in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:"):
                found.append(f"<{element.tag} {name}={value!r}> (javascript: URL)")
        if element.tag == "script" and ("alert(" in element.text or payload in element.text):
            found.append(f"<script> holding the payload: {element.text[:200]!r}")
        if element.tag in ("img", "svg", "b") and (
            element.attributes.get("src") == "x" or "onload" in element.attributes
        ):
            found.append(f"<{element.tag}> injected: {element.attributes}")
    markup = payload.split(">", 1)[-1] if payload.startswith(('"', "'")) else payload
    if "<" in markup and markup in html:
        found.append(f"raw payload markup {markup!r} in the HTML")
    return found


def _shows(payload: str, html: str) -> bool:
    return any(
        form in html
        for form in (
            escape(payload),
            escape(payload[:20]),
            json.dumps(payload)[1:-1].replace("<", "\\u003C").replace(">", "\\u003E"),
        )
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_in_every_free_text_field_reach_every_page_only_escaped(
    payload: str, simulators: Simulators
) -> None:
    world = _build(payload, simulators)
    problems, silent = [], []
    pages = _pages(world)
    for client, url in pages:
        response = client.get(url)
        # Only the simulator is asked with input it refuses (and shows again with its error).
        expected = (200, 400) if "billing_city" in url else (200,)
        assert response.status_code in expected, f"{url}: {response.status_code}"
        html = response.content.decode()
        problems += [f"{url}: {problem}" for problem in _problems(payload, html)]
        if not _shows(payload, html):
            silent.append(url)
    assert not problems, "\n".join(problems)
    assert not silent, f"pages that no longer show the payload: {silent}"
    print(f"{payload!r}: {len(pages)} pages checked")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_checks_catch_the_payload_unescaped(payload: str) -> None:
    """The checks above would notice: the payload dropped raw into a page, or into a link."""
    raw = f"<html><body><p>{payload}</p><a href='{payload}'>x</a></body></html>"
    assert _problems(payload, raw)
    assert not _problems(payload, f"<html><body><p>{escape(payload)}</p></body></html>")
