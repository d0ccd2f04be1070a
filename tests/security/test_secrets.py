"""No stored secret is ever shown, logged, audited, recorded or kept in clear in the database.

The world: the seeded demo (its integrations wired to the test simulators, its card and PayPal
orders paid through them) plus one integration of every type with secrets of our own, each paid
through its simulator as a buyer would (Stripe, PayPal Express, Payflow card and Express
Checkout, Payments Pro, Authorize.Net), captured and refunded by sales where the provider allows,
its connection checked by an administrator, and signed webhooks delivered to the Stripe,
PayPal and Authorize.Net integrations. Logging is captured at DEBUG for every logger (the
providers' SDKs included) from the first request on.

Then every secret any integration holds is looked for in: every page an administrator or sales
can open (lists, details, edit forms, deletion dialogs, orders, rules, the simulator, payment
terms) and the buyer's pages, the JSON endpoint, every log line, every audit entry, every stored
PaymentTransaction request/response, every WebhookEvent payload, and every text column of every
table; `Integration.encrypted_secrets` must hold Fernet ciphertext. `rotate_secrets` then
re-encrypts everything with a new key, after which the old key can go and every secret still
reads the same.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from backoffice.models import AuditEntry, CustomerUser, Order
from integrations import services as integration_services
from integrations.adapters.base import CheckoutUrls
from integrations.models import Integration
from integrations.types import IntegrationType
from payments.browser_checkout import checkout_complete, checkout_step, return_token
from payments.checkout_services import checkout_submit
from payments.models import PaymentTransaction, State, WebhookEvent
from tests.factories import create_integration, create_rule_with_methods
from tests.payments.support import make_order
from tests.providers.buyers import BUYERS, Buyer
from tests.security.support import (
    PageReader,
    Simulators,
    local_path,
    payment_action,
    seed_demo_on_simulators,
)

pytestmark = pytest.mark.django_db

# Secrets of our own on top of the simulators' defaults (the buyers pay with those).
STRIPE_SIGNING_SECRET = "whsec_OwnSigningSecret0042"
AUTHORIZE_NET_SIGNATURE_KEY = "5EC4E7" * 21 + "AB"
PAYPAL_WEBHOOK_ID = "4JH86294D6297924G"
# The buyers' name for a method kind where it differs from PaymentMethod.kind.
METHOD_KINDS = {"paypal": "paypal_express"}
# A secret shorter than this could turn up by chance (a demo password, a word): none is.
SHORTEST_SECRET = 8


@pytest.fixture
def simulators(
    stripe_simulator, paypal_simulator, payflow_simulator, authorize_net_simulator
) -> Simulators:
    return Simulators(
        stripe_simulator, paypal_simulator, payflow_simulator, authorize_net_simulator
    )


@dataclass
class World:
    admin: Client
    sales: Client
    buyer: Client
    integrations: list[Integration]
    orders: list[Order]


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def _urls(row: PaymentTransaction) -> CheckoutUrls:
    token = return_token(row)
    return CheckoutUrls(
        return_url=f"http://testserver/payment/return/{token}/",
        cancel_url=f"http://testserver/payment/cancel/{token}/",
        notify_url=f"http://testserver/payment/notify/{token}/",
    )


def _pay(buyer: Buyer, simulator: Any, customer_user: CustomerUser, number: int) -> Order:
    """An integration of `buyer`'s type with our own secrets, paid through its simulator."""
    extra: dict[str, Any] = {"api_base_url": simulator.url}
    if buyer.integration_type == IntegrationType.STRIPE:
        extra["webhook_signing_secret"] = STRIPE_SIGNING_SECRET
    if buyer.integration_type == IntegrationType.AUTHORIZE_NET:
        extra["signature_key"] = AUTHORIZE_NET_SIGNATURE_KEY
    if buyer.integration_type == IntegrationType.PAYPAL_EXPRESS:
        extra["webhook_id"] = PAYPAL_WEBHOOK_ID
    integration = create_integration(
        buyer.integration_type,
        name=f"Secrets {buyer.name}",
        actor=User.objects.get(username="admin"),
        **extra,
    )
    method = integration.methods.get(kind=METHOD_KINDS.get(buyer.method_kind, buyer.method_kind))
    create_rule_with_methods(f"Secrets {buyer.name}", [method])
    order = make_order(customer_user=customer_user, total="40.00")
    row = checkout_submit(
        order=order,
        method=method,
        customer_user=customer_user,
        idempotency_key=f"secrets-{number}",
        urls_for=_urls,
    )
    step = checkout_step(row=row, urls=_urls(row))
    row = checkout_complete(row=row, params=buyer.pay(simulator, step, False))
    assert row.state == State.SUCCEEDED, (buyer.name, row.message)
    return order


