"""The permission matrix: every URL pattern × every role × GET and POST, from the URL configuration.

The patterns are walked from `django.urls.get_resolver()`, so a new view appears here by itself
and fails `test_every_url_pattern_has_an_entry_in_the_matrix` until someone writes down who may
reach it. Each URL test fills the path parameters with real objects (an integration, a rule, an
order of buyer A with a payment started through the Stripe simulator, its signed return token, a
payment term, the integration's webhook token) and asks as each role; every answer must be the
class the table says, and never a 500.

CSRF is not enforced here (the test client's default), so the table shows what the permission
checks decide; `test_state_changing_posts_need_a_csrf_token` shows the CSRF check separately.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from backoffice.models import Order, PaymentTerm
from integrations.models import Integration
from integrations.types import IntegrationType
from payments.browser_checkout import return_token
from payments.models import PaymentTransaction
from rules.models import PaymentRule
from tests.factories import (
    CustomerUserFactory,
    UserFactory,
    create_integration,
    create_rule_with_methods,
)
from tests.payments.support import make_order

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "buyer_a", "buyer_b", "sales", "admin")
METHODS = ("GET", "POST")

# What each cell of the matrix means:
#   login  302 to /login/?next=<the URL asked for> (LoginRequiredMiddleware or backoffice_view)
#   302    a redirect anywhere else (a back-office user sent to the back-office page of an order,
#          an action done and the page shown again, a signed-in user sent from /login/ to /)
#   200 400 403 404 405  that status: 403 a role without the permission, 404 an object that is
#          not the buyer's (another customer's order looks like no order at all), 405 the wrong
#          method (state changes are POST-only; a page without a form refuses POST)
# Each cell reads "<GET answer> <POST answer>". POSTs carry no form data, so a form view that
# lets the role in answers its invalid form (400 where the view says so, else the form again).
#
# Public patterns (no login): login, healthz; /payment/return|cancel|notify/<token>/, which are
# reached by the provider or the buyer's browser coming back from it, possibly without our
# session cookie, and name their payment only through a token signed with SECRET_KEY (a forged
# one is a 404; the outcome is always asked of the provider, never taken from the request);
# /webhooks/<token>/, one unguessable URL per integration whose body must carry the provider's
# signature (checked before anything else: 400 without it).
# fmt: off
MATRIX: dict[str, tuple[str, str, str, str, str]] = {
    #                                  anonymous      buyer A     buyer B     sales       admin
    "home":                          ("login login", "200 200", "200 200", "302 302", "302 302"),
    "healthz":                       ("200 200",     "200 200", "200 200", "200 200", "200 200"),
    "login":                         ("200 200",     "302 302", "302 302", "302 302", "302 302"),
    "logout":                        ("login login", "405 302", "405 302", "405 302", "405 302"),
    "backoffice":                    ("login login", "403 403", "403 403", "302 302", "302 302"),
    # System › Integrations: sales may look, only administrators change. A POST-only action
    # refuses GET (405) before asking who you are; an empty POST to a form shows the form again.
    "integrations:list":             ("login login", "403 403", "403 403", "200 200", "200 200"),
    "integrations:create":           ("login login", "403 403", "403 403", "403 403", "200 200"),
    "integrations:detail":           ("login login", "403 403", "403 403", "200 200", "200 200"),
    "integrations:edit":             ("login login", "403 403", "403 403", "403 403", "200 200"),
    "integrations:activate":         ("login login", "405 403", "405 403", "405 403", "405 302"),
    "integrations:deactivate":       ("login login", "403 403", "403 403", "403 403", "200 302"),
    "integrations:delete":           ("login login", "403 403", "403 403", "403 403", "200 302"),
    "integrations:check":            ("login login", "405 403", "405 403", "405 403", "405 302"),
    # System › Payment Rules: sales may look and simulate, only administrators change.
    "rules:list":                    ("login login", "403 403", "403 403", "200 200", "200 200"),
    "rules:create":                  ("login login", "403 403", "403 403", "403 403", "200 400"),
    "rules:edit":                    ("login login", "403 403", "403 403", "403 403", "200 400"),
    "rules:enable":                  ("login login", "405 403", "405 403", "405 403", "405 302"),
    "rules:disable":                 ("login login", "405 403", "405 403", "405 403", "405 302"),
    "rules:bulk":                    ("login login", "405 403", "405 403", "405 403", "405 302"),
    "rules:simulate":                ("login login", "403 403", "403 403", "200 200", "200 200"),
    # Sales › Orders: both back-office roles hold the payment permissions (an empty capture
    # form is a 400).
    "orders:list":                   ("login login", "403 403", "403 403", "200 200", "200 200"),
    "orders:detail":                 ("login login", "403 403", "403 403", "200 200", "200 200"),
    "orders:payment_action":         ("login login", "405 403", "405 403", "405 400", "405 400"),
    # Sales › Payment Terms: sales may look, only administrators change.
    "payment_terms":                 ("login login", "403 403", "403 403", "200 200", "200 200"),
    "payment_term_create":           ("login login", "403 403", "403 403", "403 403", "200 200"),
    "payment_term_edit":             ("login login", "403 403", "403 403", "403 403", "200 200"),
    # Storefront: buyer A's order, whose card payment is started (so its checkout and result
    # pages send A on to the payment page); buyer B (another customer) finds no such order;
    # staff are sent to the order's back-office page.
    "payments:checkout":             ("login login", "302 302", "404 404", "302 302", "302 302"),
    "payments:checkout_done":        ("login login", "302 302", "404 404", "302 302", "302 302"),
    "payments:checkout_pay":         ("login login", "200 302", "404 404", "302 302", "302 302"),
    "payments:checkout_pay_abandon": ("login login", "405 302", "405 404", "405 302", "405 302"),
    # Public: the signed token names the payment (see above).
    "payments:checkout_return":      ("302 302",     "302 302", "302 302", "302 302", "302 302"),
    "payments:checkout_cancel":      ("302 405",     "302 405", "302 405", "302 405", "302 405"),
    "payments:checkout_notify":      ("405 200",     "405 200", "405 200", "405 200", "405 200"),
    # Public: the provider's signature is checked first.
    "payments:webhook":              ("405 400",     "405 400", "405 400", "405 400", "405 400"),
}
# fmt: on


def _walk(
    resolver: URLResolver, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, route, inner)
        else:
            yield f"{namespace}{entry.name}", route, entry


URL_PATTERNS = sorted(_walk(get_resolver()), key=lambda item: item[1])
URL_NAMES = [name for name, _, _ in URL_PATTERNS]


@dataclass
class World:
    clients: dict[str, Client]
    integration: Integration
    rule: PaymentRule
    order: Order
    payment: PaymentTransaction
    term: PaymentTerm

    def url(self, name: str, pattern: URLPattern) -> str:
        parameters = set(pattern.pattern.converters)
        values: dict[str, Any] = {
            "integrations": {"pk": self.integration.pk},
            "rules": {"pk": self.rule.pk},
            "orders": {"pk": self.order.pk, "transaction_pk": self.payment.pk, "action": "capture"},
            "payment_term_edit": {"pk": self.term.pk},
            "payments:checkout_pay": {"number": self.order.number, "pk": self.payment.pk},
            "payments:checkout_pay_abandon": {"number": self.order.number, "pk": self.payment.pk},
            "payments:webhook": {"token": self.integration.webhook_token},
        }
        if name.split(":")[-1] in ("checkout_return", "checkout_cancel", "checkout_notify"):
            kwargs = {"token": return_token(self.payment)}
        elif name.startswith("payments:checkout"):
            kwargs = values.get(name, {"number": self.order.number})
        else:
            kwargs = values.get(name, values.get(name.split(":")[0], {}))
        kwargs = {key: value for key, value in kwargs.items() if key in parameters}
        assert set(kwargs) == parameters, f"{name}: no value for {parameters - set(kwargs)}"
        return reverse(name, kwargs=kwargs)


@pytest.fixture
def world(stripe_simulator) -> World:
    admin = UserFactory(groups=["Administrators"])
    sales = UserFactory(groups=["Sales"])
    buyer_a = CustomerUserFactory()
    buyer_b = CustomerUserFactory()  # another customer
    integration = create_integration(
        IntegrationType.STRIPE,
        name="Matrix Stripe",
        actor=admin,
        api_base_url=stripe_simulator.url,
        payment_action="manual",
    )
    rule = create_rule_with_methods("Matrix rule", list(integration.methods.all()))
    order = make_order(customer_user=buyer_a)
    clients = {"anonymous": Client()}
    for role, user in [
        ("buyer_a", buyer_a.user),
        ("buyer_b", buyer_b.user),
        ("sales", sales),
        ("admin", admin),
    ]:
        clients[role] = Client()
        clients[role].force_login(user)
    # Buyer A starts a card payment as at checkout: a PaymentIntent waits at the simulator.
    started = clients["buyer_a"].post(
        reverse("payments:checkout", args=[order.number]),
        {"method": integration.methods.get().pk, "idempotency_key": "matrix-1"},
    )
    assert started.status_code == 302, started
    payment = PaymentTransaction.objects.get(order=order)
    term = PaymentTerm.objects.get_or_create(label="Net 30")[0]
    return World(clients, integration, rule, order, payment, term)


def _fresh_client(world: World, role: str) -> Client:
    """A client holding `role`'s session, so a cell that signs out does not change the next."""
    client = Client()
    session = world.clients[role].cookies.get(settings.SESSION_COOKIE_NAME)
    if session is not None:
        client.cookies[settings.SESSION_COOKIE_NAME] = session.value
    return client


def _answer_class(response: Any, url: str) -> str:
    if response.status_code == 302:
        location = urlsplit(response["Location"])
        if location.path == reverse("login") and parse_qs(location.query).get("next") == [url]:
            return "login"
    return str(response.status_code)


def test_every_url_pattern_has_an_entry_in_the_matrix():
    missing = [f"{name} ({route})" for name, route, _ in URL_PATTERNS if name not in MATRIX]
    assert not missing, "new view without an entry in the permission matrix: " + ", ".join(missing)


def test_the_matrix_lists_no_pattern_that_is_gone():
    assert set(MATRIX) <= set(URL_NAMES), set(MATRIX) - set(URL_NAMES)


@pytest.mark.parametrize(("name", "route", "pattern"), URL_PATTERNS, ids=URL_NAMES)
def test_each_role_gets_the_expected_answer(world, name, route, pattern):
    assert name in MATRIX, f"new view without an entry in the permission matrix: {name} ({route})"
    url = world.url(name, pattern)
    mismatches = []
    for role, cell in zip(ROLES, MATRIX[name], strict=True):
        for method, expected in zip(METHODS, cell.split(), strict=True):
            # Each cell starts from the same data: what one role's POST changes is undone.
            with transaction.atomic():
                response = getattr(_fresh_client(world, role), method.lower())(url)
                answer = _answer_class(response, url)
                transaction.set_rollback(True)
            assert response.status_code != 500, f"{method} {url} as {role}: 500"
            if answer != expected:
                mismatches.append(f"{method} {url} as {role}: {answer}, expected {expected}")
    assert not mismatches, "\n".join(mismatches)


# The only patterns that take a POST without our CSRF token: providers post to them cross-site.
CSRF_EXEMPT = {"payments:checkout_return", "payments:checkout_notify", "payments:webhook"}


def test_only_the_provider_callbacks_are_csrf_exempt():
    exempt = {
        name for name, _, pattern in URL_PATTERNS if getattr(pattern.callback, "csrf_exempt", False)
    }
    assert exempt == CSRF_EXEMPT


def test_state_changing_posts_need_a_csrf_token(world):
    refused = []
    for name, _, pattern in URL_PATTERNS:
        if name in CSRF_EXEMPT:
            continue
        url = world.url(name, pattern)
        for role in ("anonymous", "buyer_a", "admin"):
            client = _fresh_client(world, role)
            client.handler.enforce_csrf_checks = True
            with transaction.atomic():
                response = client.post(url)
                transaction.set_rollback(True)
            if response.status_code != 403:
                refused.append(f"POST {url} as {role} without a CSRF token: {response.status_code}")
    assert not refused, "\n".join(refused)