def _deliver_webhooks(client: Client, simulators: Simulators) -> int:
    delivered = 0
    payments = PaymentTransaction.objects.filter(
        state=State.SUCCEEDED, operation__in=["authorize", "charge"]
    )
    for row in payments.select_related("method__integration"):
        integration = row.method.integration
        if not row.provider_reference or integration.name.startswith("Demo"):
            continue
        if integration.type == IntegrationType.STRIPE:
            body, headers = simulators.stripe.signed_webhook(
                "payment_intent.succeeded", row.provider_reference, STRIPE_SIGNING_SECRET
            )
        elif integration.type == IntegrationType.AUTHORIZE_NET:
            body, headers = simulators.authorize_net.signed_webhook(
                "net.authorize.payment.authorization.created",
                row.provider_reference,
                AUTHORIZE_NET_SIGNATURE_KEY,
            )
        elif integration.type == IntegrationType.PAYPAL_EXPRESS:
            resource = simulators.paypal.resources.get(row.provider_reference)
            if resource is None:
                continue
            body, headers = simulators.paypal.webhook(
                "PAYMENT.AUTHORIZATION.CREATED", resource, PAYPAL_WEBHOOK_ID
            )
        else:
            continue
        response = client.post(
            reverse("payments:webhook", args=[integration.webhook_token]),
            body,
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 200, (integration.name, response.content[:500])
        delivered += 1
    return delivered


def _simulator(simulators: Simulators, buyer: Buyer) -> Any:
    return getattr(simulators, buyer.simulator_fixture.removesuffix("_simulator"))


@pytest.fixture
def world(simulators: Simulators, caplog: pytest.LogCaptureFixture) -> World:
    # As LOG_LEVEL=DEBUG would: the root at DEBUG, the SDK loggers at the levels settings give
    # them (both SDKs log whole requests at DEBUG, PayPal's Basic client_id:secret header too).
    caplog.set_level(logging.DEBUG)
    seed_demo_on_simulators(simulators)
    customer_user = CustomerUser.objects.get(user__username="buyer")
    orders = [
        _pay(buyer, _simulator(simulators, buyer), customer_user, number)
        for number, buyer in enumerate(BUYERS)
    ]
    world = World(
        _client("admin"),
        _client("sales"),
        _client("buyer"),
        list(Integration.objects.all()),
        orders,
    )
    for order in orders + list(Order.objects.filter(number__in=["SO-1004", "SO-1005"])):
        if payment_action(world.sales, order, "capture"):
            payment_action(world.sales, order, "refund", amount="1.00", note="Secrets check")
    for integration in world.integrations:
        check = reverse("integrations:check", args=[integration.pk])
        assert world.admin.post(check).status_code in (302, 404)  # 404: no remote API
    assert _deliver_webhooks(Client(), simulators) >= 2
    return world


def _secrets() -> set[str]:
    found = {
        value
        for integration in Integration.objects.all()
        for value in integration.get_secrets().values()
        if value
    }
    short = {value for value in found if len(value) < SHORTEST_SECRET}
    assert not short, f"secrets too short to look for: {short}"
    # PayPal's SDK sends the client secret as HTTP Basic credentials: look for those too.
    for integration in Integration.objects.filter(type=IntegrationType.PAYPAL_EXPRESS):
        pair = f"{integration.settings['client_id']}:{integration.get_secrets()['client_secret']}"
        found.add(base64.b64encode(pair.encode()).decode())
    return found | {STRIPE_SIGNING_SECRET, AUTHORIZE_NET_SIGNATURE_KEY}


def _leaks(text: str, secrets: set[str]) -> list[str]:
    return sorted(secret for secret in secrets if secret in text)


def _pages(world: World) -> list[tuple[str, Client, str]]:
    pages: list[tuple[str, Client, str]] = []
    for role, client in (("admin", world.admin), ("sales", world.sales)):
        for name in ("integrations:list", "rules:list", "rules:simulate", "orders:list"):
            pages.append((role, client, reverse(name)))
        pages.append((role, client, reverse("payment_terms")))
        for integration in world.integrations:
            pages.append((role, client, reverse("integrations:detail", args=[integration.pk])))
        for order in Order.objects.all():
            pages.append((role, client, reverse("orders:detail", args=[order.pk])))
    for integration in world.integrations:
        for name in ("integrations:edit", "integrations:delete", "integrations:deactivate"):
            pages.append(("admin", world.admin, reverse(name, args=[integration.pk])))
    for integration in world.integrations:
        pages.append(
            ("admin", world.admin, f"{reverse('rules:list')}?integration={integration.pk}")
        )
    pages.append(("buyer", world.buyer, reverse("home")))
    for order in Order.objects.filter(customer_user__user__username="buyer"):
        pages.append(("buyer", world.buyer, reverse("payments:checkout", args=[order.number])))
    return pages


def test_no_secret_is_shown_logged_audited_recorded_or_stored_in_clear(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = _secrets()
    assert len(secrets) >= 10, secrets
    leaks: list[str] = []

    pages = _pages(world)
    followed = 0
    for role, client, url in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 200, (role, url, response.status_code)
        html = response.content.decode()
        leaks += [f"page {url} as {role}: {s}" for s in _leaks(html, secrets)]
        # The pages these link to (an order's action forms, a payment page) too.
        for link in PageReader.read(f"http://testserver{url}", html).links:
            path = local_path(link)
            if path and "action=" in path:
                linked = client.get(path).content.decode()
                followed += 1
                leaks += [f"page {path} as {role}: {s}" for s in _leaks(linked, secrets)]
    health = world.admin.get(reverse("healthz"))
    assert health["Content-Type"] == "application/json"
    leaks += [f"JSON /healthz: {s}" for s in _leaks(health.content.decode(), secrets)]

    # The world was built in the fixture (setup); the pages were asked here (call).
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert any(record.levelno == logging.DEBUG for record in records)
    log_lines = [
        f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in records
    ]
    leaks += [f"log line {line[:200]!r}: {s}" for line in log_lines for s in _leaks(line, secrets)]

    for entry in AuditEntry.objects.all():
        text = json.dumps(entry.changes) + " " + " ".join(str(v) for v in vars(entry).values())
        leaks += [f"audit entry {entry.pk} ({entry.action}): {s}" for s in _leaks(text, secrets)]
    transactions = PaymentTransaction.objects.all()
    assert transactions.count() >= len(BUYERS) * 2
    for row in transactions:
        text = json.dumps(row.request) + json.dumps(row.response) + row.message + row.note
        leaks += [f"transaction {row.pk} ({row.operation}): {s}" for s in _leaks(text, secrets)]
    events = WebhookEvent.objects.all()
    assert events.count() >= 2
    for event in events:
        leaks += [
            f"webhook event {event.pk}: {s}" for s in _leaks(json.dumps(event.payload), secrets)
        ]

    rows = _raw_rows()
    leaks += [f"table {table}: {s}" for table, text in rows.items() for s in _leaks(text, secrets)]

    print(
        f"secrets: {len(secrets)} looked for in {len(pages) + followed} pages, "
        f"{len(log_lines)} log lines, {AuditEntry.objects.count()} audit entries, "
        f"{transactions.count()} transactions, {events.count()} webhook events, {len(rows)} tables"
    )
    assert not leaks, "\n".join(leaks)


def _raw_rows() -> dict[str, str]:
    """Every table's rows as the database holds them, as text."""
    text: dict[str, str] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            text[table] = " ".join(str(value) for row in cursor.fetchall() for value in row)
    return text


def test_stored_secrets_are_fernet_ciphertext_and_survive_rotation(
    world: World, settings: Any
) -> None:
    secrets_before = {i.pk: i.get_secrets() for i in Integration.objects.all()}
    stored = {i.pk: i.encrypted_secrets for i in Integration.objects.all()}
    with_secrets = [pk for pk, values in secrets_before.items() if values]
    assert len(with_secrets) >= 10
    for pk in with_secrets:
        assert stored[pk].startswith("gAAAAA"), stored[pk][:20]  # a Fernet token
        for value in secrets_before[pk].values():
            assert value not in stored[pk]

    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]
    call_command("rotate_secrets", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old keys can go
    for integration in Integration.objects.all():
        assert integration.get_secrets() == secrets_before[integration.pk]
        if integration.pk in with_secrets:
            assert integration.encrypted_secrets != stored[integration.pk]
    # The rotated secrets still work: every provider accepts its integration's credentials.
    for integration in Integration.objects.filter(name__startswith="Secrets "):
        check = integration_services.integration_check_connection(integration=integration)
        assert check.ok, (integration.name, check.message)
    stripe = Integration.objects.get(name="Secrets stripe")
    assert world.admin.get(reverse("integrations:detail", args=[stripe.pk])).status_code == 200
